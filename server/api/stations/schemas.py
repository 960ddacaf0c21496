"""Request and answer schemas of the stations API."""

import re
import uuid

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from server.api.schemas import UtcDateTime
from server.services import stations as service

MAX_BATCH = 500
MAX_WAIT = 30


SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


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
