"""Stations: dock, pick, pack, handoff and returns desks, each authenticated by a token."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import Timestamped
from server.models.people import Role


class StationKind(StrEnum):
    dock = "dock"
    pick = "pick"
    pack = "pack"
    handoff = "handoff"
    returns = "returns"


# The role a station acts in when it calls the API with its own token.
STATION_ROLE = {
    StationKind.dock: Role.receiver,
    StationKind.pick: Role.picker,
    StationKind.pack: Role.packer,
    StationKind.handoff: Role.dispatcher,
    StationKind.returns: Role.returns,
}


class Station(Timestamped, db.Model):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    warehouse = relationship("Warehouse")

    @property
    def role(self) -> str:
        return STATION_ROLE[StationKind(self.kind)]
