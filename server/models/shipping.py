"""Parcels: what leaves the pack station and goes onto a courier's manifest."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models.base import Timestamped


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
