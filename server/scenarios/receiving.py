"""The receiving flow at a dock station or on a handheld.

Scan a delivery's number or one of its pallets' SSCC (or key `open`) to open it; then scan goods:
EAN/UPC, GTIN-14 case codes (their pack's units), GS1 strings with lot and expiry, marking codes
(each unit once). An unknown barcode is held as a question. The worker signs in by badge first.
`docs/flows/receiving.md` has the state diagram drawn from the declarations below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _
from flask_babel import lazy_ngettext

from server.extensions import db
from server.models import Delivery, DeliveryLine, DeliveryStatus, ReceiptCount, Sku, StationJob
from server.scenarios.base import Context, Scenario
from server.scenarios.machine import ANY, Answer, Flow, FlowScenario, FlowState, State, key, photo, scan
from server.services import receiving as service
from server.services.errors import DomainError
from server.services.scan import Classification, Kind

MAX_COPIES = 50
OPEN = (DeliveryStatus.expected, DeliveryStatus.receiving)


@dataclass
class ReceivingState(FlowState):
    VERSION = 1

    delivery_id: int | None = None
    quantity: int = 1  # the next scan counts this many
    damaged_next: bool = False  # the next unit is damaged
    last_count_id: int | None = None  # for undo
    last_unexpected: dict | None = None  # the last SKU refused as not on the ASN, for add_unexpected
    photo_count_id: int | None = None  # the damaged count waiting for its photo

    def may_undo(self) -> bool:
        return self.last_count_id is not None

    def may_add_unexpected(self) -> bool:
        return self.last_unexpected is not None


# Opening a delivery: counting it, or showing it when it is closed already.
OPENING = (scan("delivery", "open_scanned", "counting", "closed"),
           scan("pallet", "open_scanned", "counting", "closed"),
           key("open", _("Open"), "open_key", "counting", "closed", params=("delivery_id",)))


FLOW = Flow("receiving", title=_("Receiving"), data=ReceivingState, states=(
    State("idle", _("Open a delivery: scan its document or a pallet's SSCC."), note="no delivery open", on=(
        *OPENING,
        scan(ANY, "identify", "idle", note="say what the code is"),
        photo("photo", "idle"),
    )),
    State("counting", _("Scan the goods."), note="a delivery open, counting", on=(
        scan(Kind.sku, "count_scan", "counting"),
        scan(Kind.unknown, "unknown_code", "counting", note="SSCC: pallet; else held as a question"),
        scan(Kind.parcel, "unknown_code", "counting"),
        *OPENING,
        scan(ANY, "not_goods", "counting"),
        key("quantity", _("Quantity"), "set_quantity", "counting", params=("value",)),
        key("count", _("+1"), "count_line", "counting", params=("line_id", "quantity")),
        key("damaged", _("Damaged"), "toggle_damaged", "counting"),
        key("undo", _("Undo"), "undo", "counting", when="may_undo"),
        key("add_unexpected", _("Add unexpected"), "add_unexpected", "counting", when="may_add_unexpected"),
        key("sticker", _("Sticker"), "sticker", "counting", params=("line_id", "copies")),
        key("close", _("Close delivery"), "close", "closed"),
        key("leave", _("Leave"), "leave", "idle"),
        photo("photo", "counting"),
    )),
    State("closed", _("The delivery is closed. Scan the next delivery."), note="a closed delivery shown", on=(
        *OPENING,
        scan(Kind.sku, "goods_after_close", "closed"),
        scan(ANY, "identify", "closed"),
        key("leave", _("Leave"), "leave", "idle"),
        photo("photo", "closed"),
    )),
))


class ReceivingScenario(FlowScenario):
    flow = FLOW

    # --- the flow's view -------------------------------------------------------------------

    def settle(self, ctx: Context, state: str, data: ReceivingState):
        delivery = self._delivery(data)
        if state != "idle" and delivery is None:
            return "idle", ReceivingState()
        if state == "counting" and delivery.status not in OPEN:
            return "closed", data  # closed by another receiver meanwhile
        return state, data

    def screen(self, ctx: Context, state: str, data: ReceivingState) -> dict:
        delivery = self._delivery(data)
        return {"delivery": service.delivery_summary(delivery) if delivery is not None else None,
                "quantity": data.quantity, "damaged_next": data.damaged_next,
                "last_unexpected": data.last_unexpected, "closed": state == "closed"}

    def refuse(self, ctx: Context, state: str, data: ReceivingState, transition) -> Answer | None:
        if ctx.user is None and transition.step not in ("identify", "photo"):
            return Answer(state, _("Scan your badge first: nothing changed."), "error")
        return None

    def _delivery(self, data: ReceivingState) -> Delivery | None:
        return db.session.get(Delivery, data.delivery_id) if data.delivery_id else None

    def _title(self, delivery: Delivery | None):
        return _("Delivery %(number)s", number=delivery.number) if delivery is not None else _("Receiving")

    def _error(self, state: str, message, data: ReceivingState, **screen) -> Answer:
        return Answer(state, message, "error", title=self._title(self._delivery(data)), screen=screen)

    # --- opening ---------------------------------------------------------------------------

    def open_scanned(self, ctx: Context, data: ReceivingState, result: Classification) -> Answer:
        here = ctx.state
        if result.kind == "delivery":
            found, sscc = db.session.get(Delivery, result.entity_id), None
        else:
            found, sscc = db.session.get(Delivery, result.entity["delivery_id"]), result.entity["sscc"]
            if result.entity.get("received_at"):
                return self._error(here, _("Pallet %(sscc)s was already received: nothing changed.", sscc=sscc), data,
                                   problem="sscc-already-received")
        if ctx.warehouse_id is not None and found.warehouse_id != ctx.warehouse_id:
            return self._error(here, _("Delivery %(number)s is for another warehouse.", number=found.number), data)
        return self._open(ctx, data, found, sscc)

    def open_key(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        delivery_id = payload.get("delivery_id")
        found = db.session.get(Delivery, delivery_id) if isinstance(delivery_id, int) else None
        here = ctx.state
        if found is None or (ctx.warehouse_id is not None and found.warehouse_id != ctx.warehouse_id):
            return self._error(here, _("No such delivery here."), data)
        return self._open(ctx, data, found)

    def _open(self, ctx: Context, data: ReceivingState, delivery: Delivery, sscc: str | None = None) -> Answer:
        if delivery.status not in OPEN:  # shown, not counted into
            self._reset(data, delivery.id)
            return Answer("closed", _("Delivery %(number)s is %(status)s: nothing to count.", number=delivery.number,
                                      status=service.DELIVERY_STATUS_NAMES.get(delivery.status, delivery.status)),
                          "error", title=self._title(delivery))
        opened = service.open_delivery(delivery, ctx.user, ctx.station)
        pallet = service.receive_pallet(opened, sscc, ctx.user) if sscc else None
        if data.delivery_id != opened.id:
            self._reset(data, opened.id)
        if pallet is not None:
            message = _("Delivery %(number)s open; pallet %(sscc)s received. Scan the goods.", number=opened.number,
                        sscc=pallet.sscc)
        else:
            message = _("Delivery %(number)s open. Scan the goods.", number=opened.number)
        return Answer("counting", message, title=self._title(opened))

    def _reset(self, data: ReceivingState, delivery_id: int | None) -> None:
        data.__dict__.update(ReceivingState(delivery_id=delivery_id).__dict__)

    # --- scans -----------------------------------------------------------------------------

    def identify(self, ctx: Context, data: ReceivingState, result: Classification) -> Answer:
        """No delivery to count into: the dock says what the code is, as a station without a flow does."""
        said = Scenario.on_code(self, ctx, result)
        state = ctx.state
        return Answer(state, said.message, said.sound, title=said.title, screen=said.screen,
                      details=[self.flow.states[state].instruction])

    def goods_after_close(self, ctx: Context, data: ReceivingState, result: Classification) -> Answer:
        delivery = self._delivery(data)
        return self._error("closed", _("Delivery %(number)s is %(status)s: nothing counted.", number=delivery.number,
                                       status=service.DELIVERY_STATUS_NAMES.get(delivery.status, delivery.status)),
                           data, problem="delivery-closed")

    def not_goods(self, ctx: Context, data: ReceivingState, result: Classification) -> Answer:
        delivery = self._delivery(data)
        return self._error("counting", _("%(what)s: not goods. Scan the goods of delivery %(number)s.",
                                         what=result.message, number=delivery.number), data)

    def unknown_code(self, ctx: Context, data: ReceivingState, result: Classification) -> Answer:
        delivery = self._delivery(data)
        if result.scan is not None and result.scan.sscc:
            pallet = service.receive_pallet(delivery, result.scan.sscc, ctx.user)
            return Answer("counting", _("Pallet %(sscc)s received.", sscc=pallet.sscc), title=self._title(delivery))
        if result.kind != Kind.unknown:
            return self.not_goods(ctx, data, result)
        barcode = service.question_barcode(result.scan)
        question = service.hold_unknown(delivery, barcode, result.scan.symbology, data.quantity, user=ctx.user,
                                        station=ctx.station)
        data.quantity, data.damaged_next = 1, False
        return Answer("counting", lazy_ngettext(
            "Unknown barcode %(code)s: held as a question (%(num)s unit). Link it to a SKU or create one.",
            "Unknown barcode %(code)s: held as a question (%(num)s units). Link it to a SKU or create one.",
            question.quantity, code=barcode[:40]), "error", title=self._title(delivery),
            screen={"question_id": question.id})

    def count_scan(self, ctx: Context, data: ReceivingState, result: Classification) -> Answer:
        delivery = self._delivery(data)
        try:
            with db.session.begin_nested():
                counted = service.count_scan(delivery, result, data.quantity, damaged=data.damaged_next,
                                             user=ctx.user, station=ctx.station, event_id=ctx.event.event_id)
        except DomainError as error:
            if error.slug != "sku-not-in-delivery":
                raise
            facts = service.scan_facts(result)
            facts["expiry"] = facts["expiry"].isoformat() if facts["expiry"] else None
            facts["units"] *= data.quantity if not facts["serial"] else 1
            data.last_unexpected = facts
            return Answer("counting", error.title, "error", title=self._title(delivery),
                          screen={"problem": error.slug, "last_unexpected": facts})
        return self._counted(ctx, data, delivery, counted)

    def _counted(self, ctx: Context, data: ReceivingState, delivery: Delivery, counted: service.Counted) -> Answer:
        details = []
        data.quantity, data.damaged_next, data.last_count_id, data.last_unexpected = 1, False, counted.count.id, None
        if counted.count.damaged:
            data.photo_count_id = counted.count.id
            if ctx.station is not None:
                ctx.job("photo", {"role": "overhead", "count_id": counted.count.id})
                details.append(_("Taking a photo of the damage."))
        line = counted.line
        sku = db.session.get(Sku, line.sku_id)
        if counted.count.damaged:
            message = _("%(name)s: %(units)s damaged (%(damaged)s in all).", name=sku.name,
                        units=counted.count.quantity, damaged=line.damaged_qty)
        elif line.unexpected:
            message = _("%(name)s: %(received)s (not on the ASN).", name=sku.name, received=line.received_qty)
        elif delivery.blind:
            message = _("%(name)s: %(received)s", name=sku.name, received=line.received_qty)
        else:
            message = _("%(name)s: %(received)s of %(expected)s", name=sku.name, received=line.received_qty,
                        expected=line.expected_qty)
        return Answer("counting", message, title=self._title(delivery), details=details,
                      screen={"line_id": line.id, "count_id": counted.count.id})

    # --- keys ------------------------------------------------------------------------------

    def set_quantity(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        value = payload.get("value")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= service.MAX_UNITS_PER_COUNT:
            return self._error("counting", _("Enter a whole number of units from 1 to %(max)s.",
                                             max=service.MAX_UNITS_PER_COUNT), data)
        data.quantity = value
        return Answer("counting", lazy_ngettext("The next scan counts %(num)s unit.", "The next scan counts %(num)s "
                                                "units.", value), title=self._title(self._delivery(data)))

    def _line(self, data: ReceivingState, payload: dict) -> DeliveryLine | None:
        line_id = payload.get("line_id")
        line = db.session.get(DeliveryLine, line_id) if isinstance(line_id, int) and not isinstance(line_id, bool) \
            else None
        return line if line is not None and line.delivery_id == data.delivery_id else None

    def count_line(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        line, quantity = self._line(data, payload), payload.get("quantity")
        if line is None:
            return self._error("counting", _("No such line in this delivery."), data)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or \
                not 0 < quantity <= service.MAX_UNITS_PER_COUNT:
            return self._error("counting", _("Enter a whole number of units from 1 to %(max)s.",
                                             max=service.MAX_UNITS_PER_COUNT), data)
        delivery = self._delivery(data)
        counted = service.count(delivery, db.session.get(Sku, line.sku_id), quantity, line_id=line.id,
                                damaged=data.damaged_next, user=ctx.user, station=ctx.station,
                                event_id=ctx.event.event_id)
        return self._counted(ctx, data, delivery, counted)

    def toggle_damaged(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        data.damaged_next = not data.damaged_next
        message = _("The next unit is counted as damaged.") if data.damaged_next else \
            _("Damaged: off. Units count as good.")
        return Answer("counting", message, title=self._title(self._delivery(data)))

    def undo(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        last = db.session.get(ReceiptCount, data.last_count_id)
        if last is None or last.delivery_id != data.delivery_id:
            data.last_count_id = None
            return self._error("counting", _("Nothing to undo."), data)
        done = service.undo_count(last, ctx.user, ctx.station, ctx.event.event_id)
        data.last_count_id = None
        sku = db.session.get(Sku, done.line.sku_id)
        return Answer("counting", _("Undone: %(units)s of %(name)s. Now %(received)s.", units=-done.count.quantity,
                                    name=sku.name, received=done.line.received_qty),
                      title=self._title(self._delivery(data)), screen={"line_id": done.line.id})

    def add_unexpected(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        facts, delivery = data.last_unexpected, self._delivery(data)
        expiry = date.fromisoformat(facts["expiry"]) if facts.get("expiry") else None
        counted = service.count(delivery, db.session.get(Sku, facts["sku_id"]), facts["units"],
                                lot=facts.get("lot") or "", expiry=expiry, serial=facts.get("serial"), unexpected=True,
                                damaged=data.damaged_next, user=ctx.user, station=ctx.station,
                                event_id=ctx.event.event_id)
        return self._counted(ctx, data, delivery, counted)

    def sticker(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        line = self._line(data, payload)
        if line is None:
            return self._error("counting", _("No such line in this delivery."), data)
        copies = payload.get("copies", 1)
        if isinstance(copies, bool) or not isinstance(copies, int) or not 0 < copies <= MAX_COPIES:
            return self._error("counting", _("Copies: a whole number from 1 to %(max)s.", max=MAX_COPIES), data)
        sku = db.session.get(Sku, line.sku_id)
        sticker = service.sticker_data(sku, line)
        ctx.job("print", {"template": "sku-sticker", "data": sticker, "copies": copies})
        return Answer("counting", lazy_ngettext("Printing %(num)s sticker for %(name)s.",
                                                "Printing %(num)s stickers for %(name)s.", copies, name=sku.name),
                      title=self._title(self._delivery(data)), screen={"sticker": sticker})

    def close(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        delivery = self._delivery(data)
        discrepancies = service.close_delivery(delivery, ctx.user, ctx.station)
        if ctx.station is not None:
            ctx.job("print", {"template": "receiving-act",
                              "data": service.receiving_act_data(delivery, ctx.user.display_name)})
        self._reset(data, delivery.id)
        summary = service.delivery_summary(delivery)
        details = [f"{d['kind']}: {d['sku'] or d['note']} {d['quantity']}" for d in summary["discrepancies"]]
        if discrepancies:
            message = lazy_ngettext("Delivery %(number)s closed with %(num)s discrepancy; the act is printing.",
                                    "Delivery %(number)s closed with %(num)s discrepancies; the act is printing.",
                                    len(discrepancies), number=delivery.number)
        else:
            message = _("Delivery %(number)s closed: everything as expected.", number=delivery.number)
        return Answer("closed", message, title=self._title(delivery), details=details)

    def leave(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        delivery = self._delivery(data)
        self._reset(data, None)
        return Answer("idle", _("Left delivery %(number)s.", number=delivery.number), title=_("Receiving"))

    # --- photos ----------------------------------------------------------------------------

    def photo(self, ctx: Context, data: ReceivingState, payload: dict) -> Answer:
        """The photo of a damaged unit: the count its job names, else the one waiting for it."""
        here = ctx.state
        count_id = None
        job_id = payload.get("job_id")
        if isinstance(job_id, int) and not isinstance(job_id, bool):
            job = db.session.get(StationJob, job_id)
            if job is not None and (ctx.station is None or job.station_id == ctx.station.id):
                count_id = (job.payload or {}).get("count_id")
        if count_id is None:
            count_id = data.photo_count_id
        row = db.session.get(ReceiptCount, count_id) if isinstance(count_id, int) else None
        if row is None:
            said = Scenario.on_photo(self, ctx, payload)
            return Answer(here, said.message, said.sound, title=said.title, screen=said.screen)
        service.attach_photo(row, payload["media"])
        if data.photo_count_id == row.id:
            data.photo_count_id = None
        delivery = db.session.get(Delivery, row.delivery_id)
        return Answer(here, _("Photo of the damage saved."), title=self._title(delivery),
                      screen={"media": payload["media"], "count_id": row.id})


RECEIVING = ReceivingScenario()
