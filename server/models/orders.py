"""Customer orders. The order flow (reservation, waves, states) builds on this table."""

from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models.base import Timestamped


class OrderStatus(StrEnum):
    new = "new"
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


class Order(Timestamped, db.Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    external_ref: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.new)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
