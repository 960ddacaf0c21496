"""The slotting index of one warehouse, built from the database (see docs/slotting.md).

`build_slot_index(warehouse_id)` reads the storage and picking cells, their quants, the SKUs'
unit volume and weight, velocity classes from recent picks and the walking geometry, and
returns a `server.core.slotting.SlotIndex` with the maps a caller needs around it.

Nothing is kept in process memory: a web worker's index would go stale when another worker
moves stock. `slot_index(warehouse_id)` reuses one index within the current transaction only
(callers that change stock meanwhile keep it up to date with `index.apply`).
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from server.core.slotting import MIXED, ONE_LOT, ONE_SKU, CellSpec, SlotIndex, velocity_classes
from server.extensions import db
from server.models import (
    Cell,
    CellStatus,
    Movement,
    MovementKind,
    PutawayStatus,
    PutawayTask,
    Quant,
    Sku,
    Zone,
    ZoneKind,
)
from server.models.base import utcnow
from server.services.geometry import WarehouseGeometry, warehouse_geometry

# Zones whose cells take putaway.
STORAGE_ZONE_KINDS = (ZoneKind.storage, ZoneKind.picking)
# Mixing rule per cell type (cells and zones have no rule of their own yet).
MIXING_BY_CELL_TYPE = {"pallet": ONE_LOT, "shelf": ONE_SKU, "floor": ONE_SKU, "bin": MIXED}
VELOCITY_DAYS = 90  # picks counted for velocity classes
SLOWEST = "C"


@dataclass(frozen=True)
class CellInfo:
    id: int
    address: str
    barcode: str
    zone_id: int
    zone_kind: str
    cell_type: str
    status: str


@dataclass
class SlotMaps:
    """What the index does not hold: cell facts, SKU velocity classes, the geometry."""

    warehouse_id: int
    cells: dict[int, CellInfo] = field(default_factory=dict)  # the indexed cells
    velocity: dict[int, str] = field(default_factory=dict)  # sku id -> "A" | "B" | "C" (missing: C)
    sku_dims: dict[int, tuple[float, float]] = field(default_factory=dict)  # sku id -> (cm3, g)
    geometry: WarehouseGeometry | None = None

    def velocity_of(self, sku_id: int) -> str:
        return self.velocity.get(sku_id, SLOWEST)


def unit_dims(sku: Sku) -> tuple[float, float]:
    """(unit volume cm3, unit weight g) of a SKU; unknown dimensions count as 0."""
    return (sku.length_mm or 0) * (sku.width_mm or 0) * (sku.height_mm or 0) / 1000.0, float(sku.weight_g or 0)


def mixing_rule(cell_type: str) -> str:
    return MIXING_BY_CELL_TYPE.get(cell_type, ONE_SKU)


def pick_velocity(warehouse_id: int, days: int = VELOCITY_DAYS) -> dict[int, str]:
    """sku id -> velocity class from pick movements out of this warehouse's cells in the last
    `days`. SKUs never picked are missing (the slowest class)."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.execute(
        select(Movement.sku_id, func.count())
        .join(Cell, Cell.id == Movement.from_cell_id)
        .where(Movement.kind == MovementKind.pick, Movement.created_at >= since, Cell.warehouse_id == warehouse_id)
        .group_by(Movement.sku_id)
    ).all()
    return velocity_classes(Counter({sku_id: count for sku_id, count in rows}))


def build_slot_index(warehouse_id: int, *, planned: bool = True) -> tuple[SlotIndex, SlotMaps]:
    """A fresh index of the warehouse's storage and picking cells with what they hold.

    planned: open putaway tasks count as already in their suggested cells (so two deliveries
    are not sent to the same empty cell). Cells without a place in the aisles are left out.
    """
    geometry = warehouse_geometry(warehouse_id)
    maps = SlotMaps(warehouse_id, geometry=geometry)
    specs = []
    rows = db.session.execute(
        select(Cell.id, Cell.address, Cell.barcode, Cell.zone_id, Zone.kind, Cell.cell_type, Cell.status,
               Cell.max_volume_cm3, Cell.max_weight_g, Cell.max_units, Cell.level)
        .join(Zone, Zone.id == Cell.zone_id)
        .where(Cell.warehouse_id == warehouse_id, Zone.kind.in_(STORAGE_ZONE_KINDS))
    ).all()
    points = geometry.points
    for cid, address, barcode, zone_id, zone_kind, cell_type, status, vol, weight, units, level in rows:
        point = points.get(cid)
        if point is None:
            continue
        maps.cells[cid] = CellInfo(cid, address, barcode, zone_id, zone_kind, cell_type, status)
        specs.append(CellSpec(
            id=cid, aisle=point.aisle, block=point.block, slot=point.slot, level=level or 0,
            cell_type=cell_type, max_volume_cm3=vol, max_weight_g=weight, max_units=units,
            status="active" if status == CellStatus.active else "blocked", mixing=mixing_rule(cell_type),
        ))

    contents: list[tuple] = []
    quant_rows = db.session.execute(
        select(Quant.cell_id, Quant.sku_id, Quant.lot, Quant.expiry, Quant.quantity)
        .join(Cell, Cell.id == Quant.cell_id)
        .join(Zone, Zone.id == Cell.zone_id)
        .where(Cell.warehouse_id == warehouse_id, Zone.kind.in_(STORAGE_ZONE_KINDS), Quant.quantity > 0)
    ).all()
    contents.extend(r for r in quant_rows if r[0] in maps.cells)
    if planned:
        task_rows = db.session.execute(
            select(PutawayTask.suggested_cell_id, PutawayTask.sku_id, PutawayTask.lot, PutawayTask.expiry,
                   PutawayTask.quantity)
            .where(PutawayTask.warehouse_id == warehouse_id, PutawayTask.status == PutawayStatus.open,
                   PutawayTask.suggested_cell_id.is_not(None))
        ).all()
        contents.extend(r for r in task_rows if r[0] in maps.cells)

    sku_ids = {r[1] for r in contents}
    if sku_ids:
        for sku_id, length, width, height, weight in db.session.execute(
            select(Sku.id, Sku.length_mm, Sku.width_mm, Sku.height_mm, Sku.weight_g).where(Sku.id.in_(sku_ids))
        ):
            maps.sku_dims[sku_id] = ((length or 0) * (width or 0) * (height or 0) / 1000.0, float(weight or 0))
    maps.velocity = pick_velocity(warehouse_id)
    index = SlotIndex(geometry.layout, specs, skus=maps.sku_dims)
    for cell_id, sku_id, lot, expiry, quantity in contents:
        index.apply(cell_id, sku_id, lot or "", expiry, quantity)
    return index, maps


def ensure_sku(index: SlotIndex, maps: SlotMaps, sku: Sku) -> None:
    """Tell the index a SKU's unit volume and weight before asking about it."""
    if sku.id not in maps.sku_dims:
        maps.sku_dims[sku.id] = unit_dims(sku)
        index.set_sku(sku.id, *maps.sku_dims[sku.id])


def slot_index(warehouse_id: int) -> tuple[SlotIndex, SlotMaps]:
    """The index for the current transaction: built once per transaction, dropped with it."""
    transaction = db.session().get_transaction()
    cache = db.session.info.get("cellwms_slot_index")
    if cache is not None and transaction is not None and cache[0] is transaction and cache[1] == warehouse_id:
        return cache[2]
    built = build_slot_index(warehouse_id)
    db.session.info["cellwms_slot_index"] = (transaction, warehouse_id, built)
    return built


def forget_slot_index() -> None:
    db.session.info.pop("cellwms_slot_index", None)


__all__ = ["MIXING_BY_CELL_TYPE", "STORAGE_ZONE_KINDS", "CellInfo", "SlotMaps", "build_slot_index",
           "ensure_sku", "forget_slot_index", "mixing_rule", "pick_velocity", "slot_index", "unit_dims"]
