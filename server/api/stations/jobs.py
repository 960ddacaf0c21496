"""Device jobs: agents long-poll and acknowledge them, supervisors queue and list them."""

import contextlib
import time

from flask.views import MethodView
from sqlalchemy import select

from server.api.pagination import SelectPage
from server.api.schemas import get_or_404
from server.api.stations.common import SUPERVISORS, TOKEN_PROBLEMS, _me, blp, problems, station_token_required
from server.api.stations.schemas import JobBatchSchema, JobInSchema, JobPollSchema, JobQuerySchema, JobSchema
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import Station, StationJob
from server.services import job_signals
from server.services import stations as service


@blp.route("/stations/me/jobs")
class MyJobs(MethodView):
    @station_token_required
    @blp.arguments(JobPollSchema, location="query")
    @blp.response(200, JobBatchSchema)
    @problems(TOKEN_PROBLEMS)
    def get(self, args):
        """Long-poll for device jobs

        Answers as soon as jobs are queued (each is marked sent, `attempts` + 1), or after `wait`
        seconds with an empty list. A sent job without a result for 60 s is sent again.
        """
        station_id = _me().id
        deadline = time.monotonic() + args["wait"]
        signals = job_signals.signals()
        with signals.waiter(station_id) if signals else contextlib.nullcontext() as woken:
            while True:
                station = db.session.get(Station, station_id)
                jobs = service.claim_jobs(station)
                if jobs or time.monotonic() >= deadline:
                    answer = {"jobs": [service.job_json(job) for job in jobs]}
                    # A GET is rolled back after the request: the claims must be kept.
                    db.session.commit()
                    return answer
                # End the transaction while waiting: new jobs become visible, and SQLite's writer
                # lock (BEGIN IMMEDIATE) and the pooled connection are free for others.
                db.session.rollback()
                left = max(0.0, deadline - time.monotonic())
                if woken is None:
                    time.sleep(min(job_signals.POLL_S, left))
                else:  # PostgreSQL: NOTIFY wakes us; look anyway now and then
                    woken.wait(min(job_signals.SAFETY_POLL_S, left))
                    woken.clear()


@blp.route("/stations/<int:station_id>/jobs")
class StationJobs(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.arguments(JobQuerySchema, location="query")
    @blp.response(200, JobSchema(many=True))
    @problems({404: "No such station"})
    @blp.paginate(SelectPage)
    def get(self, args, station_id):
        """A station's device jobs, newest first; filter by state"""
        get_or_404(Station, station_id, "station")
        stmt = select(StationJob).where(StationJob.station_id == station_id).order_by(StationJob.id.desc())
        if "state" in args:
            stmt = stmt.where(StationJob.state == args["state"])
        return stmt

    @roles_required(*SUPERVISORS)
    @blp.arguments(JobInSchema)
    @blp.response(201, JobSchema)
    @problems({404: "No such station", 422: "Unknown kind, or a print job without a template"})
    def post(self, data, station_id):
        """Queue a device job for a station's agent (print, photo, record_start/stop, read_weight, beep)"""
        station = get_or_404(Station, station_id, "station")
        job = service.create_job(station, data["kind"], data["payload"], device=data["device"],
                                 user=current_principal().user)
        return job, 201
