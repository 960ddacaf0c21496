"""Events from station agents, in batches (each event_id stored once); a station's events for supervisors."""

import uuid

from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.api.pagination import SelectPage
from server.api.schemas import get_or_404
from server.api.stations.common import (
    SUPERVISORS,
    TOKEN_PROBLEMS,
    _me,
    blp,
    log,
    problems,
    station_token_required,
)
from server.api.stations.schemas import EventBatchSchema, EventQuerySchema, OutcomesSchema, StationEventSchema
from server.auth import roles_required
from server.extensions import db
from server.models import Station, StationEvent
from server.scenarios import StationInput, handle_inputs, store_failed
from server.services import stations
from server.services.db_errors import is_transient
from server.services.errors import DomainError

# A batch whose savepoint hit a unique key (a twin request stored the same event first) runs again.
STORE_ATTEMPTS = 3


@blp.route("/stations/me/events")
class MyEvents(MethodView):
    @station_token_required
    @blp.arguments(EventBatchSchema)
    @blp.response(200, OutcomesSchema)
    @problems({**TOKEN_PROBLEMS, 422: "The batch is not of this shape: nothing stored"})
    def post(self, data):
        """Send a batch of events; one outcome per event, in order

        Each `event_id` is stored once: a retried event answers `duplicate` with its first prompt.
        With `take_jobs` the answer also carries the station's jobs due now (`jobs`, marked sent as
        the long-poll marks them), and again the unfinished jobs of the events the batch repeats.
        A payload that cannot be used is stored as `rejected` with the reason (not retried).
        A passing database conflict (deadlock, serialization failure) answers 503 with
        Retry-After and stores nothing of the batch: send it again.
        """
        station = _me()
        sent = [e["event_id"] for e in data["events"]]
        inputs = [StationInput(event_id=str(uuid.UUID(e["event_id"])), kind=e["kind"], payload=e["payload"],
                               device=e["device"] or "", seq=e.get("seq"), occurred_at=e["occurred_at"])
                  for e in data["events"]]
        outcomes = _store(station, inputs)
        # Answer with the ids as the agent wrote them (it matches its outbox by them).
        answer = {"outcomes": [{**o, "event_id": text} for o, text in zip(outcomes, sent, strict=True)]}
        if data["take_jobs"]:  # the jobs these events made go back with this answer: no long-poll round
            again = [i.event_id for i, o in zip(inputs, outcomes, strict=True) if o["status"] == "duplicate"]
            answer["jobs"] = [stations.job_json(job) for job in stations.claim_jobs(station, again_for=again)]
        return answer


def _store(station: Station, inputs: list[StationInput]) -> list[dict]:
    """handle_inputs in a savepoint; a twin request that stored some of these ids first makes
    the savepoint fail, and the run again finds them stored (duplicates). A transient database
    error (deadlock, serialization failure, lock timeout, lost connection) is raised: the API
    answers 503 with Retry-After, nothing of the batch is stored, and the agent sends it again.
    Any other failure (a scenario's bug, an id another scan took) is contained: the batch is stored
    input by input, and an input that still fails is kept as rejected."""
    for _attempt in range(STORE_ATTEMPTS):
        try:
            with db.session.begin_nested():
                outcomes = handle_inputs(station, inputs)
            return outcomes
        except IntegrityError:
            continue
        except Exception as error:
            if is_transient(error):
                raise  # a deadlock, a serialization failure: answered 503, nothing stored, sent again
            log.exception("station %s: a batch failed; storing its %d inputs one by one", station.code, len(inputs))
            break
    return [_store_one(station, one) for one in inputs]


def _store_one(station: Station, one: StationInput) -> dict:
    """One input in its own savepoint; if handling it fails, it is kept as rejected with the reason."""
    try:
        with db.session.begin_nested():
            return handle_inputs(station, [one])[0]
    except IntegrityError:
        twin = db.session.execute(select(StationEvent.id).where(StationEvent.event_id == one.event_id)).first()
        if twin is not None:  # stored by a concurrent request a moment ago: answered as a duplicate
            return handle_inputs(station, [one])[0]
        reason = "event_id already used by another scan"
        with db.session.begin_nested():
            return store_failed(station, one, reason)
    except Exception as error:
        if is_transient(error):
            raise
        log.exception("station %s: input %s (%s) failed", station.code, one.event_id, one.kind)
        reason = str(error.title) if isinstance(error, DomainError) else f"server error ({type(error).__name__})"
        with db.session.begin_nested():
            return store_failed(station, one, reason)


@blp.route("/stations/<int:station_id>/events")
class StationEvents(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, StationEventSchema(many=True))
    @problems({404: "No such station"})
    @blp.paginate(SelectPage)
    def get(self, args, station_id):
        """A station's recent events with the prompts they got, newest first; filter by kind, status"""
        get_or_404(Station, station_id, "station")
        stmt = select(StationEvent).where(StationEvent.station_id == station_id).order_by(StationEvent.id.desc())
        for name in ("kind", "status"):
            if name in args:
                stmt = stmt.where(getattr(StationEvent, name) == args[name])
        return stmt
