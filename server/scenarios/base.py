"""What every scenario shares: the input, the prompt it answers, the context it runs in, and
the `identify` scenario (badge sign-in and sign-out, and what each scanned code is) that every
flow builds on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _

from server.extensions import db
from server.models import HandheldSession, Station, StationSession, User
from server.models.base import utcnow
from server.services import flow_states
from server.services import stations as station_service
from server.services.errors import DomainError
from server.services.scan import Classification, Kind, classify, record_scan, scan_row

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
    page_user: User | None = None  # who typed the input on a station's page, if a page did
    state: str = ""  # the flow's state when the input came (set by the flow's runner)

    @property
    def handheld(self) -> bool:
        return isinstance(self.session, HandheldSession)

    @property
    def session_key(self) -> str:
        """Whose flow states these are: the station's, or the worker's handheld."""
        if self.handheld:
            return flow_states.handheld_key(self.session.user_id)
        return flow_states.station_key(self.session.station_id)

    @property
    def warehouse_id(self) -> int | None:
        return self.station.warehouse_id if self.station is not None else None

    def job(self, kind: str, payload: dict | None = None, device: str | None = None) -> int:
        if self.station is None:
            raise DomainError(409, "no-station", _("This handheld works at no station: choose one for its printer and "
                                                   "camera."))
        job = station_service.create_job(self.station, kind, payload or {}, device=device,
                                         event_id=self.event.event_id, user=self.user)
        self.jobs.append(job.id)
        return job.id

    def sign_in(self, user: User) -> None:
        """A station's new worker: the station's flows start over."""
        self.session.user_id, self.user = user.id, user
        self.session.started_at = utcnow()
        flow_states.clear(self.session_key)

    def sign_out(self) -> None:
        self.session.user_id, self.user = None, None
        flow_states.clear(self.session_key)


class Scenario:
    """Base: badge sign-in/out, and a plain answer for every kind of input. Flows override the
    `on_*` methods they care about; `on_code` gets every scan that is not a badge."""

    name = "identify"

    def handle(self, ctx: Context, event: StationInput) -> Prompt | None:
        if event.kind == "button" and event.payload["key"] != "sign_in":
            self.check_page_user(ctx)  # scans are checked once classified: a badge is the station's
        return getattr(self, f"on_{event.kind}")(ctx, event.payload)

    def check_page_user(self, ctx: Context) -> None:
        """Who works at a station is decided by badge at the station only: a page user's input at
        a station screen is refused (DomainError: stored as rejected, nothing changes) unless that
        user is the station's signed-in worker; with nobody signed in, the page user may sign in
        there explicitly (key `sign_in`). A badge scanned into the page is the station's badge."""
        user, worker = ctx.page_user, ctx.user
        if user is None or ctx.handheld or (worker is not None and worker.id == user.id):
            return
        if worker is None:
            raise DomainError(409, "station-nobody-signed-in",
                              _("Nobody works at this station: press \"Sign in here\" or scan a badge first. "
                                "Nothing changed."))
        raise DomainError(409, "station-other-worker",
                          _("%(name)s works at this station: nothing changed. They sign out (badge) before you "
                            "sign in here.", name=worker.display_name))

    def on_scan(self, ctx: Context, payload: dict) -> Prompt | None:
        station, event = ctx.station, ctx.event
        max_bytes = current_app.config["CELLWMS_SCAN_MAX_BYTES"]
        result = ctx.classified or classify(payload["raw"], ctx.warehouse_id,
                                            symbology=payload.get("symbology"), max_bytes=max_bytes)
        if result.kind != Kind.badge:
            self.check_page_user(ctx)
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
            return Prompt(_("The camera was lost: the video so far is kept, cut short; recording goes on when the "
                            "camera is back."), "error", title=_("Camera"))
        return Prompt(_("Video saved."), "none", title=_("Camera"))

    def on_device_status(self, ctx: Context, payload: dict) -> Prompt | None:
        if payload["state"] == "up":
            return None  # the health panel shows it; the worker's prompt stays
        name = ctx.event.device or payload.get("device_kind", "")
        name = station_service.DEVICE_NAMES.get(name, name)
        detail = station_service.device_problem_text(payload.get("detail") or "") or payload["state"]
        return Prompt(_("%(device)s: %(detail)s", device=name, detail=detail),
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
        if payload["key"] == "sign_in" and ctx.page_user is not None and not ctx.handheld:
            if ctx.user is not None and ctx.user.id != ctx.page_user.id:
                self.check_page_user(ctx)  # someone else works here: refused
            if ctx.user is None:
                ctx.sign_in(ctx.page_user)
            return Prompt(_("Hello, %(name)s", name=ctx.user.display_name), "ok", title=_("Badge"))
        if payload["key"] == "sign_out" and ctx.user is not None:
            name = ctx.user.display_name
            ctx.sign_out()
            return Prompt(_("Signed out: %(name)s", name=name), "ok", title=_("Badge"))
        return Prompt(_("This key does nothing here."), "error")


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
