"""Unknown barcodes: kept as questions, answered by linking a SKU or creating one."""

from typing import Any

from flask_babel import lazy_gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import Delivery, QuestionStatus, ReceivingQuestion, Sku, SkuBarcode, Station, User
from server.models.base import utcnow
from server.models.catalog import BarcodeKind
from server.services.barcodes import BarcodeError, gtin_kind, looks_like_gtin
from server.services.errors import DomainError
from server.services.receiving.counting import Counted, count
from server.services.receiving.deliveries import MAX_UNITS_PER_COUNT, _lock, _refuse_unless_receiving
from server.services.scan import DecodedScan

QUESTION_STATUS_NAMES = {
    QuestionStatus.linked: _("linked to a SKU"),
    QuestionStatus.created: _("a new SKU was created"),
    QuestionStatus.dismissed: _("dismissed"),
}


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
