"""Admin pages: users, stations, device profiles in use and the audit log (the layout page is
in admin_layout.py). Admins change things; supervisors may read the lists. Every change goes
through server.services.accounts (as the CLI's) and is written to the audit log in the same
transaction; bad input re-shows the page with the message and a 4xx, nothing written."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from server.auth import signed_in, signed_in_user
from server.core.bounds import INT64_MAX, parse_whole
from server.extensions import db
from server.models import Role, Station, StationKind, User, Warehouse
from server.services import accounts, audit
from server.services.device_profiles import devices_in_use
from server.services.errors import DomainError
from server.services.stations import station_health

admin = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

READERS = (Role.admin, Role.supervisor)
PAGE_SIZE = 50
KIND_NAMES = {
    StationKind.dock: _l("dock"), StationKind.pick: _l("picking"), StationKind.pack: _l("packing"),
    StationKind.handoff: _l("courier handoff"), StationKind.returns: _l("returns"),
}
DEVICE_KINDS = {"printer": _l("printer"), "scanner": _l("scanner"), "scale": _l("scale"), "camera": _l("camera")}
DEVICE_STATES = {"up": _l("working"), "down": _l("not working")}
ACTION_NAMES = {
    "user.create": _l("user created"), "user.roles": _l("roles changed"), "user.badge": _l("badge changed"),
    "user.pin": _l("PIN reset"), "user.password": _l("password reset"), "user.activate": _l("user activated"),
    "user.deactivate": _l("user deactivated"), "station.create": _l("station created"),
    "station.rotate-token": _l("station token replaced"), "station.activate": _l("station activated"),
    "station.deactivate": _l("station deactivated"), "layout.apply": _l("layout applied"),
    "user.change": _l("user changed"), "station.change": _l("station changed"),
    "webhook.create": _l("webhook subscription created"), "webhook.change": _l("webhook subscription changed"),
    "webhook.delete": _l("webhook subscription deleted"), "webhook.replay": _l("webhook delivery replayed"),
}


@admin.context_processor
def admin_names():
    return {"kind_names": KIND_NAMES, "device_kinds": DEVICE_KINDS, "device_states": DEVICE_STATES,
            "action_names": ACTION_NAMES}


def form_text(name: str, limit: int = 200) -> str:
    """A form field, trimmed; over-long or NUL-bearing input is refused (4xx, not a 500)."""
    value = request.form.get(name, "")
    if len(value) > limit or "\x00" in value:
        raise DomainError(422, "bad-value", _("A field is too long."))
    return value.strip()


def _done(message: str, endpoint: str, **values):
    db.session.commit()
    flash(message, "ok")
    return redirect(url_for(endpoint, **values))


# --- users -----------------------------------------------------------------------------------


def _users_page(error: str | None = None, status: int = 200, form: dict | None = None):
    users = db.session.execute(select(User).order_by(User.username)).scalars().all()
    return render_template("admin/users.html", users=users, roles=list(Role), error=error,
                           sound="error" if error else None, form=form or {},
                           may_edit=current_user.has_any_role((Role.admin,))), status


@admin.get("/users")
@signed_in(*READERS)
def users():
    return _users_page()


@admin.post("/users")
@signed_in(Role.admin)
def create_user():
    actor = signed_in_user()
    form = {"username": request.form.get("username", "")[:64], "full_name": request.form.get("full_name", "")[:200],
            "badge": request.form.get("badge", "")[:64], "roles": request.form.getlist("roles")}
    try:
        user = accounts.create_user(form_text("username", 64), request.form.getlist("roles"),
                                    full_name=form_text("full_name"), password=request.form.get("password") or None,
                                    badge=form_text("badge", 64) or None, pin=form_text("pin", 8) or None)
        audit.record(actor, "user.create", user.username, roles=sorted(user.roles), badge=bool(user.badge_code),
                     pin=bool(user.pin_hash), password=bool(user.password_hash))
    except DomainError as error:
        db.session.rollback()
        return _users_page(str(error), error.status, form)
    return _done(_("User %(name)s created.", name=user.username), "admin.users")


@admin.get("/users/<int:user_id>")
@signed_in(*READERS)
def user(user_id: int):
    return _user_page(db.get_or_404(User, user_id))


def _user_page(user: User, error: str | None = None, status: int = 200):
    return render_template("admin/user.html", user=user, roles=list(Role), error=error,
                           sound="error" if error else None,
                           may_edit=current_user.has_any_role((Role.admin,))), status


def _change_user(user_id: int, action: str, change, message: str, **detail):
    actor = signed_in_user()
    user = db.get_or_404(User, user_id)
    try:
        change(user)
        audit.record(actor, action, user.username, **detail)
    except DomainError as error:
        db.session.rollback()
        return _user_page(db.get_or_404(User, user_id), str(error), error.status)
    return _done(message, "admin.user", user_id=user_id)


@admin.post("/users/<int:user_id>/roles")
@signed_in(Role.admin)
def user_roles(user_id: int):
    roles = request.form.getlist("roles")
    return _change_user(user_id, "user.roles", lambda u: accounts.set_roles(u, roles), _("Roles saved."),
                        roles=sorted(set(roles)))


@admin.post("/users/<int:user_id>/badge")
@signed_in(Role.admin)
def user_badge(user_id: int):
    return _change_user(user_id, "user.badge", lambda u: accounts.set_badge(u, form_text("badge", 64) or None),
                        _("Badge saved."))


@admin.post("/users/<int:user_id>/pin")
@signed_in(Role.admin)
def user_pin(user_id: int):
    return _change_user(user_id, "user.pin", lambda u: accounts.set_pin(u, form_text("pin", 8) or None),
                        _("PIN saved."))


@admin.post("/users/<int:user_id>/password")
@signed_in(Role.admin)
def user_password(user_id: int):
    password = request.form.get("password", "")
    return _change_user(user_id, "user.password", lambda u: accounts.set_password(u, password or None),
                        _("Password saved."))


@admin.post("/users/<int:user_id>/active")
@signed_in(Role.admin)
def user_active(user_id: int):
    active = request.form.get("active") == "1"
    return _change_user(user_id, "user.activate" if active else "user.deactivate",
                        lambda u: accounts.set_user_active(u, active),
                        _("User activated.") if active else _("User deactivated."))


# --- stations --------------------------------------------------------------------------------


def _stations_page(error: str | None = None, status: int = 200, form: dict | None = None, token=None,
                   station=None):
    stations = db.session.execute(select(Station).order_by(Station.code)).scalars().all()
    warehouses = db.session.execute(select(Warehouse).order_by(Warehouse.code)).scalars().all()
    return render_template("admin/stations.html", stations=stations, warehouses=warehouses, kinds=list(StationKind),
                           health={s.id: station_health(s)["state"] for s in stations}, error=error,
                           sound="error" if error else ("ok" if token else None), form=form or {}, token=token,
                           shown=station, may_edit=current_user.has_any_role((Role.admin,))), status


@admin.get("/stations")
@signed_in(*READERS)
def stations():
    return _stations_page()


@admin.post("/stations")
@signed_in(Role.admin)
def create_station():
    actor = signed_in_user()
    form = {key: request.form.get(key, "")[:64] for key in ("code", "kind", "name", "warehouse")}
    try:
        warehouse_id = request.form.get("warehouse", "")
        warehouse_id = parse_whole(warehouse_id)
        warehouse = db.session.get(Warehouse, warehouse_id) if warehouse_id else None
        if warehouse is None:
            raise DomainError(422, "choose-warehouse", _("Choose a warehouse."))
        station, token = accounts.create_station(form_text("code", 64), form_text("kind", 16), warehouse,
                                                 form_text("name"))
        audit.record(actor, "station.create", station.code, kind=station.kind, warehouse=warehouse.code)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _stations_page(str(error), error.status, form)
    return _stations_page(token=token, station=station, status=201)


@admin.post("/stations/<int:station_id>/token")
@signed_in(Role.admin)
def rotate_token(station_id: int):
    actor = signed_in_user()
    station = db.get_or_404(Station, station_id)
    token = accounts.rotate_station_token(station)
    audit.record(actor, "station.rotate-token", station.code)
    db.session.commit()
    return _stations_page(token=token, station=station)


@admin.post("/stations/<int:station_id>/active")
@signed_in(Role.admin)
def station_active(station_id: int):
    actor = signed_in_user()
    station = db.get_or_404(Station, station_id)
    active = request.form.get("active") == "1"
    accounts.set_station_active(station, active)
    audit.record(actor, "station.activate" if active else "station.deactivate", station.code)
    return _done(_("Station %(code)s activated.", code=station.code) if active
                 else _("Station %(code)s deactivated: its token no longer works.", code=station.code),
                 "admin.stations")


# --- devices and the audit log ---------------------------------------------------------------


@admin.get("/devices")
@signed_in(*READERS)
def devices():
    return render_template("admin/devices.html", **devices_in_use())


@admin.get("/audit")
@signed_in(*READERS)
def audit_log():
    page = request.args.get("page", "1")
    page = min(parse_whole(page, INT64_MAX) or 1, 100_000)
    entries, total = audit.recent(PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return render_template("admin/audit.html", entries=entries, total=total, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)))
