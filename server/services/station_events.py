"""The stored inputs of stations and handhelds: each event_id once, with the prompt it got."""

from __future__ import annotations

from sqlalchemy import insert, select

from server.extensions import db
from server.models import HandheldSession, ScanEvent, StationEvent, StationSession, User


def stored_outcomes(event_ids: list[str]) -> dict[str, tuple[int | None, dict | None]]:
    """event_id -> (station id, outcome) of the inputs stored already."""
    if not event_ids:
        return {}
    return {event_id: (owner, outcome) for event_id, owner, outcome in db.session.execute(
        select(StationEvent.event_id, StationEvent.station_id, StationEvent.outcome)
        .where(StationEvent.event_id.in_(event_ids)))}


def store(event_rows: list[dict], scan_rows: list[dict]) -> None:
    """One INSERT per table for a whole batch (the ORM's unit of work costs 3x as much here)."""
    if event_rows:
        db.session.execute(insert(StationEvent), event_rows)
    if scan_rows:
        db.session.execute(insert(ScanEvent), scan_rows)


def station_session(station_id: int, *, lock: bool = False) -> StationSession:
    session = db.session.get(StationSession, station_id, with_for_update=lock or None, populate_existing=lock)
    if session is None:
        session = StationSession(station_id=station_id)
        db.session.add(session)
    return session


def handheld_session(user: User, *, lock: bool = False) -> HandheldSession:
    session = db.session.get(HandheldSession, user.id, with_for_update=lock or None, populate_existing=lock)
    if session is None:
        session = HandheldSession(user_id=user.id)
        db.session.add(session)
    return session
