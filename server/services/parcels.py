"""Cancelling a parcel at its carrier: a supervisor withdraws a labelled parcel that is not yet
handed over (a wrong label, a parcel to re-pack).

`cancel_parcel` locks the parcel row (then its order), calls the carrier adapter's `cancel` with the
tracking number (the local adapter marks it void), sets the parcel `cancelled` (it keeps its
tracking number, weights and evidence), deletes its marking codes (a cancelled parcel ships none:
the units may be packed again), moves a `packed` order back to `packing` (an `order.packing` event
with reason "parcel-cancelled") and records `parcel.cancel` in the audit log. The units of a
cancelled parcel no longer count as verified: the pack station reopens the order (its number, a
tote or the parcel's code) and packs them into a new parcel."""

from __future__ import annotations

from flask_babel import lazy_gettext as _
from sqlalchemy import delete, select

from server.extensions import db
from server.models import Order, OrderStatus, User
from server.models.shipping import MarkingCode, Parcel
from server.services import audit, carriers, orders
from server.services.errors import DomainError

CANCELLED = "cancelled"
LABELLED = "packed"  # a parcel with its tracking number and label, not yet handed over
HANDED_OVER = {OrderStatus.handed_over, OrderStatus.delivered, OrderStatus.returned}
MAX_REASON = 500


def lock_parcel(parcel_id: int) -> Parcel:
    parcel = db.session.get(Parcel, parcel_id, with_for_update=True, populate_existing=True)
    if parcel is None:
        raise DomainError(404, "unknown-parcel", _("No parcel with id %(id)s.", id=parcel_id))
    return parcel


def cancel_parcel(parcel_id: int, reason: str, user: User | None) -> Parcel:
    """Cancel a labelled parcel at its carrier (see the module docstring)."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise DomainError(422, "reason-required", _("Give the reason for cancelling the parcel."))
    if len(reason) > MAX_REASON:
        raise DomainError(422, "reason-too-long", _("The reason is at most %(num)s characters.", num=MAX_REASON))
    parcel = lock_parcel(parcel_id)
    if parcel.status == CANCELLED:
        raise DomainError(409, "parcel-cancelled", _("Parcel %(code)s is already cancelled.", code=parcel.code))
    order = orders.lock_order(parcel.order_id) if parcel.order_id else None
    if parcel.status == "handed_over" or (order is not None and order.status in HANDED_OVER):
        raise DomainError(409, "parcel-handed-over", _("Parcel %(code)s is handed over to the carrier: it can "
                                                       "no longer be cancelled here.", code=parcel.code))
    if parcel.status != LABELLED or not parcel.tracking_number:
        raise DomainError(409, "parcel-not-labelled", _("Parcel %(code)s has no label yet: there is nothing to "
                                                        "cancel at the carrier.", code=parcel.code))
    carriers.adapter_for(parcel.carrier).cancel(parcel.tracking_number)
    freed = db.session.execute(select(MarkingCode.gtin, MarkingCode.serial).where(
        MarkingCode.parcel_id == parcel.id).order_by(MarkingCode.id)).all()
    db.session.execute(delete(MarkingCode).where(MarkingCode.parcel_id == parcel.id)
                       .execution_options(synchronize_session=False))
    parcel.status = CANCELLED
    before, after = {"status": LABELLED}, {"status": CANCELLED}
    if order is not None and order.status == OrderStatus.packed:
        orders.set_status(order, OrderStatus.packing, user=user, reason="parcel-cancelled", parcel=parcel.code)
        before["order_status"], after["order_status"] = str(OrderStatus.packed), str(OrderStatus.packing)
    audit.record(user, "parcel.cancel", parcel.code, reason=reason, carrier=parcel.carrier,
                 tracking_number=parcel.tracking_number, order=order.number if order else None,
                 before=before, after=after, marking_codes_freed=[f"01{gtin}21{serial}" for gtin, serial in freed])
    db.session.flush()
    return parcel


def parcel_payload(parcel: Parcel) -> dict:
    order = db.session.get(Order, parcel.order_id) if parcel.order_id else None
    return {"id": parcel.id, "code": parcel.code, "status": parcel.status, "carrier": parcel.carrier,
            "tracking_number": parcel.tracking_number,
            "seq": parcel.seq, "order_id": parcel.order_id, "order_status": order.status if order else None}
