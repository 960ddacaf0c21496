"""Failed sign-in counting, kept in the database so every server worker sees the same counts.

A key is "user:<id>" (PIN), "name:<username>" (password; also for unknown names, so the lock
says nothing about which names exist) or "addr:<client address>". Too many failures of one key
within the window lock that key until its oldest failure leaves the window.
"""

from datetime import timedelta

from flask import current_app, request
from sqlalchemy import delete, func, select

from server.extensions import db
from server.models import SignInFailure
from server.models.base import utcnow

DEFAULTS = {
    "CELLWMS_SIGNIN_WINDOW_SECONDS": 15 * 60,
    "CELLWMS_SIGNIN_MAX_PER_USER": 5,
    "CELLWMS_SIGNIN_MAX_PER_ADDRESS": 30,
}


def _setting(name: str) -> int:
    return int(current_app.config.get(name, DEFAULTS[name]))


def window() -> timedelta:
    return timedelta(seconds=_setting("CELLWMS_SIGNIN_WINDOW_SECONDS"))


def address_key() -> str:
    return f"addr:{request.remote_addr or 'unknown'}"


def user_key(user_id: int) -> str:
    return f"user:{user_id}"


def name_key(username: str) -> str:
    return f"name:{username.strip().lower()[:150]}"


def _limit(key: str) -> int:
    if key.startswith("addr:"):
        return _setting("CELLWMS_SIGNIN_MAX_PER_ADDRESS")
    return _setting("CELLWMS_SIGNIN_MAX_PER_USER")


def is_locked(*keys: str) -> bool:
    """True when any of `keys` has reached its limit of failures within the window."""
    since = utcnow() - window()
    rows = db.session.execute(
        select(SignInFailure.key, func.count())
        .where(SignInFailure.key.in_(keys), SignInFailure.at >= since)
        .group_by(SignInFailure.key)
    ).all()
    return any(count >= _limit(key) for key, count in rows)


def record_failure(*keys: str) -> None:
    """Count one failure against each key (and forget failures older than the window); commits."""
    now = utcnow()
    db.session.execute(delete(SignInFailure).where(SignInFailure.at < now - window()))
    db.session.add_all(SignInFailure(key=key, at=now) for key in keys)
    db.session.commit()


def clear(*keys: str) -> None:
    """Forget the failures of `keys` after a successful sign-in (the caller commits)."""
    db.session.execute(delete(SignInFailure).where(SignInFailure.key.in_(keys)))
