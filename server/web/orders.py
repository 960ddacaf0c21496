"""Order pages for supervisors: the list of orders with filters, one order's card (lines,
reservations, timeline, cancel and reserve now), and the confirmation page of the operator who
calls customers (confirmed, no answer: call again at, cancelled with a reason). Every change goes
through server.services.orders and server.services.reservation; a refused one is flashed and nothing is written."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select

from server.api.orders import text_filter
from server.auth import signed_in, signed_in_user
from server.core.bounds import INT64_MAX, parse_whole
from server.extensions import db
from server.models import (
    Cell,
    MediaFile,
    Order,
    OrderLine,
    OrderReservation,
    OrderStatus,
    Parcel,
    PostponedReason,
    Role,
    User,
)
from server.models.base import utcnow
from server.services import dates, reservation
from server.services import orders as service
from server.services.errors import DomainError

orders = Blueprint("orders_pages", __name__, template_folder="templates")

SUPERVISORS = (Role.supervisor,)
PAGE_SIZE = 50
CALL_AGAIN = timedelta(hours=2)
STATUS_NAMES, REASON_NAMES = service.STATUS_NAMES, service.REASON_NAMES
EVENT_NAMES = {
    "order.created": _l("created"), "order.reserved_again": _l("reserved again"),
    **{f"order.{status.value}": name for status, name in STATUS_NAMES.items()},
}


@orders.context_processor
def order_names():
    return {"status_names": STATUS_NAMES, "reason_names": REASON_NAMES, "event_names": EVENT_NAMES}


@orders.errorhandler(CSRFError)
def _on_csrf(error):
    db.session.rollback()
    flash(_("The page is out of date: reload it."), "error")
    return redirect(url_for("orders_pages.index"))


def _text(name: str, limit: int) -> str:
    value = request.values.get(name, "")
    if len(value) > limit or "\x00" in value:
        raise DomainError(422, "bad-value", _("A field is too long."))
    return value.strip()


def _local_moment(value: str, warehouse_id: int | None) -> datetime | None:
    """A datetime-local field ("2026-12-03T14:30") in the warehouse's time, as UTC; None when empty."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError(422, "bad-time", _("Give the time as date and hours:minutes.")) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dates.warehouse_zone(warehouse_id))
    return moment.astimezone(dates.UTC)


def to_confirm_count() -> int:
    """Orders waiting for a call to the customer (the home tile's figure)."""
    return db.session.execute(select(func.count()).select_from(Order).where(
        Order.status == OrderStatus.new, Order.needs_confirmation.is_(True))).scalar_one()


# --- the list ---------------------------------------------------------------------------------------


def _filters() -> tuple[dict, list[str]]:
    """The list's filters from the query string; values that mean nothing are dropped with a message."""
    found, errors = {}, []
    status = request.args.get("status", "")
    if status in OrderStatus.__members__.values():
        found["status"] = status
    reason = request.args.get("reason", "")
    if reason in PostponedReason.__members__.values():
        found["reason"] = reason
    for name in ("carrier", "q"):
        value = request.args.get(name, "").strip()
        if value and len(value) <= 100 and "\x00" not in value:
            found[name] = value
    try:
        cutoff = _local_moment(request.args.get("cutoff_before", "")[:32], None)
        if cutoff is not None:
            found["cutoff_before"] = cutoff
    except DomainError as error:
        errors.append(str(error))
    return found, errors


def _filtered(filters: dict, *, with_status: bool = True):
    statement = select(Order)
    if with_status and "status" in filters:
        statement = statement.where(Order.status == filters["status"])
    if "reason" in filters:
        statement = statement.where(Order.postponed_reason == filters["reason"])
    if "carrier" in filters:
        statement = statement.where(Order.carrier == filters["carrier"])
    if "cutoff_before" in filters:
        statement = statement.where(Order.cutoff_at < filters["cutoff_before"])
    if "q" in filters:
        statement = statement.where(text_filter(filters["q"]))
    return statement


@orders.get("/orders")
@signed_in(*SUPERVISORS)
def index():
    filters, errors = _filters()
    for message in errors:
        flash(message, "error")
    page = min(parse_whole(request.args.get("page", "1"), INT64_MAX) or 1, 100_000)
    counted = _filtered(filters, with_status=False).with_only_columns(Order.status, func.count()).group_by(Order.status)
    counts = dict(db.session.execute(counted).all())
    total = db.session.execute(_filtered(filters).with_only_columns(func.count())).scalar_one()
    rows = db.session.execute(_filtered(filters).order_by(Order.id.desc()).limit(PAGE_SIZE)
                              .offset((page - 1) * PAGE_SIZE)).scalars().all()
    sums = {}
    if rows:
        sums = {order_id: (lines, units, reserved) for order_id, lines, units, reserved in db.session.execute(
            select(OrderLine.order_id, func.count(), func.sum(OrderLine.quantity),
                   func.sum(OrderLine.reserved + OrderLine.picked))
            .where(OrderLine.order_id.in_([o.id for o in rows])).group_by(OrderLine.order_id))}
    carriers = db.session.execute(select(Order.carrier).where(Order.carrier != "").distinct()
                                  .order_by(Order.carrier).limit(200)).scalars().all()
    query = {k: v for k, v in request.args.items() if k != "page" and k in ("status", "reason", "carrier", "q",
                                                                             "cutoff_before")}
    return render_template("orders/index.html", orders=rows, sums=sums, counts=counts, filters=filters,
                           statuses=list(OrderStatus), reasons=list(PostponedReason), carriers=carriers, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)), total=total, query=query,
                           base={k: v for k, v in query.items() if k != "status"},
                           to_confirm=to_confirm_count())


# --- the card ---------------------------------------------------------------------------------------


@orders.get("/orders/<int:order_id>")
@signed_in(*SUPERVISORS)
def card(order_id: int):
    order = db.get_or_404(Order, order_id)
    reservations = db.session.execute(
        select(OrderReservation).where(OrderReservation.order_id == order.id, OrderReservation.quantity > 0)
        .order_by(OrderReservation.order_line_id, OrderReservation.id)).scalars().all()
    cells = {c.id: c for c in db.session.execute(
        select(Cell).where(Cell.id.in_({r.cell_id for r in reservations}))).scalars()} if reservations else {}
    user_ids = {e.user_id for e in order.events if e.user_id}
    users = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(user_ids))).scalars()} \
        if user_ids else {}
    parcels = db.session.execute(select(Parcel).where(Parcel.order_id == order.id)
                                 .order_by(Parcel.seq, Parcel.id)).scalars().all()
    media_files = {m.id: m for m in db.session.execute(select(MediaFile).where(MediaFile.id.in_(
        {pm.media_file_id for p in parcels for pm in p.media if pm.media_file_id}))).scalars()} if parcels else {}
    return render_template("orders/card.html", order=order, reservations=reservations, cells=cells, users=users,
                           parcels=parcels, media_files=media_files,
                           cancellable=order.status in service.CANCELLABLE,
                           reservable=(order.status == OrderStatus.confirmed or (
                               order.status == OrderStatus.postponed
                               and order.postponed_reason == PostponedReason.awaiting_stock)))


def _act(order_id: int, change, message, back: str):
    """Run a change of the order in one transaction: a refused one is flashed, nothing written."""
    order = db.get_or_404(Order, order_id)
    number = order.number
    try:
        change(order, signed_in_user())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(message(number), "ok")
    return redirect(url_for(back, order_id=order_id) if back == "orders_pages.card" else url_for(back))


def _back() -> str:
    return "orders_pages.confirm_list" if request.form.get("back") == "confirm" else "orders_pages.card"


@orders.post("/orders/<int:order_id>/cancel")
@signed_in(*SUPERVISORS)
def cancel(order_id: int):
    def change(order, user):
        service.cancel(order, _text("reason", 500), user)
    return _act(order_id, change, lambda n: _("Order %(number)s cancelled.", number=n), _back())


@orders.post("/orders/<int:order_id>/reserve")
@signed_in(*SUPERVISORS)
def reserve(order_id: int):
    order = db.get_or_404(Order, order_id)
    try:
        order = reservation.reserve(order, signed_in_user())
        db.session.commit()  # still short: postponed awaiting stock, tried again later
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        if order.status == OrderStatus.reserved:
            flash(_("Order %(number)s reserved.", number=order.number), "ok")
        else:
            flash(_("Order %(number)s: still not enough stock.", number=order.number), "error")
    return redirect(url_for("orders_pages.card", order_id=order_id))


# --- confirmation by phone ---------------------------------------------------------------------------


@orders.get("/orders/confirm")
@signed_in(*SUPERVISORS)
def confirm_list():
    waiting = service.to_confirm()
    default = dates.now_in(None, utcnow() + CALL_AGAIN).strftime("%Y-%m-%dT%H:%M")
    return render_template("orders/confirm.html", orders=waiting, call_again=default)


@orders.post("/orders/<int:order_id>/confirm")
@signed_in(*SUPERVISORS)
def confirm(order_id: int):
    def change(order, user):
        service.confirm(order, user)
    return _act(order_id, change, lambda n: _("Order %(number)s confirmed.", number=n), "orders_pages.confirm_list")


@orders.post("/orders/<int:order_id>/no-answer")
@signed_in(*SUPERVISORS)
def no_answer(order_id: int):
    def change(order, user):
        retry_at = _local_moment(_text("retry_at", 32), order.warehouse_id)
        service.no_answer(order, user, retry_at, retry_in=CALL_AGAIN)
    return _act(order_id, change, lambda n: _("Order %(number)s: no answer, call again later.", number=n), "orders_pages.confirm_list")
