"""API: users and stations (admin only).

Password and PIN hashes never leave the server. A station's token is shown once, in the answer
that creates or rotates it; only its SHA-256 is stored (a replayed answer shows `token: null`).
"""

from flask import g, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import or_, select

from server.api.docs import problems
from server.api.pagination import SelectPage
from server.api.schemas import (
    ADMIN_ONLY,
    StationPatchSchema,
    StationQuerySchema,
    StationSchema,
    StationTokenSchema,
    UserPatchSchema,
    UserQuerySchema,
    UserSchema,
    apply_fields,
    duplicate,
    exists,
    flush_or_conflict,
    get_or_404,
    get_or_422,
)
from server.auth import current_principal, new_token, roles_required
from server.extensions import db
from server.models import Role, Station, User, Warehouse
from server.problems import Problem
from server.services import accounts, audit

blp = Blueprint("people", __name__, url_prefix="/api/v1", description="Users and stations")

# Keys of a stored Idempotency-Key response that must not be kept (see server.api).
SECRET_KEYS = ("token",)


# --- users -----------------------------------------------------------------------------------


def _check_unique_user(data: dict, own_id: int | None = None) -> None:
    for field, column, what in (("username", User.username, "username"), ("badge_code", User.badge_code, "badge")):
        value = data.get(field)
        if value is None:
            continue
        stmt = select(User.id).where(column == value)
        if own_id is not None:
            stmt = stmt.where(User.id != own_id)
        if exists(stmt):
            raise duplicate(field, f"Another user has this {what}.")


def _actor() -> User | None:
    principal = current_principal()
    return principal.user if principal is not None else None


def _set_secrets(user: User, data: dict) -> None:
    if "password" in data:
        password = data.pop("password")
        if password is None:
            user.password_hash = None
        else:
            user.set_password(password)
    if "pin" in data:
        user.set_pin(data.pop("pin"))


@blp.route("/users")
class Users(MethodView):
    @roles_required(*ADMIN_ONLY)
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """List users by username; filter by a part of the name, a role, active"""
        stmt = select(User).order_by(User.username)
        if "q" in args:
            q = args["q"].strip()
            stmt = stmt.where(
                or_(User.username.icontains(q, autoescape=True), User.full_name.icontains(q, autoescape=True))
            )
        if "role" in args:
            stmt = stmt.where(accounts.has_role(args["role"]))
        if "active" in args:
            stmt = stmt.where(User.active.is_(args["active"]))
        return stmt

    @roles_required(*ADMIN_ONLY)
    @blp.arguments(UserSchema)
    @blp.response(201, UserSchema)
    @problems(blp, {409: "Another user has this username or badge (duplicate)"})
    def post(self, data):
        """Create a user: workers sign in by badge (optional PIN), supervisors and admins by password"""
        _check_unique_user(data)
        user = User()
        _set_secrets(user, data)
        apply_fields(user, data)
        db.session.add(user)
        flush_or_conflict("Another user has this username or badge.")
        audit.record(_actor(), "user.create", user.username, roles=sorted(user.roles), via="api")
        return user, 201, {"Location": url_for("people.User", user_id=user.id)}


@blp.route("/users/<int:user_id>", endpoint="User")
class UserView(MethodView):
    @roles_required(*ADMIN_ONLY)
    @blp.response(200, UserSchema)
    def get(self, user_id):
        """Get a user"""
        return get_or_404(User, user_id, "user")

    @roles_required(*ADMIN_ONLY)
    @blp.arguments(UserPatchSchema)
    @blp.response(200, UserSchema)
    @problems(blp, {409: "Another user has this username or badge, or this is the last admin"})
    def patch(self, data, user_id):
        """Change a user's roles, active flag, password, badge or PIN (null removes one)"""
        user = get_or_404(User, user_id, "user")
        _check_unique_user(data, user.id)
        stays_admin = Role.admin in data.get("roles", user.roles) and data.get("active", user.active)
        if user.active and Role.admin in user.roles and not stays_admin and not accounts.active_admins_besides(user.id):
            raise Problem(409, "last-admin", "This is the last active admin; make another admin first.")
        changed = sorted(data)
        _set_secrets(user, data)
        apply_fields(user, data)
        flush_or_conflict("Another user has this username or badge.")
        audit.record(_actor(), "user.change", user.username, fields=changed, via="api")
        return user


# --- stations --------------------------------------------------------------------------------


def _with_token(station: Station) -> Station:
    """Give the station a fresh token; the answer shows it once (and it is not stored for replays)."""
    token, digest = new_token()
    station.token_hash = digest
    station.token = token  # plain attribute for this answer only, not a column
    g.idempotency_redact = SECRET_KEYS
    return station


@blp.route("/stations")
class Stations(MethodView):
    @roles_required(*ADMIN_ONLY)
    @blp.arguments(StationQuerySchema, location="query")
    @blp.response(200, StationSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """List stations by code; filter by warehouse, kind, active"""
        stmt = select(Station).order_by(Station.code)
        for name in ("warehouse_id", "kind"):
            if name in args:
                stmt = stmt.where(getattr(Station, name) == args[name])
        if "active" in args:
            stmt = stmt.where(Station.active.is_(args["active"]))
        return stmt

    @roles_required(*ADMIN_ONLY)
    @blp.arguments(StationSchema)
    @blp.response(201, StationTokenSchema)
    @problems(blp, {409: "A station with this code exists (duplicate)"})
    def post(self, data):
        """Register a station; the answer shows its token once"""
        get_or_422(Warehouse, data["warehouse_id"], "warehouse_id", "warehouse")
        if exists(select(Station.id).where(Station.code == data["code"])):
            raise duplicate("code", f"A station with code {data['code']!r} already exists.")
        station = _with_token(Station(**data))
        db.session.add(station)
        flush_or_conflict("A station with this code already exists.")
        audit.record(_actor(), "station.create", station.code, kind=station.kind, via="api")
        return station, 201, {"Location": url_for("people.Station", station_id=station.id)}


@blp.route("/stations/<int:station_id>", endpoint="Station")
class StationView(MethodView):
    @roles_required(*ADMIN_ONLY)
    @blp.response(200, StationSchema)
    def get(self, station_id):
        """Get a station"""
        return get_or_404(Station, station_id, "station")

    @roles_required(*ADMIN_ONLY)
    @blp.arguments(StationPatchSchema)
    @blp.response(200, StationSchema)
    @problems(blp, {409: "Another station has this code (conflict)"})
    def patch(self, data, station_id):
        """Rename, deactivate (its token stops working at once) or reactivate a station"""
        station = get_or_404(Station, station_id, "station")
        apply_fields(station, data)
        db.session.flush()
        audit.record(_actor(), "station.change", station.code, fields=sorted(data), via="api")
        return station


@blp.route("/stations/<int:station_id>/token")
class StationToken(MethodView):
    @roles_required(*ADMIN_ONLY)
    @blp.response(200, StationTokenSchema)
    def post(self, station_id):
        """Rotate a station's token: the old one stops working, the answer shows the new one once"""
        station = get_or_404(Station, station_id, "station")
        _with_token(station)
        db.session.flush()
        audit.record(_actor(), "station.rotate-token", station.code, via="api")
        return station


@blp.route("/stations/<int:station_id>/deactivate")
class StationDeactivate(MethodView):
    @roles_required(*ADMIN_ONLY)
    @blp.response(200, StationSchema)
    def post(self, station_id):
        """Deactivate a station: its token stops working at once"""
        station = get_or_404(Station, station_id, "station")
        accounts.set_station_active(station, False)
        audit.record(_actor(), "station.deactivate", station.code, via="api")
        return station
