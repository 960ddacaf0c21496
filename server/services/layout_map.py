"""What the warehouse map draws: the walking geometry and the cell faces of one warehouse, with
their zones and (for the layout page) how full they are. Read-only; one grouped query, so a
large warehouse costs one row per face, not per cell.

A face is one side (L/R) of one slot of one aisle in one block: the shelves a worker sees
standing there, all levels and positions together.
"""

from dataclasses import dataclass, field, replace

from sqlalchemy import func, select

from server.core.building import Plan
from server.core.graph_layout import GraphLayout
from server.core.layout import Layout, LayoutError
from server.extensions import db
from server.models import Cell, Quant, Warehouse, Zone
from server.services.geometry import warehouse_geometry, with_ends


@dataclass(frozen=True)
class Face:
    aisle: int  # routing aisle (0-based), as Layout counts them
    block: int  # 0-based
    slot: int  # 0-based
    side: str  # L or R
    zone: str
    cells: int
    stocked: int = 0  # cells holding stock
    units: int = 0


@dataclass(frozen=True)
class MapData:
    warehouse: str
    layout: Layout | GraphLayout
    aisle_numbers: tuple[int, ...]  # routing aisle i is the warehouse's aisle aisle_numbers[i]
    faces: tuple[Face, ...]
    zones: tuple[str, ...]
    # A building plan's named points (code -> name) and where pickers start and drop.
    point_names: dict[str, str] = field(default_factory=dict)
    start: str | None = None
    drop: str | None = None

    @property
    def plan(self) -> Plan | None:
        return self.layout.plan if isinstance(self.layout, GraphLayout) else None

    def has_place(self, aisle: int, block: int, slot: int) -> bool:
        """Whether routing aisle `aisle`, block and slot (0-based) is a pick point of the map."""
        if self.plan is None:
            return 0 <= aisle < len(self.aisle_numbers) and 0 <= block < self.layout.blocks \
                and 0 <= slot < self.layout.slots
        try:
            self.layout.point(aisle, block, slot)
        except (LayoutError, LookupError):
            return False
        return True


@dataclass(frozen=True)
class MapCell:
    """A cell the map names (the target, a stop): its place and address."""

    id: int
    address: str
    aisle: int
    block: int
    slot: int
    side: str


def map_data(warehouse_id: int, *, with_stock: bool = False) -> MapData:
    """The map of a warehouse; a DomainError when it has no cells placed in aisles."""
    geometry = warehouse_geometry(warehouse_id)
    index = {number: i for i, number in enumerate(geometry.aisle_numbers)}
    placed = (Cell.warehouse_id == warehouse_id, Cell.aisle > 0, Cell.block > 0, Cell.slot > 0)
    columns = [Cell.aisle, Cell.block, Cell.slot, Cell.side, Zone.code]
    stats = [func.count(Cell.id)]
    query = select(*columns, *stats).join(Zone, Zone.id == Cell.zone_id).where(*placed)
    if with_stock:
        stock = (select(Quant.cell_id, func.sum(Quant.quantity).label("units"))
                 .where(Quant.quantity > 0).group_by(Quant.cell_id).subquery())
        query = (select(*columns, *stats, func.count(stock.c.cell_id), func.coalesce(func.sum(stock.c.units), 0))
                 .join(Zone, Zone.id == Cell.zone_id).outerjoin(stock, stock.c.cell_id == Cell.id).where(*placed))
    faces = []
    for row in db.session.execute(query.group_by(*columns).order_by(*columns)):
        aisle, block, slot, side, zone, cells, *filled = row
        stocked, units = (filled + [0, 0])[:2]
        if aisle not in index:
            continue
        faces.append(Face(index[aisle], block - 1, slot - 1, side if side in ("L", "R") else "L", zone, cells,
                          int(stocked or 0), int(units or 0)))
    warehouse = db.session.get(Warehouse, warehouse_id)
    zones = tuple(sorted({face.zone for face in faces}))
    if geometry.plan is None:
        return MapData(warehouse.code, geometry.layout, geometry.aisle_numbers, tuple(faces), zones)
    return MapData(warehouse.code, geometry.layout, geometry.aisle_numbers, tuple(faces), zones,
                   dict(warehouse.point_names or {}), warehouse.start_point, warehouse.drop_point)


def walked_between(data: MapData, start: str, drop: str) -> MapData:
    """The map of a plan walked from point `start` to point `drop` (codes; unknown or empty ones,
    and a map without a plan, keep the map's own)."""
    plan = data.plan
    if plan is None:
        return data
    start = start if start in plan.points else data.start
    drop = drop if drop in plan.points else data.drop
    if (start, drop) == (data.start, data.drop):
        return data
    return replace(data, layout=with_ends(data.layout, start, drop), start=start, drop=drop)


def map_cells(cell_ids, data: MapData) -> dict[int, MapCell]:
    """The cells among `cell_ids` that have a place on the map of `data`, by id."""
    ids = {i for i in cell_ids if isinstance(i, int)}
    if not ids:
        return {}
    index = {number: i for i, number in enumerate(data.aisle_numbers)}
    rows = db.session.execute(select(Cell.id, Cell.address, Cell.aisle, Cell.block, Cell.slot, Cell.side)
                              .join(Warehouse, Warehouse.id == Cell.warehouse_id)
                              .where(Cell.id.in_(ids), Warehouse.code == data.warehouse))
    return {r.id: MapCell(r.id, r.address, index[r.aisle], r.block - 1, r.slot - 1, r.side)
            for r in rows if r.aisle in index and data.has_place(index[r.aisle], r.block - 1, r.slot - 1)}


def warehouse_of_cells(cell_ids) -> int | None:
    """The warehouse of the first known cell among `cell_ids`."""
    ids = [i for i in cell_ids if isinstance(i, int)]
    if not ids:
        return None
    return db.session.execute(select(Cell.warehouse_id).where(Cell.id.in_(ids)).limit(1)).scalar_one_or_none()
