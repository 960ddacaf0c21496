"""Packing at a pack station: open an order (tote, order number or parcel code), verify every unit
by scan into the open parcel (marking codes recorded once in the warehouse), weigh the parcel
against the expected weight within the warehouse's tolerance (or a supervisor's override), and
accept it: tracking number and label from the carrier adapter; the order is `packed` with its
last parcel. Refusals of a scan are `PackingRefusal`s: the caller records them as PackingError
rows (`record_error`) after rolling back what the scan wrote."""

from __future__ import annotations

import json

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import Order, OrderLine, OrderStatus, Sku, Station, StationJob, Tote, User, Warehouse
from server.models.base import utcnow
from server.models.people import Role
from server.models.shipping import (
    BoxType,
    MarkingCode,
    PackingError,
    PackingErrorKind,
    PackingSession,
    PackingStatus,
    Parcel,
    ParcelItem,
    ParcelMedia,
)
from server.services import boxes, carriers, evidence, orders, parcel_documents, reservation
from server.services import picking as picking_service
from server.services import stations as station_service
from server.services.errors import DomainError
from server.services.scan import Classification, Kind
from server.services.sku_pictures import picture_url

OPENS = (OrderStatus.picked, OrderStatus.packing)
ACTIVE = (PackingStatus.open, PackingStatus.weighing, PackingStatus.mismatch)
MAX_REASON = 500
UNIT_GRAMS = {"g": 1.0, "kg": 1000.0, "lb": 453.59237, "oz": 28.349523125}


class PackingRefusal(DomainError):
    """A scan refused while verifying: `kind` is the PackingErrorKind to record."""

    def __init__(self, kind: PackingErrorKind, title, code: str = "", **detail):
        super().__init__(409, kind.value.replace("_", "-"), title)
        self.kind, self.code, self.facts = kind, code, detail


# --- boxes ---------------------------------------------------------------------------------------


def suggest_box(warehouse_id: int, lines) -> BoxType | None:
    """The suggested box for (Sku, units) pairs: `boxes.suggest_box`, the smallest that holds them."""
    return boxes.suggest_box(warehouse_id, boxes.units_of(lines))


# --- opening -------------------------------------------------------------------------------------


def lock_session(session_id: int) -> PackingSession:
    found = db.session.get(PackingSession, session_id, with_for_update=True, populate_existing=True)
    if found is None:
        raise DomainError(404, "no-packing-session", _("No packing session: scan a tote or an order."))
    return found


def order_to_pack(result: Classification) -> tuple[Order, Tote | None]:
    """The order a tote, order or parcel scan names (and the tote, when a tote was scanned)."""
    tote = None
    if result.kind == Kind.tote:
        tote, order = picking_service.tote_lookup(result.entity["code"])
        if order is None:
            raise DomainError(409, "tote-empty", _("Tote %(code)s carries no order.", code=tote.code))
    elif result.kind == Kind.order:
        order = db.session.get(Order, result.entity_id)
    elif result.kind == Kind.parcel:
        parcel = db.session.get(Parcel, result.entity_id)
        order = db.session.get(Order, parcel.order_id) if parcel.order_id else None
    else:
        order = None
    if order is None:
        raise DomainError(404, "nothing-to-pack", _("Scan a tote, an order number or a parcel code."))
    return order, tote


def open_session(station: Station, user: User | None, order: Order, tote: Tote | None = None) -> PackingSession:
    """Packing `order` at `station`: its open session (taken over here) or a new one; the order
    becomes `packing`. Only a picked (or packing) order of the station's warehouse opens."""
    order = orders.lock_order(order.id)
    if order.warehouse_id != station.warehouse_id:
        raise DomainError(409, "other-warehouse", _("Order %(number)s is of another warehouse.", number=order.number))
    if order.status not in OPENS:
        raise DomainError(409, "order-not-picked", _("Order %(number)s is %(status)s: only a picked order is "
                                                     "packed.", number=order.number, status=order.status))
    session = db.session.execute(select(PackingSession).where(
        PackingSession.order_id == order.id, PackingSession.status.in_([*ACTIVE, PackingStatus.held]))
        .order_by(PackingSession.id.desc()).limit(1).with_for_update()).scalar_one_or_none()
    if session is None:
        if tote is None:
            tote = db.session.execute(select(Tote).where(Tote.order_id == order.id).limit(1)).scalar_one_or_none()
        box = suggest_box(order.warehouse_id, [(db.session.get(Sku, line.sku_id), left)
                                               for line, left in lines_left(order)])
        session = PackingSession(station_id=station.id, order_id=order.id, tote_id=tote.id if tote else None,
                                 packer_user_id=user.id if user else None, status=PackingStatus.open,
                                 box_type_id=box.id if box else None, detail={})
        db.session.add(session)
    else:
        session.station_id, session.packer_user_id = station.id, (user.id if user else None)
        if session.status == PackingStatus.held:
            session.status = PackingStatus.open
    if order.status != OrderStatus.packing:
        orders.set_status(order, OrderStatus.packing, user=user, station_id=station.id)
    db.session.flush()
    return session


# --- what is verified ----------------------------------------------------------------------------


def verified_by_line(order_id: int) -> dict[int, int]:
    rows = db.session.execute(
        select(ParcelItem.order_line_id, func.sum(ParcelItem.quantity)).join(Parcel, Parcel.id == ParcelItem.parcel_id)
        .where(Parcel.order_id == order_id, Parcel.status != "cancelled")  # a cancelled parcel's units are packed again
        .group_by(ParcelItem.order_line_id)).all()
    return {line_id: int(n) for line_id, n in rows}


def lines_left(order: Order) -> list[tuple[OrderLine, int]]:
    done = verified_by_line(order.id)
    return [(line, line.quantity - done.get(line.id, 0)) for line in sorted(order.lines, key=lambda x: x.line_no)]


def units_left(order: Order) -> int:
    return sum(max(left, 0) for _line, left in lines_left(order))


def open_parcel(session: PackingSession, *, create: bool = True) -> Parcel | None:
    """The session's parcel being filled (status `packing`), or a new one numbered after the order's."""
    parcel = db.session.execute(select(Parcel).where(Parcel.packing_session_id == session.id,
                                                     Parcel.status == "packing")).scalar_one_or_none()
    if parcel is not None or not create:
        return parcel
    seq = (db.session.execute(select(func.max(Parcel.seq)).where(Parcel.order_id == session.order_id)).scalar()
           or 0) + 1
    order = db.session.get(Order, session.order_id)
    parcel = Parcel(order_id=order.id, code=f"PCL-{order.id}-{seq}", carrier=order.carrier or "", status="packing",
                    packing_session_id=session.id, seq=seq, box_type_id=session.box_type_id,
                    station_id=session.station_id, packer_user_id=session.packer_user_id)
    db.session.add(parcel)
    db.session.flush()
    return parcel


def next_parcel_seq(session: PackingSession) -> int:
    """The seq of the parcel being filled, or of the next one."""
    parcel = open_parcel(session, create=False)
    if parcel is not None:
        return parcel.seq
    return (db.session.execute(select(func.max(Parcel.seq)).where(Parcel.order_id == session.order_id)).scalar()
            or 0) + 1


def parcel_units(parcel: Parcel) -> int:
    return int(db.session.execute(select(func.coalesce(func.sum(ParcelItem.quantity), 0))
                                  .where(ParcelItem.parcel_id == parcel.id)).scalar())


def verify(session: PackingSession, result: Classification, user: User | None, event_id: str | None) -> ParcelItem:
    """One scanned unit (or a case's units) into the open parcel, or PackingRefusal."""
    session = lock_session(session.id)
    if session.status != PackingStatus.open:
        raise DomainError(409, "parcel-closed", _("This parcel is being weighed: weigh it or re-check first."))
    order = db.session.get(Order, session.order_id)
    code = result.scan.text[:200] if result.scan is not None else ""
    gs1 = result.gs1 or {}
    if result.kind != Kind.sku:
        raise PackingRefusal(PackingErrorKind.unknown_code, _("Unknown code: not an item of this order."), code)
    sku = db.session.get(Sku, result.entity_id)
    marking = gs1.get("marking_code")
    units = 1 if marking else ((result.entity or {}).get("units") or 1)
    lines = [line for line in order.lines if line.sku_id == sku.id]
    if not lines:
        other = db.session.execute(
            select(Order.number).join(OrderLine, OrderLine.order_id == Order.id)
            .where(OrderLine.sku_id == sku.id, Order.id != order.id, Order.warehouse_id == order.warehouse_id,
                   Order.status.in_(OPENS)).order_by(Order.id).limit(1)).scalar()
        if other is not None:
            raise PackingRefusal(PackingErrorKind.other_order, _("%(sku)s is of order %(other)s, not of this one: "
                                 "put it back in its tote.", sku=sku.name, other=other), code, sku_id=sku.id,
                                 other_order=other)
        raise PackingRefusal(PackingErrorKind.wrong_item, _("%(sku)s is not on this order: set it aside.",
                                                            sku=sku.name), code, sku_id=sku.id)
    done = verified_by_line(order.id)
    locked = [db.session.get(OrderLine, line.id, with_for_update=True, populate_existing=True) for line in lines]
    line = next((x for x in locked if x.quantity - done.get(x.id, 0) >= units), None)
    if line is None:
        raise PackingRefusal(PackingErrorKind.extra_unit, _("One more %(sku)s than the order asks: set it aside.",
                                                            sku=sku.name), code, sku_id=sku.id)
    parcel = open_parcel(session)
    item = ParcelItem(parcel_id=parcel.id, order_line_id=line.id, sku_id=sku.id, quantity=units, code=code,
                      lot=(gs1.get("lot") or "")[:64], event_id=event_id, user_id=user.id if user else None)
    db.session.add(item)
    db.session.flush()
    if marking:
        record_marking(item, order, gs1, code)
    return item


def record_marking(item: ParcelItem, order: Order, gs1: dict, code: str) -> MarkingCode:
    gtin, serial = gs1["gtin"], str(gs1["serial"])[:20]
    if db.session.execute(select(MarkingCode.id).where(MarkingCode.gtin == gtin, MarkingCode.serial == serial)
                          ).first() is not None:
        raise PackingRefusal(PackingErrorKind.marking_repeat, _("This marking code was already packed: a unit is "
                                                                "never packed twice. Set it aside."), code)
    marking = gs1["marking_code"]
    row = MarkingCode(gtin=gtin, serial=serial, crypto_key=(marking.get("key") or "")[:16],
                      crypto_code=(marking.get("crypto") or "")[:200], raw=code[:300], sku_id=item.sku_id,
                      order_id=order.id, parcel_id=item.parcel_id, parcel_item_id=item.id)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:  # another station packed it at the same moment
        raise PackingRefusal(PackingErrorKind.marking_repeat, _("This marking code was already packed: a unit is "
                                                                "never packed twice. Set it aside."), code) from None
    return row


def record_error(session: PackingSession | None, kind: PackingErrorKind, *, order_id: int | None = None,
                 station_id: int | None = None, user: User | None = None, code: str = "", **detail) -> PackingError:
    row = PackingError(packing_session_id=session.id if session else None,
                       order_id=order_id or (session.order_id if session else None),
                       station_id=station_id or (session.station_id if session else None),
                       user_id=user.id if user else None, kind=kind.value, code=code[:300], detail=detail)
    db.session.add(row)
    db.session.flush()
    return row


# --- weighing ------------------------------------------------------------------------------------


def close_contents(session: PackingSession) -> Parcel:
    """The open parcel's contents are done: the parcel goes to weighing (key "new parcel", or
    every unit verified)."""
    session = lock_session(session.id)
    parcel = open_parcel(session, create=False)
    if parcel is None or parcel_units(parcel) == 0:
        raise DomainError(409, "parcel-empty", _("Nothing is in this parcel yet: scan its units first."))
    session.status = PackingStatus.weighing
    parcel.expected_weight_g = expected_weight(parcel)
    return parcel


def expected_weight(parcel: Parcel) -> int:
    items = db.session.execute(select(Sku.weight_g, ParcelItem.quantity).join(Sku, Sku.id == ParcelItem.sku_id)
                               .where(ParcelItem.parcel_id == parcel.id)).all()
    box = db.session.get(BoxType, parcel.box_type_id) if parcel.box_type_id else None
    order = db.session.get(Order, parcel.order_id)
    warehouse = db.session.get(Warehouse, order.warehouse_id)
    return sum((w or 0) * n for w, n in items) + (box.weight_g if box else 0) + (warehouse.pack_filler_g or 0)


def tolerance(warehouse: Warehouse, expected: int) -> float:
    return max(float(warehouse.pack_tolerance_g or 0), expected * float(warehouse.pack_tolerance_pct or 0) / 100)


def grams(payload: dict) -> int:
    return round(float(payload["value"]) * UNIT_GRAMS[payload["unit"]])


def weigh(session: PackingSession, weight_g: int, user: User | None) -> tuple[Parcel, bool]:
    """The parcel's stable weight: (parcel, within tolerance). Out of tolerance: the session is in
    `mismatch` and a weight_mismatch PackingError is recorded."""
    session = lock_session(session.id)
    if session.status not in (PackingStatus.weighing, PackingStatus.mismatch):
        raise DomainError(409, "not-weighing", _("No parcel is waiting for its weight."))
    parcel = open_parcel(session, create=False)
    order = db.session.get(Order, session.order_id)
    warehouse = db.session.get(Warehouse, order.warehouse_id)
    parcel.expected_weight_g = expected_weight(parcel)
    parcel.weight_g, parcel.weighed_at = weight_g, utcnow()
    within = abs(weight_g - parcel.expected_weight_g) <= tolerance(warehouse, parcel.expected_weight_g)
    if not within:
        session.status = PackingStatus.mismatch
        record_error(session, PackingErrorKind.weight_mismatch, user=user, parcel_id=parcel.id, weight_g=weight_g,
                     expected_g=parcel.expected_weight_g)
    return parcel, within


def recheck(session: PackingSession) -> None:
    """Back to verifying the parcel's contents after a mismatch (the parcel stays open)."""
    session = lock_session(session.id)
    if session.status != PackingStatus.mismatch:
        raise DomainError(409, "no-mismatch", _("No weight to re-check."))
    session.status = PackingStatus.open


def supervisor_for(badge_user_id: int | None, pin) -> User:
    """The supervisor whose badge was scanned, with their PIN checked, or DomainError."""
    boss = db.session.get(User, badge_user_id) if badge_user_id else None
    if boss is None or not boss.active or not boss.has_any_role({Role.supervisor}):
        raise DomainError(403, "not-supervisor", _("Only a supervisor's badge overrides a weight."))
    if not isinstance(pin, str) or not 0 < len(pin) <= 32 or not boss.check_pin(pin):
        raise DomainError(403, "bad-pin", _("Wrong PIN: nothing changed."))
    return boss


def check_reason(reason) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise DomainError(422, "reason-required", _("Give the reason for the override."))
    if len(reason) > MAX_REASON:
        raise DomainError(422, "reason-too-long", _("The reason is at most %(num)s characters.", num=MAX_REASON))
    return reason.strip()


def override(session: PackingSession, boss: User, reason: str) -> Parcel:
    session = lock_session(session.id)
    if session.status != PackingStatus.mismatch:
        raise DomainError(409, "no-mismatch", _("No weight to override."))
    parcel = open_parcel(session, create=False)
    parcel.override_user_id, parcel.override_reason = boss.id, check_reason(reason)
    return parcel


# --- accepting -----------------------------------------------------------------------------------


def accept(session: PackingSession, parcel: Parcel, user: User | None) -> dict:
    """The parcel is packed: tracking number and label from the carrier adapter, "n of m" (m: the
    parcels so far, one more while units are left), the label kept for reprints. The order is
    `packed` and the session closed when no unit is left. Returns {"label", "slip", "parcels",
    "finished"}."""
    session = lock_session(session.id)
    order = orders.lock_order(session.order_id)
    if parcel.weight_g is None:
        parcel.expected_weight_g = expected_weight(parcel)
    parcel.packer_user_id = user.id if user else parcel.packer_user_id
    parcel.station_id, parcel.packed_at, parcel.status = session.station_id, utcnow(), "packed"
    left = units_left(order)
    shipment = carriers.ship_parcel(parcel, order)
    n = db.session.execute(select(func.count(Parcel.id)).where(  # cancelled parcels are not counted
        Parcel.order_id == order.id, Parcel.seq <= parcel.seq, Parcel.status != "cancelled")).scalar()
    label = parcel_documents.shipping_label_data(parcel, order, shipment, n, n + (1 if left else 0))
    parcel.label = json.dumps(label, ensure_ascii=False)
    finished = left == 0
    if finished:
        session.status, session.closed_at = PackingStatus.closed, utcnow()
        orders.set_status(order, OrderStatus.packed, user=user, station_id=session.station_id)
        totes = db.session.execute(select(Tote).where(Tote.order_id == order.id).with_for_update()).scalars().all()
        for tote in totes:
            tote.order_id, tote.status, tote.cell_id = None, "free", None
    else:
        session.status = PackingStatus.open
    db.session.flush()
    return {"label": label, "slip": parcel_documents.packing_slip_data(parcel, order), "parcels": label["parcels"],
            "finished": finished}


# --- a missing unit --------------------------------------------------------------------------------


def report_missing(session: PackingSession, line_id, quantity, user: User | None) -> dict:
    """The packer reports `quantity` units of an order line missing from the tote: a `missing`
    PackingError, the session `held`; the units no longer count as picked and are reserved again
    (all that stock allows) for the short flow: the order goes back to `reserved` to be picked,
    or, with no stock, keeps `picked` with an `order.short` event. Returns {"reserved_again", "missing"}."""
    session = lock_session(session.id)
    if session.status not in ACTIVE:
        raise DomainError(409, "session-not-open", _("This packing session is not open."))
    order = orders.lock_order(session.order_id)
    left = dict((line.id, n) for line, n in lines_left(order) if n > 0)
    if isinstance(line_id, bool) or not isinstance(line_id, int) or line_id not in left:
        raise DomainError(422, "bad-line", _("Choose a line of this order that still has units to verify."))
    if quantity is None:
        quantity = left[line_id]
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= left[line_id]:
        raise DomainError(422, "bad-quantity", _("Missing: from 1 to %(num)s units.", num=left[line_id]))
    line = db.session.get(OrderLine, line_id, with_for_update=True, populate_existing=True)
    line.picked = max((line.picked or 0) - quantity, 0)
    record_error(session, PackingErrorKind.missing, user=user, line_id=line.id, sku_id=line.sku_id, missing=quantity)
    session.status = PackingStatus.held
    parcel = open_parcel(session, create=False)
    if parcel is not None and parcel_units(parcel) == 0:
        db.session.delete(parcel)
    try:
        with db.session.begin_nested():
            held = reservation.reserve_again(line, quantity, user=user, partial=True)
    except DomainError as error:
        if error.slug != "insufficient-stock":
            raise
        held = []
    reserved = sum(r.quantity for r in held)
    if reserved:
        orders.set_status(order, OrderStatus.reserved, user=user, reason="pack-missing", line_no=line.line_no,
                          missing=quantity)
    else:
        orders.set_status(order, OrderStatus.picked, user=user, reason="pack-missing", line_no=line.line_no,
                          missing=quantity)
        picking_service.flag_short(order, user, line_no=line.line_no, sku_id=line.sku_id, short=quantity,
                                   at="packing")
    db.session.flush()
    return {"reserved_again": reserved, "missing": quantity}


# --- evidence ------------------------------------------------------------------------------------


def attach_media(station: Station, kind: str, payload: dict, event_id: str | None) -> ParcelMedia | None:
    """A photo or clip event of a packing job (its `job_id`: the `photo` job names the parcel, the
    `record_start` job the session and parcel seq) kept with the parcel as ParcelMedia, once per file."""
    job_id = payload.get("job_id")
    job = db.session.get(StationJob, job_id) if isinstance(job_id, int) and not isinstance(job_id, bool) else None
    if job is None or job.station_id != station.id:
        return None
    facts = job.payload or {}
    parcel = None
    if isinstance(facts.get("parcel_id"), int):
        parcel = db.session.get(Parcel, facts["parcel_id"])
    elif isinstance(facts.get("session_id"), int) and isinstance(facts.get("parcel_seq"), int):
        parcel = db.session.execute(select(Parcel).where(Parcel.packing_session_id == facts["session_id"],
                                                         Parcel.seq == facts["parcel_seq"])).scalar_one_or_none()
        if parcel is None:  # a clip (part) that came before the parcel's first unit: the parcel it films
            parcel = _parcel_being_filmed(facts["session_id"], facts["parcel_seq"])
    if parcel is None:
        return None
    media = station_service.expect_media(station, payload, kind, event_id)
    db.session.flush()
    return evidence.attach_media(parcel, media, "still" if kind == "photo" else "clip", bool(payload.get("partial")))


def _parcel_being_filmed(session_id: int, seq: int) -> Parcel | None:
    session = db.session.get(PackingSession, session_id)
    if session is None or session.status in (PackingStatus.closed, PackingStatus.held):
        return None
    session = lock_session(session_id)
    return open_parcel(session) if next_parcel_seq(session) == seq else None


# --- views ---------------------------------------------------------------------------------------


def station_expected_g(station_id: int) -> int | None:
    """The expected weight of the parcel being packed at the station (None: no parcel with units)."""
    session = db.session.execute(select(PackingSession).where(
        PackingSession.station_id == station_id, PackingSession.status.in_(ACTIVE))
        .order_by(PackingSession.id.desc()).limit(1)).scalar_one_or_none()
    parcel = open_parcel(session, create=False) if session is not None else None
    if parcel is None or parcel_units(parcel) == 0:
        return None
    return expected_weight(parcel)


def session_view(session: PackingSession) -> dict:
    order = db.session.get(Order, session.order_id)
    done = verified_by_line(order.id)
    box = db.session.get(BoxType, session.box_type_id) if session.box_type_id else None
    parcel = open_parcel(session, create=False)
    lines = []
    for line in sorted(order.lines, key=lambda x: x.line_no):
        sku = db.session.get(Sku, line.sku_id)
        lines.append({"id": line.id, "line_no": line.line_no, "sku": sku.code, "name": sku.name,
                      "image": picture_url(sku),
                      "expected": line.quantity, "verified": done.get(line.id, 0)})
    packed = [{"seq": p.seq, "code": p.code, "tracking": p.tracking_number, "weight_g": p.weight_g}
              for p in db.session.execute(select(Parcel).where(
                  Parcel.order_id == order.id, Parcel.status == "packed").order_by(Parcel.seq)).scalars()]
    shown = None
    if parcel:
        shown = {"id": parcel.id, "seq": parcel.seq, "code": parcel.code, "units": parcel_units(parcel),
                 "weight_g": parcel.weight_g, "expected_g": parcel.expected_weight_g}
        if parcel.expected_weight_g is not None:
            warehouse = db.session.get(Warehouse, order.warehouse_id)
            shown["tolerance_g"] = round(tolerance(warehouse, parcel.expected_weight_g))
    return {"id": session.id, "status": session.status, "order": {"id": order.id, "number": order.number},
            "lines": lines, "box": {"id": box.id, "code": box.code, "name": box.name} if box else None,
            "parcel": shown, "parcels_packed": len(packed), "packed": packed}
