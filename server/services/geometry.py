"""A warehouse's cells as the core's walking geometry (server.core.layout.Layout).

Cells carry their routing place: aisle number, block (1 = front) and slot (1 = nearest the
block's front cross aisle). Aisle numbers map to consecutive routing aisles in ascending order;
cells without a place (aisle, block or slot 0: dock lanes, pack benches) have no pick point.
"""

from dataclasses import dataclass

from sqlalchemy import func, select

from server.core.layout import Layout, LayoutError, PickPoint
from server.extensions import db
from server.models import Cell, Warehouse
from server.problems import Problem


@dataclass(frozen=True)
class WarehouseGeometry:
    layout: Layout
    aisle_numbers: tuple[int, ...]  # routing aisle i is the warehouse's aisle aisle_numbers[i]
    points: dict[int, PickPoint]  # cell id -> pick point

    def point_of(self, cell_id: int) -> PickPoint:
        point = self.points.get(cell_id)
        if point is None:
            raise Problem(422, "cell-not-routable", f"Cell {cell_id} has no place in the walking geometry.")
        return point


def warehouse_geometry(warehouse_id: int) -> WarehouseGeometry:
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise Problem(404, "unknown-warehouse", f"No warehouse with id {warehouse_id}.")
    placed = (Cell.warehouse_id == warehouse_id, Cell.aisle > 0, Cell.block > 0, Cell.slot > 0)
    aisles = tuple(db.session.execute(select(Cell.aisle).where(*placed).distinct().order_by(Cell.aisle)).scalars())
    if not aisles:
        raise Problem(422, "no-geometry", f"Warehouse {warehouse.code} has no cells placed in aisles.")
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
        raise Problem(422, "bad-geometry", str(error)) from None
    points = {
        cell_id: layout.point(index[aisle], block - 1, slot - 1)
        for cell_id, aisle, block, slot in db.session.execute(
            select(Cell.id, Cell.aisle, Cell.block, Cell.slot).where(*placed)
        )
    }
    return WarehouseGeometry(layout, aisles, points)
