"""Events: every scan as it was read, and what it meant."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models.base import UtcDateTime, utcnow


class ScanEvent(db.Model):
    __tablename__ = "scan_events"
    __table_args__ = (
        Index("ix_scan_events_received_at", "received_at"),
        Index("ix_scan_events_station_id", "station_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # Sender's UUID for the event: a retried delivery of the same scan is stored once.
    event_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16), default="api")  # page, agent, camera, api
    scanned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    raw_length: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    symbology: Mapped[str] = mapped_column(String(8), default="")
    kind: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    meaning: Mapped[dict] = mapped_column(JSON, default=dict)
