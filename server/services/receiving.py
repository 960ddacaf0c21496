"""Receiving at the dock: expected deliveries (ASN), counting, unknown barcodes, stickers, closing.

The flow: `create_delivery` (API, or the CSV import) -> `open_delivery` at the dock (a receiving
cell is chosen) -> `count` / `count_scan` units into the delivery's lines (two receivers may count
into one line: totals are changed by atomic UPDATEs, each count is stored once by its event_id) ->
`hold_unknown` keeps a barcode nobody knows as a question, `link_question` or
`create_sku_for_question` answers it -> `close_delivery` lists the discrepancies, receives the good
units into the receiving cell (damaged ones into quarantine), and creates the putaway tasks ->
`accept_discrepancies` by a supervisor.

Nothing here commits: the caller's unit of work does. Refusals are Problems and change nothing.
Scans of a delivery's number ("delivery") and of its pallets' SSCC ("pallet") classify through the
resolvers registered at the end of this module.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import (
    Cell,
    CellStatus,
    Delivery,
    DeliveryLine,
    DeliveryPallet,
    DeliveryStatus,
    Discrepancy,
    DiscrepancyKind,
    QuestionStatus,
    ReceiptCount,
    ReceivingQuestion,
    Sku,
    SkuBarcode,
    Station,
    User,
    Zone,
    ZoneKind,
)
from server.models.base import utcnow
from server.models.catalog import BarcodeKind
from server.services import scan as scan_service
from server.services.barcodes import BarcodeError, check_digit, gtin_kind, is_valid_gtin, looks_like_gtin
from server.services.errors import DomainError
from server.services.scan import ID, WAREHOUSE, Classification, DecodedScan, Lookup, Resolver
from server.services.stock import Actor, ReceiptLine, receive_lines

SCENARIO = "receiving"
MAX_NUMBER = 64
MAX_SUPPLIER = 200
MAX_LOT = 64
MAX_UNITS_PER_COUNT = 100_000  # one count of more units is a typing error
OPEN_STATES = (DeliveryStatus.expected, DeliveryStatus.receiving)

# Status words in refusals shown to workers, and on the receiving pages.
DELIVERY_STATUS_NAMES = {
    DeliveryStatus.expected: _("expected"),
    DeliveryStatus.receiving: _("receiving"),
    DeliveryStatus.closed: _("closed"),
    DeliveryStatus.accepted: _("accepted"),
    DeliveryStatus.cancelled: _("cancelled"),
}
QUESTION_STATUS_NAMES = {
    QuestionStatus.linked: _("linked to a SKU"),
    QuestionStatus.created: _("a new SKU was created"),
    QuestionStatus.dismissed: _("dismissed"),
}


def _status_name(delivery: Delivery):
    return DELIVERY_STATUS_NAMES.get(delivery.status, delivery.status)


def _not_changed(delivery: Delivery):
    return _("Delivery %(number)s is %(status)s: nothing changed.", number=delivery.number,
             status=_status_name(delivery))


# --- creating and finding deliveries ----------------------------------------------------------


def normalize_sscc(text: str) -> str | None:
    """18 digits with a right check digit (an `00` / `(00)` AI in front is dropped), else None."""
    s = (text or "").strip().replace(" ", "")
    if s.startswith("(00)"):
        s = s[4:]
    elif len(s) == 20 and s.startswith("00"):
        s = s[2:]
    if len(s) == 18 and s.isascii() and s.isdigit() and check_digit(s[:-1]) == int(s[-1]):
        return s
    return None


def _as_date(value, field: str, errors: dict) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(field, []).append(_("Not a date (YYYY-MM-DD)."))
        return None


def create_delivery(warehouse_id: int, number: str, supplier: str = "", expected_date=None, lines=(), pallets=(),
                    blind: bool = False, notes: str = "") -> Delivery:
    """An expected delivery with its lines and pallets. All or nothing: every bad field is named in
    one 422 DomainError (`errors` by field, lines as `lines.<i>.<field>`)."""
    errors: dict[str, list[str]] = {}
    number = (number or "").strip()
    if not number:
        errors["number"] = [_("A delivery number is required.")]
    elif len(number) > MAX_NUMBER:
        errors["number"] = [_("At most %(n)s characters.", n=MAX_NUMBER)]
    supplier = (supplier or "").strip()
    if len(supplier) > MAX_SUPPLIER:
        errors["supplier"] = [_("At most %(n)s characters.", n=MAX_SUPPLIER)]
    expected = _as_date(expected_date, "expected_date", errors)
    if not lines and not blind:
        errors["lines"] = [_("An expected delivery needs lines; a delivery without an ASN is blind.")]
    merged: dict[tuple, dict] = {}
    for i, line in enumerate(lines or ()):
        where = f"lines.{i}"
        sku = _line_sku(line, where, errors)
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            errors.setdefault(f"{where}.quantity", []).append(_("A positive whole number of units is required."))
        lot = (line.get("lot") or "").strip()
        if len(lot) > MAX_LOT:
            errors.setdefault(f"{where}.lot", []).append(_("At most %(n)s characters.", n=MAX_LOT))
        expiry = _as_date(line.get("expiry"), f"{where}.expiry", errors)
        if sku is None or any(k.startswith(where + ".") for k in errors):
            continue
        key = (sku.id, lot, expiry)  # the same SKU, lot and expiry twice is one line
        if key in merged:
            merged[key]["expected_qty"] += quantity
        else:
            merged[key] = {"sku_id": sku.id, "expected_qty": quantity, "lot": lot, "expiry": expiry}
    ssccs = []
    for i, text in enumerate(pallets or ()):
        sscc = normalize_sscc(str(text))
        if sscc is None:
            errors.setdefault(f"pallets.{i}", []).append(_("Not an SSCC (18 digits with a right check digit)."))
        elif sscc in ssccs:
            errors.setdefault(f"pallets.{i}", []).append(_("SSCC %(sscc)s is listed twice.", sscc=sscc))
        else:
            ssccs.append(sscc)
    if ssccs:
        taken = set(db.session.execute(select(DeliveryPallet.sscc).where(DeliveryPallet.sscc.in_(ssccs))).scalars())
        for i, sscc in enumerate(ssccs):
            if sscc in taken:
                errors.setdefault(f"pallets.{i}", []).append(_("SSCC %(sscc)s belongs to another delivery.", sscc=sscc))
    if errors:
        raise DomainError(422, "invalid-delivery", _("The delivery has errors; nothing was saved."), errors=errors)
    if db.session.execute(select(Delivery.id).where(Delivery.warehouse_id == warehouse_id,
                                                    Delivery.number == number)).first():
        raise DomainError(409, "duplicate", _("Delivery %(number)s already exists.", number=number), field="number",
                      errors={"number": [_("Delivery %(number)s already exists.", number=number)]})
    delivery = Delivery(warehouse_id=warehouse_id, number=number, supplier=supplier, expected_date=expected,
                        status=DeliveryStatus.expected, blind=bool(blind), notes=notes or "")
    db.session.add(delivery)
    db.session.flush()
    for line_no, values in enumerate(merged.values(), start=1):
        db.session.add(DeliveryLine(delivery_id=delivery.id, line_no=line_no, received_qty=0, damaged_qty=0,
                                    unexpected=False, **values))
    for sscc in ssccs:
        db.session.add(DeliveryPallet(delivery_id=delivery.id, sscc=sscc))
    db.session.flush()
    return delivery


def _line_sku(line: dict, where: str, errors: dict) -> Sku | None:
    if line.get("sku_id") is not None:
        sku = db.session.get(Sku, line["sku_id"]) if isinstance(line["sku_id"], int) else None
        if sku is None:
            errors.setdefault(f"{where}.sku_id", []).append(_("No SKU with id %(id)s.", id=line["sku_id"]))
        return sku
    code = (line.get("sku_code") or line.get("sku") or "").strip()
    if not code:
        errors.setdefault(f"{where}.sku_id", []).append(_("A SKU is required."))
        return None
    sku = db.session.execute(select(Sku).where(Sku.code == code)).scalar_one_or_none()
    if sku is None:
        errors.setdefault(f"{where}.sku_code", []).append(_("No SKU with code %(code)s.", code=code))
    return sku


def find_delivery(warehouse_id: int | None, text: str) -> Delivery | None:
    """A delivery by its number (in the warehouse, when known) or by one of its pallets' SSCC."""
    text = (text or "").strip()
    if not text:
        return None
    stmt = select(Delivery).where(Delivery.number == text)
    if warehouse_id is not None:
        stmt = stmt.where(Delivery.warehouse_id == warehouse_id)
    delivery = db.session.execute(stmt.order_by(Delivery.id)).scalars().first()
    if delivery is None and (sscc := normalize_sscc(text)):
        delivery = db.session.execute(
            select(Delivery).join(DeliveryPallet, DeliveryPallet.delivery_id == Delivery.id)
            .where(DeliveryPallet.sscc == sscc)).scalar_one_or_none()
        if delivery is not None and warehouse_id is not None and delivery.warehouse_id != warehouse_id:
            return None
    return delivery


def _lock(delivery: Delivery, *, share: bool = False) -> Delivery:
    """The delivery row again, locked (PostgreSQL; SQLite writes are serialized anyway) and fresh."""
    return db.session.execute(
        select(Delivery).where(Delivery.id == delivery.id)
        .with_for_update(read=share).execution_options(populate_existing=True)).scalar_one()


def _refuse_unless_receiving(delivery: Delivery) -> None:
    if delivery.status != DeliveryStatus.receiving:
        if delivery.status == DeliveryStatus.expected:
            raise DomainError(409, "delivery-not-open", _not_changed(delivery), status_now=delivery.status)
        raise DomainError(409, "delivery-closed", _not_changed(delivery), status_now=delivery.status)


def receiving_cell(warehouse_id: int) -> Cell | None:
    return db.session.execute(
        select(Cell).join(Zone, Zone.id == Cell.zone_id)
        .where(Cell.warehouse_id == warehouse_id, Zone.kind == ZoneKind.receiving, Cell.status == CellStatus.active)
        .order_by(Cell.id)).scalars().first()


def quarantine_cell(warehouse_id: int) -> Cell | None:
    return db.session.execute(
        select(Cell).join(Zone, Zone.id == Cell.zone_id)
        .where(Cell.warehouse_id == warehouse_id, Zone.kind == ZoneKind.quarantine, Cell.status == CellStatus.active)
        .order_by(Cell.id)).scalars().first()


def open_delivery(delivery: Delivery, user: User | None = None, station: Station | None = None) -> Delivery:
    """expected -> receiving with a receiving cell; a delivery already being received stays open
    (a second receiver joins it)."""
    delivery = _lock(delivery)
    if delivery.status == DeliveryStatus.receiving:
        return delivery
    if delivery.status != DeliveryStatus.expected:
        raise DomainError(409, "delivery-closed", _not_changed(delivery), status_now=delivery.status)
    cell = receiving_cell(delivery.warehouse_id)
    if cell is None:
        raise DomainError(409, "no-receiving-cell", _("The warehouse has no receiving cell: ask the supervisor."),
                      _("Add a receiving zone with a cell where counted goods wait for putaway."))
    delivery.status = DeliveryStatus.receiving
    delivery.receiving_cell_id = cell.id
    delivery.opened_at = utcnow()
    delivery.opened_by_user_id = user.id if user is not None else None
    db.session.flush()
    return delivery


# --- pallets ----------------------------------------------------------------------------------


def receive_pallet(delivery: Delivery, sscc: str, user: User | None = None) -> DeliveryPallet:
    """Record a pallet's arrival. An announced pallet is marked received once; an SSCC unknown to
    every delivery is added to this one. The same SSCC twice (this or any delivery) is refused."""
    code = normalize_sscc(sscc)
    if code is None:
        raise DomainError(422, "bad-sscc", _("%(code)s is not an SSCC.", code=sscc))
    pallet = db.session.execute(select(DeliveryPallet).where(DeliveryPallet.sscc == code)
                                .with_for_update()).scalar_one_or_none()
    if pallet is not None and (pallet.delivery_id != delivery.id or pallet.received_at is not None):
        other = db.session.get(Delivery, pallet.delivery_id)
        raise DomainError(409, "sscc-already-received",
                      _("Pallet %(sscc)s was already received: nothing changed.", sscc=code),
                      sscc=code, delivery_id=other.id)
    if pallet is None:
        pallet = DeliveryPallet(delivery_id=delivery.id, sscc=code)
        try:
            with db.session.begin_nested():
                db.session.add(pallet)
        except IntegrityError:
            raise DomainError(409, "sscc-already-received", _("Pallet %(sscc)s was already received: nothing changed.", sscc=code),
                          sscc=code) from None
    pallet.received_at = utcnow()
    pallet.received_by_user_id = user.id if user is not None else None
    db.session.flush()
    return pallet


# --- counting ---------------------------------------------------------------------------------


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
                          _("%(sku)s is not on delivery %(number)s: nothing counted. Press \"Add as unexpected\" to count "
                            "it anyway.", sku=sku.code, number=delivery.number),
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
        raise DomainError(422, "lot-required", _("This SKU is tracked by lot: scan the code with the lot. Nothing counted."),
                          sku_code=sku.code)
    if sku.track_expiry and expiry is None:
        raise DomainError(422, "expiry-required", _("This SKU is tracked by expiry: scan the code with the expiry date. Nothing counted."),
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
        facts["expiry"] = date.fromisoformat(gs1["expiry"])
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


# --- unknown barcodes -------------------------------------------------------------------------


def question_barcode(scan: DecodedScan) -> str:
    """What to keep of an unknown scan: its GTIN when it has one, else its text."""
    return scan.gtin or scan.text


def hold_unknown(delivery: Delivery, barcode: str, symbology: str = "", units: int = 1, *,
                 user: User | None = None, station: Station | None = None) -> ReceivingQuestion:
    """Keep an unknown barcode with the units scanned; the same barcode again adds its units."""
    barcode = (barcode or "").strip()[:200]
    if not barcode:
        raise DomainError(422, "empty-barcode", _("Nothing was read."))
    if isinstance(units, bool) or not isinstance(units, int) or not 0 < units <= MAX_UNITS_PER_COUNT:
        raise DomainError(422, "bad-quantity", _("The quantity must be a whole number from 1 to %(max)s.",
                                             max=MAX_UNITS_PER_COUNT))
    delivery = _lock(delivery, share=True)
    _refuse_unless_receiving(delivery)
    for _attempt in range(3):
        question = db.session.execute(select(ReceivingQuestion).where(
            ReceivingQuestion.delivery_id == delivery.id, ReceivingQuestion.barcode == barcode)).scalar_one_or_none()
        if question is not None:
            db.session.execute(update(ReceivingQuestion).where(ReceivingQuestion.id == question.id)
                               .values(quantity=ReceivingQuestion.quantity + units)
                               .execution_options(synchronize_session=False))
            db.session.refresh(question)
            return question
        question = ReceivingQuestion(delivery_id=delivery.id, barcode=barcode, symbology=(symbology or "")[:8],
                                     quantity=units, status="open", user_id=user.id if user else None,
                                     station_id=station.id if station else None, created_at=utcnow())
        try:
            with db.session.begin_nested():
                db.session.add(question)
            return question
        except IntegrityError:
            continue  # another receiver held it a moment ago: add to theirs
    raise DomainError(409, "conflict", _("The question changed meanwhile; scan again."))


def _question_barcode_row(question: ReceivingQuestion) -> tuple[str, str]:
    """(stored barcode, kind): a GTIN checked and stored as 14 digits, anything else as internal."""
    text = question.barcode
    if looks_like_gtin(text):
        try:
            kind = gtin_kind(text)
        except BarcodeError as error:
            raise DomainError(422, "bad-barcode", _("%(code)s looks like a GTIN but is not one: %(error)s", code=text,
                                                   error=error)) from None
        return text.zfill(14), kind
    return text, BarcodeKind.internal


def link_question(question: ReceivingQuestion, sku: Sku, user: User | None = None,
                  station: Station | None = None) -> Counted | None:
    """Add the question's barcode to `sku` and count the units held into the SKU's line (an
    unexpected line when the ASN does not have it)."""
    question = db.session.execute(select(ReceivingQuestion).where(ReceivingQuestion.id == question.id)
                                  .with_for_update().execution_options(populate_existing=True)).scalar_one()
    if question.status != "open":
        raise DomainError(409, "question-resolved", _(
            "Barcode %(barcode)s was already answered (%(status)s).", barcode=question.barcode,
            status=QUESTION_STATUS_NAMES.get(question.status, question.status)))
    delivery = db.session.get(Delivery, question.delivery_id)
    _refuse_unless_receiving(delivery)
    barcode, kind = _question_barcode_row(question)
    owner = db.session.execute(select(SkuBarcode).where(SkuBarcode.barcode == barcode)).scalar_one_or_none()
    if owner is not None and owner.sku_id != sku.id:
        other = db.session.get(Sku, owner.sku_id)
        raise DomainError(409, "duplicate", _("Barcode %(barcode)s already belongs to SKU %(sku)s.", barcode=barcode,
                                            sku=other.code), field="barcode")
    if owner is None:
        db.session.add(SkuBarcode(sku_id=sku.id, barcode=barcode, kind=kind, units=1))
    question.status = "linked" if question.status == "open" else question.status
    question.sku_id = sku.id
    question.resolved_at = utcnow()
    question.resolved_by_user_id = user.id if user else None
    db.session.flush()
    if question.quantity <= 0:
        return None
    return count(delivery, sku, question.quantity, unexpected=True, user=user, station=station,
                 event_id=f"question-{question.id}")


def create_sku_for_question(question: ReceivingQuestion, code: str, name: str, user: User | None = None,
                            station: Station | None = None, **fields: Any) -> tuple[Sku, Counted | None]:
    """A new SKU for an unknown barcode, then linked (its units counted)."""
    code, name = (code or "").strip(), (name or "").strip()
    errors = {}
    if not code or len(code) > 64:
        errors["code"] = [_("A SKU code of 1 to 64 characters is required.")]
    if not name or len(name) > 300:
        errors["name"] = [_("A name of 1 to 300 characters is required.")]
    allowed = {"length_mm", "width_mm", "height_mm", "weight_g", "track_lot", "track_expiry", "track_serial",
               "track_marking"}
    for key in fields:
        if key not in allowed:
            errors[key] = ["Unknown field."]
    if errors:
        raise DomainError(422, "invalid-sku", _("The SKU has errors; nothing was saved."), errors=errors)
    if db.session.execute(select(Sku.id).where(Sku.code == code)).first():
        raise DomainError(409, "duplicate", _("A SKU with code %(code)s already exists.", code=code), field="code")
    sku = Sku(code=code, name=name, **fields)
    db.session.add(sku)
    db.session.flush()
    counted = link_question(question, sku, user, station)
    question.status = "created"
    db.session.flush()
    return sku, counted


# --- stickers ---------------------------------------------------------------------------------


def _instore_ean13(sku: Sku) -> str:
    """An in-store EAN-13 (prefix 2, restricted circulation): 2 + the SKU id in 11 digits + check."""
    body = "2" + f"{sku.id:011d}"
    return body + str(check_digit(body))


def _is_instore(text: str) -> bool:
    return len(text) == 13 and text.startswith("2") and is_valid_gtin(text)


def sticker_barcode(sku: Sku) -> SkuBarcode:
    """The internal barcode a sticker carries for `sku` (registered once as a SkuBarcode of kind
    internal): Code 128 of the SKU code, or an in-store EAN-13 when the code cannot be one (it
    looks like a GTIN, names a cell, or is another SKU's barcode)."""
    for row in sku.barcodes:
        if row.kind == BarcodeKind.internal and (row.barcode == sku.code or _is_instore(row.barcode)):
            return row
    code = sku.code
    usable = code.isascii() and code.isprintable() and not looks_like_gtin(code) and not db.session.execute(
        select(Cell.id).where((Cell.barcode == code) | (Cell.address == code)).limit(1)).first() and not \
        db.session.execute(select(SkuBarcode.id).where(SkuBarcode.barcode == code)).first()
    barcode = code if usable else _instore_ean13(sku)
    row = SkuBarcode(sku_id=sku.id, barcode=barcode, kind=BarcodeKind.internal, units=1)
    db.session.add(row)
    db.session.flush()
    db.session.refresh(sku)
    return row


def sticker_data(sku: Sku, line: DeliveryLine | None = None) -> dict:
    """Data of the `sku-sticker` label: Code 128 of `sku`, or the in-store EAN-13."""
    row = sticker_barcode(sku)
    data = {"name": sku.name, "sku": sku.code}
    if row.barcode != sku.code:
        data["ean13"] = row.barcode
    if line is not None and line.lot:
        data["lot"] = line.lot
    if line is not None and line.expiry:
        data["expiry"] = line.expiry.strftime("%d.%m.%Y")
    return data


# --- closing ----------------------------------------------------------------------------------


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
        if line.unexpected:
            if arrived > 0:
                note(DiscrepancyKind.unexpected, arrived, line)
        elif not delivery.blind and arrived < line.expected_qty:
            note(DiscrepancyKind.short, line.expected_qty - arrived, line)
        elif not delivery.blind and arrived > line.expected_qty:
            note(DiscrepancyKind.over, arrived - line.expected_qty, line)
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
        expiry = expiry if expiry is None or isinstance(expiry, date) else date.fromisoformat(str(expiry))
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


def discrepancies_of(delivery: Delivery) -> list[Discrepancy]:
    return db.session.execute(select(Discrepancy).where(Discrepancy.delivery_id == delivery.id)
                              .order_by(Discrepancy.id)).scalars().all()


# --- summaries --------------------------------------------------------------------------------


def line_state(line: DeliveryLine, blind: bool = False) -> str:
    """done, short (so far), over, unexpected or open (nothing counted yet)."""
    arrived = line.received_qty + line.damaged_qty
    if line.unexpected:
        return "unexpected"
    if blind:
        return "done" if arrived else "open"
    if arrived == 0 and line.expected_qty:
        return "open"
    if arrived < line.expected_qty:
        return "short"
    if arrived > line.expected_qty:
        return "over"
    return "done"


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_summary(delivery: Delivery) -> dict:
    """The delivery as pages, the API and prompts show it."""
    db.session.refresh(delivery)
    skus = {}
    lines = []
    for line in db.session.execute(select(DeliveryLine).where(DeliveryLine.delivery_id == delivery.id)
                                   .order_by(DeliveryLine.line_no)
                                   .execution_options(populate_existing=True)).scalars():
        sku = skus.get(line.sku_id) or skus.setdefault(line.sku_id, db.session.get(Sku, line.sku_id))
        lines.append({"id": line.id, "line_no": line.line_no, "sku_id": sku.id, "sku": sku.code, "name": sku.name,
                      "lot": line.lot, "expiry": _iso(line.expiry), "expected": line.expected_qty,
                      "received": line.received_qty, "damaged": line.damaged_qty, "unexpected": line.unexpected,
                      "state": line_state(line, delivery.blind)})
    questions = [{"id": q.id, "barcode": q.barcode, "quantity": q.quantity, "status": q.status, "sku_id": q.sku_id}
                 for q in db.session.execute(select(ReceivingQuestion)
                                             .where(ReceivingQuestion.delivery_id == delivery.id)
                                             .order_by(ReceivingQuestion.id)).scalars()]
    pallets = [{"sscc": p.sscc, "received": p.received_at is not None, "received_at": _iso(p.received_at)}
               for p in db.session.execute(select(DeliveryPallet).where(DeliveryPallet.delivery_id == delivery.id)
                                           .order_by(DeliveryPallet.id)).scalars()]
    discrepancies = [{"id": d.id, "kind": d.kind, "quantity": d.quantity, "line_id": d.line_id,
                      "question_id": d.question_id, "sku_id": d.sku_id,
                      "sku": skus[d.sku_id].code if d.sku_id in skus else None, "note": d.note,
                      "accepted": d.accepted_at is not None} for d in discrepancies_of(delivery)]
    totals = {"expected": sum(x["expected"] for x in lines), "received": sum(x["received"] for x in lines),
              "damaged": sum(x["damaged"] for x in lines),
              "unknown": sum(q["quantity"] for q in questions if q["status"] == "open"),
              "lines": len(lines), "lines_done": sum(1 for x in lines if x["state"] == "done")}
    return {"id": delivery.id, "number": delivery.number, "supplier": delivery.supplier,
            "expected_date": _iso(delivery.expected_date), "status": delivery.status, "blind": delivery.blind,
            "notes": delivery.notes, "warehouse_id": delivery.warehouse_id,
            "receiving_cell_id": delivery.receiving_cell_id, "opened_at": _iso(delivery.opened_at),
            "closed_at": _iso(delivery.closed_at), "accepted_at": _iso(delivery.accepted_at),
            "lines": lines, "questions": questions, "pallets": pallets, "totals": totals,
            "discrepancies": discrepancies}


def act_kind(line: dict, blind: bool = False) -> str:
    """The one discrepancy a line shows on the act ("" when it matched the ASN)."""
    arrived = line["received"] + line["damaged"]
    if line["unexpected"]:
        return "unexpected"
    if not blind and arrived < line["expected"]:
        return "short"
    if not blind and arrived > line["expected"]:
        return "over"
    return "damaged" if line["damaged"] else ""


def receiving_act_data(delivery: Delivery, receiver: str) -> dict:
    """Data of the ESC/POS `receiving-act` template (printers/receipts.py)."""
    summary = delivery_summary(delivery)
    lines = [{"sku": x["sku"], "name": x["name"], "expected": x["expected"], "received": x["received"],
              "damaged": x["damaged"], "kind": act_kind(x, delivery.blind)} for x in summary["lines"]]
    lines += [{"sku": q["barcode"][:40], "name": "", "expected": 0, "received": q["quantity"], "damaged": 0,
               "kind": "unknown"} for q in summary["questions"] if q["status"] == "open"]
    by_kind = {}
    for d in summary["discrepancies"]:
        by_kind[d["kind"]] = by_kind.get(d["kind"], 0) + d["quantity"]
    totals = {"expected": summary["totals"]["expected"], "received": summary["totals"]["received"],
              "damaged": summary["totals"]["damaged"], "short": by_kind.get("short", 0),
              "over": by_kind.get("over", 0), "unexpected": by_kind.get("unexpected", 0)}
    when = delivery.closed_at or utcnow()
    return {"number": delivery.number, "supplier": delivery.supplier, "date": when.strftime("%d.%m.%Y %H:%M"),
            "receiver": receiver or "-", "lines": lines, "totals": totals}


# --- scans of deliveries and pallets ----------------------------------------------------------

_DELIVERY = select(Delivery.id, Delivery.number, Delivery.status, Delivery.supplier, Delivery.warehouse_id) \
    .where(Delivery.id == ID)
_PALLET = select(DeliveryPallet.id, DeliveryPallet.sscc, DeliveryPallet.delivery_id, DeliveryPallet.received_at,
                 Delivery.number, Delivery.status, Delivery.warehouse_id) \
    .join(Delivery, Delivery.id == DeliveryPallet.delivery_id).where(DeliveryPallet.id == ID)


def _describe_delivery(delivery_id: int, scan: DecodedScan):
    row = scan_service._one(_DELIVERY, delivery_id)
    if row is None:
        return None
    return row.id, dict(row._mapping), _("Delivery %(number)s (%(status)s).", number=row.number, status=row.status)


def _describe_pallet(pallet_id: int, scan: DecodedScan):
    row = scan_service._one(_PALLET, pallet_id)
    if row is None:
        return None
    entity = {**dict(row._mapping), "received_at": _iso(row.received_at)}
    return row.id, entity, _("Pallet %(sscc)s of delivery %(number)s.", sscc=row.sscc, number=row.number)


def _sscc(scan: DecodedScan, warehouse_id: int | None):
    return scan.sscc


scan_service.register_resolver(Resolver("delivery", (
    Lookup(lambda p: select(Delivery.id).where(Delivery.warehouse_id == WAREHOUSE, Delivery.number == p),
           scan_service._text_here),
    Lookup(lambda p: select(Delivery.id).where(Delivery.number == p), scan_service._text_anywhere),
), _describe_delivery, row=_DELIVERY))
scan_service.register_resolver(Resolver("pallet", (
    Lookup(lambda p: select(DeliveryPallet.id).where(DeliveryPallet.sscc == p), _sscc),
), _describe_pallet, row=_PALLET))
