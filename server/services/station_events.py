"""The stored inputs of stations and handhelds: each event_id once, with the prompt it got."""

from __future__ import annotations

from sqlalchemy import insert, select

from server.extensions import db
from server.models import HandheldSession, ScanEvent, StationEvent, StationSession, User
from server.services.upsert import upsert


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
    return _session_row(StationSession, StationSession.station_id, station_id, lock)


def handheld_session(user: User, *, lock: bool = False) -> HandheldSession:
    return _session_row(HandheldSession, HandheldSession.user_id, user.id, lock)


def _session_row(model, key_column, key: int, lock: bool):
    """The session row of a station or handheld. Locked: made first if missing by an insert that
    a twin's insert at the same moment cannot fail (ON CONFLICT DO NOTHING), then locked, so two
    first inputs at once both find one row and go one after the other."""
    if lock:
        db.session.execute(upsert(model).values({key_column.key: key}).on_conflict_do_nothing())
    session = db.session.get(model, key, with_for_update=lock or None, populate_existing=lock)
    if session is None:
        session = model(**{key_column.key: key})
        db.session.add(session)
    return session

