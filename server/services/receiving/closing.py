"""Closing a delivery: discrepancies, stock into the receiving (and quarantine) cell, putaway tasks; accepting."""

from datetime import date

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select

from server.extensions import db
from server.models import (
    Delivery,
    DeliveryLine,
    DeliveryStatus,
    Discrepancy,
    DiscrepancyKind,
    ReceiptCount,
    ReceivingQuestion,
    Station,
    User,
)
from server.models.base import utcnow
from server.services.dates import parse_date
from server.services.errors import DomainError
from server.services.receiving.deliveries import (
    SCENARIO,
    _lock,
    _refuse_unless_receiving,
    _status_name,
    quarantine_cell,
)
from server.services.receiving.views import arrival, discrepancies_of
from server.services.stock import Actor, ReceiptLine, receive_lines


def close_delivery(delivery: Delivery, user: User | None = None, station: Station | None = None) -> list[Discrepancy]:
    """Close a delivery being received: store its discrepancies, receive the good units into the
    receiving cell (one movement per line, lot and expiry), the damaged ones into a quarantine
    cell (if the warehouse has one), and create the putaway tasks."""
    from server.services.putaway import create_putaway_tasks

    delivery = _lock(delivery)
    _refuse_unless_receiving(delivery)
    lines = db.session.execute(select(DeliveryLine).where(DeliveryLine.delivery_id == delivery.id)
                               .order_by(DeliveryLine.line_no)
                               .execution_options(populate_existing=True)).scalars().all()
    quarantine = quarantine_cell(delivery.warehouse_id)
    discrepancies = []

    def note(kind, quantity, line=None, question=None, text=""):
        row = Discrepancy(delivery_id=delivery.id, line_id=line.id if line else None,
                          question_id=question.id if question else None,
                          sku_id=line.sku_id if line else question.sku_id if question else None,
                          kind=kind, quantity=quantity, note=text)
        db.session.add(row)
        discrepancies.append(row)

    for line in lines:
        arrived = line.received_qty + line.damaged_qty
        kind = arrival(line.expected_qty, arrived, line.unexpected, delivery.blind)
        if kind == "unexpected" and arrived > 0:
            note(DiscrepancyKind.unexpected, arrived, line)
        elif kind in ("short", "over"):
            note(DiscrepancyKind(kind), abs(line.expected_qty - arrived), line)
        if line.damaged_qty > 0:
            where = "" if quarantine else "No quarantine cell: the damaged units are not in stock."
            note(DiscrepancyKind.damaged, line.damaged_qty, line, text=where)
    for question in db.session.execute(select(ReceivingQuestion).where(
            ReceivingQuestion.delivery_id == delivery.id, ReceivingQuestion.status == "open")
            .order_by(ReceivingQuestion.id)).scalars():
        note(DiscrepancyKind.unknown, question.quantity, question=question,
             text=f"Unknown barcode {question.barcode}")

    # Stock: the counts summed per line, lot, expiry and condition.
    sums = db.session.execute(
        select(ReceiptCount.line_id, ReceiptCount.sku_id, ReceiptCount.lot, ReceiptCount.expiry, ReceiptCount.damaged,
               func.sum(ReceiptCount.quantity))
        .where(ReceiptCount.delivery_id == delivery.id)
        .group_by(ReceiptCount.line_id, ReceiptCount.sku_id, ReceiptCount.lot, ReceiptCount.expiry,
                  ReceiptCount.damaged)).all()
    good, bad = [], []
    for line_id, sku_id, lot, expiry, damaged, quantity in sorted(
            sums, key=lambda r: (r[0], r[2] or "", r[3] or date.max, r[4])):
        quantity = int(quantity or 0)
        if quantity <= 0:
            continue
        expiry = parse_date(expiry)  # SQLite hands back text
        key = f"receiving-{delivery.id}-{line_id}-{lot or ''}-{expiry or ''}-{'damaged' if damaged else 'good'}"
        if damaged and quarantine is None:
            continue
        target = (bad if damaged else good)
        target.append(ReceiptLine(cell_id=quarantine.id if damaged else delivery.receiving_cell_id, sku_id=sku_id,
                                  lot=lot or "", expiry=expiry, quantity=quantity, idempotency_key=key[:200]))
    actor = Actor(user_id=user.id if user else None, station_id=station.id if station else None, scenario=SCENARIO)
    receive_lines(good, actor=actor, reason="receiving", reference=delivery.number)
    receive_lines(bad, actor=actor, reason="receiving: damaged", reference=delivery.number)

    delivery.status = DeliveryStatus.closed
    delivery.closed_at = utcnow()
    delivery.closed_by_user_id = user.id if user else None
    db.session.flush()
    create_putaway_tasks(delivery)
    return discrepancies


def accept_discrepancies(delivery: Delivery, user: User) -> Delivery:
    """A supervisor accepts a closed delivery's discrepancies."""
    delivery = _lock(delivery)
    if delivery.status != DeliveryStatus.closed:
        raise DomainError(409, "delivery-not-closed", _("Delivery %(number)s is %(status)s: close it first.",
                                                    number=delivery.number, status=_status_name(delivery)),
                      status_now=delivery.status)
    now = utcnow()
    delivery.status = DeliveryStatus.accepted
    delivery.accepted_at, delivery.accepted_by_user_id = now, user.id
    for row in discrepancies_of(delivery):
        row.accepted_at, row.accepted_by_user_id = now, user.id
    db.session.flush()
    return delivery
