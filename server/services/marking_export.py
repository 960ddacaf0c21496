"""The order's marking codes (Честный знак) for the shop's marking-system report: JSON rows or CSV."""

import csv
import io

from flask_babel import gettext as _
from sqlalchemy import select

from server.extensions import db
from server.models import MarkingCode, Order, Parcel
from server.services.errors import DomainError

FIELDS = ("gtin", "serial", "crypto_key", "crypto_code", "raw", "parcel", "status")


def _headers() -> list[str]:
    return [_("GTIN"), _("Serial number"), _("Crypto key (91)"), _("Crypto code (92)"), _("Marking code"),
            _("Parcel"), _("Status")]


def marking_codes(order_id: int) -> list[dict]:
    """Each marking code recorded for the order, in the order they were scanned."""
    if db.session.get(Order, order_id) is None:
        raise DomainError(404, "order-not-found", _("No order with id %(id)s.", id=order_id))
    rows = db.session.execute(
        select(MarkingCode, Parcel.code).outerjoin(Parcel, Parcel.id == MarkingCode.parcel_id)
        .where(MarkingCode.order_id == order_id).order_by(MarkingCode.id)).all()
    return [{"gtin": code.gtin, "serial": code.serial, "crypto_key": code.crypto_key,
             "crypto_code": code.crypto_code, "raw": code.raw, "parcel": parcel_code, "status": code.status}
            for code, parcel_code in rows]


def marking_codes_csv(order_id: int) -> str:
    """UTF-8 text with a BOM (the caller encodes it), `;`-separated, a header row. The raw code keeps
    its group separators (GS, 0x1D) as scanned."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(_headers())
    for row in marking_codes(order_id):
        writer.writerow(["" if row[name] is None else row[name] for name in FIELDS])
    return out.getvalue()
