"""Reservation: stock held for an order's lines, given back, and tried again when stock arrives.

Line by line, all or nothing unless the order allows partial: FEFO (first-expiring, then
first-received) or FIFO (first-received) per warehouse, from active cells of storage and picking
zones only. The orders are locked first (`orders.lock_orders`, in id order), then the quants read
(FOR UPDATE, in id order) before they are counted, so hundreds of orders reserving the last units at
once never oversell and never deadlock; each unit held is a `reserve` movement in the ledger and an
OrderReservation row. The order's status changes and events are the card's (server.services.orders).

A postponed order is tried again when stock of its SKUs arrives (putaway, adjustment, a release)
and at least every STOCK_RETRY (`cellwms worker`: `retry_due`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select

from server.extensions import db
from server.models import (
    Cell,
    CellStatus,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    OrderReservation,
    OrderStatus,
    PostponedReason,
    Quant,
    User,
    Warehouse,
    Zone,
)
from server.models.base import utcnow
from server.models.stock import NO_EXPIRY

# The card and reservation call each other (an order is reserved when it is created, released when
# cancelled; reservation sets the card's statuses): both import the other module, never its names.
from server.services import orders as order_service
from server.services.errors import DomainError
from server.services.slotting import STORAGE_ZONE_KINDS
from server.services.sql_lists import insert_rows

SCENARIO = "orders"
# An order postponed for stock is tried again when stock arrives, and at least this often.
STOCK_RETRY = timedelta(minutes=15)


def _user_id(user: User | None) -> int | None:
    return user.id if user is not None else None


# --- holding stock -------------------------------------------------------------------------------


def _available_quants(warehouse: Warehouse, sku_ids, exclude_cell_ids=()) -> dict[int, list[Quant]]:
    """Quants with available units of the SKUs in reservable cells, locked in id order, each SKU's in
    the warehouse's picking order."""
    statement = (
        select(Quant)
        .join(Cell, Cell.id == Quant.cell_id)
        .join(Zone, Zone.id == Cell.zone_id)
        # `+ 0`: no index on the warehouse's cells, so SQLite starts from the SKUs' quants instead of
        # probing every cell of the warehouse for each SKU (1000x slower on the demo's).
        .where(Quant.sku_id.in_(sorted(set(sku_ids))), Cell.warehouse_id + 0 == warehouse.id,
               Cell.status == CellStatus.active, Zone.kind.in_(STORAGE_ZONE_KINDS), Quant.quantity > Quant.reserved)
        .order_by(Quant.id)
        .with_for_update(of=Quant)
        .execution_options(populate_existing=True)
    )
    if exclude_cell_ids:
        statement = statement.where(Quant.cell_id.notin_(list(exclude_cell_ids)))
    by_sku: dict[int, list[Quant]] = {}
    for quant in db.session.execute(statement).scalars():
        by_sku.setdefault(quant.sku_id, []).append(quant)
    fefo = warehouse.reservation_rule != "fifo"
    for quants in by_sku.values():
        quants.sort(key=(lambda q: (q.expiry or NO_EXPIRY, q.id)) if fefo else (lambda q: q.id))
    return by_sku


def _hold_rows(order: Order, line: OrderLine, quant: Quant, units: int, user: User | None) -> tuple[dict, dict]:
    """`units` of the (locked) quant set aside for the line: the quant and the line count them; the
    rows returned are the ledger's reserve movement and the reservation, to be written."""
    quant.reserved += units
    line.reserved += units
    movement = {"kind": MovementKind.reserve, "sku_id": quant.sku_id, "lot": quant.lot, "expiry": quant.expiry,
                "quantity": units, "from_cell_id": quant.cell_id, "user_id": _user_id(user), "scenario": SCENARIO,
                "reference": f"order {order.number}"}
    reservation = {"order_id": order.id, "order_line_id": line.id, "cell_id": quant.cell_id, "sku_id": quant.sku_id,
                   "lot": quant.lot, "expiry": quant.expiry, "quantity": units}
    return movement, reservation


def _hold(order: Order, line: OrderLine, quant: Quant, units: int, user: User | None) -> OrderReservation:
    """`_hold_rows` as session objects (the reservation is wanted back)."""
    movement, reservation = _hold_rows(order, line, quant, units, user)
    db.session.add(Movement(**movement))
    db.session.add(reservation := OrderReservation(**reservation))
    return reservation


def _allocate(lines_wanted: list[tuple[OrderLine, int]], quants: dict[int, list[Quant]]) -> list[tuple]:
    """(line, quant, units) takes covering as much of each line as the quants' available units allow,
    in their order. Nothing is held until the takes go to `_hold`."""
    used: dict[int, int] = {}
    takes = []
    for line, wanted in lines_wanted:
        for quant in quants.get(line.sku_id, ()):
            if wanted == 0:
                break
            units = min(wanted, quant.available - used.get(quant.id, 0))
            if units > 0:
                takes.append((line, quant, units))
                used[quant.id] = used.get(quant.id, 0) + units
                wanted -= units
    return takes


def _refusal(order: Order) -> DomainError | None:
    """Why the (locked) order cannot be reserved now, or None."""
    if order.status not in (OrderStatus.new, OrderStatus.confirmed, OrderStatus.postponed):
        status = order_service.STATUS_NAMES.get(order.status, order.status)
        return DomainError(409, "order-not-reservable", _("Order %(number)s is %(status)s: it cannot be reserved.",
                                                          number=order.number, status=status),
                           order_status=order.status)
    if order.status == OrderStatus.postponed and order.postponed_reason == PostponedReason.awaiting_customer:
        return DomainError(409, "order-awaiting-customer", _("Order %(number)s waits for the customer's answer.",
                                                             number=order.number))
    return None


def reserve(order: Order, user: User | None = None) -> Order:
    """Hold stock for every line: the order becomes reserved, or postponed awaiting stock (holding
    nothing; or what there is, when the order allows partial). Tried again on a postponed order."""
    order = order_service.lock_order(order.id)
    refusal = _refusal(order)
    if refusal is not None:
        raise refusal
    _reserve_locked([order], user)
    return order


def reserve_many(order_ids, user: User | None = None, *, skip_locked: bool = False) -> list[Order]:
    """`reserve` for many orders in one pass (an import, stock that arrived, a rush): they are locked
    in id order, then served in the order given, each all or nothing as `reserve` does. Orders that
    cannot be reserved in their status are left as they are. Returns the orders now reserved."""
    orders = [order for order in order_service.lock_orders(order_ids, skip_locked=skip_locked)
              if _refusal(order) is None]
    _reserve_locked(orders, user)
    return [order for order in orders if order.status == OrderStatus.reserved]


def _reserve_locked(orders: list[Order], user: User | None) -> None:
    """Reserve locked, reservable orders in turn from one read of the stock (per warehouse)."""
    wanted_of = {order.id: [(line, n) for line in order.lines if (n := line.quantity - line.reserved - line.picked) > 0]
                 for order in orders}
    reserved, postponed, missing_of = [], [], {}
    movements, reservations = [], []
    for warehouse_id in dict.fromkeys(order.warehouse_id for order in orders):
        group = [order for order in orders if order.warehouse_id == warehouse_id]
        sku_ids = {line.sku_id for order in group for line, _n in wanted_of[order.id]}
        quants = _available_quants(db.session.get(Warehouse, warehouse_id), sku_ids) if sku_ids else {}
        for order in group:
            takes = _allocate(wanted_of[order.id], quants)
            missing = sum(n for _l, n in wanted_of[order.id]) - sum(units for *_x, units in takes)
            missing_of[order.id] = missing
            if missing and not order.partial_allowed:
                postponed.append(order)
                continue
            for line, quant, units in takes:
                movement, reservation = _hold_rows(order, line, quant, units, user)
                movements.append(movement)
                reservations.append(reservation)
            reserved.append(order)
    insert_rows(Movement, movements)  # thousands of rows in a rush or an import: no session objects
    insert_rows(OrderReservation, reservations)
    db.session.flush()
    order_service.set_statuses(reserved, OrderStatus.reserved, user=user,
                               detail_of=lambda order: {"partial": bool(missing_of[order.id]) or None,
                                                        "missing": missing_of[order.id] or None})
    retry_at = utcnow() + STOCK_RETRY
    newly = []
    for order in postponed:
        if order.status == OrderStatus.postponed and order.postponed_reason == PostponedReason.awaiting_stock:
            order.retry_at = retry_at  # still short: no new event, only the next try
        else:
            newly.append(order)
    order_service.set_statuses(newly, OrderStatus.postponed, user=user,
                               postponed_reason=PostponedReason.awaiting_stock, retry_at=retry_at,
                               detail_of=lambda order: {"missing": missing_of[order.id]})


def reserve_again(line: OrderLine, quantity: int, *, exclude_cell_ids=(), user: User | None = None,
                  partial: bool = False) -> list[OrderReservation]:
    """Hold `quantity` more units of the line from cells other than `exclude_cell_ids` (a picker found
    a cell short). All or nothing unless `partial`; 409 insufficient-stock when nothing can be held."""
    order = order_service.lock_order(line.order_id)
    warehouse = db.session.get(Warehouse, order.warehouse_id)
    takes = _allocate([(line, quantity)], _available_quants(warehouse, [line.sku_id], exclude_cell_ids))
    held = sum(units for *_x, units in takes)
    if not takes or (held < quantity and not partial):
        raise DomainError(409, "insufficient-stock", _("Not enough available stock in the warehouse."),
                          available=held)
    reservations = [_hold(order, line, quant, units, user) for line, quant, units in takes]
    db.session.flush()
    order_service.record_event(order, "order.reserved_again", from_status=order.status, user=user,
                               line_no=line.line_no, units=held, cells=sorted({r.cell_id for r in reservations}))
    return reservations


def release_reservation(reservation: OrderReservation, units: int, user: User | None = None,
                        reason: str = "") -> None:
    """Give back `units` the reservation still holds: the quant, the line, the ledger's release."""
    if units <= 0:
        return
    quant = db.session.execute(
        select(Quant).where(Quant.cell_id == reservation.cell_id, Quant.sku_id == reservation.sku_id,
                            Quant.lot == reservation.lot,
                            func.coalesce(Quant.expiry, NO_EXPIRY) == (reservation.expiry or NO_EXPIRY))
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    units = min(units, reservation.quantity, quant.reserved)
    quant.reserved -= units
    reservation.quantity -= units
    reservation.line.reserved -= units
    order = db.session.get(Order, reservation.order_id)
    db.session.add(Movement(kind=MovementKind.release, sku_id=reservation.sku_id, lot=reservation.lot,
                            expiry=reservation.expiry, quantity=units, from_cell_id=reservation.cell_id,
                            user_id=_user_id(user), scenario=SCENARIO, reason=reason,
                            reference=f"order {order.number}"))


def release(order: Order, user: User | None = None, reason: str = "") -> int:
    """Give back every unit the order holds (not what was picked). Returns the units released."""
    reservations = db.session.execute(
        select(OrderReservation).where(OrderReservation.order_id == order.id, OrderReservation.quantity > 0)
        .order_by(OrderReservation.id)
    ).scalars().all()
    released = 0
    for reservation in reservations:
        released += reservation.quantity
        release_reservation(reservation, reservation.quantity, user, reason)
    db.session.flush()
    if released:
        stock_arrived(order.warehouse_id, {r.sku_id for r in reservations}, exclude_order_id=order.id)
    return released


# --- tries again ---------------------------------------------------------------------------------


def stock_arrived(warehouse_id: int, sku_ids, *, exclude_order_id: int | None = None, limit: int = 200) -> list[Order]:
    """Stock of these SKUs became available (putaway, adjustment, a release): orders postponed for it
    are tried again, oldest first, each in a savepoint. Returns the orders now reserved."""
    sku_ids = sorted(set(sku_ids))
    if not sku_ids:
        return []
    waiting = select(Order.id).where(
        Order.warehouse_id == warehouse_id, Order.status == OrderStatus.postponed,
        Order.postponed_reason == PostponedReason.awaiting_stock,
        Order.id.in_(select(OrderLine.order_id).where(OrderLine.sku_id.in_(sku_ids))),
    ).order_by(Order.created_at, Order.id).limit(limit)
    if exclude_order_id is not None:
        waiting = waiting.where(Order.id != exclude_order_id)
    return _try_again(db.session.execute(waiting).scalars().all())


def _try_again(order_ids) -> list[Order]:
    """Postponed orders tried again, oldest first: awaiting the customer, back to new (to call);
    awaiting stock, reserved if the stock is there now. Orders another try holds are left to it."""
    waiting = [o for o in order_service.lock_orders(order_ids, skip_locked=True) if o.status == OrderStatus.postponed]
    to_call = [o for o in waiting if o.postponed_reason == PostponedReason.awaiting_customer]
    for_stock = [o.id for o in waiting if o.postponed_reason != PostponedReason.awaiting_customer]
    order_service.set_statuses(to_call, OrderStatus.new, detail="call again")  # back on the list to call
    return reserve_many(for_stock, skip_locked=True)


def retry_due(now: datetime | None = None, limit: int = 500) -> list[Order]:
    """Postponed orders whose time to try again has come (`cellwms worker` runs this every minute):
    awaiting the customer, back to new (to call); awaiting stock, reserved if the stock is there now."""
    now = now or utcnow()
    due = db.session.execute(
        select(Order.id).where(Order.status == OrderStatus.postponed, Order.retry_at <= now)
        .order_by(Order.retry_at, Order.id).limit(limit)
    ).scalars().all()
    return _try_again(due)


def retry_awaiting_stock(warehouse_id: int, sku_ids=None) -> list[Order]:
    """Every order postponed for stock in the warehouse (or for these SKUs), tried again now."""
    if sku_ids is None:
        sku_ids = db.session.execute(
            select(OrderLine.sku_id).join(Order, Order.id == OrderLine.order_id)
            .where(Order.warehouse_id == warehouse_id, Order.status == OrderStatus.postponed,
                   Order.postponed_reason == PostponedReason.awaiting_stock).distinct()
        ).scalars().all()
    return stock_arrived(warehouse_id, sku_ids)
