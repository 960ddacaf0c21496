"""Deliveries: creating, finding, opening at the dock, pallets; the status checks every step shares."""

from datetime import date

from flask_babel import lazy_gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.core.bounds import INT32_MAX
from server.extensions import db
from server.models import (
    Cell,
    CellStatus,
    Delivery,
    DeliveryLine,
    DeliveryPallet,
    DeliveryStatus,
    Sku,
    Station,
    User,
    Warehouse,
    Zone,
    ZoneKind,
)
from server.models.base import utcnow
from server.services.barcodes import check_digit
from server.services.catalog import find_sku
from server.services.dates import parse_date
from server.services.errors import DomainError

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
    try:
        return parse_date(value)
    except ValueError:
        errors.setdefault(field, []).append(_("Not a date (YYYY-MM-DD or DD.MM.YYYY)."))
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
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= INT32_MAX:
            errors.setdefault(f"{where}.quantity", []).append(_("A positive whole number of units is required."))
        lot = (line.get("lot") or "").strip()
        if len(lot) > MAX_LOT:
            errors.setdefault(f"{where}.lot", []).append(_("At most %(n)s characters.", n=MAX_LOT))
        expiry = _as_date(line.get("expiry"), f"{where}.expiry", errors)
        if sku is None or any(k.startswith(where + ".") for k in errors):
            continue
        key = (sku.id, lot, expiry)  # the same SKU, lot and expiry twice is one line
        if key in merged:
            if merged[key]["expected_qty"] + quantity > INT32_MAX:
                errors.setdefault(f"{where}.quantity", []).append(_("A positive whole number of units is required."))
                continue
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
    # The warehouse row locked while its delivery numbers are checked: a twin created at the same
    # moment waits here and is then refused as a duplicate, as it would be sent after.
    db.session.execute(select(Warehouse.id).where(Warehouse.id == warehouse_id).with_for_update())
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
    sku = find_sku(code)
    if sku is None:
        errors.setdefault(f"{where}.sku_code", []).append(_("No SKU with the code or barcode %(code)s.", code=code))
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
            raise DomainError(409, "sscc-already-received",
                              _("Pallet %(sscc)s was already received: nothing changed.", sscc=code),
                          sscc=code) from None
    pallet.received_at = utcnow()
    pallet.received_by_user_id = user.id if user is not None else None
    db.session.flush()
    return pallet
