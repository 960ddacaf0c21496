"""The packing flow at a pack station.

The packer signs in by badge, scans a tote, an order number or a parcel code (reopen) to open the
order; then scans every unit (EAN, GS1, marking code). When every unit is verified (or on key
"new parcel") the parcel goes on the scale: the first stable weight within tolerance accepts it
(label and packing slip print, the clip stops); out of tolerance the packer re-checks or a
supervisor overrides (badge, then PIN and reason). A station without a scale accepts the parcel
with its last unit. `docs/packing.md` explains it; `docs/flows/packing.md` has the diagram.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _
from flask_babel import lazy_ngettext

from server.extensions import db
from server.models import Order, User
from server.models.shipping import PackingSession, PackingStatus, Parcel
from server.scenarios.base import Context, Scenario
from server.scenarios.machine import ANY, Answer, Flow, FlowScenario, FlowState, On, State, key, scan
from server.services import packing as service
from server.services.errors import DomainError
from server.services.scan import Classification, Kind


@dataclass
class PackingState(FlowState):
    VERSION = 1

    session_id: int | None = None
    supervisor_id: int | None = None  # the supervisor whose badge was scanned at a mismatch

    def may_override(self) -> bool:
        return self.supervisor_id is not None


def weight(step: str, *to: str, note: str = "") -> On:
    return On("weight", "weight", step, tuple(dict.fromkeys(to)), note=note)


OPENING = (scan(Kind.tote, "open_order", "verify", note="open the order"),
           scan(Kind.order, "open_order", "verify"),
           scan(Kind.parcel, "open_order", "verify", note="reopen"))
VERIFY_KEYS = (
    key("new_parcel", _("New parcel"), "new_parcel", "weighing", "verify", "done",
        note="the parcel's contents are done"),
    key("missing", _("Missing"), "missing", "held", params=("line_id", "quantity")),
)
LEAVE = key("leave", _("Leave"), "leave", "idle", note="the session waits: its tote, order or parcel scan reopens it")

FLOW = Flow("packing", title=_("Packing"), data=PackingState, states=(
    State("idle", _("Scan a tote, an order number or a parcel code."), note="no order open", on=(
        *OPENING,
        scan(ANY, "identify", "idle"),
    )),
    State("verify", _("Scan every unit of the order."), note="verifying units into the parcel", on=(
        scan(Kind.sku, "verify_unit", "verify", "weighing", "done", note="a unit"),
        scan(ANY, "not_an_item", "verify"),
        *VERIFY_KEYS,
        LEAVE,
    )),
    State("weighing", _("Put the parcel on the scale."), note="waiting for a stable weight", on=(
        weight("weighed", "verify", "done", "mismatch"),
        key("recheck", _("Re-check"), "recheck", "verify"),
        scan(ANY, "weigh_first", "weighing"),
        LEAVE,
    )),
    State("mismatch", _("The weight is off: re-check the contents and weigh again, or call a supervisor."),
          note="weight out of tolerance", on=(
        weight("weighed", "verify", "done", "mismatch", note="weighed again"),
        key("recheck", _("Re-check"), "recheck", "verify"),
        scan(Kind.badge, "supervisor_badge", "mismatch"),
        key("override", _("Override"), "override", "verify", "done", params=("pin", "reason"), when="may_override"),
        scan(ANY, "weigh_first", "mismatch"),
        LEAVE,
    )),
    State("held", _("A unit is missing: the order went back to picking. Scan the next tote."),
          note="the tote waits", on=(
        *OPENING,
        scan(ANY, "identify", "held"),
    )),
    State("done", _("The order is packed. Scan the next tote."), note="the last parcel labelled", on=(
        *OPENING,
        scan(ANY, "identify", "done"),
    )),
))

TEXT_FIELDS = {"pin": 32, "reason": service.MAX_REASON}  # key fields that are text, with their bound

STATE_OF = {PackingStatus.open: "verify", PackingStatus.weighing: "weighing", PackingStatus.mismatch: "mismatch",
            PackingStatus.held: "held"}


class PackingScenario(FlowScenario):
    flow = FLOW

    # --- where the flow is -----------------------------------------------------------------

    def _session(self, data: PackingState) -> PackingSession | None:
        return db.session.get(PackingSession, data.session_id) if data.session_id else None

    def settle(self, ctx: Context, state: str, data: PackingState):
        session = self._session(data)
        if session is None:
            return ("idle" if state not in ("held", "done") else state), PackingState()
        if session.status == PackingStatus.closed:
            return "done", data
        if ctx.station is not None and session.station_id != ctx.station.id:  # taken over at another station
            return "idle", PackingState()
        return STATE_OF.get(session.status, state), data

    def screen(self, ctx: Context, state: str, data: PackingState) -> dict:
        session = self._session(data)
        if session is None:
            return {"packing": None, "supervisor": data.supervisor_id is not None}
        view = service.session_view(session)
        return {"packing": view, "supervisor": data.supervisor_id is not None}

    def refuse(self, ctx: Context, state: str, data: PackingState, transition) -> Answer | None:
        if ctx.user is None and transition.step not in ("identify", "supervisor_badge"):
            return Answer(state, _("Scan your badge first: nothing changed."), "error")
        return None

    def on_badge(self, ctx: Context, result: Classification):
        state, _data = self.load(ctx)
        if state == "mismatch" and ctx.user is not None and result.entity_id != ctx.user.id:
            return self.run(ctx, "scan", Kind.badge, result)
        return super().on_badge(ctx, result)

    def on_weight(self, ctx: Context, payload: dict):
        state, _data = self.load(ctx)
        if state in ("weighing", "mismatch") and payload.get("stable", True) is True:
            return self.run(ctx, "weight", "weight", payload)
        return super().on_weight(ctx, payload)

    # A packing job's still and clip arrive while the packer works on: kept with the parcel, the
    # packer's prompt stays (only a clip cut short by a lost camera says so). Other media: as anywhere.
    def on_photo(self, ctx: Context, payload: dict):
        kept = ctx.station is not None and service.attach_media(ctx.station, "photo", payload, ctx.event.event_id)
        return None if kept else super().on_photo(ctx, payload)

    def on_clip(self, ctx: Context, payload: dict):
        kept = ctx.station is not None and service.attach_media(ctx.station, "clip", payload, ctx.event.event_id)
        return None if kept and not payload.get("partial") else super().on_clip(ctx, payload)

    # --- helpers ---------------------------------------------------------------------------

    def _has(self, ctx: Context, kind: str) -> bool:
        """Whether the station has a device of `kind` (by its last heartbeat; none yet: the pack
        profile's devices are assumed)."""
        devices = ((ctx.station.health or {}).get("devices") if ctx.station is not None else None) or None
        if devices is None:
            return True
        return any(isinstance(d, dict) and d.get("kind") == kind for d in devices.values())

    def _device(self, ctx: Context, name: str) -> str | None:
        devices = (ctx.station.health or {}).get("devices") if ctx.station is not None else None
        return name if not devices or name in devices else None

    def _title(self, session: PackingSession | None):
        if session is None:
            return _("Packing")
        return _("Order %(number)s", number=db.session.get(Order, session.order_id).number)

    def _record(self, ctx: Context, session: PackingSession, seq: int, job: str) -> None:
        if ctx.station is not None:
            ctx.job(job, {"role": "packing", "session": f"packing-{session.id}-{seq}", "session_id": session.id,
                          "parcel_seq": seq})

    def _progress(self, session: PackingSession):
        order = db.session.get(Order, session.order_id)
        left = service.units_left(order)
        return lazy_ngettext("%(num)s unit left to scan.", "%(num)s units left to scan.", left)

    # --- steps -----------------------------------------------------------------------------

    def identify(self, ctx: Context, data: PackingState, result: Classification) -> Answer:
        said = Scenario.on_code(self, ctx, result)
        state = ctx.state
        return Answer(state, said.message, said.sound, title=said.title, screen=said.screen,
                      details=[self.flow.states[state].instruction])

    def open_order(self, ctx: Context, data: PackingState, result: Classification) -> Answer:
        if ctx.station is None:
            raise DomainError(409, "no-station", _("Packing works at a pack station."))
        order, tote = service.order_to_pack(result)
        session = service.open_session(ctx.station, ctx.user, order, tote)
        data.session_id, data.supervisor_id = session.id, None
        self._record(ctx, session, service.next_parcel_seq(session), "record_start")
        view = service.session_view(session)
        box = view["box"]
        details = [_("Box: %(box)s.", box=box["name"] or box["code"]) if box else _("No box type fits: choose one.")]
        return Answer("verify", _("Order %(number)s: %(left)s", number=order.number, left=self._progress(session)),
                      title=self._title(session), details=details)

    def verify_unit(self, ctx: Context, data: PackingState, result: Classification) -> Answer:
        session = self._session(data)
        try:
            with db.session.begin_nested():  # a refusal writes nothing but its PackingError
                item = service.verify(session, result, ctx.user, ctx.event.event_id)
        except service.PackingRefusal as refusal:
            service.record_error(session, refusal.kind, user=ctx.user, code=refusal.code, **refusal.facts)
            return Answer("verify", refusal.title, "error", title=self._title(session),
                          screen={"problem": refusal.slug})
        order = db.session.get(Order, session.order_id)
        sku_name = db.session.get(service.Sku, item.sku_id).name
        said = _("%(sku)s: verified.", sku=sku_name)
        if service.units_left(order) > 0:
            return Answer("verify", said, title=self._title(session), details=[self._progress(session)])
        return self._contents_done(ctx, data, session, said)

    def _contents_done(self, ctx: Context, data: PackingState, session: PackingSession, said) -> Answer:
        parcel = service.close_contents(session)
        if ctx.station is not None:  # the still of the open box, before it is closed
            ctx.job("photo", {"role": "overhead", "session_id": session.id, "parcel_id": parcel.id,
                              "parcel_seq": parcel.seq})
        if self._has(ctx, "scale"):
            return Answer("weighing", _("%(said)s Put parcel %(seq)s on the scale.", said=said, seq=parcel.seq),
                          title=self._title(session))
        return self._accept(ctx, data, session, parcel, said)

    def _accept(self, ctx: Context, data: PackingState, session: PackingSession, parcel: Parcel, said) -> Answer:
        done = service.accept(session, parcel, ctx.user)
        if ctx.station is not None:
            ctx.job("print", {"template": "shipping-label", "data": done["label"]},
                    device=self._device(ctx, "label_printer"))
            ctx.job("print", {"template": "packing-slip", "data": done["slip"]},
                    device=self._device(ctx, "receipt_printer"))
            self._record(ctx, session, parcel.seq, "record_stop")
        data.supervisor_id = None
        packed = _("Parcel %(n)s of %(m)s labelled: %(tracking)s.", n=parcel.seq, m=done["parcels"],
                   tracking=parcel.tracking_number)
        if done["finished"]:
            return Answer("done", _("%(said)s %(packed)s The order is packed.", said=said, packed=packed),
                          title=self._title(session), screen={"label": done["label"]})
        self._record(ctx, session, parcel.seq + 1, "record_start")
        return Answer("verify", _("%(said)s %(packed)s Scan the units of the next parcel.", said=said, packed=packed),
                      title=self._title(session), details=[self._progress(session)], screen={"label": done["label"]})

    def not_an_item(self, ctx: Context, data: PackingState, result: Classification) -> Answer:
        session = self._session(data)
        code = result.scan.text[:200] if result.scan is not None else ""
        if result.kind in (Kind.tote, Kind.order, Kind.parcel, Kind.cell):
            return Answer("verify", _("%(what)s: finish this order first.", what=result.message), "error",
                          title=self._title(session), screen={"scan": result.answer()})
        service.record_error(session, service.PackingErrorKind.unknown_code, user=ctx.user, code=code)
        return Answer("verify", _("Unknown code: not an item of this order."), "error", title=self._title(session),
                      screen={"scan": result.answer(), "problem": "unknown-code"})

    def new_parcel(self, ctx: Context, data: PackingState, payload: dict) -> Answer:
        session = self._session(data)
        return self._contents_done(ctx, data, session, _("Parcel closed for weighing."))

    def missing(self, ctx: Context, data: PackingState, payload: dict) -> Answer:
        session = self._session(data)
        outcome = service.report_missing(session, payload.get("line_id"), payload.get("quantity"), ctx.user)
        if outcome["reserved_again"]:
            message = lazy_ngettext(
                "Missing reported: %(num)s unit reserved again, the order goes back to picking. Leave the tote at "
                "the pack area.",
                "Missing reported: %(num)s units reserved again, the order goes back to picking. Leave the tote at "
                "the pack area.", outcome["reserved_again"])
        else:
            message = _("Missing reported: no stock to reserve, the order is flagged short. Leave the tote at the "
                        "pack area.")
        self._record(ctx, session, service.next_parcel_seq(session), "record_stop")
        return Answer("held", message, title=self._title(session))

    def leave(self, ctx: Context, data: PackingState, payload: dict) -> Answer:
        session = self._session(data)
        self._record(ctx, session, service.next_parcel_seq(session), "record_stop")
        number = db.session.get(Order, session.order_id).number
        data.session_id, data.supervisor_id = None, None
        return Answer("idle", _("Order %(number)s waits: scan its tote, order or parcel to go on.", number=number))

    def weighed(self, ctx: Context, data: PackingState, payload: dict) -> Answer:
        session = self._session(data)
        parcel, within = service.weigh(session, service.grams(payload), ctx.user)
        scale = {k: payload[k] for k in ("value", "unit") if k in payload}  # the screen's live weight
        if within:
            answer = self._accept(ctx, data, session, parcel, _("Weight %(weight)s g accepted.", weight=parcel.weight_g))
            answer.screen = {**answer.screen, "weight": scale}
            return answer
        return Answer("mismatch", _("Weight %(weight)s g, expected %(expected)s g: re-check the contents, or a "
                                    "supervisor overrides.", weight=parcel.weight_g, expected=parcel.expected_weight_g),
                      "error", title=self._title(session),
                      screen={"weight_g": parcel.weight_g, "expected_g": parcel.expected_weight_g, "weight": scale})

    def recheck(self, ctx: Context, data: PackingState, payload: dict) -> Answer:
        session = self._session(data)
        if session.status == PackingStatus.weighing:
            session = service.lock_session(session.id)
            session.status = PackingStatus.open
        else:
            service.recheck(session)
        data.supervisor_id = None
        return Answer("verify", _("Re-check the parcel's contents, then press \"New parcel\" to weigh it."),
                      title=self._title(session))

    def weigh_first(self, ctx: Context, data: PackingState, result: Classification) -> Answer:
        return Answer(ctx.state, self.flow.states[ctx.state].instruction, "error",
                      title=self._title(self._session(data)), screen={"scan": result.answer()})

    def supervisor_badge(self, ctx: Context, data: PackingState, result: Classification) -> Answer:
        boss = db.session.get(User, result.entity_id)
        if boss is None or not boss.active or not boss.has_any_role({service.Role.supervisor}):
            return Answer("mismatch", _("Only a supervisor's badge overrides a weight."), "error",
                          title=self._title(self._session(data)))
        data.supervisor_id = boss.id
        return Answer("mismatch", _("%(name)s: enter your PIN and the reason to override.", name=boss.display_name),
                      title=self._title(self._session(data)))

    def override(self, ctx: Context, data: PackingState, payload: dict) -> Answer:
        session = self._session(data)
        boss = service.supervisor_for(data.supervisor_id, payload.get("pin"))
        parcel = service.override(session, boss, payload.get("reason"))
        return self._accept(ctx, data, session, parcel, _("Weight accepted by %(name)s.", name=boss.display_name))


PACKING = PackingScenario()
