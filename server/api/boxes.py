"""API: box types, the cartons a warehouse packs into (master data). A box type is deactivated,
never deleted: parcels keep naming the box they were packed in."""

from decimal import Decimal

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from server.api.bounds import Id, Int, Text, Trimmed
from server.api.docs import problems
from server.api.pagination import SelectPage
from server.api.schemas import (
    MASTER_READ,
    MASTER_WRITE,
    UtcDateTime,
    _code,
    apply_fields,
    duplicate,
    exists,
    flush_or_conflict,
    get_or_404,
    get_or_422,
)
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import BoxType, User, Warehouse
from server.services.boxes import audit_box_type, box_type_facts

blp = Blueprint("boxes", __name__, url_prefix="/api/v1", description="Box types")

DIMENSION = {"minimum": 1, "maximum": 5000}  # mm
WEIGHT = {"minimum": 0, "maximum": 100_000}  # g
PRICE_MAX = Decimal(10 ** 9)


def _price_in_range(value: Decimal | None) -> None:
    # A function, not validate.Range: the OpenAPI document would get the bounds as strings.
    if value is not None and not 0 <= value <= PRICE_MAX:
        raise ValidationError("Must be between 0 and 1000000000.")


class BoxTypeSchema(Schema):
    id = Id(dump_only=True)
    warehouse_id = Id(required=True)
    code = _code(32, required=True)
    name = Trimmed(validate=validate.Length(max=200))
    inner_length_mm = Int(required=True, **DIMENSION)
    inner_width_mm = Int(required=True, **DIMENSION)
    inner_height_mm = Int(required=True, **DIMENSION)
    weight_g = Int(**WEIGHT)
    price = fields.Decimal(places=2, as_string=True, allow_none=True, validate=_price_in_range,
                           metadata={"description": "0 to 1000000000, two decimals"})
    active = fields.Boolean()
    created_at = UtcDateTime(dump_only=True)


class BoxTypePatchSchema(BoxTypeSchema):
    warehouse_id = Id(dump_only=True)
    code = _code(32)
    inner_length_mm = Int(**DIMENSION)
    inner_width_mm = Int(**DIMENSION)
    inner_height_mm = Int(**DIMENSION)


class BoxTypeQuerySchema(Schema):
    warehouse_id = Id()
    active = fields.Boolean()
    code = Text(validate=validate.Length(min=1, max=32))


def _actor() -> User | None:
    principal = current_principal()
    return principal.user if principal is not None else None


def _check_code(warehouse_id: int, code: str, own_id: int | None = None) -> None:
    stmt = select(BoxType.id).where(BoxType.warehouse_id == warehouse_id, BoxType.code == code)
    if own_id is not None:
        stmt = stmt.where(BoxType.id != own_id)
    if exists(stmt):
        raise duplicate("code", f"Box type {code!r} already exists in this warehouse.")


def _locked(box_type_id: int) -> BoxType:
    """The box type, its row locked and read fresh (so the audit's "before" is what changed), or 404."""
    box = db.session.get(BoxType, box_type_id, with_for_update=True, populate_existing=True)
    return box if box is not None else get_or_404(BoxType, box_type_id, "box type")


@blp.route("/box-types")
class BoxTypes(MethodView):
    @roles_required(*MASTER_READ)
    @blp.arguments(BoxTypeQuerySchema, location="query")
    @blp.response(200, BoxTypeSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """List box types by warehouse and code; filter by warehouse, active, code"""
        stmt = select(BoxType).order_by(BoxType.warehouse_id, BoxType.code)
        for name in ("warehouse_id", "active", "code"):
            if name in args:
                stmt = stmt.where(getattr(BoxType, name) == args[name])
        return stmt

    @roles_required(*MASTER_WRITE)
    @blp.arguments(BoxTypeSchema)
    @blp.response(201, BoxTypeSchema)
    @problems(blp, {409: "A box type with this code exists in the warehouse (duplicate)"})
    def post(self, data):
        """Create a box type: inner dimensions 1..5000 mm, its weight 0..100000 g, price 0..10^9"""
        get_or_422(Warehouse, data["warehouse_id"], "warehouse_id", "warehouse")
        _check_code(data["warehouse_id"], data["code"])
        box = BoxType(**data)
        db.session.add(box)
        flush_or_conflict("A box type with this code already exists in the warehouse.")
        audit_box_type(_actor(), "create", box, via="api")
        return box, 201, {"Location": url_for("boxes.BoxType", box_type_id=box.id)}


@blp.route("/box-types/<int:box_type_id>", endpoint="BoxType")
class BoxTypeView(MethodView):
    @roles_required(*MASTER_READ)
    @blp.response(200, BoxTypeSchema)
    def get(self, box_type_id):
        """Get a box type"""
        return get_or_404(BoxType, box_type_id, "box type")

    @roles_required(*MASTER_WRITE)
    @blp.arguments(BoxTypePatchSchema)
    @blp.response(200, BoxTypeSchema)
    @problems(blp, {409: "Another box type of the warehouse has this code (duplicate, conflict)"})
    def patch(self, data, box_type_id):
        """Change a box type (active: false deactivates it, true brings it back)"""
        box = _locked(box_type_id)
        if "code" in data:
            _check_code(box.warehouse_id, data["code"], box.id)
        before = box_type_facts(box)
        apply_fields(box, data)
        flush_or_conflict("A box type with this code already exists in the warehouse.")
        audit_box_type(_actor(), "change", box, before, via="api")
        return box


@blp.route("/box-types/<int:box_type_id>/deactivate")
class BoxTypeDeactivate(MethodView):
    @roles_required(*MASTER_WRITE)
    @blp.response(200, BoxTypeSchema)
    def post(self, box_type_id):
        """Deactivate a box type: no longer suggested or offered; parcels packed in it keep it"""
        box = _locked(box_type_id)
        before = box_type_facts(box)
        box.active = False
        db.session.flush()
        audit_box_type(_actor(), "deactivate", box, before, via="api")
        return box
