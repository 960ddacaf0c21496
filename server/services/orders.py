"""The order card: intake, confirmation with the customer, postponement, cancel.

    new ──confirm──> confirmed ──> reserved ──(wave)──> picking ──> picked ──> packing ...
     │  └─no answer─> postponed awaiting_customer (retry_at: back to new)
     └─(no confirmation needed)─> reserved | postponed awaiting_stock (retried when stock arrives)
    new, confirmed, reserved, postponed ──cancel──> cancelled (the reservation released)

Every status change is an OrderEvent (kind `order.<status>`), handed to the webhook outbox in the
same transaction. Holding stock, giving it back and trying postponed orders again are
server.services.reservation's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _
from flask_babel import lazy_pgettext as pgettext  # the name pybabel extracts with its context
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from server.extensions import db
from server.models import (
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PostponedReason,
    Sku,
    User,
    Warehouse,
)
from server.models.base import utcnow

# The card and reservation call each other (an order is reserved when it is created, released when
# cancelled; reservation sets the card's statuses): both import the other module, never its names.
from server.services import reservation, webhooks
from server.services.errors import DomainError
from server.services.sql_lists import chunks

MAX_LINES = 500
# Statuses an order may be cancelled from (later ones hold picked goods: the returns flow's).
CANCELLABLE = {OrderStatus.new, OrderStatus.confirmed, OrderStatus.reserved, OrderStatus.postponed}
# What people read for the statuses and postponement reasons (pages, messages).
STATUS_NAMES = {
    OrderStatus.new: pgettext("order status", "new"),
    OrderStatus.confirmed: pgettext("order status", "confirmed"),
    OrderStatus.reserved: pgettext("order status", "reserved"),
    OrderStatus.postponed: pgettext("order status", "postponed"),
    OrderStatus.cancelled: pgettext("order status", "cancelled"),
    OrderStatus.picking: pgettext("order status", "picking"),
    OrderStatus.picked: pgettext("order status", "picked"),
    OrderStatus.packing: pgettext("order status", "packing"),
    OrderStatus.packed: pgettext("order status", "packed"),
    OrderStatus.handed_over: pgettext("order status", "handed over"),
    OrderStatus.delivered: pgettext("order status", "delivered"),
    OrderStatus.returned: pgettext("order status", "returned"),
}
REASON_NAMES = {PostponedReason.awaiting_stock: _("awaiting stock"),
                PostponedReason.awaiting_customer: _("awaiting the customer")}
CARD_FIELDS = ("customer_name", "customer_phone", "delivery_address", "carrier", "carrier_service", "priority",
               "cutoff_at", "cod_amount", "comment", "external_ref")


def _user_id(user: User | None) -> int | None:
    return user.id if user is not None else None


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# --- events ------------------------------------------------------------------------------------


def record_events(changes: list[tuple[Order, str, str | None, dict]], user: User | None = None) -> list[OrderEvent]:
    """One event per (order, kind, from status, detail), handed to the webhook outbox. Written as
    rows (one multi-row INSERT per 500: a wave changes a thousand orders); the events returned are
    not session objects."""
    if not changes:
        return []
    now = utcnow()
    rows = [{"order_id": order.id, "created_at": now, "kind": kind, "from_status": from_status,
             "to_status": order.status, "user_id": _user_id(user),
             "detail": {k: v for k, v in detail.items() if v is not None}}
            for order, kind, from_status, detail in changes]
    ids = []
    for chunk in chunks(rows, 500):
        ids += db.session.execute(insert(OrderEvent).returning(OrderEvent.id, sort_by_parameter_order=True)
                                  .execution_options(render_nulls=True), chunk).scalars().all()
    events = [OrderEvent(id=event_id, **row) for event_id, row in zip(ids, rows, strict=True)]
    order_of = {id(event): order for event, (order, *_rest) in zip(events, changes, strict=True)}
    webhooks.enqueue_order_events(events, lambda event: order_payload(order_of[id(event)]))
    return events


def record_event(order: Order, kind: str, *, from_status: str | None, user: User | None = None,
                 **detail) -> OrderEvent:
    return record_events([(order, kind, from_status, detail)], user)[0]


def set_statuses(orders: list[Order], to_status: str, *, user: User | None = None,
                 postponed_reason: str | None = None, retry_at: datetime | None = None,
                 detail_of=None, **detail) -> list[OrderEvent]:
    """Move the orders to `to_status` and record an event each (the webhooks' `order.<status>`);
    `detail_of(order)` adds to the event's detail per order. One UPDATE per 900 orders; the
    session's orders get the new values."""
    if not orders:
        return []
    status, now = OrderStatus(to_status), utcnow()
    postponed = status == OrderStatus.postponed
    values = {"status": status, "postponed_reason": postponed_reason if postponed else None,
              "retry_at": retry_at if postponed else None, "status_changed_at": now}
    changes = [(order, f"order.{status}", order.status,
                {"postponed_reason": values["postponed_reason"], "retry_at": retry_at.isoformat() if retry_at else None,
                 **detail, **(detail_of(order) if detail_of else {})})
               for order in orders]
    for chunk in chunks([order.id for order in orders]):
        db.session.execute(update(Order).where(Order.id.in_(chunk)).values(**values)
                           .execution_options(synchronize_session="evaluate"))
    return record_events(changes, user)


def set_status(order: Order, to_status: str, *, user: User | None = None, postponed_reason: str | None = None,
               retry_at: datetime | None = None, **detail) -> OrderEvent:
    """Move the order to `to_status` and record the event (the webhooks' `order.<status>`)."""
    return set_statuses([order], to_status, user=user, postponed_reason=postponed_reason, retry_at=retry_at,
                        **detail)[0]


# --- the card as programs read it ----------------------------------------------------------------


def order_payload(order: Order) -> dict:
    """One order as the API answers it and as webhooks carry it."""
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "postponed_reason": order.postponed_reason,
        "retry_at": order.retry_at.isoformat() if order.retry_at else None,
        "warehouse_id": order.warehouse_id,
        "source": order.source,
        "external_ref": order.external_ref,
        "customer": {"name": order.customer_name, "phone": order.customer_phone},
        "delivery_address": order.delivery_address,
        "carrier": order.carrier,
        "service": order.carrier_service,
        "priority": order.priority,
        "cutoff_at": order.cutoff_at.isoformat() if order.cutoff_at else None,
        "cod_amount": str(order.cod_amount) if order.cod_amount is not None else None,
        "comment": order.comment,
        "needs_confirmation": order.needs_confirmation,
        "partial_allowed": order.partial_allowed,
        "cancel_reason": order.cancel_reason or None,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "status_changed_at": order.status_changed_at.isoformat() if order.status_changed_at else None,
        "lines": [
            {"line_no": line.line_no, "sku": line.sku.code, "name": line.sku.name, "quantity": line.quantity,
             "reserved": line.reserved + line.picked, "picked": line.picked}
            for line in order.lines
        ],
    }


# --- intake ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


def _line_requests(lines) -> list[LineRequest]:
    if not lines:
        raise DomainError(422, "order-without-lines", _("An order needs at least one line."))
    if len(lines) > MAX_LINES:
        raise DomainError(422, "too-many-lines", _("An order may have at most %(n)s lines.", n=MAX_LINES))
    requests = []
    for number, line in enumerate(lines, start=1):
        code = line["sku"] if isinstance(line, dict) else line.sku
        quantity = line["quantity"] if isinstance(line, dict) else line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= 100_000:
            raise DomainError(422, "bad-quantity", _("Line %(n)s: the quantity must be a whole number from 1 to "
                                                     "100000.", n=number), line=number)
        requests.append(LineRequest(str(code).strip(), quantity))
    return requests


def _skus(requests: list[LineRequest]) -> dict[str, Sku]:
    codes = {r.sku for r in requests}
    found = {s.code: s for s in db.session.execute(select(Sku).where(Sku.code.in_(codes))).scalars()}
    for number, request in enumerate(requests, start=1):
        sku = found.get(request.sku)
        if sku is None or not sku.active:
            raise DomainError(422, "unknown-sku", _("Line %(n)s: no active SKU with code %(code)s.", n=number,
                                                   code=request.sku), line=number, sku=request.sku)
    return found


def _same_order(order: Order, requests: list[LineRequest]) -> bool:
    return [(line.sku.code, line.quantity) for line in order.lines] == [(r.sku, r.quantity) for r in requests]


def find_order(number: str) -> Order | None:
    return db.session.execute(select(Order).where(Order.number == number)).scalar_one_or_none()


def create_order(warehouse_id: int, number: str, lines, *, user: User | None = None, source: str = "api",
                 needs_confirmation: bool = False, partial_allowed: bool = False, reserve_now: bool = True,
                 **card) -> tuple[Order, bool]:
    """A new order (reserved at once unless it needs confirmation, or the caller reserves many later:
    `reserve_now=False`), or the existing one of that number when the same order is sent again. The
    same number with other lines is refused (409)."""
    number = (number or "").strip()
    if not number or len(number) > 64:
        raise DomainError(422, "bad-order-number", _("The order number must have 1 to 64 characters."))
    requests = _line_requests(lines)
    unknown = set(card) - set(CARD_FIELDS)
    if unknown:
        raise TypeError(f"unknown order fields: {', '.join(sorted(unknown))}")
    if db.session.get(Warehouse, warehouse_id) is None:
        raise DomainError(404, "unknown-warehouse", _("No warehouse with id %(id)s.", id=warehouse_id))
    skus = _skus(requests)

    existing = find_order(number)
    if existing is None:
        order = Order(warehouse_id=warehouse_id, number=number, source=source, needs_confirmation=needs_confirmation,
                      partial_allowed=partial_allowed, status=OrderStatus.new, created_by_user_id=_user_id(user),
                      **{k: v for k, v in card.items() if v is not None})
        order.lines = [OrderLine(line_no=n, sku_id=skus[r.sku].id, quantity=r.quantity, sku=skus[r.sku])
                       for n, r in enumerate(requests, start=1)]
        try:
            with db.session.begin_nested():
                db.session.add(order)
                db.session.flush()
        except IntegrityError:  # the same number, sent at the same moment, won
            existing = find_order(number)
            if existing is None:
                raise
    if existing is not None:
        if not _same_order(existing, requests):
            raise DomainError(409, "order-number-taken", _("Order %(number)s exists with other lines.",
                                                          number=number), order_id=existing.id)
        return existing, False

    record_event(order, "order.created", from_status=None, user=user, source=source)
    if not needs_confirmation and reserve_now:
        reservation.reserve(order, user=user)
    return order, True


# --- the order's lock ---------------------------------------------------------------------------


def lock_order(order_id: int, *, skip_locked: bool = False) -> Order | None:
    """The order row, locked for this transaction and read fresh (None: gone, or taken with skip_locked)."""
    found = lock_orders([order_id], skip_locked=skip_locked)
    return found[0] if found else None


def lock_orders(order_ids, *, skip_locked: bool = False) -> list[Order]:
    """The orders, locked in id order for this transaction and read fresh with their lines, in the
    order given (gone ones, and with skip_locked those another transaction holds, left out)."""
    wanted = list(dict.fromkeys(order_ids))
    found = {}
    for chunk in chunks(sorted(wanted)):
        statement = (select(Order).where(Order.id.in_(chunk)).order_by(Order.id)
                     .options(selectinload(Order.lines).selectinload(OrderLine.sku))
                     .execution_options(populate_existing=True))
        if _is_postgres() or not skip_locked:
            statement = statement.with_for_update(skip_locked=skip_locked, of=Order)
        found.update((order.id, order) for order in db.session.execute(statement).scalars())
    return [found[i] for i in wanted if i in found]


# --- the operator's decisions --------------------------------------------------------------------


def _locked_in(order: Order, statuses, action) -> Order:
    order = lock_order(order.id)
    if order.status not in statuses:
        raise DomainError(409, "order-status", _("Order %(number)s is %(status)s: %(action)s is not possible.",
                                                number=order.number, status=STATUS_NAMES.get(order.status, order.status), action=action),
                          order_status=order.status)
    return order


def confirm(order: Order, user: User | None = None) -> Order:
    """The customer confirmed: the order goes to reservation."""
    order = _locked_in(order, {OrderStatus.new, OrderStatus.postponed}, _("confirm"))
    if order.status == OrderStatus.postponed and order.postponed_reason != PostponedReason.awaiting_customer:
        raise DomainError(409, "order-status", _("Order %(number)s waits for stock, not for the customer.",
                                                number=order.number), order_status=order.status)
    set_status(order, OrderStatus.confirmed, user=user)
    return reservation.reserve(order, user)


def no_answer(order: Order, user: User | None = None, retry_at: datetime | None = None,
              retry_in: timedelta = timedelta(hours=2)) -> Order:
    """The customer did not answer: postponed, back on the list to call at `retry_at`."""
    order = _locked_in(order, {OrderStatus.new, OrderStatus.postponed}, _("no answer"))
    if order.status == OrderStatus.postponed and order.postponed_reason != PostponedReason.awaiting_customer:
        raise DomainError(409, "order-status", _("Order %(number)s waits for stock, not for the customer.",
                                                number=order.number), order_status=order.status)
    retry_at = retry_at or utcnow() + retry_in
    if retry_at <= utcnow():
        raise DomainError(422, "retry-in-the-past", _("The time to call again must be in the future."))
    set_status(order, OrderStatus.postponed, user=user, postponed_reason=PostponedReason.awaiting_customer,
               retry_at=retry_at)
    return order


def cancel(order: Order, reason: str, user: User | None = None) -> Order:
    """Cancel with a reason; what the order held goes back to stock (and to orders waiting for it)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(422, "reason-required", _("Give the reason for cancelling."))
    order = _locked_in(order, CANCELLABLE, _("cancel"))
    released = reservation.release(order, user, reason=f"cancelled: {reason}")
    order.cancel_reason = reason
    set_status(order, OrderStatus.cancelled, user=user, reason=reason, released=released or None)
    return order


def counts_by_status(warehouse_id: int | None = None) -> dict[str, int]:
    statement = select(Order.status, func.count()).group_by(Order.status)
    if warehouse_id is not None:
        statement = statement.where(Order.warehouse_id == warehouse_id)
    return dict(db.session.execute(statement).all())


def to_confirm(warehouse_id: int | None = None, limit: int = 200) -> list[Order]:
    """Orders waiting for a call to the customer: new ones that need confirmation, oldest first."""
    statement = (select(Order).where(Order.status == OrderStatus.new, Order.needs_confirmation.is_(True))
                 .order_by(Order.priority.desc(), Order.created_at, Order.id).limit(limit))
    if warehouse_id is not None:
        statement = statement.where(Order.warehouse_id == warehouse_id)
    return db.session.execute(statement).scalars().all()


def money(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))
