"""Request and answer schemas of the stations API."""

import re
import uuid

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from server.api.bounds import BigCount, BigId, Id, Int, Moment, Name, Payload, Text
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
    event_id = Text(required=True, validate=_uuid_text,
                             metadata={"description": "UUID made by the agent; the server stores each id once."})
    seq = BigCount(strict=True, allow_none=True,
                         metadata={"description": "The agent's own counter, strictly increasing per outbox."})
    kind = Text(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "scan, weight, photo, clip, device_status, job_result or button; "
                                                  "an unknown kind is stored as rejected."})
    occurred_at = Moment(required=True,
                                       metadata={"description": "When it happened, with its UTC offset."})
    device = Text(load_default="", validate=validate.Length(max=64),
                           metadata={"description": "The device's name in the station profile."})
    payload = fields.Dict(required=True, metadata={"description": "Per kind, as docs/station-protocol.md says; "
                                                                  "a bad payload is stored as rejected."})


class EventBatchSchema(Schema):
    events = fields.List(fields.Nested(EventInSchema), required=True,
                         validate=validate.Length(min=1, max=MAX_BATCH),
                         metadata={"description": f"1 to {MAX_BATCH} events, in the order they happened."})
    take_jobs = fields.Boolean(load_default=False, metadata={
        "description": "Answer with the station's jobs due now (`jobs`, marked sent as the long-poll marks "
                       "them), and again with the jobs of events this batch repeats whose result is not in."})


class PromptSchema(Schema):
    scenario = Text()
    title = Text()
    message = Text()
    sound = Text(metadata={"description": "ok, error or none"})
    details = fields.List(Text())
    jobs = fields.List(Int(), metadata={"description": "Ids of the device jobs the input created."})
    user = Text(allow_none=True, metadata={"description": "The worker signed in at the station."})
    screen = fields.Dict(metadata={"description": "Scenario data the station page draws."})
    state = Text(metadata={"description": "The flow's state after the input (docs/flows/)."})
    # A method: a stored prompt without keys is a dict whose attribute `keys` is dict.keys.
    keys = fields.Method("_keys", metadata={"type": "array", "items": {"type": "object"},
                                            "description": "The keys the state takes now: {key, label, params}."})

    def _keys(self, prompt: dict) -> list:
        return prompt.get("keys") or []


class OutcomeSchema(Schema):
    event_id = Text()
    status = Text(metadata={"description": "stored (new), duplicate (the first outcome again) or "
                                                    "rejected (stored with the reason; do not retry)"})
    prompt = fields.Nested(PromptSchema, allow_none=True)


class OutcomesSchema(Schema):
    outcomes = fields.List(fields.Nested(OutcomeSchema), metadata={"description": "One per event, same order."})
    jobs = fields.List(fields.Dict(), metadata={"description": "With `take_jobs` only: jobs now marked sent "
                                                               "(attempts + 1), as the long-poll answers them."})


class JobPollSchema(Schema):
    wait = Int(load_default=25, validate=validate.Range(min=0, max=MAX_WAIT),
                          metadata={"description": f"Seconds to wait for a job (0 to {MAX_WAIT})."})


class JobSchema(Schema):
    id = BigId()
    station_id = Id()
    kind = Text(metadata={"description": "print, photo, record_start, record_stop, read_weight or beep"})
    device = Text(allow_none=True, metadata={"description": "null: the agent picks the device"})
    payload = fields.Dict()
    state = Text(metadata={"description": "queued, sent, done or failed"})
    attempts = Int(metadata={"description": "How many times it was sent to the agent."})
    result = Text(allow_none=True)
    detail = fields.Dict()
    created_by_event = Text(allow_none=True)
    created_by_user_id = Id(allow_none=True)
    created_at = UtcDateTime()
    sent_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)


class JobBatchSchema(Schema):
    jobs = fields.List(fields.Dict(), metadata={"description": "Jobs now marked sent (attempts + 1)."})


class JobInSchema(Schema):
    kind = Text(required=True, validate=validate.OneOf(service.JOB_KINDS))
    payload = Payload(load_default=dict, metadata={"description": "Per kind (print: template, data, copies)."})
    device = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                           metadata={"description": "A device of the station profile; null lets the agent pick."})


class JobQuerySchema(Schema):
    state = Text(validate=validate.OneOf(("queued", "sent", "done", "failed")))


class EventQuerySchema(Schema):
    kind = Text(validate=validate.Length(min=1, max=16))
    status = Text(validate=validate.OneOf(("stored", "rejected")))


class StationEventSchema(Schema):
    id = BigId()
    event_id = Text()
    station_id = Id()
    user_id = Id(allow_none=True)
    seq = Int(allow_none=True)
    source = Text(metadata={"description": "agent, page or api"})
    kind = Text()
    device = Text()
    status = Text(metadata={"description": "stored or rejected"})
    occurred_at = UtcDateTime(allow_none=True)
    received_at = UtcDateTime()
    payload = fields.Dict()
    outcome = fields.Nested(PromptSchema, allow_none=True, metadata={"description": "The prompt it got."})


class HeartbeatSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # newer agents may say more

    agent = Payload(load_default=dict, metadata={"description": "version, started_at, host"})
    devices = fields.Dict(keys=Text(validate=validate.Length(max=64)), values=Payload(),
                          load_default=dict,
                          metadata={"description": "Per device name: kind, state (up, down, degraded), detail, since"})
    outbox = Payload(load_default=dict, metadata={"description": "waiting, oldest_at, media_waiting"})


class HeartbeatAnswerSchema(Schema):
    ok = fields.Boolean()
    server_time = Text()


class HealthSchema(Schema):
    station_id = Id()
    code = Text()
    name = Text()
    kind = Text()
    emulated = fields.Boolean(metadata={"description": "Driven by emulators and a script (the demo's), not by "
                                                       "a person"})
    state = Text(metadata={"description": "ok, degraded (a device is not up) or offline (no heartbeat "
                                                   "for 30 s)"})
    heartbeat_at = Text(allow_none=True)
    devices = fields.Dict()
    outbox = fields.Dict()
    agent = fields.Dict()


class HealthQuerySchema(Schema):
    warehouse_id = Id()


class MediaInSchema(Schema):
    sha256 = Text(required=True, validate=validate.Regexp(SHA256_HEX, error="64 lowercase hex digits."))
    size = BigCount(required=True, strict=True)
    kind = Text(required=True, validate=validate.OneOf(tuple(service.MEDIA_KINDS)))
    content_type = Name(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                        metadata={"description": "What the agent believes; the server stores and serves the "
                                                 "type it finds in the bytes (JPEG, MJPG AVI or MP4)."})
    filename = Name(load_default="", max_length=200,
                    metadata={"description": "One line: no CR, LF or other control characters."})


class MediaOutSchema(Schema):
    id = BigId()
    offset = BigCount(metadata={"description": "Bytes the server has; send the rest from here."})
    size = BigCount()
    complete = fields.Boolean()
