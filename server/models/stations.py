"""Stations: dock, pick, pack, handoff and returns desks, each authenticated by a token."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.models.base import Timestamped, UtcDateTime, utcnow
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
    # Driven by emulators and a script (the demo's), not by a person: its work is kept out of people's KPIs.
    emulated: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The agent's last heartbeat: devices (name -> kind, state, detail, since), outbox, agent.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    health: Mapped[dict | None] = mapped_column(JSON)

    warehouse = relationship("Warehouse")

    @property
    def role(self) -> str:
        return STATION_ROLE[StationKind(self.kind)]


class StationSession(db.Model):
    """Who works at a station now (one row per station). Its flows' states are FlowState rows;
    a scenario locks this row while it handles the station's inputs."""

    __tablename__ = "station_sessions"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    user = relationship("User")


class StationEvent(db.Model):
    """One input at a station (scan, weight, photo, clip, device status, job result, button), stored
    once per sender's `event_id`, with the prompt it got (`outcome`). The station page's live
    stream reads these rows."""

    __tablename__ = "station_events"
    __table_args__ = (Index("ix_station_events_station_id_id", "station_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))  # None: a handheld alone
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    seq: Mapped[int | None] = mapped_column(BigInteger)  # the agent's counter; None from pages
    source: Mapped[str] = mapped_column(String(16), default="agent")  # agent, page, handheld, api
    kind: Mapped[str] = mapped_column(String(16))
    device: Mapped[str] = mapped_column(String(64), default="")
    occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="stored")  # stored, rejected
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    outcome: Mapped[dict | None] = mapped_column(JSON)  # the prompt, or None for quiet events


class JobState(StrEnum):
    queued = "queued"
    sent = "sent"
    done = "done"
    failed = "failed"


class StationJob(db.Model):
    """A device job for a station's agent: print, photo, record_start/stop, read_weight, beep."""

    __tablename__ = "station_jobs"
    __table_args__ = (Index("ix_station_jobs_station_id_state", "station_id", "state"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    device: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=JobState.queued)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(String(16))  # done, printed, paper_out, head_open, failed
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_event: Mapped[str | None] = mapped_column(String(64))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MediaFile(db.Model):
    """A photo or clip from a station, uploaded in resumable chunks and stored by checksum."""

    __tablename__ = "media_files"
    __table_args__ = (UniqueConstraint("station_id", "sha256", name="uq_media_files_station_sha256"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    kind: Mapped[str] = mapped_column(String(8))  # photo, clip
    content_type: Mapped[str] = mapped_column(String(64), default="application/octet-stream")
    filename: Mapped[str] = mapped_column(String(200), default="")
    event_id: Mapped[str | None] = mapped_column(String(64))
    complete: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class HandheldSession(db.Model):
    """A worker's scenario session on a handheld (a page, no station of its own). `station_id`
    names the station whose devices (label printer, camera) the worker uses meanwhile, if any."""

    __tablename__ = "handheld_sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FlowState(db.Model):
    """One flow's state in one session: a station's (`session_key` "station:<id>") or a worker's
    handheld ("handheld:<user id>"). A flow reads and writes only its own row; `data` is the
    flow's typed state (a dataclass of the scenario) as JSON, written by `version` of it."""

    __tablename__ = "flow_states"
    __table_args__ = (UniqueConstraint("session_key", "flow", name="uq_flow_states_session_flow"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    session_key: Mapped[str] = mapped_column(String(40))
    flow: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(48))
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
