"""The receiving scenario at a dock station or on a handheld.

Scan a delivery's number or one of its pallets' SSCC (or key {key: "open", delivery_id}) to open
it; then scan goods: EAN/UPC, GTIN-14 case codes (their pack's units), GS1 strings with lot and
expiry, marking codes (each unit once). An unknown barcode is held as a question. The worker signs
in by badge first.

State (ctx.session.state): delivery_id, quantity (the next scan counts this many), damaged_next
(the next unit is damaged), last_count_id (for undo), last_unexpected (the last SKU refused as
not on the ASN, for add_unexpected), photo_count_id (the damaged count waiting for its photo).

Keys: open {delivery_id}, quantity {value}, count {line_id, quantity}, damaged, undo,
add_unexpected, sticker {line_id, copies}, close, leave, sign_out.
"""

from datetime import date

from server.extensions import db
from server.models import Delivery, DeliveryLine, ReceiptCount, Sku, StationJob
from server.problems import Problem
from server.scenarios import Context, Prompt, Scenario, _, register
from server.services import receiving as service
from server.services.scan import Classification, Kind

MAX_COPIES = 50


class ReceivingScenario(Scenario):
    name = "receiving"

    # --- helpers --------------------------------------------------------------------------

    def _state(self, ctx: Context) -> dict:
        return dict(ctx.session.state or {})

    def _save(self, ctx: Context, state: dict) -> None:
        ctx.session.state = state  # a new dict: the JSON column sees the change
        ctx.session.scenario = self.name

    def _delivery(self, ctx: Context) -> Delivery | None:
        delivery_id = (ctx.session.state or {}).get("delivery_id")
        return db.session.get(Delivery, delivery_id) if delivery_id else None

    def _screen(self, ctx: Context, delivery: Delivery | None, **extra) -> dict:
        state = ctx.session.state or {}
        screen = {"delivery": service.delivery_summary(delivery) if delivery is not None else None,
                  "quantity": state.get("quantity", 1), "damaged_next": bool(state.get("damaged_next")),
                  "last_unexpected": state.get("last_unexpected")}
        screen.update(extra)
        return screen

    def _title(self, delivery: Delivery | None):
        return _("Delivery %(number)s", number=delivery.number) if delivery is not None else _("Receiving")

    def _error(self, ctx: Context, message, delivery: Delivery | None = None, **extra) -> Prompt:
        return Prompt(message, "error", title=self._title(delivery), screen=self._screen(ctx, delivery, **extra))

    def _refused(self, ctx: Context, problem: Problem, delivery: Delivery | None) -> Prompt:
        return self._error(ctx, self._words(problem, delivery), delivery, problem=problem.slug)

    def _words(self, problem: Problem, delivery: Delivery | None):
        number = delivery.number if delivery is not None else ""
        extra = problem.extra
        if problem.slug == "sku-not-in-delivery":
            return _("%(sku)s is not on delivery %(number)s: nothing counted. Press \"Add as unexpected\" to count "
                     "it anyway.", sku=extra.get("sku_code", ""), number=number)
        if problem.slug == "serial-already-received":
            return _("This marking code was already received: nothing counted.")
        if problem.slug == "sscc-already-received":
            return _("Pallet %(sscc)s was already received: nothing changed.", sscc=extra.get("sscc", ""))
        if problem.slug in ("delivery-closed", "delivery-not-open"):
            status = extra.get("status_now", "")
            return _("Delivery %(number)s is %(status)s: nothing changed.", number=number,
                     status=service.DELIVERY_STATUS_NAMES.get(status, status))
        if problem.slug == "lot-required":
            return _("This SKU is tracked by lot: scan the code with the lot. Nothing counted.")
        if problem.slug == "expiry-required":
            return _("This SKU is tracked by expiry: scan the code with the expiry date. Nothing counted.")
        if problem.slug == "no-receiving-cell":
            return _("The warehouse has no receiving cell: ask the supervisor.")
        if problem.slug == "no-station":
            return _("This handheld works at no station: choose one for its printer and camera.")
        return problem.title

    def _try(self, ctx: Context, delivery: Delivery | None, action):
        """Run `action` in a savepoint: a refusal changes nothing and answers with an error prompt."""
        try:
            with db.session.begin_nested():
                return action()
        except Problem as problem:
            return self._refused(ctx, problem, delivery)

    def _signed_in(self, ctx: Context) -> Prompt | None:
        if ctx.user is None:
            return self._error(ctx, _("Scan your badge first: nothing changed."), None)
        return None

    def _counted_prompt(self, ctx: Context, delivery: Delivery, counted: service.Counted, note=None) -> Prompt:
        line = counted.line
        sku = db.session.get(Sku, line.sku_id)
        if counted.count.damaged:
            message = _("%(name)s: %(units)s damaged (%(damaged)s in all).", name=sku.name,
                        units=counted.count.quantity, damaged=line.damaged_qty)
        elif line.unexpected or delivery.blind:
            message = _("%(name)s: %(received)s (not on the ASN).", name=sku.name, received=line.received_qty) \
                if line.unexpected else _("%(name)s: %(received)s", name=sku.name, received=line.received_qty)
        else:
            message = _("%(name)s: %(received)s of %(expected)s", name=sku.name, received=line.received_qty,
                        expected=line.expected_qty)
        details = [note] if note else []
        return Prompt(message, "ok", title=self._title(delivery), details=details,
                      screen=self._screen(ctx, delivery, line_id=line.id, count_id=counted.count.id))

    # --- opening --------------------------------------------------------------------------

    def _open(self, ctx: Context, delivery: Delivery, sscc: str | None = None) -> Prompt:
        def action():
            opened = service.open_delivery(delivery, ctx.user, ctx.station)
            pallet = service.receive_pallet(opened, sscc, ctx.user) if sscc else None
            return opened, pallet

        done = self._try(ctx, delivery, action)
        if isinstance(done, Prompt):
            return done
        opened, pallet = done
        state = self._state(ctx)
        if state.get("delivery_id") != opened.id:
            state = {"delivery_id": opened.id, "quantity": 1}
        self._save(ctx, state)
        if pallet is not None:
            message = _("Delivery %(number)s open; pallet %(sscc)s received. Scan the goods.", number=opened.number,
                        sscc=pallet.sscc)
        else:
            message = _("Delivery %(number)s open. Scan the goods.", number=opened.number)
        return Prompt(message, "ok", title=self._title(opened), screen=self._screen(ctx, opened))

    # --- scans ----------------------------------------------------------------------------

    def on_code(self, ctx: Context, result: Classification) -> Prompt:
        delivery = self._delivery(ctx)
        if delivery is None and result.kind not in ("delivery", "pallet"):
            # No delivery open: the dock says what the code is, as a station without a flow does.
            prompt = super().on_code(ctx, result)
            prompt.scenario = "identify"
            prompt.details.append(_("Open a delivery: scan its document or a pallet's SSCC."))
            return prompt
        if (refusal := self._signed_in(ctx)) is not None:
            return refusal
        if result.kind == "delivery":
            found = db.session.get(Delivery, result.entity_id)
            if ctx.warehouse_id is not None and found.warehouse_id != ctx.warehouse_id:
                return self._error(ctx, _("Delivery %(number)s is for another warehouse.", number=found.number),
                                   delivery)
            return self._open(ctx, found)
        if result.kind == "pallet":
            found = db.session.get(Delivery, result.entity["delivery_id"])
            if ctx.warehouse_id is not None and found.warehouse_id != ctx.warehouse_id:
                return self._error(ctx, _("Delivery %(number)s is for another warehouse.", number=found.number),
                                   delivery)
            if result.entity.get("received_at"):
                return self._error(ctx, _("Pallet %(sscc)s was already received: nothing changed.",
                                          sscc=result.entity["sscc"]), delivery, problem="sscc-already-received")
            return self._open(ctx, found, result.entity["sscc"])
        if result.kind == Kind.sku:
            return self._count_scan(ctx, delivery, result)
        if result.kind in (Kind.unknown, Kind.parcel) and result.scan is not None and result.scan.sscc:
            return self._pallet(ctx, delivery, result.scan.sscc)
        if result.kind == Kind.unknown:
            return self._hold(ctx, delivery, result)
        return self._error(ctx, _("%(what)s: not goods. Scan the goods of delivery %(number)s.",
                                  what=result.message, number=delivery.number), delivery)

    def _pallet(self, ctx: Context, delivery: Delivery, sscc: str) -> Prompt:
        done = self._try(ctx, delivery, lambda: service.receive_pallet(delivery, sscc, ctx.user))
        if isinstance(done, Prompt):
            return done
        return Prompt(_("Pallet %(sscc)s received.", sscc=done.sscc), "ok", title=self._title(delivery),
                      screen=self._screen(ctx, delivery))

    def _count_scan(self, ctx: Context, delivery: Delivery, result: Classification) -> Prompt:
        state = self._state(ctx)
        quantity = int(state.get("quantity") or 1)
        damaged = bool(state.get("damaged_next"))
        done = self._try(ctx, delivery, lambda: service.count_scan(
            delivery, result, quantity, damaged=damaged, user=ctx.user, station=ctx.station,
            event_id=ctx.event.event_id))
        if isinstance(done, Prompt):
            if done.screen.get("problem") == "sku-not-in-delivery":
                facts = service.scan_facts(result)
                facts["expiry"] = facts["expiry"].isoformat() if facts["expiry"] else None
                facts["units"] *= quantity if not facts["serial"] else 1
                state["last_unexpected"] = facts
                self._save(ctx, state)
                done.screen = self._screen(ctx, delivery, problem="sku-not-in-delivery")
            return done
        return self._after_count(ctx, delivery, done, state)

    def _after_count(self, ctx: Context, delivery: Delivery, counted: service.Counted, state: dict) -> Prompt:
        note = None
        state.update(quantity=1, damaged_next=False, last_count_id=counted.count.id)
        state.pop("last_unexpected", None)
        if counted.count.damaged:
            state["photo_count_id"] = counted.count.id
            if ctx.station is not None:
                ctx.job("photo", {"role": "overhead", "count_id": counted.count.id})
                note = _("Taking a photo of the damage.")
        self._save(ctx, state)
        return self._counted_prompt(ctx, delivery, counted, note)

    def _hold(self, ctx: Context, delivery: Delivery, result: Classification) -> Prompt:
        state = self._state(ctx)
        quantity = int(state.get("quantity") or 1)
        barcode = service.question_barcode(result.scan)
        done = self._try(ctx, delivery, lambda: service.hold_unknown(
            delivery, barcode, result.scan.symbology, quantity, user=ctx.user, station=ctx.station))
        if isinstance(done, Prompt):
            return done
        state.update(quantity=1, damaged_next=False)
        self._save(ctx, state)
        return self._error(ctx, _("Unknown barcode %(code)s: held as a question (%(units)s units). Link it to a SKU "
                                  "or create one.", code=barcode[:40], units=done.quantity), delivery,
                           question_id=done.id)

    # --- keys -----------------------------------------------------------------------------

    def on_button(self, ctx: Context, payload: dict) -> Prompt | None:
        key = payload.get("key")
        if key == "sign_out":
            return super().on_button(ctx, payload)
        handler = getattr(self, f"_key_{key}", None) if isinstance(key, str) and key.isidentifier() else None
        if handler is None:
            return super().on_button(ctx, payload)
        if (refusal := self._signed_in(ctx)) is not None:
            return refusal
        if key == "open":
            return handler(ctx, payload)
        delivery = self._delivery(ctx)
        if delivery is None:
            return self._error(ctx, _("Open a delivery first: scan its document or a pallet's SSCC."), None)
        return handler(ctx, payload, delivery)

    def _key_open(self, ctx: Context, payload: dict) -> Prompt:
        delivery_id = payload.get("delivery_id")
        delivery = db.session.get(Delivery, delivery_id) if isinstance(delivery_id, int) else None
        if delivery is None or (ctx.warehouse_id is not None and delivery.warehouse_id != ctx.warehouse_id):
            return self._error(ctx, _("No such delivery here."), self._delivery(ctx))
        return self._open(ctx, delivery)

    def _key_quantity(self, ctx: Context, payload: dict, delivery: Delivery) -> Prompt:
        value = payload.get("value")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= service.MAX_UNITS_PER_COUNT:
            return self._error(ctx, _("Enter a whole number of units from 1 to %(max)s.",
                                      max=service.MAX_UNITS_PER_COUNT), delivery)
        state = self._state(ctx)
        state["quantity"] = value
        self._save(ctx, state)
        return Prompt(_("The next scan counts %(n)s.", n=value), "ok", title=self._title(delivery),
                      screen=self._screen(ctx, delivery))

    def _key_count(self, ctx: Context, payload: dict, delivery: Delivery) -> Prompt:
        line = db.session.get(DeliveryLine, payload.get("line_id")) if isinstance(payload.get("line_id"), int) else None
        quantity = payload.get("quantity")
        if line is None or line.delivery_id != delivery.id:
            return self._error(ctx, _("No such line in this delivery."), delivery)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or \
                not 0 < quantity <= service.MAX_UNITS_PER_COUNT:
            return self._error(ctx, _("Enter a whole number of units from 1 to %(max)s.",
                                      max=service.MAX_UNITS_PER_COUNT), delivery)
        state = self._state(ctx)
        damaged = bool(state.get("damaged_next"))
        sku = db.session.get(Sku, line.sku_id)
        done = self._try(ctx, delivery, lambda: service.count(
            delivery, sku, quantity, line_id=line.id, damaged=damaged, user=ctx.user, station=ctx.station,
            event_id=ctx.event.event_id))
        if isinstance(done, Prompt):
            return done
        return self._after_count(ctx, delivery, done, state)

    def _key_damaged(self, ctx: Context, payload: dict, delivery: Delivery) -> Prompt:
        state = self._state(ctx)
        state["damaged_next"] = not state.get("damaged_next")
        self._save(ctx, state)
        message = _("The next unit is counted as damaged.") if state["damaged_next"] else \
            _("Damaged: off. Units count as good.")
        return Prompt(message, "ok", title=self._title(delivery), screen=self._screen(ctx, delivery))

    def _key_undo(self, ctx: Context, payload: dict, delivery: Delivery) -> Prompt:
        state = self._state(ctx)
        last = db.session.get(ReceiptCount, state.get("last_count_id") or 0)
        if last is None or last.delivery_id != delivery.id:
            return self._error(ctx, _("Nothing to undo."), delivery)
        done = self._try(ctx, delivery, lambda: service.undo_count(last, ctx.user, ctx.station, ctx.event.event_id))
        if isinstance(done, Prompt):
            return done
        state.pop("last_count_id", None)
        self._save(ctx, state)
        sku = db.session.get(Sku, done.line.sku_id)
        return Prompt(_("Undone: %(units)s of %(name)s. Now %(received)s.", units=-done.count.quantity,
                        name=sku.name, received=done.line.received_qty), "ok", title=self._title(delivery),
                      screen=self._screen(ctx, delivery, line_id=done.line.id))

    def _key_add_unexpected(self, ctx: Context, payload: dict, delivery: Delivery) -> Prompt:
        state = self._state(ctx)
        facts = state.get("last_unexpected")
        if not facts:
            return self._error(ctx, _("No refused SKU to add."), delivery)
        sku = db.session.get(Sku, facts["sku_id"])
        expiry = date.fromisoformat(facts["expiry"]) if facts.get("expiry") else None
        damaged = bool(state.get("damaged_next"))
        done = self._try(ctx, delivery, lambda: service.count(
            delivery, sku, facts["units"], lot=facts.get("lot") or "", expiry=expiry, serial=facts.get("serial"),
            unexpected=True, damaged=damaged, user=ctx.user, station=ctx.station, event_id=ctx.event.event_id))
        if isinstance(done, Prompt):
            return done
        return self._after_count(ctx, delivery, done, state)

    def _key_sticker(self, ctx: Context, payload: dict, delivery: Delivery) -> Prompt:
        line = db.session.get(DeliveryLine, payload.get("line_id")) if isinstance(payload.get("line_id"), int) else None
        if line is None or line.delivery_id != delivery.id:
            return self._error(ctx, _("No such line in this delivery."), delivery)
        copies = payload.get("copies", 1)
        if isinstance(copies, bool) or not isinstance(copies, int) or not 0 < copies <= MAX_COPIES:
            return self._error(ctx, _("Copies: a whole number from 1 to %(max)s.", max=MAX_COPIES), delivery)
        sku = db.session.get(Sku, line.sku_id)

        def action():
            data = service.sticker_data(sku, line)
            ctx.job("print", {"template": "sku-sticker", "data": data, "copies": copies})
            return data

        done = self._try(ctx, delivery, action)
        if isinstance(done, Prompt):
            return done
        return Prompt(_("Printing %(copies)s sticker(s) for %(name)s.", copies=copies, name=sku.name), "ok",
                      title=self._title(delivery), screen=self._screen(ctx, delivery, sticker=done))

    def _key_close(self, ctx: Context, payload: dict, delivery: Delivery) -> Prompt:
        def action():
            found = service.close_delivery(delivery, ctx.user, ctx.station)
            if ctx.station is not None:
                ctx.job("print", {"template": "receiving-act",
                                  "data": service.receiving_act_data(delivery, ctx.user.display_name)})
            return found

        done = self._try(ctx, delivery, action)
        if isinstance(done, Prompt):
            return done
        self._save(ctx, {})
        summary = service.delivery_summary(delivery)
        details = [f"{d['kind']}: {d['sku'] or d['note']} {d['quantity']}" for d in summary["discrepancies"]]
        if done:
            message = _("Delivery %(number)s closed with %(n)s discrepancies; the act is printing.",
                        number=delivery.number, n=len(done))
        else:
            message = _("Delivery %(number)s closed: everything as expected.", number=delivery.number)
        return Prompt(message, "ok", title=self._title(delivery), details=details,
                      screen={"delivery": summary, "closed": True})

    def _key_leave(self, ctx: Context, payload: dict, delivery: Delivery) -> Prompt:
        self._save(ctx, {})
        return Prompt(_("Left delivery %(number)s.", number=delivery.number), "ok", title=_("Receiving"),
                      screen={"delivery": None})

    # --- photos ---------------------------------------------------------------------------

    def on_photo(self, ctx: Context, payload: dict) -> Prompt | None:
        count_id = None
        job_id = payload.get("job_id")
        if isinstance(job_id, int) and not isinstance(job_id, bool):
            job = db.session.get(StationJob, job_id)
            if job is not None and (ctx.station is None or job.station_id == ctx.station.id):
                count_id = (job.payload or {}).get("count_id")
        if count_id is None:
            count_id = (ctx.session.state or {}).get("photo_count_id")
        row = db.session.get(ReceiptCount, count_id) if isinstance(count_id, int) else None
        if row is None:
            return super().on_photo(ctx, payload)
        service.attach_photo(row, payload["media"])
        state = self._state(ctx)
        if state.get("photo_count_id") == row.id:
            state.pop("photo_count_id")
            self._save(ctx, state)
        delivery = db.session.get(Delivery, row.delivery_id)
        return Prompt(_("Photo of the damage saved."), "ok", title=self._title(delivery),
                      screen=self._screen(ctx, delivery, media=payload["media"], count_id=row.id))


RECEIVING = register("dock", ReceivingScenario())
