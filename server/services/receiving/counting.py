"""Counting units into a delivery's lines: by hand, by scan, undone, with a photo."""

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import Delivery, DeliveryLine, ReceiptCount, Sku, Station, User
from server.models.base import utcnow
from server.services import scan as scan_service
from server.services.dates import parse_date
from server.services.errors import DomainError
from server.services.receiving.deliveries import MAX_LOT, MAX_UNITS_PER_COUNT, _lock, _refuse_unless_receiving
from server.services.scan import Classification


@dataclass
class Counted:
    count: ReceiptCount
    line: DeliveryLine  # fresh totals after the count
    new_line: bool = False  # an unexpected line was added for it
    duplicate: bool = False  # the event was counted before: nothing changed now


def count(delivery: Delivery, sku: Sku, units: int = 1, *, lot: str | None = None, expiry: date | None = None,
          serial: str | None = None, damaged: bool = False, unexpected: bool = False, line_id: int | None = None,
          pallet_sscc: str | None = None, user: User | None = None, station: Station | None = None,
          event_id: str | None = None) -> Counted:
    """Count `units` of `sku` into its line (or the line `line_id`). A SKU not on the ASN is refused
    unless the delivery is blind or `unexpected` says to add it as an unexpected line. A serial
    (marking code) is received once. The same event_id counts once."""
    if event_id:
        earlier = db.session.execute(select(ReceiptCount).where(ReceiptCount.event_id == event_id)).scalar_one_or_none()
        if earlier is not None:
            return Counted(earlier, _fresh_line(earlier.line_id), duplicate=True)
    if isinstance(units, bool) or not isinstance(units, int) or not 0 < units <= MAX_UNITS_PER_COUNT:
        raise DomainError(422, "bad-quantity", _("The quantity must be a whole number from 1 to %(max)s.",
                                             max=MAX_UNITS_PER_COUNT))
    if not sku.active:
        raise DomainError(409, "sku-inactive", _("SKU %(sku)s is not active.", sku=sku.code))
    if serial and units != 1:
        raise DomainError(422, "bad-quantity", _("A marking code or serial stands for one unit."))
    lot = (lot or "").strip()
    if len(lot) > MAX_LOT:
        raise DomainError(422, "bad-lot", _("The lot is longer than %(max)s characters.", max=MAX_LOT))
    if serial and db.session.execute(select(ReceiptCount.id).where(ReceiptCount.serial == serial)).first():
        raise DomainError(409, "serial-already-received",
                      _("This marking code was already received: nothing counted."), serial=serial)
    line = _line_for(delivery, sku, lot, expiry, line_id)
    new_line = False
    if line is None:
        if not (delivery.blind or unexpected):
            raise DomainError(409, "sku-not-in-delivery",
                          _("%(sku)s is not on delivery %(number)s: nothing counted. Press \"Add as unexpected\" "
                            "to count it anyway.", sku=sku.code, number=delivery.number),
                          sku_id=sku.id, sku_code=sku.code)
        delivery = _lock(delivery)  # adding a line: one at a time
        _refuse_unless_receiving(delivery)
        line = _line_for(delivery, sku, lot, expiry, None)
        if line is None:
            line = _add_line(delivery, sku, lot, expiry)
            new_line = True
    else:
        delivery = _lock(delivery, share=True)  # closing waits for the counts in progress
        _refuse_unless_receiving(delivery)
    lot = lot or line.lot
    expiry = expiry or line.expiry
    if sku.track_lot and not lot:
        raise DomainError(422, "lot-required",
                          _("This SKU is tracked by lot: scan the code with the lot. Nothing counted."),
                          sku_code=sku.code)
    if sku.track_expiry and expiry is None:
        raise DomainError(422, "expiry-required",
                          _("This SKU is tracked by expiry: scan the code with the expiry date. Nothing counted."),
                          sku_code=sku.code)
    row = ReceiptCount(delivery_id=delivery.id, line_id=line.id, sku_id=sku.id, quantity=units, damaged=damaged,
                       lot=lot, expiry=expiry, serial=serial or None, pallet_sscc=pallet_sscc,
                       user_id=user.id if user else None, station_id=station.id if station else None,
                       event_id=event_id, created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        if serial:
            raise DomainError(409, "serial-already-received",
                          _("This marking code was already received: nothing counted."), serial=serial) from None
        raise
    _add_to_line(line.id, units, damaged)
    return Counted(row, _fresh_line(line.id), new_line=new_line)


def _add_to_line(line_id: int, units: int, damaged: bool) -> None:
    """received_qty / damaged_qty += units in ONE statement: concurrent counts never lose a unit."""
    column = DeliveryLine.damaged_qty if damaged else DeliveryLine.received_qty
    db.session.execute(update(DeliveryLine).where(DeliveryLine.id == line_id).values({column: column + units})
                       .execution_options(synchronize_session=False))


def _fresh_line(line_id: int) -> DeliveryLine:
    return db.session.execute(select(DeliveryLine).where(DeliveryLine.id == line_id)
                              .execution_options(populate_existing=True)).scalar_one()


def _line_for(delivery: Delivery, sku: Sku, lot: str, expiry: date | None, line_id: int | None) -> DeliveryLine | None:
    """The line a unit counts into: the given one, else the SKU's line with the same lot and expiry,
    else the SKU's line without a lot, else the SKU's first line."""
    if line_id is not None:
        line = db.session.get(DeliveryLine, line_id)
        if line is None or line.delivery_id != delivery.id:
            raise DomainError(404, "not-found", _("Delivery %(number)s has no line %(line)s.", number=delivery.number,
                                                line=line_id))
        if line.sku_id != sku.id:
            raise DomainError(409, "sku-not-in-line", _("Line %(line)s is not SKU %(sku)s.", line=line.line_no, sku=sku.code))
        return line
    lines = db.session.execute(select(DeliveryLine).where(DeliveryLine.delivery_id == delivery.id,
                                                          DeliveryLine.sku_id == sku.id)
                               .order_by(DeliveryLine.line_no)).scalars().all()
    if not lines:
        return None
    for line in lines:
        if (line.lot, line.expiry) == (lot, expiry) or (not lot and expiry is None):
            return line
    return next((line for line in lines if not line.lot and line.expiry is None), lines[0])


def _add_line(delivery: Delivery, sku: Sku, lot: str, expiry: date | None) -> DeliveryLine:
    last = db.session.execute(select(func.max(DeliveryLine.line_no))
                              .where(DeliveryLine.delivery_id == delivery.id)).scalar() or 0
    line = DeliveryLine(delivery_id=delivery.id, line_no=last + 1, sku_id=sku.id, expected_qty=0, received_qty=0,
                        damaged_qty=0, lot=lot, expiry=expiry, unexpected=not delivery.blind)
    db.session.add(line)
    db.session.flush()
    return line


def scan_facts(result: Classification) -> dict:
    """What a SKU scan says about the units: {sku_id, units (per scan), lot, expiry, serial}."""
    entity = result.entity or {}
    gs1 = result.gs1 or {}
    facts = {"sku_id": result.entity_id, "units": int(entity.get("units") or 1), "lot": gs1.get("lot") or "",
             "expiry": None, "serial": None}
    if gs1.get("expiry"):
        facts["expiry"] = parse_date(gs1["expiry"])
    if gs1.get("marking_code"):
        facts["serial"] = gs1["marking_code"]["id"]
    elif gs1.get("serial") and gs1.get("gtin"):
        facts["serial"] = f"01{gs1['gtin']}21{gs1['serial']}"
    return facts


def count_scan(delivery: Delivery, result: Classification, quantity: int = 1, **kwargs) -> Counted:
    """count() for a scanned SKU code: a case GTIN counts its pack's units (times `quantity`);
    lot, expiry and serial come from a GS1 code."""
    if result.kind != scan_service.Kind.sku:
        raise DomainError(422, "not-a-sku", _("This code is not a SKU."))
    facts = scan_facts(result)
    sku = db.session.get(Sku, facts["sku_id"])
    if facts["serial"] and quantity != 1:
        quantity = 1  # a marking code is one unit, whatever quantity was typed
    return count(delivery, sku, facts["units"] * quantity, lot=facts["lot"], expiry=facts["expiry"],
                 serial=facts["serial"], **kwargs)


def undo_count(count_row: ReceiptCount, user: User | None = None, station: Station | None = None,
               event_id: str | None = None) -> Counted:
    """A negative count that cancels `count_row` (once); its serial may be received again."""
    if count_row.quantity <= 0 or count_row.cancels_count_id is not None:
        raise DomainError(409, "nothing-to-undo", _("A correction cannot be undone."))
    delivery = _lock(db.session.get(Delivery, count_row.delivery_id), share=True)
    _refuse_unless_receiving(delivery)
    if db.session.execute(select(ReceiptCount.id).where(ReceiptCount.cancels_count_id == count_row.id)).first():
        raise DomainError(409, "already-undone", _("This count was undone already."))
    row = ReceiptCount(delivery_id=count_row.delivery_id, line_id=count_row.line_id, sku_id=count_row.sku_id,
                       quantity=-count_row.quantity, damaged=count_row.damaged, lot=count_row.lot,
                       expiry=count_row.expiry, user_id=user.id if user else None,
                       station_id=station.id if station else None, event_id=event_id,
                       cancels_count_id=count_row.id, created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        raise DomainError(409, "already-undone", _("This count was undone already.")) from None
    count_row.serial = None  # the unit is no longer received: its code may be scanned again
    _add_to_line(count_row.line_id, -count_row.quantity, count_row.damaged)
    db.session.flush()
    return Counted(row, _fresh_line(count_row.line_id))


def attach_photo(count_row: ReceiptCount, media_sha256: str) -> ReceiptCount:
    count_row.media_sha256 = media_sha256
    db.session.flush()
    return count_row
