"""Heartbeats from agents and the stations' health for supervisors."""

from flask.views import MethodView
from sqlalchemy import select

from server.api.stations.common import SUPERVISORS, TOKEN_PROBLEMS, _me, blp, problems, station_token_required
from server.api.stations.schemas import (
    HealthQuerySchema,
    HealthSchema,
    HeartbeatAnswerSchema,
    HeartbeatSchema,
)
from server.auth import roles_required
from server.extensions import db
from server.models import Station
from server.models.base import utcnow
from server.services import stations as service


@blp.route("/stations/me/heartbeat")
class MyHeartbeat(MethodView):
    @station_token_required
    @blp.arguments(HeartbeatSchema)
    @blp.response(200, HeartbeatAnswerSchema)
    @problems(TOKEN_PROBLEMS)
    def post(self, data):
        """The agent's heartbeat: device health and outbox (every 10 s, and at once when a device changes)"""
        service.record_heartbeat(_me(), data)
        return {"ok": True, "server_time": utcnow().isoformat()}


@blp.route("/stations/health")
class Health(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.arguments(HealthQuerySchema, location="query")
    @blp.response(200, HealthSchema(many=True))
    def get(self, args):
        """Health of every active station: ok, degraded (a device down) or offline (no heartbeat for 30 s)"""
        stmt = select(Station).where(Station.active.is_(True)).order_by(Station.code)
        if "warehouse_id" in args:
            stmt = stmt.where(Station.warehouse_id == args["warehouse_id"])
        now = utcnow()
        return [service.station_health(station, now) for station in db.session.execute(stmt).scalars()]
