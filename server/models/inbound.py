"""Inbound: expected deliveries (ASN / purchase order), what was counted at the dock, the
questions it raised, the discrepancies found at closing, and the putaway tasks that follow."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import Timestamped, UtcDateTime


class DeliveryStatus(StrEnum):
    expected = "expected"  # announced, nothing counted yet
    receiving = "receiving"  # opened at the dock, counting
    closed = "closed"  # counted; discrepancies listed; stock received into the receiving cell
    accepted = "accepted"  # a supervisor accepted the discrepancies
    cancelled = "cancelled"


class Delivery(Timestamped, db.Model):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("warehouse_id", "number", name="uq_deliveries_warehouse_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))  # the document number, also its barcode
    supplier: Mapped[str] = mapped_column(String(200), default="")
    expected_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.expected)
    blind: Mapped[bool] = mapped_column(default=False)  # no ASN: lines come from what is scanned
    notes: Mapped[str] = mapped_column(Text, default="")
    # Where counted goods wait for putaway (a cell of a receiving zone), chosen when opened.
    receiving_cell_id: Mapped[int | None] = mapped_column(ForeignKey("cells.id"))
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    opened_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    lines: Mapped[list["DeliveryLine"]] = relationship(back_populates="delivery", order_by="DeliveryLine.line_no")


class DeliveryLine(db.Model):
    """One expected SKU (optionally with its lot and expiry), or one found unexpected."""

    __tablename__ = "delivery_lines"
    __table_args__ = (UniqueConstraint("delivery_id", "line_no", name="uq_delivery_lines_delivery_line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    expected_qty: Mapped[int] = mapped_column(Integer, default=0)
    # Running totals of the counts (updated atomically: two receivers may count into one line).
    received_qty: Mapped[int] = mapped_column(Integer, default=0)  # good units
    damaged_qty: Mapped[int] = mapped_column(Integer, default=0)
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[date | None] = mapped_column(Date)
    unexpected: Mapped[bool] = mapped_column(default=False)

    delivery: Mapped[Delivery] = relationship(back_populates="lines")
    sku = relationship("Sku")


class ReceiptCount(db.Model):
    """One counting action: units of a line counted by a scan or an entered quantity (negative to
    correct a miscount), good or damaged, with the lot/expiry/serial read from the goods."""

    __tablename__ = "receipt_counts"
    __table_args__ = (Index("ix_receipt_counts_delivery_id_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    line_id: Mapped[int] = mapped_column(ForeignKey("delivery_lines.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    damaged: Mapped[bool] = mapped_column(default=False)
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[date | None] = mapped_column(Date)
    # A serial or a marking code (Chestny Znak) read from the unit: each is received once.
    serial: Mapped[str | None] = mapped_column(String(200), unique=True)
    pallet_sscc: Mapped[str | None] = mapped_column(String(18))
    media_sha256: Mapped[str | None] = mapped_column(String(64))  # photo of the damage
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    event_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # the input that counted it
    # An undo: the count this negative count cancels (each count is cancelled at most once).
    cancels_count_id: Mapped[int | None] = mapped_column(ForeignKey("receipt_counts.id", ondelete="CASCADE"),
                                                         unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeliveryPallet(db.Model):
    """A pallet (SSCC) of a delivery: announced on the ASN, or scanned at the dock."""

    __tablename__ = "delivery_pallets"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    sscc: Mapped[str] = mapped_column(String(18), unique=True)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class QuestionStatus(StrEnum):
    open = "open"
    linked = "linked"  # the barcode was added to an existing SKU
    created = "created"  # a new SKU was created for it
    dismissed = "dismissed"  # not goods of this delivery (a supervisor's decision)


class ReceivingQuestion(db.Model):
    """An unknown barcode scanned at receiving: held, with the units scanned, until someone links
    it to a SKU or creates one; never dropped."""

    __tablename__ = "receiving_questions"
    __table_args__ = (UniqueConstraint("delivery_id", "barcode", name="uq_receiving_questions_delivery_barcode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    barcode: Mapped[str] = mapped_column(String(200))
    symbology: Mapped[str] = mapped_column(String(8), default="")
    quantity: Mapped[int] = mapped_column(Integer, default=0)  # units scanned while unknown
    status: Mapped[str] = mapped_column(String(16), default=QuestionStatus.open)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class DiscrepancyKind(StrEnum):
    short = "short"
    over = "over"
    damaged = "damaged"
    unexpected = "unexpected"
    unknown = "unknown"  # an unknown barcode still open at closing


class Discrepancy(db.Model):
    """What closing a delivery found different from the ASN; kept with the delivery."""

    __tablename__ = "delivery_discrepancies"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_lines.id", ondelete="CASCADE"))
    question_id: Mapped[int | None] = mapped_column(ForeignKey("receiving_questions.id", ondelete="CASCADE"))
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)  # units short / over / damaged / unexpected
    note: Mapped[str] = mapped_column(Text, default="")
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PutawayStatus(StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


class PutawayTask(db.Model):
    """Move received units from the receiving cell to a storage cell (suggested by slotting)."""

    __tablename__ = "putaway_tasks"
    __table_args__ = (Index("ix_putaway_tasks_warehouse_id_status", "warehouse_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    from_cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id"))
    suggested_cell_id: Mapped[int | None] = mapped_column(ForeignKey("cells.id"))
    status: Mapped[str] = mapped_column(String(16), default=PutawayStatus.open)
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_cell_id: Mapped[int | None] = mapped_column(ForeignKey("cells.id"))
    override_reason: Mapped[str | None] = mapped_column(String(32))  # why not the suggested cell
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Where and by which input it was confirmed (a handheld's station is where its jobs go).
    done_station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    done_event_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    sku = relationship("Sku")
    from_cell = relationship("Cell", foreign_keys=[from_cell_id])
    suggested_cell = relationship("Cell", foreign_keys=[suggested_cell_id])
    done_cell = relationship("Cell", foreign_keys=[done_cell_id])
