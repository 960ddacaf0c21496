"""A warehouse's cells as the core's walking geometry (server.core.layout.Layout).

Cells carry their routing place: aisle number, block (1 = front) and slot (1 = nearest the
block's front cross aisle). Aisle numbers map to consecutive routing aisles in ascending order;
cells without a place (aisle, block or slot 0: dock lanes, pack benches) have no pick point.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select

from server.core.layout import Layout, LayoutError, PickPoint
from server.extensions import db
from server.models import Cell, Warehouse
from server.services.errors import DomainError


@dataclass(frozen=True)
class WarehouseGeometry:
    layout: Layout
    aisle_numbers: tuple[int, ...]  # routing aisle i is the warehouse's aisle aisle_numbers[i]
    points: dict[int, PickPoint]  # cell id -> pick point

    def point_of(self, cell_id: int) -> PickPoint:
        point = self.points.get(cell_id)
        if point is None:
            raise DomainError(422, "cell-not-routable",
                              _("Cell %(cell)s has no place in the walking geometry.", cell=cell_id))
        return point


def warehouse_geometry(warehouse_id: int, cell_ids=None) -> WarehouseGeometry:
    """The warehouse's walking geometry; `points` for every placed cell, or only for `cell_ids`
    when given (a pick's two cells: the aggregates only, not every cell read)."""
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise DomainError(404, "unknown-warehouse", _("No warehouse with id %(id)s.", id=warehouse_id))
    placed = (Cell.warehouse_id == warehouse_id, Cell.aisle > 0, Cell.block > 0, Cell.slot > 0)
    aisles = tuple(db.session.execute(select(Cell.aisle).where(*placed).distinct().order_by(Cell.aisle)).scalars())
    if not aisles:
        raise DomainError(422, "no-geometry",
                          _("Warehouse %(warehouse)s has no cells placed in aisles.", warehouse=warehouse.code))
    blocks, slots = db.session.execute(select(func.max(Cell.block), func.max(Cell.slot)).where(*placed)).one()
    index = {number: i for i, number in enumerate(aisles)}
    depot = index.get(warehouse.depot_aisle, 0)
    try:
        layout = Layout(
            aisles=len(aisles), blocks=blocks, slots=slots, slot_length=warehouse.slot_length_m,
            aisle_pitch=warehouse.aisle_pitch_m, cross_aisle_width=warehouse.cross_aisle_width_m,
            depot_aisle=depot,
        )
    except LayoutError as error:
        raise DomainError(422, "bad-geometry",
                          _("The warehouse's walking geometry is wrong: %(error)s", error=str(error))) from None
    points = {
        cell_id: layout.point(index[aisle], block - 1, slot - 1)
        for cell_id, aisle, block, slot in db.session.execute(
            select(Cell.id, Cell.aisle, Cell.block, Cell.slot).where(
                *placed, *(() if cell_ids is None else (Cell.id.in_(sorted(set(cell_ids))),)))
        )
    }
    return WarehouseGeometry(layout, aisles, points)
