"""Users and stations: what the admin pages, the CLI and the API share.

Every function checks its input fully before it changes anything, raises DomainError (stable
code, translatable message) when it refuses, and flushes; the caller commits. Secrets (password,
PIN, station token) are stored hashed; a station's token is returned once and never kept.
"""

import re

from flask_babel import gettext as _
from sqlalchemy import func, literal, select

from server.auth import new_token
from server.extensions import db
from server.models import Role, Station, StationKind, User, Warehouse
from server.services.errors import DomainError

PIN_RE = re.compile(r"[0-9]{4,8}")
PASSWORD_LENGTH = (8, 128)
# Who may not sign in by a badge alone (DESIGN: password, or badge + PIN).
PRIVILEGED = {Role.supervisor, Role.admin, Role.integration}


def _code(value, what: str, max_len: int = 64) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text or len(text) > max_len or any(ord(ch) < 32 for ch in text):
        raise DomainError(422, "bad-value", _("%(what)s: 1 to %(max)s characters, no control characters.",
                                              what=what, max=max_len))
    return text


def _roles(roles) -> set[str]:
    chosen = {str(r) for r in roles or ()}
    unknown = chosen - set(Role)
    if unknown:
        raise DomainError(422, "unknown-role", _("Unknown role: %(roles)s.", roles=", ".join(sorted(unknown))))
    if not chosen:
        raise DomainError(422, "no-role", _("Choose at least one role."))
    return chosen


def _check_password(password: str) -> None:
    low, high = PASSWORD_LENGTH
    if not low <= len(password) <= high or "\x00" in password:
        raise DomainError(422, "bad-password", _("A password is %(low)s to %(high)s characters.", low=low, high=high))


def _check_pin(pin: str) -> None:
    if not PIN_RE.fullmatch(pin):
        raise DomainError(422, "bad-pin", _("A PIN is 4 to 8 digits."))


def _badge_taken(badge: str, own_id: int | None = None) -> bool:
    query = select(User.id).where(User.badge_code == badge)
    if own_id is not None:
        query = query.where(User.id != own_id)
    return db.session.execute(query).first() is not None


def _check_sign_in(roles: set[str], password_hash, badge, pin_hash) -> None:
    if not password_hash and not badge:
        raise DomainError(422, "no-sign-in", _("Give a password, a badge or both."))
    if roles & PRIVILEGED and not password_hash and not pin_hash:
        raise DomainError(422, "badge-alone", _("Supervisors and administrators need a password or a PIN."))


def has_role(role: str):
    """SQL condition: the user holds `role`."""
    return (literal(",") + User.roles_csv + literal(",")).contains(f",{role},")


def active_admins_besides(user_id: int | None) -> int:
    query = select(func.count()).select_from(User).where(User.active.is_(True), has_role(Role.admin))
    if user_id is not None:
        query = query.where(User.id != user_id)
    return db.session.execute(query).scalar_one()


def _keep_an_admin(user: User, roles: set[str], active: bool) -> None:
    loses_admin = user.active and Role.admin in user.roles and not (active and Role.admin in roles)
    if loses_admin and not active_admins_besides(user.id):
        raise DomainError(409, "last-admin", _("This is the last active administrator; make another one first."))


# --- users -----------------------------------------------------------------------------------


def create_user(username: str, roles, *, full_name: str = "", password: str | None = None,
                badge: str | None = None, pin: str | None = None) -> User:
    username = _code(username, _("Username"))
    chosen = _roles(roles)
    full_name = (full_name or "").strip()
    if len(full_name) > 200:
        raise DomainError(422, "bad-value", _("The name is longer than 200 characters."))
    badge = _code(badge, _("Badge")) if badge else None
    if password:
        _check_password(password)
    if pin:
        _check_pin(pin)
    _check_sign_in(chosen, password, badge, pin)
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise DomainError(409, "duplicate-username", _("User %(name)s exists.", name=username))
    if badge and _badge_taken(badge):
        raise DomainError(409, "duplicate-badge", _("Badge %(badge)s belongs to another user.", badge=badge))
    user = User(username=username, full_name=full_name, badge_code=badge)
    user.roles = chosen
    if password:
        user.set_password(password)
    user.set_pin(pin or None)
    db.session.add(user)
    db.session.flush()
    return user


def set_roles(user: User, roles) -> None:
    chosen = _roles(roles)
    _keep_an_admin(user, chosen, user.active)
    _check_sign_in(chosen, user.password_hash, user.badge_code, user.pin_hash)
    user.roles = chosen
    db.session.flush()


def set_badge(user: User, badge: str | None) -> None:
    badge = _code(badge, _("Badge")) if badge else None
    _check_sign_in(user.roles, user.password_hash, badge, user.pin_hash)
    if badge and _badge_taken(badge, user.id):
        raise DomainError(409, "duplicate-badge", _("Badge %(badge)s belongs to another user.", badge=badge))
    user.badge_code = badge
    db.session.flush()


def set_password(user: User, password: str | None) -> None:
    """A new password, or None to remove it (when the user can still sign in otherwise)."""
    if password:
        _check_password(password)
    _check_sign_in(user.roles, password, user.badge_code, user.pin_hash)
    if password:
        user.set_password(password)
    else:
        user.password_hash = None
    db.session.flush()


def set_pin(user: User, pin: str | None) -> None:
    if pin:
        _check_pin(pin)
    _check_sign_in(user.roles, user.password_hash, user.badge_code, pin)
    user.set_pin(pin or None)
    db.session.flush()


def set_user_active(user: User, active: bool) -> None:
    _keep_an_admin(user, user.roles, active)
    user.active = active
    db.session.flush()


# --- stations --------------------------------------------------------------------------------


def create_station(code: str, kind: str, warehouse: Warehouse, name: str = "") -> tuple[Station, str]:
    """A new station and its token (shown once: only its hash is stored)."""
    code = _code(code, _("Code"))
    if kind not in set(StationKind):
        raise DomainError(422, "unknown-kind", _("Unknown station kind %(kind)s.", kind=kind))
    name = (name or "").strip() or code
    if len(name) > 200:
        raise DomainError(422, "bad-value", _("The name is longer than 200 characters."))
    if db.session.execute(select(Station.id).where(Station.code == code)).first():
        raise DomainError(409, "duplicate-station", _("Station %(code)s exists.", code=code))
    token, digest = new_token()
    station = Station(code=code, kind=kind, name=name, warehouse_id=warehouse.id, token_hash=digest)
    db.session.add(station)
    db.session.flush()
    return station, token


def rotate_station_token(station: Station) -> str:
    """A fresh token for `station`; the old one stops working at once."""
    token, digest = new_token()
    station.token_hash = digest
    db.session.flush()
    return token


def set_station_active(station: Station, active: bool) -> None:
    """An inactive station's token is refused."""
    station.active = active
    db.session.flush()


def find_warehouse(code: str | None) -> Warehouse:
    """The warehouse with `code`, or the only one when no code is given."""
    if code:
        warehouse = db.session.execute(select(Warehouse).filter_by(code=code)).scalar_one_or_none()
        if warehouse is None:
            raise DomainError(404, "unknown-warehouse", _("No warehouse %(code)s.", code=code))
        return warehouse
    warehouses = db.session.execute(select(Warehouse).limit(2)).scalars().all()
    if len(warehouses) != 1:
        raise DomainError(422, "choose-warehouse", _("Choose a warehouse."))
    return warehouses[0]
