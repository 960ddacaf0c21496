"""Scenarios: the scan-driven state machines of the flows (one module per flow).

Every station input (a scan from an agent or typed into a page by a wedge scanner, a stable
weight, a photo, a clip, a device status, a job result, a key) ends in `handle_inputs()`: it
stores each input once by its `event_id`, hands it to the station's scenario and stores the
`Prompt` it answers (message, sound, device jobs). Station pages and agents only show prompts
and forward input.

A flow registers its scenario for a station kind with `register()`; a station without one runs
`identify`: it signs workers in and out by badge and says what each scanned code is.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _
from sqlalchemy import insert, select

from server.extensions import db
from server.models import HandheldSession, ScanEvent, Station, StationEvent, StationSession, User
from server.models.base import utcnow
from server.problems import Problem
from server.services import stations as station_service
from server.services.scan import Classification, Kind, classify, classify_many, record_scan, scan_row

INPUT_KINDS = ("scan", "weight", "photo", "clip", "device_status", "job_result", "button")
SOUNDS = ("ok", "error", "none")



class InputError(ValueError):
    """An input whose payload cannot be used: stored as rejected, answered with an error prompt."""


@dataclass
class Prompt:
    message: str
    sound: str = "ok"
    title: str = ""
    details: list[str] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    scenario: str = ""
    user: str | None = None
    screen: dict = field(default_factory=dict)  # scenario data the station page draws
    state: str = ""  # the flow's state after this input
    keys: list[dict] = field(default_factory=list)  # what the state accepts: {"key", "label"}; pages show only these

    def as_json(self) -> dict:
        return {
            "scenario": self.scenario, "title": str(self.title), "message": str(self.message), "sound": self.sound,
            "details": [str(d) for d in self.details], "jobs": list(self.jobs), "user": self.user,
            "screen": self.screen, "state": self.state,
            "keys": [{**key, "label": str(key.get("label", ""))} for key in self.keys],
        }


@dataclass
class StationInput:
    event_id: str
    kind: str
    payload: dict
    device: str = ""
    seq: int | None = None
    occurred_at: datetime | None = None
    source: str = "agent"


@dataclass
class Context:
    """What a scenario sees of the station, the worker and the session; where it queues jobs.

    On a handheld, `session` is the worker's HandheldSession and `station` the station whose
    devices the worker uses, or None."""

    station: Station | None
    session: StationSession | HandheldSession
    user: User | None
    event: StationInput
    jobs: list[int] = field(default_factory=list)
    classified: Classification | None = None  # the scan's classification, when made ahead for the batch
    scan_rows: list[dict] | None = None  # the batch's scan_events rows, inserted together at its end

    @property
    def handheld(self) -> bool:
        return isinstance(self.session, HandheldSession)

    @property
    def warehouse_id(self) -> int | None:
        return self.station.warehouse_id if self.station is not None else None

    def job(self, kind: str, payload: dict | None = None, device: str | None = None) -> int:
        if self.station is None:
            raise Problem(409, "no-station", "This handheld works at no station: choose one for its devices.")
        job = station_service.create_job(self.station, kind, payload or {}, device=device,
                                         event_id=self.event.event_id, user=self.user)
        self.jobs.append(job.id)
        return job.id

    def sign_in(self, user: User) -> None:
        self.session.user_id, self.user = user.id, user
        self.session.state, self.session.scenario = {}, ""
        self.session.started_at = utcnow()

    def sign_out(self) -> None:
        self.session.user_id, self.user = None, None
        self.session.state, self.session.scenario = {}, ""


class Scenario:
    """Base: badge sign-in/out, and a plain answer for every kind of input. Flows override the
    `on_*` methods they care about; `on_code` gets every scan that is not a badge."""

    name = "identify"

    def handle(self, ctx: Context, event: StationInput) -> Prompt | None:
        return getattr(self, f"on_{event.kind}")(ctx, event.payload)

    def on_scan(self, ctx: Context, payload: dict) -> Prompt | None:
        station, event = ctx.station, ctx.event
        max_bytes = current_app.config["CELLWMS_SCAN_MAX_BYTES"]
        result = ctx.classified or classify(payload["raw"], ctx.warehouse_id,
                                            symbology=payload.get("symbology"), max_bytes=max_bytes)
        prompt = self.on_badge(ctx, result) if result.kind == Kind.badge else self.on_code(ctx, result)
        row = dict(max_bytes=max_bytes, station_id=station.id if station else None,
                   user_id=ctx.user.id if ctx.user else None, warehouse_id=ctx.warehouse_id, event_id=event.event_id, scanned_at=event.occurred_at,
                   source=event.source, meaning=result.answer())
        if ctx.scan_rows is not None:
            ctx.scan_rows.append(scan_row(result, **row))
        else:
            record_scan(result, **row)
        return prompt

    def on_badge(self, ctx: Context, result: Classification) -> Prompt:
        user = db.session.get(User, result.entity_id)
        if user is None or not user.active:
            return Prompt(_("This badge is not active."), "error", title=_("Badge"))
        if ctx.handheld:  # the page's signed-in worker is who works here
            return Prompt(_("This handheld is signed in as %(name)s; sign out on the page to change.",
                            name=ctx.user.display_name if ctx.user else ""), "error", title=_("Badge"))
        if ctx.user is not None and ctx.user.id == user.id:
            ctx.sign_out()
            return Prompt(_("Signed out: %(name)s", name=user.display_name), "ok", title=_("Badge"))
        ctx.sign_in(user)
        return Prompt(_("Hello, %(name)s", name=user.display_name), "ok", title=_("Badge"))

    def on_code(self, ctx: Context, result: Classification) -> Prompt:
        sound = "error" if result.kind == Kind.unknown else "ok"
        return Prompt(result.message, sound, title=result.kind, screen={"scan": result.answer()})

    def on_weight(self, ctx: Context, payload: dict) -> Prompt | None:
        return Prompt(_("Weight: %(value)s %(unit)s", value=_number(payload["value"]), unit=payload["unit"]),
                      "none", title=_("Scale"), screen={"weight": payload})

    def on_photo(self, ctx: Context, payload: dict) -> Prompt | None:
        return Prompt(_("Photo saved."), "ok", title=_("Camera"), screen={"media": payload["media"]})

    def on_clip(self, ctx: Context, payload: dict) -> Prompt | None:
        if payload.get("partial"):
            return Prompt(_("The camera was lost: the video is cut short."), "error", title=_("Camera"))
        return Prompt(_("Video saved."), "none", title=_("Camera"))

    def on_device_status(self, ctx: Context, payload: dict) -> Prompt | None:
        if payload["state"] == "up":
            return None  # the health panel shows it; the worker's prompt stays
        name = ctx.event.device or payload.get("device_kind", "")
        return Prompt(_("%(device)s: %(detail)s", device=name, detail=payload.get("detail") or payload["state"]),
                      "error", title=_("Devices"))

    def on_job_result(self, ctx: Context, payload: dict) -> Prompt | None:
        job = station_service.record_job_result(ctx.station, payload)
        weight = payload.get("weight")
        if (job is not None and job.kind == "read_weight" and payload["result"] == "done" and isinstance(weight, dict)
                and isinstance(weight.get("value"), int | float) and isinstance(weight.get("unit"), str)):
            return self.on_weight(ctx, weight)  # the weight someone asked for is shown
        if payload["result"] in ("done", "printed"):
            return None
        what = job.kind if job is not None else _("Job")
        return Prompt(_("%(job)s failed: %(detail)s", job=what, detail=payload.get("detail") or payload["result"]),
                      "error", title=_("Devices"))

    def on_button(self, ctx: Context, payload: dict) -> Prompt | None:
        if payload["key"] == "sign_out" and ctx.user is not None:
            name = ctx.user.display_name
            ctx.sign_out()
            return Prompt(_("Signed out: %(name)s", name=name), "ok", title=_("Badge"))
        return Prompt(_("This key does nothing here."), "error")


SCENARIOS: dict[str, Scenario] = {}
IDENTIFY = Scenario()


def register(station_kind: str, scenario: Scenario) -> Scenario:
    SCENARIOS[station_kind] = scenario
    return scenario


def scenario_for(station: Station | None) -> Scenario:
    return SCENARIOS.get(station.kind, IDENTIFY) if station is not None else IDENTIFY


# --- storing inputs -------------------------------------------------------------------------


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_payload(kind: str, payload: dict) -> dict:
    """A checked copy of the payload (scan bytes decoded to `raw`), or InputError."""
    if kind not in INPUT_KINDS:
        raise InputError(f"unknown kind {kind!r}")
    if not isinstance(payload, dict):
        raise InputError("payload must be an object")
    if _has_non_finite(payload):
        raise InputError("numbers must be finite (no NaN or infinity)")
    checked = dict(payload)

    def need(key: str, types, what: str):
        value = payload.get(key)
        if not isinstance(value, types) or isinstance(value, bool):  # JSON true is not a number
            raise InputError(f"{key}: {what}")
        return value

    if kind == "scan":
        try:
            checked["raw"] = base64.b64decode(need("raw_b64", str, "base64 text required"), validate=True)
        except (binascii.Error, ValueError):
            raise InputError("raw_b64: not valid base64") from None
        if not isinstance(payload.get("symbology", ""), str):
            raise InputError("symbology: text required")
    elif kind == "weight":
        value = need("value", (int, float), "a number is required")
        if not math.isfinite(value):
            raise InputError("value: a finite number is required")
        if need("unit", str, "text required") not in ("kg", "g", "lb", "oz"):
            raise InputError("unit: one of kg, g, lb, oz")
    elif kind in ("photo", "clip"):
        media = need("media", str, "sha256 hex required")
        if len(media) != 64 or any(c not in "0123456789abcdef" for c in media):
            raise InputError("media: sha256 hex (64 lowercase hex digits) required")
        if need("size", int, "a whole number of bytes is required") < 0:
            raise InputError("size: must not be negative")
    elif kind == "device_status":
        if need("state", str, "text required") not in ("up", "down", "degraded"):
            raise InputError("state: one of up, down, degraded")
    elif kind == "job_result":
        need("job_id", int, "a job id is required")
        if need("result", str, "text required") not in station_service.JOB_RESULTS:
            raise InputError(f"result: one of {', '.join(station_service.JOB_RESULTS)}")
    elif kind == "button":
        need("key", str, "text required")
    return checked


def _rejected(reason: str) -> dict:
    return {"scenario": "", "title": "", "message": str(_("Input not accepted: %(reason)s", reason=reason)),
            "sound": "error", "details": [], "jobs": [], "user": None, "screen": {"problem": reason}}


def session_of(station: Station, *, lock: bool = False) -> StationSession:
    session = db.session.get(StationSession, station.id, with_for_update=lock or None, populate_existing=lock)
    if session is None:
        session = StationSession(station_id=station.id, state={}, scenario="")
        db.session.add(session)
    return session


def handheld_session_of(user: User, *, lock: bool = False) -> HandheldSession:
    session = db.session.get(HandheldSession, user.id, with_for_update=lock or None, populate_existing=lock)
    if session is None:
        session = HandheldSession(user_id=user.id, state={}, scenario="")
        db.session.add(session)
    return session


def handle_inputs(station: Station | None, inputs: list[StationInput], *, user: User | None = None,
                  handheld: bool = False, scenario: Scenario | None = None) -> list[dict]:
    """Store each input once and answer it. Returns one outcome per input, in order:
    {"event_id", "status": "stored"|"duplicate"|"rejected", "prompt": dict | None}.

    `user` is the worker who typed it (a page); agent inputs belong to whoever is signed in at
    the station. The caller's transaction commits everything together.

    `handheld`: the inputs come from `user`'s handheld page, in the user's own session (the
    station, if any, is where the worker's device jobs go); `scenario` is the page's flow.
    """
    # The session row first, locked (PostgreSQL): one station's inputs are handled one batch at a
    # time, and a batch that waited here sees the events the batch before it stored.
    if handheld:
        session = handheld_session_of(user, lock=True)
        session.station_id = station.id if station is not None else None
    else:
        session = session_of(station, lock=True)
    station_id = station.id if station is not None else None
    ids = [i.event_id for i in inputs]
    # event_id -> (station id, outcome) of what is stored already, or stored by this batch.
    earlier = {
        event_id: (owner, outcome) for event_id, owner, outcome in db.session.execute(
            select(StationEvent.event_id, StationEvent.station_id, StationEvent.outcome)
            .where(StationEvent.event_id.in_(ids)))
    } if ids else {}
    if user is not None and session.user_id != user.id:
        session.user_id = user.id
    scenario = scenario or scenario_for(station)
    ahead = _classify_ahead(station, scenario, inputs, earlier)
    rows, scan_rows, outcomes = [], [], []
    for event in inputs:
        done = earlier.get(event.event_id)
        if done is not None:
            if done[0] != station_id:
                outcomes.append({"event_id": event.event_id, "status": "rejected",
                                 "prompt": _rejected("event_id belongs to another station")})
            else:
                outcomes.append({"event_id": event.event_id, "status": "duplicate", "prompt": done[1]})
            continue
        worker = db.session.get(User, session.user_id) if session.user_id else None
        # kind and device are cut to their columns: an unknown long kind is rejected below, not lost.
        row = {"event_id": event.event_id, "station_id": station_id, "seq": event.seq, "source": event.source,
               "status": "stored", "outcome": None, "kind": str(event.kind)[:16],
               "device": str(event.device or "")[:64], "occurred_at": event.occurred_at,
               "received_at": utcnow(), "payload": _stored_payload(event.payload),
               "user_id": worker.id if worker else None}
        try:
            checked = _check_payload(event.kind, event.payload)
        except InputError as error:
            row["status"] = "rejected"
            with _speaking(worker):
                row["outcome"] = _rejected(str(error))
        else:
            ctx = Context(station=station, session=session, user=worker,
                          event=StationInput(**{**event.__dict__, "payload": checked}),
                          classified=ahead.get(event.event_id), scan_rows=scan_rows)
            prompt = scenario.handle(ctx, ctx.event)
            if prompt is not None:
                prompt.scenario = prompt.scenario or scenario.name
                prompt.jobs = ctx.jobs + [j for j in prompt.jobs if j not in ctx.jobs]
                prompt.user = ctx.user.display_name if ctx.user else None
                # Messages are lazy: they are put into words here, in the language of the worker
                # at the station after the input (the one just signed in), else before it.
                with _speaking(ctx.user or worker):
                    row["outcome"] = prompt.as_json()
            if event.kind in ("photo", "clip") and station is not None:
                station_service.expect_media(station, checked, event.kind, event.event_id)
            session.updated_at = utcnow()
        earlier[event.event_id] = (station_id, row["outcome"])
        rows.append(row)
        outcomes.append({"event_id": event.event_id, "status": row["status"], "prompt": row["outcome"]})
    # One INSERT per table for the whole batch (the ORM's unit of work costs 3x as much here).
    if rows:
        db.session.execute(insert(StationEvent), rows)
    if scan_rows:
        db.session.execute(insert(ScanEvent), scan_rows)
    if station is not None and not handheld:
        station.last_seen_at = utcnow()
    return outcomes


def _classify_ahead(station: Station, scenario: Scenario, inputs: list[StationInput], earlier: dict) -> dict:
    """The batch's new scans classified together (two round trips on PostgreSQL instead of two per
    scan), by event_id. Only for `identify` itself: nothing it does to one input changes what a
    later code is. A flow's scenario may (a tote it creates), so its scans are classified one by one."""
    if type(scenario) is not Scenario:
        return {}
    scans = {}
    for event in inputs:
        if event.kind == "scan" and event.event_id not in earlier and event.event_id not in scans:
            try:
                scans[event.event_id] = _check_payload(event.kind, event.payload)
            except InputError:
                continue
    if len(scans) < 2:
        return {}
    # The same code scanned again in one batch (units counted by scanning) is looked up once.
    codes = list(dict.fromkeys((p["raw"], p.get("symbology") or "") for p in scans.values()))
    results = dict(zip(codes, classify_many(codes, station.warehouse_id if station else None,
                                            max_bytes=current_app.config["CELLWMS_SCAN_MAX_BYTES"]), strict=True))
    return {event_id: results[(p["raw"], p.get("symbology") or "")] for event_id, p in scans.items()}


def _speaking(user: User | None):
    """Prompts in `user`'s language (User.locale), else the request's."""
    language = user.locale if user is not None and user.locale else None
    return force_locale(language) if language else contextlib.nullcontext()


def _stored_payload(payload) -> dict:
    """The payload as sent, kept for the record (a scan's bytes stay base64). NaN and infinities,
    which Python's JSON reads but PostgreSQL's JSON refuses, are kept as text."""
    if not isinstance(payload, dict):
        return {"invalid": repr(payload)[:500]}
    return _finite(payload)


def _has_non_finite(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def page_input(station: Station, user: User, kind: str, payload: dict, *, event_id: str | None = None) -> dict:
    """An input typed or clicked on the station page: stored and answered like an agent's.
    `event_id` is the one the page made for it (kept across its retries)."""
    event = StationInput(event_id=event_id or str(uuid.uuid4()), kind=kind, payload=payload, source="page",
                         occurred_at=datetime.now(UTC))
    return handle_inputs(station, [event], user=user)[0]


def handheld_input(user: User, kind: str, payload: dict, *, scenario: Scenario,
                   station: Station | None = None, event_id: str | None = None) -> dict:
    """An input on a handheld page, in the worker's own session and the page's flow.
    `event_id` is the one the page made for it (kept across its retries)."""
    event = StationInput(event_id=event_id or str(uuid.uuid4()), kind=kind, payload=payload, source="handheld",
                         occurred_at=datetime.now(UTC))
    return handle_inputs(station, [event], user=user, handheld=True, scenario=scenario)[0]


__all__ = ["SCENARIOS", "Context", "InputError", "Prompt", "Scenario", "StationInput", "handle_inputs", "page_input",
           "register", "scenario_for"]


def store_failed(station: Station, event: StationInput, reason: str) -> dict:
    """Keep an input whose handling failed on the server, as rejected with the reason: it is not
    lost (the payload stays for review) and it does not block the inputs queued behind it."""
    row = StationEvent(event_id=event.event_id, station_id=station.id, seq=event.seq, source=event.source,
                       kind=event.kind[:16], device=(event.device or "")[:64], occurred_at=event.occurred_at,
                       payload=_stored_payload(event.payload), status="rejected", outcome=_rejected(reason))
    db.session.add(row)
    db.session.flush()
    return {"event_id": event.event_id, "status": row.status, "prompt": row.outcome}


# The flows' scenarios register themselves for their station kinds.
from server.scenarios import putaway, receiving  # noqa: E402, F401
