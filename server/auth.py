"""Who is calling: a signed-in user (session), a user's API token, or a station token.

Every endpoint declares who may call it with the decorator that also checks it, which attaches an
`Access` to the view: `@roles_required(...)` (API), `station_token_required` (station agents),
`@signed_in(...)` (pages) or `@public`. Admins pass every role check. `access_of(app, endpoint,
method)` reads the declaration back (the OpenAPI and tests/test_authz_matrix.py use it).
"""

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from functools import wraps

from flask import abort, current_app, g, request, session
from flask_babel import gettext as _
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


PUBLIC, SIGNED_IN, ROLES, STATION = "public", "signed-in", "roles", "station"


@dataclass(frozen=True)
class Access:
    """Who may call one endpoint.

    who: PUBLIC (anyone), SIGNED_IN (any signed-in user), ROLES (users holding one of `roles`,
    admins always), STATION (a station agent's own token only). On the API (`api`) a user's API
    token counts like a session, and a station token passes a ROLES check in its station's role;
    pages know only the session. own_station: the role of the station named by the path's
    `<code>` passes too."""

    who: str
    roles: tuple = ()
    api: bool = False
    own_station: bool = False

    def doc(self) -> dict:
        """The OpenAPI extensions of an operation: `x-callers` (kinds of caller) and `x-roles`."""
        if self.who == PUBLIC:
            return {"x-callers": ["anyone"]}
        if self.who == STATION:
            return {"x-callers": ["station-token"]}
        callers = ["user-session", "user-token"] if self.api else ["user-session"]
        if self.who == SIGNED_IN:
            return {"x-callers": callers}
        if self.api:
            callers.append("station-token")
        return {"x-callers": callers, "x-roles": sorted(str(r) for r in {*self.roles, Role.admin})}


PUBLIC_ACCESS = Access(PUBLIC)


def public(view):
    """Mark a view open to anyone (sign-in, the OpenAPI document)."""
    view.access = PUBLIC_ACCESS
    return view


def access_of(app, endpoint: str, method: str) -> Access | None:
    """The declared access of `method` on `endpoint`, None when it declares none. Static files
    (Flask's own view) are public."""
    if endpoint == "static" or endpoint.endswith(".static"):
        return PUBLIC_ACCESS
    view = app.view_functions.get(endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is not None:  # a MethodView: each method declares its own
        view = getattr(view_class, method.lower(), None)
        if view is None and method.upper() == "HEAD":
            view = getattr(view_class, "get", None)
    return getattr(view, "access", None)


def signed_in_user() -> User:
    return current_user._get_current_object()


def signed_in(*roles: str, json: bool = False, own_station: bool = False):
    """A page (or a page script's JSON call, `json`) for signed-in users holding one of `roles`
    (any signed-in user when none; admins always). Refused: sign-in redirect (401 problem for
    `json`) without a session, 403 for another role. own_station: the role of the station named
    by the path's `<code>` passes too (404 when there is no such active station)."""
    roles = tuple(Role(r) for r in roles)
    access = Access(ROLES if roles or own_station else SIGNED_IN, roles, own_station=own_station)

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                if json:
                    raise Problem(401, "unauthorized", _("Sign in again."))
                return login_manager.unauthorized()
            allowed = roles
            if own_station:
                allowed = (*roles, _named_station(kwargs["code"], json).role)
            if access.who == ROLES and not current_user.has_any_role(allowed):
                if not json:
                    abort(403)
                if own_station:
                    raise Problem(403, "forbidden", _("Your role may not work at this station."))
                raise Problem(403, "forbidden", _("Your role may not do this."))
            return current_app.ensure_sync(view)(*args, **kwargs)

        guarded.access = access
        return guarded

    return decorate


def _named_station(code: str, json: bool) -> Station:
    station = db.session.execute(
        db.select(Station).where(Station.code == code, Station.active.is_(True))).scalar_one_or_none()
    if station is None:
        if json:
            raise Problem(404, "not-found", _("No such station."))
        abort(404)
    return station


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
        guarded.access = Access(ROLES, roles, api=True)
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
