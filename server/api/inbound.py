"""API: expected deliveries (ASN), receiving questions, discrepancies.

Receivers create, open and close deliveries and answer unknown barcodes; supervisors (and admins)
accept the discrepancies. Every error is problem+json; views never commit (the request does).
"""

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import select

from server.api.bounds import Id, Int, Text
from server.api.docs import problems
from server.api.pagination import SelectPage
from server.api.schemas import get_or_404, get_or_422
from server.auth import current_principal, roles_required
from server.models import Delivery, DeliveryStatus, ReceivingQuestion, Role, Sku
from server.problems import Problem
from server.services import receiving as service

blp = Blueprint("inbound", __name__, url_prefix="/api/v1", description="Expected deliveries and receiving")

RECEIVING = (Role.receiver, Role.supervisor)
ACCEPTING = (Role.supervisor,)


class LineInSchema(Schema):
    sku_id = Id(strict=True)
    sku_code = Text(max_length=64)
    quantity = Int(strict=True, required=True)
    lot = Text(load_default="")  # its length is the service's check (MAX_LOT), as for number and supplier
    expiry = Text(allow_none=True, load_default=None, max_length=32, metadata={"description": "YYYY-MM-DD"})


class DeliveryInSchema(Schema):
    warehouse_id = Id(strict=True, required=True)
    number = Text(required=True)
    supplier = Text(load_default="")
    expected_date = Text(allow_none=True, load_default=None, max_length=32, metadata={"description": "YYYY-MM-DD"})
    blind = fields.Bool(load_default=False)
    notes = Text(load_default="")
    lines = fields.List(fields.Nested(LineInSchema), load_default=list)
    pallets = fields.List(Text(max_length=64), load_default=list, validate=validate.Length(max=1000), metadata={"description": "SSCCs (18 digits)"})


class DeliveryQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    warehouse_id = Id()
    status = Text(validate=validate.OneOf([s.value for s in DeliveryStatus]))
    supplier = Text()
    number = Text()


class DeliveryOutSchema(Schema):
    id = Id()
    warehouse_id = Id()
    number = Text()
    supplier = Text()
    expected_date = fields.Date(allow_none=True)
    status = Text()
    blind = fields.Bool()
    notes = Text()
    receiving_cell_id = Id(allow_none=True)


class LinkSchema(Schema):
    sku_id = Id(strict=True, required=True)


class NewSkuSchema(Schema):
    code = Text(required=True, max_length=64)
    name = Text(required=True, max_length=300)
    length_mm = Int(strict=True, validate=validate.Range(min=0))
    width_mm = Int(strict=True, validate=validate.Range(min=0))
    height_mm = Int(strict=True, validate=validate.Range(min=0))
    weight_g = Int(strict=True, validate=validate.Range(min=0))
    track_lot = fields.Bool()
    track_expiry = fields.Bool()
    track_serial = fields.Bool()
    track_marking = fields.Bool()


def _actor():
    principal = current_principal()
    return principal.user, principal.station


def _delivery(delivery_id: int) -> Delivery:
    return get_or_404(Delivery, delivery_id, "delivery")


@blp.route("/deliveries")
class Deliveries(MethodView):
    @roles_required(*RECEIVING)
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliveryOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """List deliveries, newest expected first; filter by warehouse, status, supplier (a part), number"""
        stmt = select(Delivery).order_by(Delivery.expected_date.desc().nulls_last(), Delivery.id.desc())
        if "warehouse_id" in args:
            stmt = stmt.where(Delivery.warehouse_id == args["warehouse_id"])
        if "status" in args:
            stmt = stmt.where(Delivery.status == args["status"])
        if "supplier" in args:
            stmt = stmt.where(Delivery.supplier.icontains(args["supplier"].strip(), autoescape=True))
        if "number" in args:
            stmt = stmt.where(Delivery.number == args["number"].strip())
        return stmt

    @roles_required(*RECEIVING)
    @blp.arguments(DeliveryInSchema)
    @blp.response(201)
    @problems(blp, {409: "A delivery with this number exists (duplicate)"})
    def post(self, data):
        """Create an expected delivery (ASN) with its lines and pallets; a blind one may have no lines"""
        from server.models import Warehouse

        get_or_422(Warehouse, data["warehouse_id"], "warehouse_id", "warehouse")
        delivery = service.create_delivery(data["warehouse_id"], data["number"], data["supplier"],
                                           data["expected_date"], data["lines"], data["pallets"], data["blind"],
                                           data["notes"])
        return service.delivery_summary(delivery), 201, {
            "Location": url_for("inbound.Delivery", delivery_id=delivery.id)}


@blp.route("/deliveries/<int:delivery_id>", endpoint="Delivery")
class DeliveryView(MethodView):
    @roles_required(*RECEIVING)
    @blp.response(200)
    def get(self, delivery_id):
        """A delivery with its lines (expected / received / damaged), questions, pallets, totals, discrepancies"""
        return service.delivery_summary(_delivery(delivery_id))


@blp.route("/deliveries/<int:delivery_id>/open")
class OpenDelivery(MethodView):
    @roles_required(*RECEIVING)
    @blp.response(200)
    @problems(blp, {409: "The delivery is closed, or the warehouse has no receiving cell"})
    def post(self, delivery_id):
        """Open a delivery for receiving (a receiving cell is chosen)"""
        user, station = _actor()
        delivery = service.open_delivery(_delivery(delivery_id), user, station)
        return service.delivery_summary(delivery)


@blp.route("/deliveries/<int:delivery_id>/close")
class CloseDelivery(MethodView):
    @roles_required(*RECEIVING)
    @blp.response(200)
    @problems(blp, {409: "The delivery is not open"})
    def post(self, delivery_id):
        """Close: discrepancies stored, good units received into the receiving cell, putaway tasks created"""
        user, station = _actor()
        delivery = _delivery(delivery_id)
        service.close_delivery(delivery, user, station)
        return service.delivery_summary(delivery)


@blp.route("/deliveries/<int:delivery_id>/accept")
class AcceptDelivery(MethodView):
    @roles_required(*ACCEPTING)
    @blp.response(200)
    @problems(blp, {409: "The delivery is not closed"})
    def post(self, delivery_id):
        """Accept a closed delivery's discrepancies (supervisor)"""
        user, _station = _actor()
        if user is None:
            raise Problem(403, "forbidden", "A supervisor accepts discrepancies, not a station.")
        delivery = service.accept_discrepancies(_delivery(delivery_id), user)
        return service.delivery_summary(delivery)


@blp.route("/deliveries/<int:delivery_id>/discrepancies")
class DeliveryDiscrepancies(MethodView):
    @roles_required(*RECEIVING)
    @blp.response(200)
    def get(self, delivery_id):
        """The discrepancies found when the delivery was closed"""
        return service.delivery_summary(_delivery(delivery_id))["discrepancies"]


@blp.route("/deliveries/<int:delivery_id>/questions")
class DeliveryQuestions(MethodView):
    @roles_required(*RECEIVING)
    @blp.response(200)
    def get(self, delivery_id):
        """Unknown barcodes scanned at receiving, with the units held"""
        return service.delivery_summary(_delivery(delivery_id))["questions"]


@blp.route("/receiving-questions/<int:question_id>/link")
class LinkQuestion(MethodView):
    @roles_required(*RECEIVING)
    @blp.arguments(LinkSchema)
    @blp.response(200)
    @problems(blp, {409: "The question is resolved, or the barcode is taken"})
    def post(self, data, question_id):
        """Add the unknown barcode to a SKU and count its units into the delivery"""
        question = get_or_404(ReceivingQuestion, question_id, "receiving question")
        sku = get_or_422(Sku, data["sku_id"], "sku_id", "SKU")
        user, station = _actor()
        service.link_question(question, sku, user, station)
        return service.delivery_summary(get_or_404(Delivery, question.delivery_id, "delivery"))


@blp.route("/receiving-questions/<int:question_id>/create-sku")
class CreateSkuForQuestion(MethodView):
    @roles_required(*RECEIVING)
    @blp.arguments(NewSkuSchema)
    @blp.response(201)
    @problems(blp, {409: "The question is resolved, or the SKU code is taken"})
    def post(self, data, question_id):
        """Create a SKU for the unknown barcode, then link it (its units are counted)"""
        question = get_or_404(ReceivingQuestion, question_id, "receiving question")
        user, station = _actor()
        code, name = data.pop("code"), data.pop("name")
        sku, _counted = service.create_sku_for_question(question, code, name, user, station, **data)
        summary = service.delivery_summary(get_or_404(Delivery, question.delivery_id, "delivery"))
        return {"sku_id": sku.id, "sku_code": sku.code, "delivery": summary}, 201
