"""The catalogue as people name its goods: a SKU by its code or by one of its barcodes."""

from sqlalchemy import select

from server.extensions import db
from server.models import Sku, SkuBarcode
from server.services.barcodes import barcode_candidates


def find_sku(text: str) -> Sku | None:
    """The SKU with code `text`, else the SKU with barcode `text` (any stored form of a GTIN)."""
    text = (text or "").strip()
    if not text:
        return None
    sku = db.session.execute(select(Sku).where(Sku.code == text)).scalar_one_or_none()
    if sku is None:
        sku = db.session.execute(select(Sku).join(SkuBarcode, SkuBarcode.sku_id == Sku.id)
                                 .where(SkuBarcode.barcode.in_(barcode_candidates(text)))
                                 .order_by(SkuBarcode.id).limit(1)).scalar_one_or_none()
    return sku
