"""Each flow's state per (session, flow): a station's session or a worker's handheld.

The caller holds the session's row lock (scenarios lock it before handling a batch), so reads
and writes of one session's flow states never race."""

from __future__ import annotations

from sqlalchemy import delete, select

from server.extensions import db
from server.models import FlowState
from server.models.base import utcnow


def station_key(station_id: int) -> str:
    return f"station:{station_id}"


def handheld_key(user_id: int) -> str:
    return f"handheld:{user_id}"


def find(session_key: str, flow: str) -> FlowState | None:
    return db.session.execute(select(FlowState).where(FlowState.session_key == session_key,
                                                      FlowState.flow == flow)).scalar_one_or_none()


def save(session_key: str, flow: str, state: str, version: int, data: dict) -> FlowState:
    row = find(session_key, flow)
    if row is None:
        row = FlowState(session_key=session_key, flow=flow)
        db.session.add(row)
    row.state, row.version, row.data, row.updated_at = state, version, data, utcnow()
    db.session.flush()
    return row


def clear(session_key: str) -> None:
    """Every flow of the session starts over (a station's worker changed)."""
    db.session.execute(delete(FlowState).where(FlowState.session_key == session_key))
