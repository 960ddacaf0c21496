"""API: customer orders (intake, the card, confirmation, reservation, cancel)."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import func, or_, select

from server.api.bounds import Id, Int, Moment, Quantity, Text, Trimmed
from server.api.docs import problems
from server.api.pagination import SelectPage
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import Order, OrderLine, OrderStatus, PostponedReason, Role, Sku, Warehouse
from server.problems import Problem
from server.services import orders as service
from server.services import reservation

blp = Blueprint("orders", __name__, url_prefix="/api/v1", description="Customer orders")

WRITERS = (Role.integration, Role.supervisor)
READERS = (Role.integration, Role.supervisor, Role.picker, Role.packer, Role.dispatcher)
OPERATORS = (Role.supervisor,)


class OrderCustomerSchema(Schema):
    name = Trimmed(load_default="", validate=validate.Length(max=200))
    phone = Trimmed(load_default="", validate=validate.Length(max=32))


class OrderLineInSchema(Schema):
    sku = Trimmed(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "SKU code"})
    quantity = Quantity(required=True, strict=True, validate=validate.Range(min=1, max=100_000))


def _cod_in_range(amount) -> None:
    if not 0 <= amount < 10**10:
        raise ValidationError("Must be from 0 to 9999999999.99.")


class OrderInSchema(Schema):
    number = Trimmed(required=True, validate=validate.Length(min=1, max=64))
    lines = fields.List(fields.Nested(OrderLineInSchema), required=True,
                        validate=validate.Length(min=1, max=service.MAX_LINES))
    warehouse_id = Id(strict=True, metadata={"description": "omitted: the only warehouse"})
    external_ref = Trimmed(load_default="", validate=validate.Length(max=128))
    customer = fields.Nested(OrderCustomerSchema, load_default=dict)
    delivery_address = Trimmed(load_default="", validate=validate.Length(max=500))
    carrier = Trimmed(load_default="", validate=validate.Length(max=64))
    service = Trimmed(load_default="", validate=validate.Length(max=64))
    priority = Int(strict=True, load_default=0, minimum=-1000, maximum=1000)
    cutoff_at = Moment(allow_none=True, load_default=None, metadata={"description": "carrier cutoff"})
    cod_amount = fields.Decimal(allow_none=True, load_default=None, places=2, as_string=True, allow_nan=False,
                                validate=_cod_in_range, metadata={"description": "cash on delivery, 0 to 9999999999.99"})
    comment = Text(load_default="", validate=validate.Length(max=2000))
    needs_confirmation = fields.Boolean(load_default=False, metadata={"description": "call the customer first"})
    partial_allowed = fields.Boolean(load_default=False)


class OrderLineOutSchema(Schema):
    line_no = Int()
    sku = Text()
    name = Text()
    quantity = Quantity()
    reserved = Quantity(metadata={"description": "units held or already picked"})
    picked = Quantity()


class OrderOutSchema(Schema):
    id = Id()
    number = Text()
    status = Text()
    postponed_reason = Text(allow_none=True)
    retry_at = Text(allow_none=True)
    warehouse_id = Id()
    source = Text()
    external_ref = Text()
    customer = fields.Nested(OrderCustomerSchema)
    delivery_address = Text()
    carrier = Text()
    service = Text()
    priority = Int()
    cutoff_at = Text(allow_none=True)
    cod_amount = Text(allow_none=True)
    comment = Text()
    needs_confirmation = fields.Boolean()
    partial_allowed = fields.Boolean()
    cancel_reason = Text(allow_none=True)
    created_at = Text()
    status_changed_at = Text()
    lines = fields.List(fields.Nested(OrderLineOutSchema))


class OrderQuerySchema(Schema):
    status = Text(validate=validate.OneOf([s.value for s in OrderStatus]))
    postponed_reason = Text(validate=validate.OneOf([r.value for r in PostponedReason]))
    carrier = Trimmed(validate=validate.Length(max=64))
    cutoff_before = Moment()
    cutoff_after = Moment()
    q = Trimmed(validate=validate.Length(min=1, max=100),
                metadata={"description": "text in the number, customer, phone, address or a SKU code"})
    warehouse_id = Id()


class OrderEventOutSchema(Schema):
    id = Id()
    kind = Text()
    from_status = Text(allow_none=True)
    to_status = Text()
    created_at = Text()
    user_id = Id(allow_none=True)
    detail = fields.Dict()


class NoAnswerSchema(Schema):
    retry_at = Moment(allow_none=True, load_default=None, metadata={"description": "omitted: in two hours"})


class CancelSchema(Schema):
    reason = Trimmed(required=True, validate=validate.Length(min=1, max=500))


class OrderPage(SelectPage):
    """A page of orders in the shape of one order (GET /orders/{id})."""

    @property
    def items(self):
        return [service.order_payload(order) for order in super().items]


def _user():
    principal = current_principal()
    return principal.user if principal else None


def _order(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None:
        raise Problem(404, "unknown-order", f"No order with id {order_id}.")
    return order


def _warehouse_id(given: int | None) -> int:
    if given is not None:
        if db.session.get(Warehouse, given) is None:
            raise Problem(422, "unknown-warehouse", f"No warehouse with id {given}.")
        return given
    ids = db.session.execute(select(Warehouse.id).limit(2)).scalars().all()
    if len(ids) != 1:
        raise Problem(422, "warehouse-required", "Give warehouse_id: there is more than one warehouse.")
    return ids[0]


def create_from(body: dict, *, source: str, needs_confirmation: bool | None = None,
                partial_allowed: bool | None = None):
    """An order from a validated OrderInSchema body (the API, the CSV import, the shop intake)."""
    customer = body.get("customer") or {}
    return service.create_order(
        _warehouse_id(body.get("warehouse_id")), body["number"], body["lines"], user=_user(), source=source,
        needs_confirmation=body.get("needs_confirmation", False) if needs_confirmation is None else needs_confirmation,
        partial_allowed=body.get("partial_allowed", False) if partial_allowed is None else partial_allowed,
        customer_name=customer.get("name", ""), customer_phone=customer.get("phone", ""),
        delivery_address=body.get("delivery_address", ""), carrier=body.get("carrier", ""),
        carrier_service=body.get("service", ""), priority=body.get("priority", 0), cutoff_at=body.get("cutoff_at"),
        cod_amount=body.get("cod_amount"), comment=body.get("comment", ""), external_ref=body.get("external_ref", ""),
    )


@blp.route("/orders")
class OrderList(MethodView):
    @roles_required(*WRITERS)
    @blp.arguments(OrderInSchema)
    @blp.response(201, OrderOutSchema)
    @blp.alt_response(200, schema=OrderOutSchema, description="This order number exists with the same lines: that order")
    @problems(blp, {409: "The number exists with other lines", 404: "Unknown warehouse"})
    def post(self, body):
        """Take an order: reserved at once (or postponed awaiting stock) unless it asks for confirmation
        with the customer first. Sending an existing number again answers that order (200), never a second."""
        order, created = create_from(body, source="api")
        return service.order_payload(order), 201 if created else 200

    @roles_required(*READERS)
    @blp.arguments(OrderQuerySchema, location="query")
    @blp.response(200, OrderOutSchema(many=True))
    @blp.paginate(OrderPage)
    def get(self, query):
        """Orders, newest first, filtered by status, postponed reason, carrier, cutoff and text."""
        statement = select(Order).order_by(Order.id.desc())
        for name in ("status", "postponed_reason", "carrier", "warehouse_id"):
            if name in query:
                statement = statement.where(getattr(Order, name) == query[name])
        if "cutoff_before" in query:
            statement = statement.where(Order.cutoff_at < query["cutoff_before"])
        if "cutoff_after" in query:
            statement = statement.where(Order.cutoff_at >= query["cutoff_after"])
        if "q" in query:
            statement = statement.where(text_filter(query["q"]))
        return statement


def text_filter(q: str):
    like = f"%{q.lower().replace('%', '').replace('_', '')}%"
    return or_(func.lower(Order.number).like(like), func.lower(Order.customer_name).like(like),
               Order.customer_phone.like(like), func.lower(Order.delivery_address).like(like),
               Order.id.in_(select(OrderLine.order_id).join(Sku, Sku.id == OrderLine.sku_id)
                            .where(func.lower(Sku.code).like(like))))


@blp.route("/orders/<int:order_id>")
class OrderOne(MethodView):
    @roles_required(*READERS)
    @blp.response(200, OrderOutSchema)
    def get(self, order_id):
        """One order with its lines (quantity, reserved, picked)."""
        return service.order_payload(_order(order_id))


@blp.route("/orders/<int:order_id>/events")
class OrderEvents(MethodView):
    @roles_required(*READERS)
    @blp.response(200, OrderEventOutSchema(many=True))
    def get(self, order_id):
        """The order's timeline: every status change, oldest first."""
        return [{"id": e.id, "kind": e.kind, "from_status": e.from_status, "to_status": e.to_status,
                 "created_at": e.created_at.isoformat(), "user_id": e.user_id, "detail": e.detail}
                for e in _order(order_id).events]


@blp.route("/orders/<int:order_id>/confirm")
class OrderConfirm(MethodView):
    @roles_required(*OPERATORS)
    @blp.response(200, OrderOutSchema)
    @problems(blp, {409: "The order is not waiting for confirmation"})
    def post(self, order_id):
        """The customer confirmed: the order is reserved (or postponed awaiting stock)."""
        return service.order_payload(service.confirm(_order(order_id), _user()))


@blp.route("/orders/<int:order_id>/no-answer")
class OrderNoAnswer(MethodView):
    @roles_required(*OPERATORS)
    @blp.arguments(NoAnswerSchema)
    @blp.response(200, OrderOutSchema)
    @problems(blp, {409: "The order is not waiting for confirmation"})
    def post(self, body, order_id):
        """The customer did not answer: postponed awaiting the customer, back on the list at retry_at."""
        return service.order_payload(service.no_answer(_order(order_id), _user(), body.get("retry_at")))


@blp.route("/orders/<int:order_id>/reserve")
class OrderReserve(MethodView):
    @roles_required(*OPERATORS)
    @blp.response(200, OrderOutSchema)
    @problems(blp, {409: "The order cannot be reserved in its status"})
    def post(self, order_id):
        """Try the reservation now (a confirmed or postponed-for-stock order)."""
        return service.order_payload(reservation.reserve(_order(order_id), _user()))


@blp.route("/orders/<int:order_id>/cancel")
class OrderCancel(MethodView):
    @roles_required(*WRITERS)
    @blp.arguments(CancelSchema)
    @blp.response(200, OrderOutSchema)
    @problems(blp, {409: "The order is past picking"})
    def post(self, body, order_id):
        """Cancel with a reason: the reservation goes back to stock."""
        return service.order_payload(service.cancel(_order(order_id), body["reason"], _user()))
