"""API: KPIs of receiving and putaway (issue 7) and of packing (issue 14), for the dashboard."""

from datetime import UTC, datetime, timedelta

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from server.api.bounds import MOMENT_MAX, MOMENT_MIN, Id, Int, Moment, Quantity, Text
from server.api.docs import problems
from server.api.schemas import UtcDateTime
from server.auth import roles_required
from server.extensions import db
from server.models import Role, Warehouse
from server.problems import Problem
from server.services.kpi import day_window, packing_kpis, receiving_kpis

blp = Blueprint("kpi", __name__, url_prefix="/api/v1", description="Receiving, putaway and packing KPIs")

DEFAULT_WINDOW = timedelta(days=7)


class KpiQuerySchema(Schema):
    since = Moment(default_timezone=UTC, metadata={
        "description": "Start (inclusive; UTC without an offset); default: 7 days before until."})
    until = Moment(default_timezone=UTC, metadata={
        "description": "End (exclusive; UTC without an offset); default: now."})
    day = fields.Date(validate=validate.Range(min=MOMENT_MIN.date(), max=MOMENT_MAX.date()), metadata={"description": "A whole local day of the warehouse (its time zone), "
                                               "instead of since and until."})
    warehouse_id = Id(metadata={"description": "Default: the only warehouse."})


class DeliveryKpiSchema(Schema):
    number = Text()
    opened_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    minutes = fields.Float(allow_none=True)
    lines = Int()
    units = Quantity(metadata={"description": "Units people counted."})
    emulated_units = Quantity(metadata={"description": "Units counted through emulated stations."})
    seconds_per_line = fields.Float(allow_none=True)


class ReceiverKpiSchema(Schema):
    user = Text()
    user_id = Id()
    units = Quantity()
    actions = Int()
    active_minutes = fields.Float()
    units_per_hour = fields.Float(allow_none=True)
    seconds_per_action = fields.Float(allow_none=True)


class EmulatedStationKpiSchema(Schema):
    station = Text()
    station_id = Id()
    units = Quantity()
    actions = Int()
    active_minutes = fields.Float()
    units_per_hour = fields.Float(allow_none=True)
    seconds_per_action = fields.Float(allow_none=True)
    signed_in = fields.List(Text(), metadata={"description": "Who was signed in there: not credited with it."})


class PutawayKpiSchema(Schema):
    tasks_done = Int()
    median_minutes = fields.Float(allow_none=True)
    overrides = Int()
    override_rate = fields.Float(allow_none=True)


class EmulatedKpiSchema(Schema):
    per_station = fields.List(fields.Nested(EmulatedStationKpiSchema))
    putaway = fields.Nested(PutawayKpiSchema)


class ReceivingKpiSchema(Schema):
    """People's work: nothing done through an emulated station; that is in `emulated`."""

    warehouse_id = Id()
    since = UtcDateTime()
    until = UtcDateTime()
    deliveries = fields.List(fields.Nested(DeliveryKpiSchema))
    per_receiver = fields.List(fields.Nested(ReceiverKpiSchema))
    lines_closed = Int()
    lines_with_discrepancy = Int()
    discrepancy_rate = fields.Float(allow_none=True)
    seconds_per_action = fields.Float(allow_none=True)
    putaway = fields.Nested(PutawayKpiSchema)
    emulated = fields.Nested(EmulatedKpiSchema, metadata={
        "description": "The work of emulated stations (the demo's), kept out of the figures above."})


def _warehouse_id(given: int | None) -> int:
    if given is not None:
        if db.session.get(Warehouse, given) is None:
            raise Problem(404, "not-found", f"No warehouse with id {given}.", resource="warehouse", id=given)
        return given
    ids = db.session.execute(select(Warehouse.id).limit(2)).scalars().all()
    if len(ids) != 1:
        raise Problem(422, "validation-error", "Give warehouse_id.",
                      "There is not exactly one warehouse.", errors={"warehouse_id": ["Missing data."]})
    return ids[0]


def _window(query) -> tuple[int, datetime, datetime]:
    """(warehouse, since, until) of a KPI query: one local day, or [since, until) (default: 7 days to now)."""
    warehouse_id = _warehouse_id(query.get("warehouse_id"))
    if "day" in query:
        if "since" in query or "until" in query:
            raise Problem(422, "validation-error", "Give day or since and until, not both.",
                          errors={"day": ["Not with since or until."]})
        return warehouse_id, *day_window(warehouse_id, query["day"])
    until = query.get("until") or datetime.now(UTC)
    since = query.get("since") or until - DEFAULT_WINDOW
    if since >= until:
        raise Problem(422, "validation-error", "since must be before until.",
                      errors={"since": ["Must be before until."]})
    return warehouse_id, since, until


@blp.route("/kpi/receiving")
class ReceivingKpis(MethodView):
    @roles_required(Role.supervisor, Role.admin)
    @blp.arguments(KpiQuerySchema, location="query")
    @blp.response(200, ReceivingKpiSchema)
    @problems(blp, {401: "Not signed in", 403: "Not a supervisor or admin", 404: "No such warehouse",
                    422: "since not before until, day with since or until, "
                         "or no warehouse_id with several warehouses"})
    def get(self, query):
        """Receiving KPIs (time per delivery, line and action; units per hour per receiver;
        discrepancy rate) and putaway KPIs for [since, until), or for one local day of the warehouse:
        people's work; the work of emulated stations (the demo's) apart, in `emulated`."""
        return receiving_kpis(*_window(query))


class ToLabelSchema(Schema):
    median_seconds = fields.Float(allow_none=True)
    p90_seconds = fields.Float(allow_none=True)


class PackingRatesSchema(Schema):
    orders = Int()
    units = Quantity()
    parcels = Int()
    active_minutes = fields.Float(metadata={"description": "Sum of the parcels' packing times."})
    orders_per_hour = fields.Float(allow_none=True)
    units_per_hour = fields.Float(allow_none=True)
    parcels_per_hour = fields.Float(allow_none=True)
    to_label = fields.Nested(ToLabelSchema, metadata={"description": "Tote scan (session start) to label."})


class PackerKpiSchema(PackingRatesSchema):
    user = Text(allow_none=True)
    user_id = Id()


class PackStationKpiSchema(PackingRatesSchema):
    station = Text(allow_none=True)
    station_id = Id()


class PackingFiguresSchema(PackingRatesSchema):
    errors = Int()
    errors_by_kind = fields.Dict(keys=Text(), values=Int(), metadata={"description": "PackingError kind: count."})
    weight_mismatches = Int()
    overrides = Int(metadata={"description": "Parcels labelled after a supervisor's weight override."})
    per_station = fields.List(fields.Nested(PackStationKpiSchema))


class PackingKpiSchema(PackingFiguresSchema):
    """People's work: nothing done by an emulated station; that is in `emulated`."""

    warehouse_id = Id()
    since = UtcDateTime()
    until = UtcDateTime()
    per_packer = fields.List(fields.Nested(PackerKpiSchema))
    emulated = fields.Nested(PackingFiguresSchema, metadata={
        "description": "The work of emulated stations (the demo's), kept out of the figures above."})


@blp.route("/kpi/packing")
class PackingKpis(MethodView):
    @roles_required(Role.supervisor, Role.admin)
    @blp.arguments(KpiQuerySchema, location="query")
    @blp.response(200, PackingKpiSchema)
    @problems(blp, {401: "Not signed in", 403: "Not a supervisor or admin", 404: "No such warehouse",
                    422: "since not before until, day with since or until, "
                         "or no warehouse_id with several warehouses"})
    def get(self, query):
        """Packing KPIs for [since, until), or one local day of the warehouse: orders, units and
        parcels per hour (in total, per packer, per station), packing errors by kind, weight
        mismatches and overrides, tote scan to label (median, p90): people's work; the work of
        emulated stations (the demo's) apart, in `emulated`."""
        return packing_kpis(*_window(query))
