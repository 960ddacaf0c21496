"""Cells as slotting sees them: mixing rules, states, velocity zones, capacities; the errors, the cell
spec, contents and candidates the index takes and answers."""

from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

# Mixing rules of a cell (or of its zone).
ONE_LOT = "one_lot"  # one SKU and one lot per cell
ONE_SKU = "one_sku"  # one SKU per cell, many lots
MIXED = "mixed"  # any SKUs and lots together
MIXING_RULES = (ONE_LOT, ONE_SKU, MIXED)
_RULE_CODE = {ONE_LOT: 0, ONE_SKU: 1, MIXED: 2}

ACTIVE = "active"
BLOCKED = "blocked"

VELOCITY_CLASSES = ("A", "B", "C")
# Velocity zones tried, in order, for goods of each velocity class (0 = A, nearest the depot).
ZONE_ORDER = {"A": (0, 1, 2), "B": (1, 2, 0), "C": (2, 1, 0)}
# How many partly filled mixed cells a suggestion looks at per bucket, nearest first.
MIXED_SCAN = 32


class SlottingError(ValueError):
    """Bad input to the slotting index (the message says what and why)."""

class UnknownCellError(SlottingError):
    pass


class UnknownSkuError(SlottingError):
    pass


class NothingFitsError(SlottingError):
    """No active cell can take the goods; the message says what was asked for."""


@dataclass(frozen=True, slots=True)
class CellSpec:
    """A storage cell as the index sees it. Capacity None means "not limited by this measure"."""

    id: Any
    aisle: int
    block: int
    slot: int
    level: int = 0
    cell_type: str = "shelf"
    max_volume_cm3: float | None = None
    max_weight_g: float | None = None
    max_units: int | None = None
    status: str = ACTIVE
    mixing: str | None = None  # None: the zone's rule, else the index default
    zone: str | None = None


class Content(NamedTuple):
    """One quant: a quantity of one SKU, lot and expiry in one cell."""

    cell_id: Any
    sku: Any
    lot: str
    expiry: date | None
    quantity: int
    unit_volume_cm3: float | None = None
    unit_weight_g: float | None = None


class Candidate(NamedTuple):
    """One suggested cell. reason: "same lot", "same SKU", "empty" or "mixed" (has room)."""

    cell_id: Any
    reason: str
    distance: float
    zone: str  # velocity zone of the cell: "A" (nearest the depot), "B", "C"
