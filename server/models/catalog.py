"""SKUs, their barcodes and pictures."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import Timestamped, UtcDateTime, utcnow


class BarcodeKind(StrEnum):
    ean8 = "ean8"
    ean13 = "ean13"
    upc = "upc"
    gtin14 = "gtin14"
    internal = "internal"


GTIN_KINDS = {BarcodeKind.ean8, BarcodeKind.ean13, BarcodeKind.upc, BarcodeKind.gtin14}


class Sku(Timestamped, db.Model):
    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("length_mm >= 0 AND width_mm >= 0 AND height_mm >= 0", name="dims_nonneg"),
        CheckConstraint("weight_g >= 0", name="weight_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    length_mm: Mapped[int] = mapped_column(Integer, default=0)
    width_mm: Mapped[int] = mapped_column(Integer, default=0)
    height_mm: Mapped[int] = mapped_column(Integer, default=0)
    weight_g: Mapped[int] = mapped_column(Integer, default=0)
    track_lot: Mapped[bool] = mapped_column(default=False)
    track_expiry: Mapped[bool] = mapped_column(default=False)
    track_serial: Mapped[bool] = mapped_column(default=False)
    # Goods under mandatory marking (Chestny Znak): every unit carries a DataMatrix code.
    track_marking: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    barcodes: Mapped[list["SkuBarcode"]] = relationship(
        back_populates="sku", cascade="all, delete-orphan", order_by="SkuBarcode.id"
    )
    picture: Mapped["SkuImage | None"] = relationship(back_populates="sku", cascade="all, delete-orphan",
                                                      uselist=False)

    @property
    def volume_cm3(self) -> int:
        return (self.length_mm * self.width_mm * self.height_mm) // 1000


class SkuBarcode(Timestamped, db.Model):
    """A barcode printed on a SKU's unit or pack. GTINs are stored normalised to 14 digits."""

    __tablename__ = "sku_barcodes"
    __table_args__ = (CheckConstraint("units >= 1", name="units_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), index=True)
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Units of the SKU one scan of this barcode stands for (a case GTIN may hold 12).
    units: Mapped[int] = mapped_column(Integer, default=1)

    sku: Mapped[Sku] = relationship(back_populates="barcodes")


class SkuImage(db.Model):
    """A SKU's picture: an uploaded JPEG, PNG or WebP whose bytes were checked, stored as the file
    MEDIA_DIR/`stored_name` (skus/<sku id>/<sha256 prefix>-<random>.<ext>: a file per upload, so
    no two rows share one; server/services/sku_pictures.py). One per SKU."""

    __tablename__ = "sku_images"
    __table_args__ = (CheckConstraint("size > 0 AND width > 0 AND height > 0", name="image_nonempty"),)

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(32))  # image/jpeg, image/png, image/webp
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    stored_name: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str] = mapped_column(String(200), default="")  # as uploaded, shown only
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    sku: Mapped[Sku] = relationship(back_populates="picture")
