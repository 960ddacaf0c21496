"""Station screens: the list of stations with their health, one screen per station kind that shows
the current prompt live, takes wedge-scanner input and queues device jobs.

The live stream (`/stations/<code>/stream`, Server-Sent Events) reads the database, never process
memory, so any number of server workers serve it: each poll opens a short session, reads the new
StationEvent rows (by id, after Last-Event-ID), the station's recent jobs and its health, and
closes the session (transaction ended, connection back to the pool) before it sleeps.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from printers.receipts import SAMPLES as RECEIPT_SAMPLES
from printers.samples import SAMPLES as LABEL_SAMPLES
from server import scenarios
from server.auth import signed_in, signed_in_user
from server.core.bounds import INT64_MAX, parse_whole
from server.extensions import READ_ONLY_OPTION, db
from server.models import Role, Station, StationEvent, StationJob, StationKind, StationSession
from server.problems import Problem, problem_response
from server.services import dates, streams
from server.services.stations import (
    DEVICE_NAMES,
    DEVICE_PROBLEMS,
    PACK_DOCUMENTS,
    create_job,
    job_json,
    reprint_document,
    station_health,
)
from server.web.handheld import event_id_of, key_payload, plural_texts, scan_payload

stations = Blueprint("stations", __name__, template_folder="templates")
log = logging.getLogger(__name__)

VIEWERS = (Role.supervisor, Role.admin)
KIND_NAMES = {
    StationKind.dock: _l("Dock"),
    StationKind.pick: _l("Pick"),
    StationKind.pack: _l("Pack"),
    StationKind.handoff: _l("Handoff"),
    StationKind.returns: _l("Returns"),
}
STATE_NAMES = {"ok": _l("ok"), "degraded": _l("degraded"), "offline": _l("offline")}
JOB_STATE_NAMES = {"queued": _l("queued"), "sent": _l("sent"), "done": _l("done"), "failed": _l("failed")}
DEVICE_STATE_NAMES = {"up": _l("working"), "down": _l("down"), "degraded": _l("degraded")}
# Device names of the station profiles (firmware_profiles/stations); another name is shown as it is.
JOB_KIND_NAMES = {
    "print": _l("Print"), "photo": _l("Photo"), "record_start": _l("Start recording"),
    "record_stop": _l("Stop recording"), "read_weight": _l("Read weight"), "beep": _l("Beep"),
}
TEMPLATE_NAMES = {
    "cell-label": _l("cell label"), "sku-sticker": _l("SKU sticker"), "tote-label": _l("tote label"),
    "badge": _l("badge"), "shipping-label": _l("shipping label"), "packing-slip": _l("packing slip"),
    "handoff-act": _l("handoff act"), "receiving-act": _l("receiving act"),
}
JOB_RESULT_NAMES = {"done": _l("done"), "printed": _l("printed"), "paper_out": _l("paper out"),
                    "head_open": _l("print head open"), "failed": _l("failed")}
EVENT_KIND_NAMES = {"scan": _l("scan"), "weight": _l("weight"), "photo": _l("photo"), "clip": _l("clip"),
                    "button": _l("key"), "status": _l("status")}
# The test label each kind prints: a template its printer takes, with sample data.
TEST_LABEL = {
    StationKind.dock: "sku-sticker",
    StationKind.pick: "tote-label",
    StationKind.pack: "shipping-label",
    StationKind.handoff: "handoff-act",
    StationKind.returns: "sku-sticker",
}
BUTTONS = {
    "photo": _l("Take photo"),
    "read_weight": _l("Read weight"),
    "print_test": _l("Print test label"),
    "beep": _l("Beep"),
}
KIND_BUTTONS = {
    StationKind.dock: ("photo", "read_weight", "print_test", "beep"),
    StationKind.pick: ("print_test", "beep"),
    StationKind.pack: ("photo", "read_weight", "print_test", "beep"),
    StationKind.handoff: ("photo", "read_weight", "print_test", "beep"),
    StationKind.returns: ("photo", "read_weight", "print_test", "beep"),
}
RECENT = 12  # events and jobs shown on the screen
# app.extensions key of the demo's emulated scales (`cellwms demo` sets it: has_scale(code),
# put_on_scale(code, kg)); without it the demo scale control and its endpoint do not exist.
DEMO_SCALES = "cellwms.demo_scales"
MAX_DEMO_KG = 1000


def _job_for(station: Station, button: str) -> tuple[str, dict]:
    if button == "photo":
        return "photo", {"role": "overhead"}
    if button == "read_weight":
        return "read_weight", {"timeout": 5}
    if button == "beep":
        return "beep", {"sound": "ok"}
    if button == "print_test":
        template = TEST_LABEL[StationKind(station.kind)]
        data = LABEL_SAMPLES.get(template) or RECEIPT_SAMPLES[template]
        return "print", {"template": template, "data": data, "copies": 1}
    raise Problem(422, "unknown-button", _("This button does nothing here."))


# --- who may see what --------------------------------------------------------------------------


def _may_use(station: Station) -> bool:
    return current_user.has_any_role((station.role, *VIEWERS))


def _visible_stations() -> list[Station]:
    rows = db.session.execute(select(Station).where(Station.active.is_(True)).order_by(Station.code)).scalars()
    return [s for s in rows if _may_use(s)]


def _station(code: str) -> Station:
    """The active station `code` (its views' `signed_in(own_station=True)` found it and checked the role)."""
    return db.session.execute(select(Station).where(Station.code == code, Station.active.is_(True))).scalar_one()


@stations.errorhandler(CSRFError)
def _on_csrf(error):
    db.session.rollback()
    return problem_response(Problem(400, "csrf", _("The page is out of date: reload it.")))


# --- pages -------------------------------------------------------------------------------------


@stations.get("/stations")
@signed_in()
def index():
    rows = [(s, station_health(s)) for s in _visible_stations()]
    return render_template("stations/index.html", rows=rows, kind_names=KIND_NAMES, state_names=STATE_NAMES,
                           words=screen_words())


def _recent_events(station: Station, limit: int = RECENT) -> list[StationEvent]:
    return list(db.session.execute(
        select(StationEvent).where(StationEvent.station_id == station.id)
        .order_by(StationEvent.id.desc()).limit(limit)).scalars())


def _recent_jobs(session, station_id: int, limit: int = RECENT) -> list[StationJob]:
    return list(session.execute(
        select(StationJob).where(StationJob.station_id == station_id)
        .order_by(StationJob.id.desc()).limit(limit)).scalars())


def event_json(event: StationEvent, zone=UTC) -> dict:
    """An event for the screen's list; `time` is its time of day in the warehouse's zone."""
    return {"id": event.id, "event_id": event.event_id, "kind": event.kind, "source": event.source, "status": event.status,
            "device": event.device, "received_at": event.received_at.isoformat() if event.received_at else None,
            "time": dates.local_time(event.received_at, zone, "%H:%M:%S"), "prompt": event.outcome}


@stations.get("/stations/<code>")
@signed_in(*VIEWERS, own_station=True)
def screen(code: str):
    station = _station(code)
    events = _recent_events(station)
    prompt_event = next((e for e in events if e.outcome), None)
    session = db.session.get(StationSession, station.id)
    worker = session.user if session is not None and session.user_id else None
    kind = StationKind(station.kind)
    extra = _dock_context(station, session) if kind == StationKind.dock else \
        _pack_context(station) if kind == StationKind.pack else {}
    return render_template(
        f"stations/{kind.value}.html", station=station, kind_names=KIND_NAMES, state_names=STATE_NAMES,
        job_state_names=JOB_STATE_NAMES, words=screen_words(), health=station_health(station), worker=worker,
        prompt=prompt_event.outcome if prompt_event else None, events=events,
        last_id=events[0].id if events else 0, jobs=_recent_jobs(db.session, station.id), buttons=BUTTONS, station_buttons=KIND_BUTTONS[kind],
        agent=request.args.get("agent", ""), **extra,
    )


def _names(names: dict) -> dict:
    return {key: str(value) for key, value in names.items()}


def screen_words() -> dict:
    """What the station screen and its script show, in the page's language."""
    return {
        "unreachable": _("The server is unreachable. Reconnecting…"),
        "agent_online": _("Station agent: online"),
        "agent_offline": plural_texts(lambda n: ngettext(
            "Station agent: offline, %(count)s event waiting", "Station agent: offline, %(count)s events waiting",
            n, count="{count}")),
        "agent_silent": _("The station agent does not answer."),
        "no_answer": _("The server did not answer."),
        "nobody": _("Nobody is signed in. Scan your badge."),
        "no_device": _("No device reported yet."),
        "states": {**_names(STATE_NAMES), **_names(DEVICE_STATE_NAMES)},
        "job_states": _names(JOB_STATE_NAMES),
        "devices": _names(DEVICE_NAMES), "jobs": _names(JOB_KIND_NAMES), "templates": _names(TEMPLATE_NAMES),
        "events": _names(EVENT_KIND_NAMES), "results": _names(JOB_RESULT_NAMES),
        "problems": _names(DEVICE_PROBLEMS),
    }


def _dock_context(station: Station, session: StationSession | None) -> dict:
    """The dock's receiving panel: the delivery open at the station, and the deliveries to open."""
    from server.scenarios.receiving import RECEIVING
    from server.web import receiving

    flow = RECEIVING.view(station=station)
    delivery_id = flow["data"].delivery_id
    delivery = db.session.get(receiving.Delivery, delivery_id) if isinstance(delivery_id, int) else None
    return {"receiving_texts": receiving.page_texts(),
            "receiving_summary": receiving.service.delivery_summary(delivery) if delivery is not None else None,
            "dock_deliveries": receiving.deliveries_to_open(station.warehouse_id), "flow_keys": flow["keys"]}


PACK_STATE_NAMES = {
    "idle": _l("No order open"), "verify": _l("Verifying"), "weighing": _l("Weighing"),
    "mismatch": _l("Weight mismatch"), "held": _l("Held"), "done": _l("Closed"),
}


def packing_texts() -> dict:
    """What the pack station's packing panel shows, in the page's language."""
    return {
        "states": _names(PACK_STATE_NAMES),
        "no_order": _("Scan a tote, an order number or a parcel code."),
        "order": _("Order %(number)s", number="{number}"),
        "box": _("Box: %(box)s", box="{box}"), "no_box": _("No box type fits: choose one."),
        "sku": _("Item"), "verified": _("Scanned"), "left": _("Left"),
        "no_picture": _("No picture"),
        "units_left": plural_texts(lambda n: ngettext(
            "%(count)s unit left to scan", "%(count)s units left to scan", n, count="{count}")),
        "parcel": _("Parcel %(seq)s", seq="{seq}"),
        "measured": _("Measured"), "expected": _("Expected"),
        "tolerance": _("Tolerance: ± %(grams)s g", grams="{grams}"), "grams": _("%(grams)s g", grams="{grams}"),
        "packed": _("Packed parcels"), "tracking": _("Tracking number"),
        "held": _("The order went back to picking: leave the tote at the pack area."),
        "closed": _("The order is packed."),
        "pin": _("Supervisor PIN"), "reason": _("Reason"),
        "override_hint": _("A supervisor scans their badge, then enters the PIN and the reason."),
        "line": _("Line"), "quantity": _("Quantity"), "report_missing": _("Report missing"),
        "missing_hint": _("Choose the line and how many units are missing."),
        "documents": _("Label and slip"), "no_documents": _("Nothing printed yet."),
        "reprint": _("Print again"),
        "document_states": {
            "queued": _("waits for the printer"), "sent": _("printing…"), "printed": _("printed"),
            "done": _("printed"), "paper_out": _("waits for paper"), "head_open": _("print head open"),
            "failed": _("not printed"),
        },
        "templates": _names({k: TEMPLATE_NAMES[k] for k in PACK_DOCUMENTS}),
    }


def document_jobs(session, station_id: int) -> list[dict]:
    """The station's last shipping-label and packing-slip jobs (newest first, one of each)."""
    found = {}
    for job in _recent_jobs(session, station_id, limit=RECENT * 4):
        template = (job.payload or {}).get("template") if job.kind == "print" else None
        if template in PACK_DOCUMENTS and template not in found:
            found[template] = job_json(job)
    return [found[t] for t in PACK_DOCUMENTS if t in found]


def _pack_context(station: Station) -> dict:
    """The pack station's packing panel: the flow's state, keys and screen, and the last label and slip."""
    from server.scenarios.packing import PACKING

    flow = PACKING.view(station=station)
    view = {"state": flow["state"], "keys": flow["keys"], "screen": flow["screen"]}
    return {"packing_texts": packing_texts(), "packing_view": view, "flow_keys": flow["keys"],
            "packing_documents": document_jobs(db.session, station.id), "demo_scale": demo_scale(station) is not None}


def demo_scale(station: Station):
    """The demo's emulated scales when this station is an emulated one with a running scale, else None."""
    feed = current_app.extensions.get(DEMO_SCALES)
    return feed if feed is not None and station.emulated and feed.has_scale(station.code) else None


@stations.post("/stations/<code>/demo-scale")
@signed_in(*VIEWERS, json=True, own_station=True)
def demo_scale_load(code: str):
    """Demo only: put a load on the station's emulated scale, {"kg": 1.234} (0 empties it) or
    {"load": "expected"} (the expected weight of the parcel being packed). 404 outside the demo."""
    from server.services.packing import station_expected_g

    station = _station(code)
    feed = demo_scale(station)
    if feed is None:
        raise Problem(404, "not-found", _("No emulated scale here: this control exists only in the demo."))
    body = _body()
    if body.get("load") == "expected":
        grams = station_expected_g(station.id)
        if grams is None:
            raise Problem(409, "nothing-to-weigh", _("No parcel is being packed here: scan its units first."))
        kg = grams / 1000
    else:
        kg = body.get("kg")
        if isinstance(kg, bool) or not isinstance(kg, int | float) or not 0 <= kg <= MAX_DEMO_KG:
            raise Problem(422, "bad-load", _("The load is a number of kg from 0 to %(num)s.", num=MAX_DEMO_KG))
    if not feed.put_on_scale(station.code, float(kg)):
        raise Problem(409, "scale-emulator-stopped", _("The emulated scale is not running."))
    return {"kg": round(float(kg), 3), "emulated": True}


# --- input and jobs ----------------------------------------------------------------------------


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "bad-request", _("Send JSON."))
    return body


@stations.post("/stations/<code>/input")
@signed_in(*VIEWERS, json=True, own_station=True)
def page_input(code: str):
    station = _station(code)
    body = _body()
    event_id = event_id_of(body)
    kind = body.get("kind")
    if kind == "scan":
        payload = scan_payload(body.get("code"))
    elif kind == "button" and body.get("key") in ("sign_in", "sign_out"):
        payload = {"key": body["key"]}
    elif kind == "button" and station.kind == StationKind.dock:
        from server.web.receiving import KEYS

        payload = key_payload(body, KEYS)
    elif kind == "button" and station.kind == StationKind.pack:
        payload = _pack_key(body)
    else:
        raise Problem(422, "unknown-input", _("This input does nothing here."))
    outcome = scenarios.page_input(station, signed_in_user(), kind, payload, event_id=event_id)
    db.session.commit()
    # The row's status default is applied at flush, after the outcome was made.
    return {**outcome, "status": outcome.get("status") or "stored"}


def _pack_key(body: dict) -> dict:
    """A packing key from the pack station's page: whole-number fields, and the override's PIN and
    reason as bounded text."""
    from server.scenarios.packing import FLOW as PACKING_FLOW
    from server.scenarios.packing import TEXT_FIELDS

    keys = PACKING_FLOW.key_params()
    payload = key_payload(body, {k: tuple(p for p in fields if p not in TEXT_FIELDS) for k, fields in keys.items()})
    for name in keys[payload["key"]]:
        if name in TEXT_FIELDS and name in body:
            value = body[name]
            if not isinstance(value, str) or len(value) > TEXT_FIELDS[name]:
                raise Problem(422, "bad-text", _("%(what)s: text of at most %(num)s characters.", what=name,
                                                 num=TEXT_FIELDS[name]))
            payload[name] = value
    return payload


@stations.post("/stations/<code>/jobs")
@signed_in(*VIEWERS, json=True, own_station=True)
def queue_job(code: str):
    station = _station(code)
    body = _body()
    button = body.get("button")
    if button == "reprint" and station.kind == StationKind.pack:
        job = reprint_document(station, body.get("job_id"), signed_in_user())
        db.session.commit()
        return job_json(job), 201
    if button not in KIND_BUTTONS[StationKind(station.kind)]:
        raise Problem(422, "unknown-button", _("This button does nothing here."))
    kind, payload = _job_for(station, button)
    job = create_job(station, kind, payload, user=signed_in_user())
    db.session.commit()
    return job_json(job), 201


# --- live stream -------------------------------------------------------------------------------


def _sse(event: str | None, data=None, event_id: int | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def _after_id() -> int:
    for value in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        after = parse_whole(value, INT64_MAX)
        if after is not None:
            return after
    return 0


def poll(engine, station_id: int, after: int, jobs_seen: dict, health_seen: list,
         zone=UTC) -> tuple[list[str], int]:
    """One read of the database: SSE messages for what changed, and the new last event id.
    The session (and its transaction and connection) ends before this returns."""
    out = []
    with Session(engine) as session:
        rows = session.execute(
            select(StationEvent).where(StationEvent.station_id == station_id, StationEvent.id > after)
            .order_by(StationEvent.id).limit(100)).scalars()
        for row in rows:
            after = row.id
            if row.outcome:
                out.append(_sse("prompt", event_json(row, zone), row.id))
        for job in reversed(_recent_jobs(session, station_id)):
            state = (job.state, job.attempts, job.result)
            if jobs_seen.get(job.id) != state:
                jobs_seen[job.id] = state
                out.append(_sse("job", job_json(job)))
        station = session.get(Station, station_id)
        if station is not None:
            health = station_health(station)
            key = {k: v for k, v in health.items() if k != "heartbeat_at"}  # a heartbeat alone is no change
            if not health_seen or health_seen[0] != key:
                health_seen[:] = [key]
                out.append(_sse("health", health))
    return out, after


@stations.get("/stations/<code>/stream")
@signed_in(*VIEWERS, own_station=True)
def stream(code: str):
    station = _station(code)
    station_id, after = station.id, _after_id()
    zone = dates.warehouse_zone(station.warehouse_id)
    engine = db.engine.execution_options(**{READ_ONLY_OPTION: True})  # polls never take SQLite's writer lock
    config = current_app.config
    interval = config["CELLWMS_STREAM_POLL_SECONDS"]
    keepalive = config["CELLWMS_STREAM_KEEPALIVE_SECONDS"]
    lifetime = config["CELLWMS_STREAM_SECONDS"]
    lease = streams.take(current_user.id, config["CELLWMS_STREAMS_PER_USER"], lifetime)
    if lease is None:
        raise Problem(429, "too-many-streams",
                      _("You have too many live screens open. Close one and try again."),
                      headers={"Retry-After": str(int(keepalive) + 1)})
    # Nothing of this request's session may stay open while the stream runs.
    db.session.commit()
    write_engine = db.engine

    def events():
        nonlocal after
        jobs_seen: dict = {}
        health_seen: list = []
        started = last_sent = time.monotonic()
        yield "retry: 2000\n\n"
        # A write to a client that went away fails (the server then closes this generator and
        # the thread is free): the keep-alive comes often enough to notice it soon.
        while True:
            try:
                messages, after = poll(engine, station_id, after, jobs_seen, health_seen, zone)
            except SQLAlchemyError as error:  # the database went away: the browser reconnects later
                log.warning("station %s stream ends: %s", station_id, error)
                return
            now = time.monotonic()
            if messages:
                yield "".join(messages)
                last_sent = now
            elif now - last_sent >= keepalive:
                yield ": keep-alive\n\n"
                last_sent = now
            if now - started >= lifetime:
                return  # the browser reconnects with Last-Event-ID
            time.sleep(interval)

    response = Response(events(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    released = []

    def release():
        if not released:
            released.append(True)
            try:
                streams.give_back(write_engine, lease)
            except SQLAlchemyError as error:  # it lapses at its expiry instead
                log.warning("stream lease %s not given back: %s", lease, error)

    response.call_on_close(release)
    return response
