"""Cells as slotting sees them: mixing rules, states, velocity zones, capacities; the errors, the cell
spec, contents and candidates the index takes and answers."""

from collections.abc import Iterable
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


# Why a cell's mixing rule refuses goods (see mixing_refusal).
OTHER_SKU = "other-sku"  # the cell holds another SKU and is not mixed
OTHER_LOT = "other-lot"  # a one-lot cell holds another lot (or expiry) of the SKU
EARLIER_EXPIRY = "earlier-expiry"  # the cell holds the SKU expiring earlier: FEFO picking would get hard


def mixing_refusal(rule: str, held: Iterable[tuple], sku, lot: str = "", expiry: date | None = None) -> str | None:
    """The placement rule that suggestions, putaway confirmations and moves all apply.

    held: the (sku, lot, expiry) keys the cell holds, planned putaways included. None when the
    cell's mixing `rule` takes `sku`/`lot`/`expiry`; else OTHER_SKU, OTHER_LOT or EARLIER_EXPIRY.
    Goods never go in front of units of the same SKU that expire earlier (any rule).
    """
    for other_sku, other_lot, other_expiry in held:
        if other_sku != sku:
            if rule != MIXED:
                return OTHER_SKU
        elif rule == ONE_LOT:
            if other_lot != lot or other_expiry != expiry:
                return OTHER_LOT
        elif expiry is not None and other_expiry is not None and other_expiry < expiry:
            return EARLIER_EXPIRY
    return None


def capacity_refusal(capacity: tuple, held: Iterable[tuple], quantity: int, unit_volume_cm3: float,
                     unit_weight_g: float) -> tuple[str, ...]:
    """The measures ("volume", "weight", "units") a cell would exceed by taking `quantity` units.

    capacity: the cell's (cm3, g, units), None not limiting; held: (units, unit cm3, unit g) of what
    it holds, planned putaways included. Counted in mm3 and mg per unit, rounded, as the index
    counts them, so a cell the index calls full is full here too."""
    def milli(value):
        return round(value * 1000)

    used = [0, 0, 0]
    for units, volume, weight in held:
        used[0] += units * milli(volume)
        used[1] += units * milli(weight)
        used[2] += units
    need = (quantity * milli(unit_volume_cm3), quantity * milli(unit_weight_g), quantity)
    scales = (1000, 1000, 1)
    return tuple(name for name, cap, have, more, scale in zip(("volume", "weight", "units"), capacity, used, need, scales, strict=True)
                 if cap is not None and have + more > round(cap * scale))


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
