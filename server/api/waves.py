"""API: waves and batches (release, progress, pick lists in route order)."""

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from server.api.bounds import Id, Int, Moment, Quantity, Text
from server.api.docs import problems
from server.api.pagination import SelectPage
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import Batch, Role, Warehouse, Wave
from server.problems import Problem
from server.services import pick_list
from server.services import waves as service

blp = Blueprint("wave_api", __name__, url_prefix="/api/v1", description="Waves, batches and pick lists")

RELEASERS = (Role.supervisor,)
READERS = (Role.supervisor, Role.picker, Role.packer)


class WaveInSchema(Schema):
    warehouse_id = Id(strict=True, metadata={"description": "omitted: the only warehouse"})
    max_orders = Int(strict=True, minimum=1, maximum=service.MAX_ORDERS, load_default=None, allow_none=True)
    cutoff_before = Moment(allow_none=True, load_default=None,
                           metadata={"description": "only orders whose carrier cutoff is before this"})
    method = Text(load_default="improve", validate=validate.OneOf(service.METHODS))
    start = Text(max_length=32, load_default=None, allow_none=True,
                 metadata={"description": "point code of the building plan where the batches start; omitted: "
                                          "the zone's, else the warehouse's"})
    drop = Text(max_length=32, load_default=None, allow_none=True,
                metadata={"description": "point code where the batches end (totes dropped); omitted: the zone's, "
                                         "else the warehouse's"})
    zone = Text(max_length=32, load_default=None, allow_none=True,
                metadata={"description": "zone code whose start and drop points are the defaults; omitted: the "
                                         "one zone of all the wave's cells, if there is one"})


class BatchSummarySchema(Schema):
    id = Id()
    seq = Int()
    status = Text()
    picker = Text(allow_none=True)
    orders = Int()
    lines = Int()
    picked_lines = Int()
    progress = fields.Float()
    planned_walk_m = fields.Float()
    walked_m = fields.Float()


class WaveOutSchema(Schema):
    id = Id()
    warehouse_id = Id()
    status = Text()
    method = Text()
    created_at = Text()
    released_by_user_id = Id(allow_none=True)
    totes_per_cart = Int()
    tote_volume_l = fields.Float()
    tote_max_kg = fields.Float()
    planned_walk_m = fields.Float()
    walked_m = fields.Float()
    seconds = fields.Float()
    start_point = Text(allow_none=True)
    drop_point = Text(allow_none=True)
    orders = Int()
    batches = fields.List(fields.Nested(BatchSummarySchema))


class BatchOrderSchema(Schema):
    order_id = Id()
    number = Text()
    slot = Int()
    totes = Int()
    tote = Text(allow_none=True)
    status = Text()


class PickLineSchema(Schema):
    id = Id()
    seq = Int()
    order_id = Id()
    slot = Int()
    cell_id = Id()
    address = Text()
    sku = Text()
    name = Text()
    lot = Text()
    expiry = Text(allow_none=True)
    quantity = Quantity()
    picked = Quantity()
    status = Text()


class BatchOutSchema(BatchSummarySchema):
    wave_id = Id()
    orders = fields.List(fields.Nested(BatchOrderSchema))
    lines = fields.List(fields.Nested(PickLineSchema))


class WavePage(SelectPage):
    @property
    def items(self):
        return [wave_payload(wave) for wave in super().items]


def batch_summary(batch: Batch) -> dict:
    progress = service.batch_progress(batch)
    return {"id": batch.id, "seq": batch.seq, "status": batch.status,
            "picker": batch.picker.display_name if batch.picker else None, "orders": len(batch.orders),
            "lines": progress.lines, "picked_lines": progress.done, "progress": round(progress.share, 4),
            "planned_walk_m": batch.planned_walk_m, "walked_m": batch.walked_m}


def wave_payload(wave: Wave) -> dict:
    return {"id": wave.id, "warehouse_id": wave.warehouse_id, "status": wave.status, "method": wave.method,
            "created_at": wave.created_at.isoformat() if wave.created_at else None,
            "released_by_user_id": wave.released_by_user_id, "totes_per_cart": wave.totes_per_cart,
            "tote_volume_l": wave.tote_volume_l, "tote_max_kg": wave.tote_max_kg,
            "planned_walk_m": wave.planned_walk_m, "walked_m": round(sum(b.walked_m for b in wave.batches), 2),
            "seconds": wave.seconds, "start_point": wave.start_point, "drop_point": wave.drop_point,
            "orders": sum(len(b.orders) for b in wave.batches),
            "batches": [batch_summary(b) for b in wave.batches]}


def batch_payload(batch: Batch) -> dict:
    warehouse = db.session.get(Warehouse, batch.warehouse_id)
    slot_of = {bo.order_id: bo.slot for bo in batch.orders}
    return {
        **batch_summary(batch), "wave_id": batch.wave_id,
        "orders": [{"order_id": bo.order_id, "number": bo.order.number, "slot": bo.slot,
                    "totes": service.order_totes(bo.order, warehouse),
                    "tote": bo.tote.code if bo.tote is not None else None, "status": bo.order.status}
                   for bo in batch.orders],
        "lines": [{"id": line.id, "seq": line.seq, "order_id": line.order_id, "slot": slot_of.get(line.order_id, 0),
                   "cell_id": line.cell_id, "address": line.cell.address, "sku": line.sku.code, "name": line.sku.name,
                   "lot": line.lot, "expiry": line.expiry.isoformat() if line.expiry else None,
                   "quantity": line.quantity, "picked": line.picked, "status": line.status}
                  for line in batch.lines],
    }


def _user():
    principal = current_principal()
    return principal.user if principal else None


def _warehouse_id(given: int | None) -> int:
    if given is not None:
        if db.session.get(Warehouse, given) is None:
            raise Problem(422, "unknown-warehouse", f"No warehouse with id {given}.")
        return given
    ids = db.session.execute(select(Warehouse.id).limit(2)).scalars().all()
    if len(ids) != 1:
        raise Problem(422, "warehouse-required", "Give warehouse_id: there is more than one warehouse.")
    return ids[0]


def _wave(wave_id: int) -> Wave:
    wave = db.session.get(Wave, wave_id)
    if wave is None:
        raise Problem(404, "unknown-wave", f"No wave with id {wave_id}.")
    return wave


def _batch(batch_id: int) -> Batch:
    batch = db.session.get(Batch, batch_id)
    if batch is None:
        raise Problem(404, "unknown-batch", f"No batch with id {batch_id}.")
    return batch


@blp.route("/waves")
class WaveList(MethodView):
    @roles_required(*RELEASERS)
    @blp.arguments(WaveInSchema)
    @blp.response(201, WaveOutSchema)
    @problems(blp, {409: "No reserved orders to release",
                    422: "Input not accepted (validation-error by field; unknown-point, unknown-zone, "
                         "no-building-plan)"})
    def post(self, body):
        """Release a wave: reserved orders due soonest first (cutoff, priority, age), up to max_orders,
        batched under the cart's capacity, each batch routed. The orders go to picking."""
        wave = service.release_wave(_warehouse_id(body.get("warehouse_id")), user=_user(),
                                    max_orders=body.get("max_orders"), cutoff_before=body.get("cutoff_before"),
                                    method=body["method"], start=body.get("start"), drop=body.get("drop"),
                                    zone=body.get("zone"))
        db.session.expire(wave, ["batches"])
        return wave_payload(wave)

    @roles_required(*READERS)
    @blp.response(200, WaveOutSchema(many=True))
    @blp.paginate(WavePage)
    def get(self):
        """Waves, newest first."""
        return select(Wave).order_by(Wave.id.desc())


@blp.route("/waves/<int:wave_id>")
class WaveOne(MethodView):
    @roles_required(*READERS)
    @blp.response(200, WaveOutSchema)
    def get(self, wave_id):
        """One wave with its batches: status, picker, progress, planned and walked metres."""
        return wave_payload(_wave(wave_id))


@blp.route("/batches/<int:batch_id>")
class BatchOne(MethodView):
    @roles_required(*READERS)
    @blp.response(200, BatchOutSchema)
    def get(self, batch_id):
        """One batch: its orders (cart slots, totes) and pick lines in route order."""
        return batch_payload(_batch(batch_id))


@blp.route("/batches/<int:batch_id>/pick-list.escpos")
class BatchPickListEscpos(MethodView):
    @roles_required(*READERS)
    @blp.response(200, description="ESC/POS bytes (CP866) for a receipt printer",
                  content_type="application/octet-stream")
    def get(self, batch_id):
        """The pick list in route order as a receipt printer's job."""
        data = pick_list.escpos(_batch(batch_id))
        return Response(data, mimetype="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="pick-list-{batch_id}.escpos"'})


@blp.route("/batches/<int:batch_id>/pick-list.pdf")
class BatchPickListPdf(MethodView):
    @roles_required(*READERS)
    @blp.response(200, description="A4 PDF", content_type="application/pdf")
    def get(self, batch_id):
        """The pick list in route order as an A4 PDF."""
        data = pick_list.pdf(_batch(batch_id))
        return Response(data, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="pick-list-{batch_id}.pdf"'})
