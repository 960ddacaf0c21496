"""Who is calling: a signed-in user (session), a user's API token, or a station token.

Every endpoint states the roles it admits with `@roles_required(...)`; admins pass all.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from functools import wraps

from flask import current_app, g, request, session
from flask_login import current_user

from server.extensions import csrf, db, login_manager
from server.models import ApiToken, Role, Station, User
from server.models.base import utcnow
from server.problems import Problem

TOKEN_BYTES = 32
SIGNED_IN_AT = "signed_in_at"  # session key: when this session signed in (epoch seconds)


def new_token() -> tuple[str, str]:
    """A fresh secret and the SHA-256 hex digest that is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Principal:
    user: User | None = None
    station: Station | None = None
    roles: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return f"station:{self.station.id}" if self.station and not self.user else f"user:{self.user.id}"

    def has_any_role(self, roles) -> bool:
        return Role.admin in self.roles or bool(self.roles & set(roles))


def current_principal() -> Principal | None:
    if "principal" not in g:
        g.principal = _resolve_principal()
    return g.principal


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _resolve_principal() -> Principal | None:
    token = _bearer_token()
    if token is not None:
        digest = hash_token(token)
        station = db.session.execute(
            db.select(Station).where(Station.token_hash == digest, Station.active.is_(True))
        ).scalar_one_or_none()
        if station is not None:
            return Principal(station=station, roles={station.role})
        api_token = db.session.execute(
            db.select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
        ).scalar_one_or_none()
        if api_token is not None and api_token.user.active:
            return Principal(user=api_token.user, roles=api_token.user.roles)
        raise Problem(401, "invalid-token", "The bearer token is unknown or revoked.")
    if current_user.is_authenticated:
        return Principal(user=current_user._get_current_object(), roles=current_user.roles)
    return None


def roles_required(*roles: str):
    """Admit callers holding any of `roles` (admins always). 401 without credentials, 403 otherwise."""
    roles = tuple(Role(r) for r in roles)

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            principal = current_principal()
            if principal is None:
                raise Problem(401, "unauthorized", "Sign in or send a bearer token.")
            if not principal.has_any_role(roles):
                raise Problem(
                    403, "forbidden", "Your role may not do this.", required_roles=sorted(roles)
                )
            return view(*args, **kwargs)

        guarded.roles = roles
        note = f"Roles: {', '.join(sorted(roles))} (admin always)."
        guarded.__doc__ = f"{(view.__doc__ or '').strip()}\n\n{note}".strip()
        return guarded

    return decorate


def init_app(app) -> None:
    login_manager.login_view = "web.sign_in"

    @login_manager.user_loader
    def load_user(session_id: str):
        # "<user id>.<session version>": a cookie from before a sign-out (older version) or past the
        # maximum session lifetime names nobody.
        user_id, _, version = str(session_id).partition(".")
        if not (user_id.isdigit() and version.isdigit()) or session_expired():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.active or (user.session_version or 0) != int(version):
            return None
        return user

    @app.before_request
    def check_csrf():
        # Forms and cookie-authenticated API calls carry a CSRF token. Only a valid bearer token (a
        # real API principal: it is what authenticates the call, never the cookie) needs none; an
        # unknown one is refused here (401) instead of waiving the check. API calls without any
        # credentials need none either (they get 401).
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        if _bearer_token() is not None and current_principal() is not None:
            return  # _resolve_principal raised 401 for an unknown token; a known one is the caller
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return
        csrf.protect()


def touch_login(user: User) -> None:
    user.last_login_at = utcnow()
    session[SIGNED_IN_AT] = int(time.time())


def session_expired() -> bool:
    """True when this session was signed in longer ago than CELLWMS_SESSION_MAX_SECONDS."""
    signed_in_at = session.get(SIGNED_IN_AT)
    if not isinstance(signed_in_at, int):
        return True
    return time.time() - signed_in_at > current_app.config["CELLWMS_SESSION_MAX_SECONDS"]
