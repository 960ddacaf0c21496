"""Waves: reserved orders released to the floor, grouped into batches (one cart trip each), each
batch's pick lines in the order of its route.

`release_wave` takes the warehouse's reserved orders (locked; on PostgreSQL `SKIP LOCKED`, so two
releases at once never take one order), due soonest first (carrier cutoff, none last), then
priority (high first), then age. The batching core (`server.core.batching.make_batches`) groups
them under the cart's capacity: one tote per order, `totes_per_cart` totes a cart. An order whose
units take more than one tote by volume (`tote_volume_l`) or weight (`tote_max_kg`) takes as many
totes as it needs; one that needs more totes than a cart has goes alone on a cart of its own (its
own batch). Orders whose cutoff falls within `URGENT_WITHIN` are batched first, among themselves.
Each batch is routed by the core on the warehouse's walking geometry; its pick lines get `seq`
in visiting order (lines at one pick point consecutive, by cell address, slot and line). On a
building plan the batches are walked from the wave's start point to its drop point: those given,
else the zone's (the one given, or the one zone all the wave's cells are in), else the warehouse's.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.core import batching
from server.core.layout import LayoutError, PickPoint
from server.core.routing import route
from server.extensions import db
from server.models import (
    Batch,
    BatchOrder,
    BatchStatus,
    Cell,
    Order,
    OrderLine,
    OrderReservation,
    OrderStatus,
    PickLine,
    PickLineStatus,
    Sku,
    User,
    Warehouse,
    Wave,
    WaveStatus,
    Zone,
)
from server.models.base import utcnow
from server.services import orders as order_service
from server.services.errors import DomainError
from server.services.geometry import WarehouseGeometry, warehouse_geometry
from server.services.sql_lists import chunks, insert_rows

METHODS = batching.METHODS
# An order due within this time of the release is urgent: batched first, among urgent ones.
URGENT_WITHIN = timedelta(hours=2)
# The improvement's time budget ("improve"): the plan is never longer than its start.
IMPROVE_SECONDS = 1.0
MAX_ORDERS = 5000
DONE_BATCH = {BatchStatus.picked, BatchStatus.dropped, BatchStatus.cancelled}


# --- walking --------------------------------------------------------------------------------------


def _address_key(address: str) -> tuple:
    """Natural order: numbers compare as numbers (A-2 before A-10)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", address) if part)


def address_order(cells: Iterable) -> list:
    """Cells (anything with `.address`, or (cell_id, address) pairs) in cell-address order."""
    def address(cell):
        return cell.address if hasattr(cell, "address") else cell[1]
    return sorted(cells, key=lambda cell: _address_key(address(cell)))


def walk_length(geometry: WarehouseGeometry, cell_ids: Iterable[int]) -> float:
    """Metres walked from the depot through the cells in the GIVEN order and back, along aisles and
    cross aisles (cells without a place in the geometry are left out)."""
    stops = [geometry.points[c] for c in cell_ids if c in geometry.points]
    return geometry.layout.tour_length(stops) if stops else 0.0


def route_cells(geometry: WarehouseGeometry, cell_ids: Iterable[int]) -> tuple[list[PickPoint], float]:
    """The core's shortest route over the cells' distinct pick points: (stops in order, length)."""
    points = [geometry.points[c] for c in dict.fromkeys(cell_ids) if c in geometry.points]
    if not points:
        return [], 0.0
    walk = route(geometry.layout, points)
    return walk.stops, walk.length


# --- the cart --------------------------------------------------------------------------------------


def cart_of(warehouse: Warehouse) -> batching.Cart:
    return batching.Cart(orders=warehouse.totes_per_cart, totes=warehouse.totes_per_cart)


def totes_needed(volume_l: float, weight_kg: float, warehouse: Warehouse) -> int:
    """Totes an order's units fill by volume and weight (at least one)."""
    need = max(volume_l / warehouse.tote_volume_l if warehouse.tote_volume_l > 0 else 0,
               weight_kg / warehouse.tote_max_kg if warehouse.tote_max_kg > 0 else 0)
    return max(1, math.ceil(need - 1e-9))


def order_totes(order: Order, warehouse: Warehouse) -> int:
    """Totes the order's lines fill (capped at a cart's), as the release counted them."""
    volume = sum(line.sku.volume_cm3 / 1000 * line.quantity for line in order.lines)
    weight = sum(line.sku.weight_g / 1000 * line.quantity for line in order.lines)
    return min(totes_needed(volume, weight, warehouse), warehouse.totes_per_cart)


@dataclass
class WaveInput:
    """What the batching core is given for a set of orders, and what the release needs back."""

    orders: list[Order]
    reservations: dict[int, list[OrderReservation]]  # order id -> reservations holding units
    core_orders: list[batching.Order]
    totes: dict[int, int]  # order id -> totes it fills (capped at the cart's)


def wave_input(warehouse: Warehouse, geometry: WarehouseGeometry, orders: list[Order]) -> WaveInput:
    """Core orders from the orders' reservations: a line per reservation at its cell's pick point
    (a cell without a place: the front of the depot aisle), volume from the SKUs' dimensions,
    weight from their weight, totes from both."""
    ids = [o.id for o in orders]
    held: dict[int, list[OrderReservation]] = {i: [] for i in ids}
    for chunk in chunks(ids):
        for r in db.session.execute(select(OrderReservation).where(
                OrderReservation.order_id.in_(chunk), OrderReservation.quantity > 0)
                .order_by(OrderReservation.id)).scalars():
            held[r.order_id].append(r)
    sku_ids = {r.sku_id for rs in held.values() for r in rs}
    dims = {}
    for chunk in chunks(sorted(sku_ids)):
        dims.update({sku_id: (lmm * wmm * hmm / 1e6, g / 1000) for sku_id, lmm, wmm, hmm, g in db.session.execute(
            select(Sku.id, Sku.length_mm, Sku.width_mm, Sku.height_mm, Sku.weight_g).where(Sku.id.in_(chunk)))})
    layout = geometry.layout
    try:
        fallback = layout.point(layout.depot_aisle, 0, 0)
    except (LayoutError, LookupError):  # on a plan the depot's aisle may start further up
        fallback = next(iter(geometry.points.values()), layout.depot)
    cart = warehouse.totes_per_cart
    core_orders, totes = [], {}
    for order in orders:
        lines, volume, weight = [], 0.0, 0.0
        for r in held[order.id]:
            lines.append(batching.OrderLine(geometry.points.get(r.cell_id, fallback), r.quantity))
            litres, kg = dims.get(r.sku_id, (0.0, 0.0))
            volume += litres * r.quantity
            weight += kg * r.quantity
        if not lines:
            continue  # holds nothing (a partial order with no stock yet): not on a cart
        totes[order.id] = min(totes_needed(volume, weight, warehouse), cart)
        core_orders.append(batching.Order(order.id, lines, volume=volume, totes=totes[order.id],
                                          cutoff=order.cutoff_at))
    return WaveInput([o for o in orders if o.id in totes], held, core_orders, totes)


def plan_batches(warehouse: Warehouse, geometry: WarehouseGeometry, given: WaveInput, method: str,
                 now: datetime) -> batching.BatchPlan:
    return batching.make_batches(given.core_orders, cart_of(warehouse), geometry.layout, method, now=now,
                                 horizon=URGENT_WITHIN, time_limit=IMPROVE_SECONDS if method == "improve" else None)


# --- where batches start and end ----------------------------------------------------------------


def wave_ends(warehouse: Warehouse, geometry: WarehouseGeometry, cell_ids: Iterable[int], *,
              start: str | None = None, drop: str | None = None,
              zone: str | None = None) -> tuple[str | None, str | None]:
    """The wave's start and drop point codes (see the module docstring); (None, None) without a
    building plan. 422 for a point the plan does not have or a zone the warehouse does not have."""
    plan = geometry.plan
    if plan is None:
        if start or drop:
            raise DomainError(422, "no-building-plan",
                              _("Warehouse %(warehouse)s has no building plan: start and drop points need one.",
                                warehouse=warehouse.code))
        return None, None
    zones = []
    if zone:
        zones = list(db.session.execute(select(Zone).where(Zone.warehouse_id == warehouse.id,
                                                           Zone.code == zone)).scalars())
        if not zones:
            raise DomainError(422, "unknown-zone", _("No zone %(zone)s in this warehouse.", zone=zone))
    elif not (start and drop):
        ids = sorted(set(cell_ids))
        zone_ids = set()
        for chunk in chunks(ids):
            zone_ids.update(db.session.execute(select(Cell.zone_id).where(Cell.id.in_(chunk)).distinct()).scalars())
        if len(zone_ids) == 1:
            zones = [db.session.get(Zone, zone_ids.pop())]
    own = zones[0] if zones else None
    start = start or (own.start_point if own else None) or warehouse.start_point
    drop = drop or (own.drop_point if own else None) or warehouse.drop_point or start
    for code in (start, drop):
        if code not in plan.points:
            raise DomainError(422, "unknown-point", _("The building plan has no point %(point)s.", point=code),
                              known=sorted(plan.points))
    return start, drop


# --- release ---------------------------------------------------------------------------------------


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def take_reserved(warehouse_id: int, *, max_orders: int | None = None,
                  cutoff_before: datetime | None = None) -> list[Order]:
    """Reserved orders, due soonest first, then priority, then age; locked for this transaction
    (PostgreSQL: FOR UPDATE SKIP LOCKED, orders another release holds are left to it)."""
    statement = (
        select(Order)
        .where(Order.warehouse_id == warehouse_id, Order.status == OrderStatus.reserved)
        .order_by(Order.cutoff_at.is_(None), Order.cutoff_at, Order.priority.desc(), Order.created_at, Order.id)
        .options(selectinload(Order.lines).selectinload(OrderLine.sku))
        .execution_options(populate_existing=True)
    )
    if cutoff_before is not None:
        statement = statement.where(Order.cutoff_at < cutoff_before)
    if max_orders is not None:
        statement = statement.limit(max_orders)
    if _is_postgres():
        statement = statement.with_for_update(skip_locked=True, of=Order)
    return list(db.session.execute(statement).scalars())


def release_wave(warehouse_id: int, *, user: User | None = None, max_orders: int | None = None,
                 cutoff_before: datetime | None = None, method: str = "improve",
                 now: datetime | None = None, start: str | None = None, drop: str | None = None,
                 zone: str | None = None) -> Wave:
    """Release a wave of the warehouse's reserved orders (see the module docstring); flush.
    409 `nothing-to-release` when no reserved order is there (nothing written). `start`, `drop`:
    point codes of the building plan, `zone`: the zone whose points are the defaults."""
    started = time.perf_counter()
    if method not in METHODS:
        raise DomainError(422, "unknown-batching-method", _("Unknown batching method %(method)s.", method=method),
                          known=list(METHODS))
    if max_orders is not None and not 1 <= max_orders <= MAX_ORDERS:
        raise DomainError(422, "bad-max-orders", _("A wave takes from 1 to %(n)s orders.", n=MAX_ORDERS))
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise DomainError(404, "unknown-warehouse", _("No warehouse with id %(id)s.", id=warehouse_id))
    now = now or utcnow()
    orders = take_reserved(warehouse_id, max_orders=max_orders, cutoff_before=cutoff_before)
    geometry = warehouse_geometry(warehouse_id) if orders else None
    given = wave_input(warehouse, geometry, orders) if orders else None
    if not orders or not given.core_orders:
        raise DomainError(409, "nothing-to-release", _("No reserved orders to release."))
    start, drop = wave_ends(warehouse, geometry, [r.cell_id for rs in given.reservations.values() for r in rs],
                            start=start, drop=drop, zone=zone)
    geometry = geometry.walked(start, drop)
    plan = plan_batches(warehouse, geometry, given, method, now)

    wave = Wave(warehouse_id=warehouse_id, status=WaveStatus.released, released_by_user_id=user.id if user else None,
                method=method, totes_per_cart=warehouse.totes_per_cart, tote_volume_l=warehouse.tote_volume_l,
                tote_max_kg=warehouse.tote_max_kg, start_point=start, drop_point=drop)
    db.session.add(wave)
    db.session.flush()
    batches = [Batch(wave_id=wave.id, warehouse_id=warehouse_id, seq=n, status=BatchStatus.ready)
               for n in range(1, len(plan.batches) + 1)]
    db.session.add_all(batches)
    db.session.flush()

    cell_ids = {r.cell_id for rs in given.reservations.values() for r in rs}
    addresses = {}
    for chunk in chunks(sorted(cell_ids)):
        addresses.update(db.session.execute(select(Cell.id, Cell.address).where(Cell.id.in_(chunk))).all())
    by_id = {o.id: o for o in given.orders}
    line_no = {line.id: line.line_no for o in given.orders for line in o.lines}
    batch_orders, pick_lines, batch_of = [], [], {}
    for batch, planned in zip(batches, plan.batches, strict=True):
        slot, slot_of = 1, {}
        for order_id in planned.orders:  # the core's order: by arrival
            slot_of[order_id] = slot
            batch_orders.append({"batch_id": batch.id, "order_id": order_id, "slot": slot})
            batch_of[order_id] = batch
            slot += given.totes[order_id]
        held = [r for order_id in planned.orders for r in given.reservations[order_id]]
        stops, length = route_cells(geometry, [r.cell_id for r in held])
        batch.planned_walk_m = round(length, 2)
        rank = {(p.x, p.y): i for i, p in enumerate(stops)}
        unrouted = len(rank)

        def place(r, rank=rank, unrouted=unrouted, slot_of=slot_of):
            point = geometry.points.get(r.cell_id)
            here = rank[(point.x, point.y)] if point is not None else unrouted
            return (here, _address_key(addresses.get(r.cell_id, "")), slot_of[r.order_id],
                    line_no.get(r.order_line_id, 0), r.id)

        for seq, r in enumerate(sorted(held, key=place), start=1):
            pick_lines.append({"batch_id": batch.id, "order_id": r.order_id, "order_line_id": r.order_line_id,
                               "reservation_id": r.id, "cell_id": r.cell_id, "sku_id": r.sku_id, "lot": r.lot,
                               "expiry": r.expiry, "quantity": r.quantity, "picked": 0, "seq": seq,
                               "status": PickLineStatus.open})
    insert_rows(BatchOrder, batch_orders)
    insert_rows(PickLine, pick_lines)
    wave.planned_walk_m = round(sum(b.planned_walk_m for b in batches), 2)
    order_service.set_statuses([by_id[order_id] for order_id in batch_of], OrderStatus.picking, user=user,
                               wave_id=wave.id, detail_of=lambda order: {"batch_id": batch_of[order.id].id})
    wave.seconds = round(time.perf_counter() - started, 3)
    db.session.flush()
    return wave


# --- progress -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    done: int  # lines picked (or closed short)
    lines: int

    @property
    def share(self) -> float:
        return self.done / self.lines if self.lines else 1.0


def batch_progress(batch: Batch) -> Progress:
    lines = batch.lines
    return Progress(sum(1 for line in lines if line.status != PickLineStatus.open), len(lines))


def refresh_wave(wave: Wave) -> Wave:
    """The wave's status from its batches: `picked` when every batch is picked or dropped (cancelled
    ones aside), `picking` once one has started; flush."""
    statuses = {b.status for b in wave.batches}
    live = statuses - {BatchStatus.cancelled}
    if wave.status == WaveStatus.cancelled:
        return wave
    if not live:
        wave.status = WaveStatus.cancelled
    elif live <= DONE_BATCH:
        wave.status = WaveStatus.picked
    elif live != {BatchStatus.ready}:
        wave.status = WaveStatus.picking
    db.session.flush()
    return wave


__all__ = ["IMPROVE_SECONDS", "METHODS", "URGENT_WITHIN", "Progress", "WaveInput", "address_order", "batch_progress",
           "cart_of", "plan_batches", "refresh_wave", "release_wave", "route_cells", "take_reserved", "totes_needed",
           "walk_length", "wave_ends", "wave_input"]
