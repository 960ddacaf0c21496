"""Stickers for goods without a usable barcode: the internal barcode and the label's data."""

from sqlalchemy import select

from server.extensions import db
from server.models import Cell, DeliveryLine, Sku, SkuBarcode
from server.models.catalog import BarcodeKind
from server.services.barcodes import check_digit, is_valid_gtin, looks_like_gtin


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
