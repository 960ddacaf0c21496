"""Leases of live streams (Server-Sent Events): at most CELLWMS_STREAMS_PER_USER open streams per
user across every server worker, so one person's tabs cannot take all of a worker's threads.

A lease is taken before a stream starts and given back when it ends (the client went away, or the
stream's lifetime ran out); one whose process died lapses at its `expires_at`.
"""

from datetime import timedelta

from sqlalchemy import delete, func, select

from server.extensions import db
from server.models import StreamLease, User
from server.models.base import utcnow


def take(user_id: int, limit: int, lifetime_seconds: float) -> int | None:
    """A lease id for a new stream of `user_id`, or None when the user has `limit` streams open.
    Commits (the user row is locked while counting, so two opens at once cannot both pass)."""
    now = utcnow()
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())
    db.session.execute(delete(StreamLease).where(StreamLease.user_id == user_id, StreamLease.expires_at < now))
    open_now = db.session.execute(
        select(func.count()).select_from(StreamLease).where(StreamLease.user_id == user_id)
    ).scalar_one()
    if open_now >= limit:
        db.session.commit()
        return None
    lease = StreamLease(user_id=user_id, started_at=now,
                        expires_at=now + timedelta(seconds=lifetime_seconds + 30))
    db.session.add(lease)
    db.session.commit()
    return lease.id


def give_back(engine, lease_id: int) -> None:
    """End a lease (runs when the stream closes, outside any request's session)."""
    with engine.begin() as connection:
        connection.execute(delete(StreamLease).where(StreamLease.id == lease_id))


def open_count(user_id: int) -> int:
    return db.session.execute(
        select(func.count()).select_from(StreamLease)
        .where(StreamLease.user_id == user_id, StreamLease.expires_at >= utcnow())
    ).scalar_one()
