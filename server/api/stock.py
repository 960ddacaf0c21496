"""API: stock (by SKU, by cell) and the movement ledger."""

from datetime import UTC

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func, or_, select

from server.api.bounds import BigId, Id, Int, Moment, Quantity, Text
from server.api.docs import problems
from server.api.pagination import SelectPage
from server.api.schemas import UtcDateTime
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import Cell, Movement, MovementKind, OrderReservation, Quant, Role, Sku
from server.models.stock import NO_EXPIRY
from server.problems import Problem
from server.services import reservation, stock_queries
from server.services.stock import Actor, apply_movement, reserve_fefo

blp = Blueprint("stock", __name__, url_prefix="/api/v1", description="Stock and the movement ledger")

READERS = (Role.receiver, Role.picker, Role.packer, Role.dispatcher, Role.returns, Role.supervisor)

# Who may record each kind of movement.
MOVEMENT_ROLES = {
    MovementKind.receive: {Role.receiver, Role.supervisor},
    MovementKind.move: {Role.receiver, Role.picker, Role.supervisor},
    MovementKind.issue: {Role.dispatcher, Role.supervisor},
    MovementKind.adjust_in: {Role.supervisor},
    MovementKind.adjust_out: {Role.supervisor},
    MovementKind.reserve: {Role.supervisor},
    MovementKind.release: {Role.supervisor},
    MovementKind.pick: {Role.picker, Role.supervisor},
}
MOVERS = tuple(sorted(set().union(*MOVEMENT_ROLES.values())))


class StockLineSchema(Schema):
    quant_id = BigId()
    cell_id = Id()
    cell_address = Text()
    sku_id = Id()
    sku_code = Text()
    lot = Text()
    expiry = fields.Date(allow_none=True)
    quantity = Quantity()
    reserved = Int()
    available = Int()


class TotalsSchema(Schema):
    quantity = Quantity()
    reserved = Int()
    available = Int()


class SkuStockSchema(Schema):
    sku_id = Id()
    sku_code = Text()
    sku_name = Text()
    totals = fields.Nested(TotalsSchema)
    lines = fields.List(fields.Nested(StockLineSchema))


class CellStockSchema(Schema):
    cell_id = Id()
    cell_address = Text()
    cell_status = Text()
    totals = fields.Nested(TotalsSchema)
    lines = fields.List(fields.Nested(StockLineSchema))


class QuantSchema(Schema):
    id = BigId()
    cell_id = Id()
    sku_id = Id()
    lot = Text()
    expiry = fields.Date(allow_none=True)
    quantity = Quantity()
    reserved = Int()
    available = Int()


class QuantQuerySchema(Schema):
    sku_id = Id()
    cell_id = Id()
    warehouse_id = Id()
    lot = Text()


class WarehouseQuerySchema(Schema):
    warehouse_id = Id()


class MovementSchema(Schema):
    id = BigId(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    kind = Text(required=True, validate=validate.OneOf([k.value for k in MovementKind]))
    sku_id = Id(required=True, strict=True)
    quantity = Quantity(required=True, strict=True, validate=validate.Range(min=1))
    from_cell_id = Id(allow_none=True, strict=True)
    to_cell_id = Id(allow_none=True, strict=True)
    lot = Text(load_default="", validate=validate.Length(max=64))
    expiry = fields.Date(allow_none=True, load_default=None)
    reason = Text(load_default="", validate=validate.Length(max=2000))
    reference = Text(load_default="", validate=validate.Length(max=128))
    user_id = Id(dump_only=True, allow_none=True)
    station_id = Id(dump_only=True, allow_none=True)
    scenario = Text(dump_only=True)


class MovementQuerySchema(Schema):
    sku_id = Id()
    cell_id = Id()
    kind = Text(validate=validate.OneOf([k.value for k in MovementKind]))
    reference = Text()
    since = Moment(default_timezone=UTC,
                                 metadata={"description": "From this moment on; without an offset it is UTC."})


class ReservationSchema(Schema):
    sku_id = Id(required=True, strict=True)
    warehouse_id = Id(required=True, strict=True)
    quantity = Quantity(required=True, strict=True, validate=validate.Range(min=1))
    reference = Text(load_default="", validate=validate.Length(max=128))
    reason = Text(load_default="")


class ReservationResultSchema(Schema):
    movements = fields.List(fields.Nested(MovementSchema))


def _actor() -> Actor:
    principal = current_principal()
    return Actor(
        user_id=principal.user.id if principal.user else None,
        station_id=principal.station.id if principal.station else None,
        scenario="api",
    )


@blp.route("/stock")
class StockList(MethodView):
    @roles_required(*READERS)
    @blp.arguments(QuantQuerySchema, location="query")
    @blp.response(200, QuantSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """Non-empty quants, filtered by SKU, cell, warehouse or lot."""
        statement = select(Quant).where(Quant.quantity > 0).order_by(Quant.id)
        if "sku_id" in query:
            statement = statement.where(Quant.sku_id == query["sku_id"])
        if "cell_id" in query:
            statement = statement.where(Quant.cell_id == query["cell_id"])
        if "lot" in query:
            statement = statement.where(Quant.lot == query["lot"])
        if "warehouse_id" in query:
            statement = statement.join(Cell, Cell.id == Quant.cell_id).where(
                Cell.warehouse_id == query["warehouse_id"]
            )
        return statement


@blp.route("/stock/by-sku/<int:sku_id>")
class StockBySku(MethodView):
    @roles_required(*READERS)
    @blp.arguments(WarehouseQuerySchema, location="query")
    @blp.response(200, SkuStockSchema)
    def get(self, query, sku_id):
        """Where a SKU is, first-expiring first, with totals."""
        sku = db.session.get(Sku, sku_id)
        if sku is None:
            raise Problem(404, "unknown-sku", f"No SKU with id {sku_id}.")
        lines = stock_queries.stock_by_sku(sku_id, query.get("warehouse_id"))
        return {"sku_id": sku.id, "sku_code": sku.code, "sku_name": sku.name,
                "totals": stock_queries.totals(lines), "lines": lines}


@blp.route("/stock/by-cell/<int:cell_id>")
class StockByCell(MethodView):
    @roles_required(*READERS)
    @blp.response(200, CellStockSchema)
    def get(self, cell_id):
        """What a cell holds."""
        cell = db.session.get(Cell, cell_id)
        if cell is None:
            raise Problem(404, "unknown-cell", f"No cell with id {cell_id}.")
        lines = stock_queries.stock_by_cell(cell_id)
        return {"cell_id": cell.id, "cell_address": cell.address, "cell_status": cell.status,
                "totals": stock_queries.totals(lines), "lines": lines}


@blp.route("/stock/reservations")
class Reservations(MethodView):
    @roles_required(Role.supervisor)
    @blp.arguments(ReservationSchema)
    @blp.response(201, ReservationResultSchema)
    @problems(blp, {404: "No such SKU", 409: "Not enough available stock"})
    def post(self, reservation):
        """Reserve a quantity of a SKU in a warehouse, first-expiring first; all or nothing."""
        movements = reserve_fefo(
            reservation["sku_id"], reservation["quantity"], warehouse_id=reservation["warehouse_id"],
            actor=_actor(), reference=reservation["reference"], reason=reservation["reason"],
        )
        return {"movements": movements}


# Kinds that may make stock available in a storage cell: orders postponed for it are tried again.
ARRIVALS = {MovementKind.receive, MovementKind.adjust_in, MovementKind.move, MovementKind.release}


def _check_not_held_by_orders(movement) -> None:
    """A raw release or pick may take only units reserved outside orders: what orders hold is theirs
    (released by cancelling, picked by the picking flow). The quant is locked before it is counted."""
    expiry = movement["expiry"]
    quant = db.session.execute(
        select(Quant).where(Quant.cell_id == movement["from_cell_id"], Quant.sku_id == movement["sku_id"],
                            Quant.lot == (movement["lot"] or "").strip(),
                            func.coalesce(Quant.expiry, NO_EXPIRY) == (expiry or NO_EXPIRY))
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if quant is None:
        return  # apply_movement refuses it
    held = db.session.scalar(
        select(func.coalesce(func.sum(OrderReservation.quantity), 0)).where(
            OrderReservation.cell_id == quant.cell_id, OrderReservation.sku_id == quant.sku_id,
            OrderReservation.lot == quant.lot,
            func.coalesce(OrderReservation.expiry, NO_EXPIRY) == (quant.expiry or NO_EXPIRY)))
    if quant.reserved - held < movement["quantity"]:
        raise Problem(409, "reserved-for-orders", "These units are reserved for orders.",
                      f"{quant.reserved - held} of {quant.reserved} reserved units are not held by an order; "
                      "cancel the order or pick it in the picking flow.",
                      free_reserved=quant.reserved - held)


@blp.route("/movements")
class Movements(MethodView):
    @roles_required(*READERS)
    @blp.arguments(MovementQuerySchema, location="query")
    @blp.response(200, MovementSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """The ledger, newest first."""
        statement = select(Movement).order_by(Movement.id.desc())
        if "sku_id" in query:
            statement = statement.where(Movement.sku_id == query["sku_id"])
        if "cell_id" in query:
            statement = statement.where(
                or_(Movement.from_cell_id == query["cell_id"], Movement.to_cell_id == query["cell_id"])
            )
        if "kind" in query:
            statement = statement.where(Movement.kind == query["kind"])
        if "reference" in query:
            statement = statement.where(Movement.reference == query["reference"])
        if "since" in query:
            statement = statement.where(Movement.created_at >= query["since"])
        return statement

    @roles_required(*MOVERS)
    @blp.arguments(MovementSchema)
    @blp.response(201, MovementSchema)
    @problems(blp, {404: "No such SKU or cell", 409: "Not enough stock, the cell is blocked or cannot take it"})
    def post(self, movement):
        """Record a movement (receive, move, issue, adjust, reserve, release, pick).

        Each kind admits its own roles: receive (receiver), move (receiver, picker), issue
        (dispatcher), pick (picker); adjustments, reserve and release (supervisor).
        """
        principal = current_principal()
        allowed = MOVEMENT_ROLES[MovementKind(movement["kind"])]
        if not principal.has_any_role(allowed):
            raise Problem(403, "forbidden", f"Your role may not record a {movement['kind']} movement.",
                          required_roles=sorted(allowed))
        key = request.headers.get("Idempotency-Key")
        kind = MovementKind(movement["kind"])
        if kind in (MovementKind.release, MovementKind.pick) and movement.get("from_cell_id") is not None:
            _check_not_held_by_orders(movement)
        recorded = apply_movement(
            kind, movement["sku_id"], movement["quantity"],
            from_cell_id=movement.get("from_cell_id"), to_cell_id=movement.get("to_cell_id"),
            lot=movement["lot"], expiry=movement["expiry"], actor=_actor(), reason=movement["reason"],
            reference=movement["reference"], idempotency_key=f"{principal.key}:{key}" if key else None,
        )
        if kind in ARRIVALS:
            cell = db.session.get(Cell, recorded.to_cell_id or recorded.from_cell_id)
            reservation.stock_arrived(cell.warehouse_id, [recorded.sku_id])
        return recorded


@blp.route("/movements/<bigint:movement_id>")
class MovementById(MethodView):
    @roles_required(*READERS)
    @blp.response(200, MovementSchema)
    def get(self, movement_id):
        """One movement."""
        movement = db.session.get(Movement, movement_id)
        if movement is None:
            raise Problem(404, "unknown-movement", f"No movement with id {movement_id}.")
        return movement
