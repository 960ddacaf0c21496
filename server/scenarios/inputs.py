"""Storing inputs: every station input (a scan from an agent or typed into a page by a wedge
scanner, a stable weight, a photo, a clip, a device status, a job result, a key) ends in
`handle_inputs()`: it stores each input once by its `event_id`, hands it to the scenario and
stores the `Prompt` it answers (message, sound, state, keys, device jobs).

Who works at a station is decided by badge at the station only (see `Scenario.handle`)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import uuid
from datetime import UTC, datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _

from server.core.bounds import INT64_MAX, fits_int64, text_problem, value_problem
from server.extensions import db
from server.models import Station, User
from server.models.base import utcnow
from server.scenarios.base import INPUT_KINDS, Context, InputError, Scenario, StationInput
from server.services import station_events
from server.services import stations as station_service
from server.services.errors import DomainError
from server.services.scan import classify_many


def _check_payload(kind: str, payload: dict) -> dict:
    """A checked copy of the payload (scan bytes decoded to `raw`), or InputError."""
    if kind not in INPUT_KINDS:
        raise InputError(f"unknown kind {kind!r}")
    if not isinstance(payload, dict):
        raise InputError("payload must be an object")
    if _has_non_finite(payload):
        raise InputError("numbers must be finite (no NaN or infinity)")
    found = value_problem(payload)  # NUL, unpaired surrogates, integers beyond 64 bits
    if found:
        raise InputError(f"{found[0]}: {found[1]}")
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
        if not 0 <= need("size", int, "a whole number of bytes is required") <= INT64_MAX:
            raise InputError(f"size: from 0 to {INT64_MAX} bytes")
    elif kind == "device_status":
        if need("state", str, "text required") not in ("up", "down", "degraded"):
            raise InputError("state: one of up, down, degraded")
    elif kind == "job_result":
        if not 1 <= need("job_id", int, "a job id is required") <= INT64_MAX:
            raise InputError("job_id: not a job id")
        if need("result", str, "text required") not in station_service.JOB_RESULTS:
            raise InputError(f"result: one of {', '.join(station_service.JOB_RESULTS)}")
    elif kind == "button":
        need("key", str, "text required")
    return checked


def _rejected(reason: str) -> dict:
    return {"scenario": "", "title": "", "message": str(_("Input not accepted: %(reason)s", reason=reason)),
            "sound": "error", "details": [], "jobs": [], "user": None, "screen": {"problem": reason},
            "state": "", "keys": []}


def handle_inputs(station: Station | None, inputs: list[StationInput], *, user: User | None = None,
                  handheld: bool = False, scenario: Scenario | None = None) -> list[dict]:
    """Store each input once and answer it. Returns one outcome per input, in order:
    {"event_id", "status": "stored"|"duplicate"|"rejected", "prompt": dict | None}.

    `user` is who typed it on a page; agent inputs belong to whoever is signed in at the station.
    `handheld`: the inputs come from `user`'s handheld page, in the user's own session (the
    station, if any, is where the worker's device jobs go); `scenario` is the page's flow.
    The caller's transaction commits everything together.
    """
    # The session row first, locked (PostgreSQL): one station's inputs are handled one batch at a
    # time, and a batch that waited here sees the events the batch before it stored.
    if handheld:
        session = station_events.handheld_session(user, lock=True)
        session.station_id = station.id if station is not None else None
    else:
        session = station_events.station_session(station.id, lock=True)
    station_id = station.id if station is not None else None
    earlier = station_events.stored_outcomes([i.event_id for i in inputs])
    if scenario is None:
        from server.scenarios.registry import scenario_for

        scenario = scenario_for(station)
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
                          classified=ahead.get(event.event_id), scan_rows=scan_rows,
                          page_user=user if not handheld else None)
            try:
                prompt = scenario.handle(ctx, ctx.event)
            except DomainError as error:  # refused before the flow (a page user at another's station)
                prompt = None
                row["status"] = "rejected"
                with _speaking(user or worker):
                    row["outcome"] = _rejected(str(error))
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
    station_events.store(rows, scan_rows)
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
    which Python's JSON reads but PostgreSQL's JSON refuses, are kept as text; a `pin` is not kept; so are integers
    beyond 64 bits, and NUL and unpaired surrogates in texts are written as escapes."""
    if not isinstance(payload, dict):
        return {"invalid": repr(payload)[:500]}
    if "pin" in payload:  # a supervisor's PIN (packing override) is never kept
        payload = {**payload, "pin": "[redacted]"}
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
    if isinstance(value, int) and not isinstance(value, bool) and not fits_int64(value):
        return str(value)
    if isinstance(value, str) and text_problem(value):
        return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {_finite(k) if isinstance(k, str) else k: _finite(v) for k, v in value.items()}
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


def store_failed(station: Station, event: StationInput, reason: str) -> dict:
    """Keep an input whose handling failed on the server, as rejected with the reason: it is not
    lost (the payload stays for review) and it does not block the inputs queued behind it."""
    outcome = _rejected(reason)
    station_events.store([{"event_id": event.event_id, "station_id": station.id, "seq": event.seq,
                           "source": event.source, "kind": event.kind[:16], "device": (event.device or "")[:64],
                           "occurred_at": event.occurred_at, "received_at": utcnow(),
                           "payload": _stored_payload(event.payload), "status": "rejected", "outcome": outcome}], [])
    return {"event_id": event.event_id, "status": "rejected", "prompt": outcome}


