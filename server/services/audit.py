"""The audit log of admin actions: `record` adds a row in the caller's transaction (it commits
with the action or not at all), `recent` reads the newest rows."""

from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEntry, User

MAX_TARGET = 200


def record(actor: User | None, action: str, target: str = "", **detail) -> AuditEntry:
    """Note that `actor` did `action` to `target` (detail: plain facts, never a secret)."""
    entry = AuditEntry(user_id=actor.id if actor is not None else None,
                       actor=actor.username if actor is not None else "", action=action,
                       target=target[:MAX_TARGET], detail=detail)
    db.session.add(entry)
    return entry


def recent(limit: int = 100, offset: int = 0, action: str | None = None) -> tuple[list[AuditEntry], int]:
    """The newest entries first (`limit` of them from `offset`) and how many there are in all."""
    query = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    if action:
        query, count = query.where(AuditEntry.action == action), count.where(AuditEntry.action == action)
    rows = db.session.execute(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).scalars().all()
    return list(rows), db.session.execute(count).scalar_one()
