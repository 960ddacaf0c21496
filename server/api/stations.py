"""API: the station agent's side of docs/station-protocol.md, and what supervisors see of stations.

`/stations/me/...` is for a station's own token only: events in batches (each `event_id` stored
once), device jobs by long-poll, heartbeats, and photos and clips uploaded in resumable chunks.
Supervisors queue jobs, read a station's recent events and jobs, its health, and its media.
"""

import contextlib
import inspect
import logging
import re
import time
import uuid
from functools import wraps

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.api import problem_json_doc
from server.api.pagination import SelectPage
from server.api.schemas import UtcDateTime, get_or_404
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import MediaFile, Role, Station, StationEvent, StationJob
from server.models.base import utcnow
from server.problems import Problem
from server.scenarios import StationInput, handle_inputs, store_failed
from server.services import job_signals
from server.services import stations as service

log = logging.getLogger("cellwms.stations")

blp = Blueprint("station_api", __name__, url_prefix="/api/v1",
                description="Station agents (events, jobs, heartbeat, media) and station health")

SUPERVISORS = (Role.supervisor,)
MAX_BATCH = 500
MAX_WAIT = 30
# A batch whose savepoint hit a unique key (a twin request stored the same event first) runs again.
STORE_ATTEMPTS = 3
OFFSET_STREAM = "application/offset+octet-stream"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def station_token_required(view):
    """Admit a station's own token only: 401 without credentials, 403 for users."""

    @wraps(view)
    def guarded(*args, **kwargs):
        principal = current_principal()
        if principal is None:
            raise Problem(401, "unauthorized", "Send the station's bearer token.")
        if principal.station is None:
            raise Problem(403, "station-token-required", "Only a station agent's token may call this.")
        return view(*args, **kwargs)

    guarded.__doc__ = f"{inspect.cleandoc(view.__doc__ or '')}\n\nCaller: a station's token.".strip()
    return guarded


def problems(described: dict[int, str]):
    """Document error answers as application/problem+json."""
    return blp.doc(responses={str(status): {"description": text, **problem_json_doc()}
                              for status, text in described.items()})


TOKEN_PROBLEMS = {401: "No or unknown token", 403: "Not a station's token (station-token-required)"}


def _me() -> Station:
    return current_principal().station


# --- schemas --------------------------------------------------------------------------------


def _uuid_text(value: str) -> None:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise ValidationError("Not a UUID.") from None


class EventInSchema(Schema):
    event_id = fields.String(required=True, validate=_uuid_text,
                             metadata={"description": "UUID made by the agent; the server stores each id once."})
    seq = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0),
                         metadata={"description": "The agent's own counter, strictly increasing per outbox."})
    kind = fields.String(required=True, validate=validate.Length(min=1),
                         metadata={"description": "scan, weight, photo, clip, device_status, job_result or button; "
                                                  "an unknown kind is stored as rejected."})
    occurred_at = fields.AwareDateTime(required=True,
                                       metadata={"description": "When it happened, with its UTC offset."})
    device = fields.String(load_default="", validate=validate.Length(max=64),
                           metadata={"description": "The device's name in the station profile."})
    payload = fields.Dict(required=True, metadata={"description": "Per kind, as docs/station-protocol.md says; "
                                                                  "a bad payload is stored as rejected."})


class EventBatchSchema(Schema):
    events = fields.List(fields.Nested(EventInSchema), required=True,
                         validate=validate.Length(min=1, max=MAX_BATCH),
                         metadata={"description": f"1 to {MAX_BATCH} events, in the order they happened."})


class PromptSchema(Schema):
    scenario = fields.String()
    title = fields.String()
    message = fields.String()
    sound = fields.String(metadata={"description": "ok, error or none"})
    details = fields.List(fields.String())
    jobs = fields.List(fields.Integer(), metadata={"description": "Ids of the device jobs the input created."})
    user = fields.String(allow_none=True, metadata={"description": "The worker signed in at the station."})
    screen = fields.Dict(metadata={"description": "Scenario data the station page draws."})
    state = fields.String(metadata={"description": "The flow's state after the input (docs/flows/)."})
    # A method: a stored prompt without keys is a dict whose attribute `keys` is dict.keys.
    keys = fields.Method("_keys", metadata={"type": "array", "items": {"type": "object"},
                                            "description": "The keys the state takes now: {key, label, params}."})

    def _keys(self, prompt: dict) -> list:
        return prompt.get("keys") or []


class OutcomeSchema(Schema):
    event_id = fields.String()
    status = fields.String(metadata={"description": "stored (new), duplicate (the first outcome again) or "
                                                    "rejected (stored with the reason; do not retry)"})
    prompt = fields.Nested(PromptSchema, allow_none=True)


class OutcomesSchema(Schema):
    outcomes = fields.List(fields.Nested(OutcomeSchema), metadata={"description": "One per event, same order."})


class JobPollSchema(Schema):
    wait = fields.Integer(load_default=25, validate=validate.Range(min=0, max=MAX_WAIT),
                          metadata={"description": f"Seconds to wait for a job (0 to {MAX_WAIT})."})


class JobSchema(Schema):
    id = fields.Integer()
    station_id = fields.Integer()
    kind = fields.String(metadata={"description": "print, photo, record_start, record_stop, read_weight or beep"})
    device = fields.String(allow_none=True, metadata={"description": "null: the agent picks the device"})
    payload = fields.Dict()
    state = fields.String(metadata={"description": "queued, sent, done or failed"})
    attempts = fields.Integer(metadata={"description": "How many times it was sent to the agent."})
    result = fields.String(allow_none=True)
    detail = fields.Dict()
    created_by_event = fields.String(allow_none=True)
    created_by_user_id = fields.Integer(allow_none=True)
    created_at = UtcDateTime()
    sent_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)


class JobBatchSchema(Schema):
    jobs = fields.List(fields.Dict(), metadata={"description": "Jobs now marked sent (attempts + 1)."})


class JobInSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(service.JOB_KINDS))
    payload = fields.Dict(load_default=dict, metadata={"description": "Per kind (print: template, data, copies)."})
    device = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                           metadata={"description": "A device of the station profile; null lets the agent pick."})


class JobQuerySchema(Schema):
    state = fields.String(validate=validate.OneOf(("queued", "sent", "done", "failed")))


class EventQuerySchema(Schema):
    kind = fields.String(validate=validate.Length(min=1, max=16))
    status = fields.String(validate=validate.OneOf(("stored", "rejected")))


class StationEventSchema(Schema):
    id = fields.Integer()
    event_id = fields.String()
    station_id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    seq = fields.Integer(allow_none=True)
    source = fields.String(metadata={"description": "agent, page or api"})
    kind = fields.String()
    device = fields.String()
    status = fields.String(metadata={"description": "stored or rejected"})
    occurred_at = UtcDateTime(allow_none=True)
    received_at = UtcDateTime()
    payload = fields.Dict()
    outcome = fields.Nested(PromptSchema, allow_none=True, metadata={"description": "The prompt it got."})


class HeartbeatSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # newer agents may say more

    agent = fields.Dict(load_default=dict, metadata={"description": "version, started_at, host"})
    devices = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), values=fields.Dict(),
                          load_default=dict,
                          metadata={"description": "Per device name: kind, state (up, down, degraded), detail, since"})
    outbox = fields.Dict(load_default=dict, metadata={"description": "waiting, oldest_at, media_waiting"})


class HeartbeatAnswerSchema(Schema):
    ok = fields.Boolean()
    server_time = fields.String()


class HealthSchema(Schema):
    station_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    state = fields.String(metadata={"description": "ok, degraded (a device is not up) or offline (no heartbeat "
                                                   "for 30 s)"})
    heartbeat_at = fields.String(allow_none=True)
    devices = fields.Dict()
    outbox = fields.Dict()
    agent = fields.Dict()


class HealthQuerySchema(Schema):
    warehouse_id = fields.Integer()


class MediaInSchema(Schema):
    sha256 = fields.String(required=True, validate=validate.Regexp(SHA256_HEX, error="64 lowercase hex digits."))
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    kind = fields.String(required=True, validate=validate.OneOf(tuple(service.MEDIA_KINDS)))
    content_type = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    filename = fields.String(load_default="", validate=validate.Length(max=200))


class MediaOutSchema(Schema):
    id = fields.Integer()
    offset = fields.Integer(metadata={"description": "Bytes the server has; send the rest from here."})
    size = fields.Integer()
    complete = fields.Boolean()


# --- events ---------------------------------------------------------------------------------


@blp.route("/stations/me/events")
class MyEvents(MethodView):
    @station_token_required
    @blp.arguments(EventBatchSchema)
    @blp.response(200, OutcomesSchema)
    @problems({**TOKEN_PROBLEMS, 422: "The batch is not of this shape: nothing stored"})
    def post(self, data):
        """Send a batch of events; one outcome per event, in order

        Each `event_id` is stored once: a retried event answers `duplicate` with its first prompt.
        A payload that cannot be used is stored as `rejected` with the reason (not retried).
        """
        station = _me()
        sent = [e["event_id"] for e in data["events"]]
        inputs = [StationInput(event_id=str(uuid.UUID(e["event_id"])), kind=e["kind"], payload=e["payload"],
                               device=e["device"] or "", seq=e.get("seq"), occurred_at=e["occurred_at"])
                  for e in data["events"]]
        outcomes = _store(station, inputs)
        # Answer with the ids as the agent wrote them (it matches its outbox by them).
        return {"outcomes": [{**o, "event_id": text} for o, text in zip(outcomes, sent, strict=True)]}


def _store(station: Station, inputs: list[StationInput]) -> list[dict]:
    """handle_inputs in a savepoint; a twin request that stored some of these ids first makes
    the savepoint fail, and the run again finds them stored (duplicates). Any other failure
    (a scenario's bug, an id another scan took) is contained: the batch is stored input by input."""
    for _attempt in range(STORE_ATTEMPTS):
        try:
            with db.session.begin_nested():
                outcomes = handle_inputs(station, inputs)
            return outcomes
        except IntegrityError:
            continue
        except Exception:
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
        log.exception("station %s: input %s (%s) failed", station.code, one.event_id, one.kind)
        reason = str(error.title) if isinstance(error, Problem) else f"server error ({type(error).__name__})"
        with db.session.begin_nested():
            return store_failed(station, one, reason)


# --- jobs -----------------------------------------------------------------------------------


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


# --- station events (supervision) -----------------------------------------------------------


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


# --- heartbeat and health -------------------------------------------------------------------


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


# --- media ----------------------------------------------------------------------------------


@blp.route("/stations/me/media")
class MyMedia(MethodView):
    @station_token_required
    @blp.arguments(MediaInSchema)
    @blp.response(201, MediaOutSchema, description="A new upload")
    @blp.alt_response(200, schema=MediaOutSchema, description="This file again: the bytes received so far")
    @problems({**TOKEN_PROBLEMS, 409: "This checksum was announced with another size"})
    def post(self, data):
        """Announce a photo or clip by its sha256; answers where to continue (`offset`)"""
        station = _me()
        for _attempt in range(2):
            try:
                with db.session.begin_nested():
                    media, created = service.open_upload(station, data["sha256"], data["size"], data["kind"],
                                                         data["content_type"], data["filename"])
                break
            except IntegrityError:  # an event naming the file made the row at the same moment
                continue
        else:
            raise Problem(409, "conflict", "The file was announced twice at the same moment; send it again.")
        offset = service.reconcile(media)
        if media.size == 0 and not media.complete:
            offset = service.write_chunk(media, 0, b"")
        answer = {"id": media.id, "offset": offset, "size": media.size, "complete": media.complete}
        return answer, 201 if created else 200, {"Upload-Offset": str(offset), "Upload-Length": str(media.size)}


def _my_media(media_id: int, *, lock: bool = False) -> MediaFile:
    media = db.session.get(MediaFile, media_id, with_for_update=lock or None)
    if media is None or media.station_id != _me().id:
        raise Problem(404, "not-found", f"No media file with id {media_id} from this station.",
                      resource="media", id=media_id)
    return media


@blp.route("/stations/me/media/<int:media_id>")
class MyMediaUpload(MethodView):
    @station_token_required
    @blp.doc(
        parameters=[{"name": "Upload-Offset", "in": "header", "required": True, "schema": {"type": "integer"},
                     "description": "Where these bytes start: the offset the server last answered."}],
        requestBody={"required": True, "content": {OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
                     "description": f"The next bytes, at most {service.MAX_CHUNK} per request."},
        responses={
            "204": {"description": "Stored; `Upload-Offset` says the new offset (== size: complete)."},
            "409": {"description": "Wrong offset: `Upload-Offset` has the right one", **problem_json_doc()},
            "413": {"description": "Chunk too large", **problem_json_doc()},
            "415": {"description": f"Content-Type is not {OFFSET_STREAM}", **problem_json_doc()},
            "422": {"description": "checksum-mismatch (offset back to 0) or more bytes than announced",
                    **problem_json_doc()},
        },
    )
    def patch(self, media_id):
        """Send the next bytes of a file at `Upload-Offset`

        When the last byte arrives the sha256 is checked: a mismatch discards the bytes (422,
        `Upload-Offset: 0`) and the file is sent again from the start.
        """
        if request.mimetype != OFFSET_STREAM:
            raise Problem(415, "unsupported-media-type", f"Send the bytes as {OFFSET_STREAM}.")
        try:
            offset = int(request.headers["Upload-Offset"])
            if offset < 0:
                raise ValueError
        except (KeyError, ValueError):
            raise Problem(400, "upload-offset-required",
                          "Send the Upload-Offset header: the offset the server last answered.") from None
        if (request.content_length or 0) > service.MAX_CHUNK:
            raise Problem(413, "chunk-too-large", f"Send at most {service.MAX_CHUNK} bytes per request.")
        media = _my_media(media_id, lock=True)
        new_offset = service.write_chunk(media, offset, request.get_data(cache=False))
        return "", 204, {"Upload-Offset": str(new_offset), "Cache-Control": "no-store"}

    @station_token_required
    @blp.doc(responses={"200": {"description": "`Upload-Offset`: bytes received; `Upload-Length`: the size"},
                        "404": {"description": "No such file from this station"}})
    def head(self, media_id):
        """How much of a file the server has (`Upload-Offset`, `Upload-Length`)"""
        media = _my_media(media_id)
        offset = service.reconcile(media)
        return "", 200, {"Upload-Offset": str(offset), "Upload-Length": str(media.size), "Cache-Control": "no-store"}


@blp.route("/media/<int:media_id>")
class Media(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.doc(responses={
        "200": {"description": "The file, with its content type",
                "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                            "video/x-msvideo": {"schema": {"type": "string", "format": "binary"}}}},
        "404": {"description": "No such file, or not complete yet", **problem_json_doc()},
    })
    def get(self, media_id):
        """A station's photo or clip, once all its bytes arrived"""
        media = get_or_404(MediaFile, media_id, "media")
        path = service.stored_path(media)
        if not media.complete or not path.exists():
            raise Problem(404, "media-incomplete", "This file has not arrived completely yet.",
                          received=service.reconcile(media), size=media.size)
        return send_file(path, mimetype=media.content_type, conditional=True, etag=media.sha256, max_age=3600,
                         download_name=media.filename or f"{media.sha256}{_extension(media)}")


def _extension(media: MediaFile) -> str:
    return {"image/jpeg": ".jpg", "video/x-msvideo": ".avi", "video/mp4": ".mp4"}.get(media.content_type, "")
