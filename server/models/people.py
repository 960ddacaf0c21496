"""People: users with roles, signing in by badge (workers) or password (supervisors)."""

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from server.extensions import db
from server.models.base import Timestamped, UtcDateTime, utcnow


class Role(StrEnum):
    receiver = "receiver"
    picker = "picker"
    packer = "packer"
    dispatcher = "dispatcher"
    returns = "returns"
    supervisor = "supervisor"
    admin = "admin"
    integration = "integration"  # a shop's program: sends orders, reads their status


WORKER_ROLES = {Role.receiver, Role.picker, Role.packer, Role.dispatcher, Role.returns}
ALL_ROLES = set(Role)


class User(UserMixin, Timestamped, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    # Comma-separated role names, e.g. "picker,packer".
    roles_csv: Mapped[str] = mapped_column("roles", String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    badge_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(256))
    locale: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Part of the id a session cookie carries (get_id); bumped at sign-out, so every earlier cookie
    # of this user stops working (server.auth's user loader compares it).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def roles(self) -> set[str]:
        return {r for r in self.roles_csv.split(",") if r}

    @roles.setter
    def roles(self, roles) -> None:
        unknown = set(roles) - ALL_ROLES
        if unknown:
            raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
        self.roles_csv = ",".join(sorted(set(roles)))

    def has_any_role(self, roles) -> bool:
        return Role.admin in self.roles or bool(self.roles & set(roles))

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active

    def get_id(self) -> str:  # flask-login: what the session cookie names
        return f"{self.id}.{self.session_version or 0}"

    def revoke_sessions(self) -> None:
        """Every session cookie issued to this user so far stops working (the caller commits)."""
        self.session_version = (self.session_version or 0) + 1

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def set_pin(self, pin: str | None) -> None:
        self.pin_hash = generate_password_hash(pin) if pin else None

    def check_pin(self, pin: str) -> bool:
        return bool(self.pin_hash) and check_password_hash(self.pin_hash, pin)


class ApiToken(Timestamped, db.Model):
    """A bearer token for scripts acting as a user. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    user: Mapped[User] = relationship()


class SignInFailure(db.Model):
    """One failed sign-in attempt, counted per key ("user:7", "name:ivan", "addr:10.0.0.5").

    Kept in the database, not in process memory, so every server worker sees the same counts.
    Rows older than the counting window are deleted as new failures arrive.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class StreamLease(db.Model):
    """One open live stream (Server-Sent Events) of a user, so that every server worker can count a
    user's streams against CELLWMS_STREAMS_PER_USER. Deleted when the stream ends; a lease whose
    process died lapses at `expires_at` (the stream's longest lifetime)."""

    __tablename__ = "stream_leases"
    __table_args__ = (Index("ix_stream_leases_user_id_expires_at", "user_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
