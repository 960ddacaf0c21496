"""Packing and parcels: box types, the packing session at a pack station, the parcels it makes
(box, weights, photos and clip, label, tracking number), each unit's verifying scan, marking codes
(Честный знак) recorded once in the warehouse, and packing errors."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import Timestamped, UtcDateTime, utcnow


class BoxType(Timestamped, db.Model):
    """A carton a warehouse packs into: inner dimensions, its own weight, its price."""

    __tablename__ = "box_types"
    __table_args__ = (UniqueConstraint("warehouse_id", "code", name="uq_box_types_warehouse_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), default="")
    inner_length_mm: Mapped[int] = mapped_column()
    inner_width_mm: Mapped[int] = mapped_column()
    inner_height_mm: Mapped[int] = mapped_column()
    weight_g: Mapped[int] = mapped_column(default=0)
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    active: Mapped[bool] = mapped_column(default=True)


class PackingStatus(StrEnum):
    open = "open"  # verifying the units
    weighing = "weighing"  # every unit of the parcel verified: waiting for a stable weight
    mismatch = "mismatch"  # the weight is out of tolerance: re-check, weigh again, or override
    held = "held"  # a unit is missing: the order went back to the short flow, the tote waits
    closed = "closed"  # the last parcel is labelled


class PackingSession(db.Model):
    """One packer packing one order at one station, from the tote scan to the last label."""

    __tablename__ = "packing_sessions"
    __table_args__ = (Index("ix_packing_sessions_station_id_status", "station_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    tote_id: Mapped[int | None] = mapped_column(ForeignKey("totes.id"))
    packer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=PackingStatus.open)
    box_type_id: Mapped[int | None] = mapped_column(ForeignKey("box_types.id"))  # the suggested box
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    parcels: Mapped[list["Parcel"]] = relationship(back_populates="session", order_by="Parcel.seq")


class Parcel(Timestamped, db.Model):
    __tablename__ = "parcels"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    # 18-digit Serial Shipping Container Code when the parcel label carries one.
    sscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    carrier: Mapped[str] = mapped_column(String(64), default="")
    tracking_number: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="created")
    # Packing: which session, "n of m", the box, the weights (grams) and who decided.
    packing_session_id: Mapped[int | None] = mapped_column(ForeignKey("packing_sessions.id"), index=True)
    seq: Mapped[int] = mapped_column(default=1)
    box_type_id: Mapped[int | None] = mapped_column(ForeignKey("box_types.id"))
    expected_weight_g: Mapped[int | None] = mapped_column()
    weight_g: Mapped[int | None] = mapped_column()
    weighed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    override_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    override_reason: Mapped[str] = mapped_column(String(500), default="")
    packer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    packed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    label: Mapped[str] = mapped_column(Text, default="")  # the ZPL as sent, for a reprint

    session: Mapped[PackingSession | None] = relationship(back_populates="parcels")
    items: Mapped[list["ParcelItem"]] = relationship(back_populates="parcel", order_by="ParcelItem.id")
    media: Mapped[list["ParcelMedia"]] = relationship(back_populates="parcel", order_by="ParcelMedia.id")


class ParcelItem(db.Model):
    """One verifying scan: a unit (or `quantity` units) of an order line put into the parcel."""

    __tablename__ = "parcel_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    code: Mapped[str] = mapped_column(String(200), default="")  # as scanned
    lot: Mapped[str] = mapped_column(String(64), default="")
    event_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scanned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    parcel: Mapped[Parcel] = relationship(back_populates="items")


class MarkingCode(db.Model):
    """A unit's marking code (Честный знак: GS1 DataMatrix with 01 GTIN, 21 serial, 91/92 crypto
    part). One unit is one (GTIN, serial): recorded once in the warehouse, never twice."""

    __tablename__ = "marking_codes"
    __table_args__ = (UniqueConstraint("gtin", "serial", name="uq_marking_codes_gtin_serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20))
    crypto_key: Mapped[str] = mapped_column(String(16), default="")  # AI 91
    crypto_code: Mapped[str] = mapped_column(String(200), default="")  # AI 92
    raw: Mapped[str] = mapped_column(String(300))  # the element string as scanned (group separators as \x1d)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("parcels.id"), index=True)
    parcel_item_id: Mapped[int | None] = mapped_column(ForeignKey("parcel_items.id"))
    status: Mapped[str] = mapped_column(String(16), default="packed")  # packed, shipped, returned
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ParcelMedia(db.Model):
    """Evidence of a parcel: the still of the open box and the packing clip (partial when the
    camera failed mid-clip), with the file's sha256 as stored."""

    __tablename__ = "parcel_media"
    __table_args__ = (UniqueConstraint("parcel_id", "media_file_id", name="uq_parcel_media_parcel_file"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    media_file_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(8))  # still, clip
    sha256: Mapped[str] = mapped_column(String(64))
    partial: Mapped[bool] = mapped_column(default=False)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the file expired (retention)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    parcel: Mapped[Parcel] = relationship(back_populates="media")


class PackingErrorKind(StrEnum):
    wrong_item = "wrong_item"  # not on the order
    extra_unit = "extra_unit"  # more than the line asks
    other_order = "other_order"  # an item of another order in packing
    marking_repeat = "marking_repeat"  # a marking code already recorded
    bad_marking = "bad_marking"  # a marking code that does not parse, or of another GTIN
    unknown_code = "unknown_code"
    weight_mismatch = "weight_mismatch"
    missing = "missing"  # the packer reported a unit missing


class PackingError(db.Model):
    __tablename__ = "packing_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    packing_session_id: Mapped[int | None] = mapped_column(ForeignKey("packing_sessions.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(24))
    code: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
