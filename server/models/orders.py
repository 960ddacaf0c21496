"""Customer orders: the order card (statuses and why an order waits), its lines, the stock set
aside for them (reservations, one per cell and lot), and the events of every status change.

Waves, batches and pick lines (one cart trip of a picker) are here too: they are orders on their
way to the pack area."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import Timestamped, UtcDateTime, utcnow


class OrderStatus(StrEnum):
    new = "new"
    confirmed = "confirmed"
    reserved = "reserved"
    postponed = "postponed"
    cancelled = "cancelled"
    picking = "picking"
    picked = "picked"
    packing = "packing"
    packed = "packed"
    handed_over = "handed_over"
    delivered = "delivered"
    returned = "returned"


class PostponedReason(StrEnum):
    awaiting_stock = "awaiting_stock"
    awaiting_customer = "awaiting_customer"


class Order(Timestamped, db.Model):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_status_retry", "status", "retry_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    external_ref: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.new)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_phone: Mapped[str] = mapped_column(String(32), default="")
    delivery_address: Mapped[str] = mapped_column(String(500), default="")
    carrier: Mapped[str] = mapped_column(String(64), default="", index=True)
    carrier_service: Mapped[str] = mapped_column(String(64), default="")
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher goes first
    cutoff_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    cod_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))  # cash on delivery, roubles
    comment: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(64), default="api")  # api, csv, or an order source's code
    needs_confirmation: Mapped[bool] = mapped_column(default=False)
    partial_allowed: Mapped[bool] = mapped_column(default=False)
    postponed_reason: Mapped[str | None] = mapped_column(String(24))
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # when a postponed order is tried again
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order", order_by="OrderLine.line_no")
    events: Mapped[list["OrderEvent"]] = relationship(order_by="OrderEvent.id", viewonly=True)


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (UniqueConstraint("order_id", "line_no", name="uq_order_lines_order_line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # units held now (not yet picked)
    picked: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    sku = relationship("Sku")


class OrderReservation(Timestamped, db.Model):
    """Units of one order line held in one cell (SKU, lot, expiry): the ledger's reserve movements
    for the order, less what was released or picked."""

    __tablename__ = "order_reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), index=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)  # still held
    picked: Mapped[int] = mapped_column(Integer, default=0)

    line: Mapped[OrderLine] = relationship()
    cell = relationship("Cell")
    sku = relationship("Sku")


class OrderEvent(db.Model):
    """One step of an order's card: created, every status change, and what changed its lines."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # "order.created", "order.reserved", ...
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class OrderSource(Timestamped, db.Model):
    """A shop platform that sends orders to the signed intake webhook, with its own settings."""

    __tablename__ = "order_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    secret: Mapped[str] = mapped_column(String(128))  # HMAC-SHA256 key of the platform's signature
    needs_confirmation: Mapped[bool] = mapped_column(default=False)
    partial_allowed: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class WaveStatus(StrEnum):
    released = "released"
    picking = "picking"
    picked = "picked"
    cancelled = "cancelled"


class Wave(Timestamped, db.Model):
    __tablename__ = "waves"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=WaveStatus.released)
    released_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    method: Mapped[str] = mapped_column(String(16), default="improve")
    totes_per_cart: Mapped[int] = mapped_column(Integer)
    tote_volume_l: Mapped[float] = mapped_column()
    tote_max_kg: Mapped[float] = mapped_column()
    planned_walk_m: Mapped[float] = mapped_column(default=0.0)
    seconds: Mapped[float] = mapped_column(default=0.0)  # wall time of reserve + batch + route
    # Where its batches start and end (point codes of the warehouse's plan; NULL: no plan).
    start_point: Mapped[str | None] = mapped_column(String(32))
    drop_point: Mapped[str | None] = mapped_column(String(32))

    batches: Mapped[list["Batch"]] = relationship(back_populates="wave", order_by="Batch.seq")


class BatchStatus(StrEnum):
    ready = "ready"
    picking = "picking"
    picked = "picked"  # every line picked or short; totes on the cart
    dropped = "dropped"  # totes left at the pack area
    cancelled = "cancelled"


class Batch(Timestamped, db.Model):
    """One cart trip: a few orders, a tote each, and the pick lines in route order."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # order of release: due soonest first
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.ready)
    picker_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cart: Mapped[str] = mapped_column(String(64), default="")
    planned_walk_m: Mapped[float] = mapped_column(default=0.0)
    walked_m: Mapped[float] = mapped_column(default=0.0)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    picked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dropped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    drop_cell_id: Mapped[int | None] = mapped_column(ForeignKey("cells.id"))

    wave: Mapped[Wave] = relationship(back_populates="batches")
    orders: Mapped[list["BatchOrder"]] = relationship(back_populates="batch", order_by="BatchOrder.slot")
    lines: Mapped[list["PickLine"]] = relationship(back_populates="batch", order_by="PickLine.seq")
    picker = relationship("User")


class BatchOrder(db.Model):
    """An order's slot on the cart, and the tote it is picked into."""

    __tablename__ = "batch_orders"
    __table_args__ = (UniqueConstraint("batch_id", "slot", name="uq_batch_orders_batch_slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    slot: Mapped[int] = mapped_column(Integer)  # 1..totes per cart
    tote_id: Mapped[int | None] = mapped_column(ForeignKey("totes.id"))

    batch: Mapped[Batch] = relationship(back_populates="orders")
    order: Mapped[Order] = relationship()
    tote = relationship("Tote")


class PickLineStatus(StrEnum):
    open = "open"
    picked = "picked"
    short = "short"  # the cell had less; what was found is picked, the rest re-reserved or flagged


class PickLine(db.Model):
    """Units of one reservation to take from one cell into one order's tote, at a stop of the route."""

    __tablename__ = "pick_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    reservation_id: Mapped[int] = mapped_column(ForeignKey("order_reservations.id"))
    cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    lot: Mapped[str] = mapped_column(String(64), default="")
    expiry: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    picked: Mapped[int] = mapped_column(Integer, default=0)
    seq: Mapped[int] = mapped_column(Integer)  # place on the route; a skipped line goes to the end
    status: Mapped[str] = mapped_column(String(16), default=PickLineStatus.open)
    picker_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    picked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    batch: Mapped[Batch] = relationship(back_populates="lines")
    cell = relationship("Cell")
    sku = relationship("Sku")
    reservation: Mapped[OrderReservation] = relationship()


class CountRequestStatus(StrEnum):
    open = "open"
    done = "done"


class CountRequest(Timestamped, db.Model):
    """A cell put on the count list: a picker found it short or empty. One open request per cell."""

    __tablename__ = "count_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id"), index=True)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    reason: Mapped[str] = mapped_column(String(32), default="pick-short")
    status: Mapped[str] = mapped_column(String(16), default=CountRequestStatus.open)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
