"""A warehouse's cells as the core's walking geometry.

Without a building plan the geometry is one rectangular grid (server.core.layout.Layout): cells
carry their routing place, aisle number, block (1 = front) and slot (1 = nearest the block's front
cross aisle); aisle numbers map to consecutive routing aisles in ascending order. With a plan
(layout spec [[halls]], stored on the warehouse) it is a `GraphLayout` on the plan's walkable
graph, walked from the warehouse's start point to its drop point; a cell's face is the plan's face
of its (aisle, block, slot). Cells without a place (aisle, block or slot 0: dock lanes, pack
benches) have no pick point.

A plan's GraphLayout is built once per process (its node-to-node table computed once) and kept by
the plan's hash; `with_ends` gives the same layout walked between other ends.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select

from server.core.building import Plan
from server.core.graph_layout import GraphLayout
from server.core.layout import Layout, LayoutError, PickPoint
from server.extensions import db
from server.models import Cell, Warehouse
from server.services.errors import DomainError

# Plans kept per process (a process serves a few warehouses; a changed plan has a new hash).
MAX_PLANS = 16
_plans: dict[str, GraphLayout] = {}
_plans_lock = threading.Lock()


@dataclass(frozen=True)
class WarehouseGeometry:
    layout: Layout | GraphLayout
    aisle_numbers: tuple[int, ...]  # routing aisle i is the warehouse's aisle aisle_numbers[i]
    points: dict[int, PickPoint]  # cell id -> pick point

    def point_of(self, cell_id: int) -> PickPoint:
        point = self.points.get(cell_id)
        if point is None:
            raise DomainError(422, "cell-not-routable",
                              _("Cell %(cell)s has no place in the walking geometry.", cell=cell_id))
        return point

    @property
    def plan(self) -> Plan | None:
        return self.layout.plan if isinstance(self.layout, GraphLayout) else None

    def walked(self, start=None, end=None) -> WarehouseGeometry:
        """The same geometry walked from `start` to `end` (see `with_ends`)."""
        return replace(self, layout=with_ends(self.layout, start, end))


def with_ends(layout: Layout | GraphLayout, start=None, end=None) -> Layout | GraphLayout:
    """The layout walked from `start` to `end`, each a pick point of the layout or (on a plan) a
    point code; None keeps the layout's own. A rectangular layout starts and ends at one depot: at
    the front of `start`'s aisle (its `end` and point codes do not apply)."""
    if isinstance(layout, GraphLayout):
        if start is None and end is None:
            return layout
        return layout.with_ends(start=start, end=end)
    if isinstance(start, PickPoint):
        return replace(layout, depot_aisle=start.aisle, extra_depot_aisles=())
    return layout


def plan_layout(plan_hash: str, plan_json, start: str | None, end: str | None) -> GraphLayout:
    """The plan's GraphLayout between the point codes `start` and `end`, built once per process
    and plan (`plan_json`: the stored JSON text, or a callable reading it, only called when the
    plan is new here)."""
    with _plans_lock:
        layout = _plans.get(plan_hash)
    if layout is None:
        text = plan_json() if callable(plan_json) else plan_json
        plan = Plan.from_json(json.loads(text))
        first = next(iter(plan.points))
        layout = GraphLayout(plan, start or first, end or start or first)
        with _plans_lock:
            if len(_plans) >= MAX_PLANS:
                _plans.pop(next(iter(_plans)))
            layout = _plans.setdefault(plan_hash, layout)
    return with_ends(layout, start, end or start)


def warehouse_layout(warehouse: Warehouse) -> GraphLayout | None:
    """The warehouse's plan as a GraphLayout from its start to its drop point; None without a plan."""
    if not warehouse.plan_hash:
        return None

    def stored() -> str:
        return db.session.execute(select(Warehouse.plan_json).where(Warehouse.id == warehouse.id)).scalar_one()

    try:
        return plan_layout(warehouse.plan_hash, stored, warehouse.start_point, warehouse.drop_point)
    except (ValueError, LookupError, KeyError, TypeError) as error:
        raise DomainError(422, "bad-geometry",
                          _("The warehouse's walking geometry is wrong: %(error)s", error=str(error))) from None


def warehouse_geometry(warehouse_id: int, cell_ids=None) -> WarehouseGeometry:
    """The warehouse's walking geometry; `points` for every placed cell, or only for `cell_ids`
    when given (a pick's two cells: the aggregates only, not every cell read)."""
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise DomainError(404, "unknown-warehouse", _("No warehouse with id %(id)s.", id=warehouse_id))
    placed = (Cell.warehouse_id == warehouse_id, Cell.aisle > 0, Cell.block > 0, Cell.slot > 0)
    graph = warehouse_layout(warehouse)
    if graph is not None:
        layout, aisles = graph, tuple(graph.plan.aisle_numbers)
    else:
        aisles = tuple(db.session.execute(select(Cell.aisle).where(*placed).distinct().order_by(Cell.aisle)).scalars())
        if not aisles:
            raise DomainError(422, "no-geometry",
                              _("Warehouse %(warehouse)s has no cells placed in aisles.", warehouse=warehouse.code))
        layout = _grid(warehouse, placed, aisles)
    index = {number: i for i, number in enumerate(aisles)}
    points = {}
    for cell_id, aisle, block, slot in db.session.execute(
        select(Cell.id, Cell.aisle, Cell.block, Cell.slot).where(
            *placed, *(() if cell_ids is None else (Cell.id.in_(sorted(set(cell_ids))),)))
    ):
        if aisle not in index:
            continue
        try:
            points[cell_id] = layout.point(index[aisle], block - 1, slot - 1)
        except (LayoutError, LookupError):
            if graph is None:
                raise
    return WarehouseGeometry(layout, aisles, points)


def _grid(warehouse: Warehouse, placed, aisles: tuple[int, ...]) -> Layout:
    blocks, slots = db.session.execute(select(func.max(Cell.block), func.max(Cell.slot)).where(*placed)).one()
    depot = {number: i for i, number in enumerate(aisles)}.get(warehouse.depot_aisle, 0)
    try:
        return Layout(
            aisles=len(aisles), blocks=blocks, slots=slots, slot_length=warehouse.slot_length_m,
            aisle_pitch=warehouse.aisle_pitch_m, cross_aisle_width=warehouse.cross_aisle_width_m,
            depot_aisle=depot,
        )
    except LayoutError as error:
        raise DomainError(422, "bad-geometry",
                          _("The warehouse's walking geometry is wrong: %(error)s", error=str(error))) from None
