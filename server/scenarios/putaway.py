"""The putaway flow on a handheld: scan a SKU waiting in the receiving zone, walk to the cell
shown, scan the cell. Another valid cell asks for a reason; an invalid one changes nothing.
`docs/flows/putaway.md` has the state diagram drawn from the declarations below.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _
from flask_babel import lazy_ngettext

from server.extensions import db
from server.models import Cell, Delivery, Sku
from server.models.base import utcnow
from server.scenarios.base import Context
from server.scenarios.machine import ANY, Answer, Flow, FlowScenario, FlowState, State, key, scan
from server.services import putaway as service
from server.services import putaway_queue as queue
from server.services.scan import Classification, Kind, classify

REASON_LABELS = {
    "suggested-full": _("The suggested cell is full"),
    "suggested-blocked": _("The suggested cell is blocked"),
    "consolidate": _("Put with the same goods"),
    "closer": _("This cell is closer"),
    "other": _("Other reason"),
}


@dataclass
class PutawayState(FlowState):
    VERSION = 1

    task_id: int | None = None  # the task being put away
    pending_cell_id: int | None = None  # another cell scanned, waiting for a reason
    delivery_id: int | None = None  # only this delivery's tasks
    warehouse_id: int | None = None


_CHOOSING = (
    key("task", _("Take this task"), "take_task", "task", params=("task_id",)),
    key("delivery", _("Deliveries"), "choose_delivery", "choose", params=("delivery_id",)),
)

FLOW = Flow("putaway", title=_("Putaway"), data=PutawayState, states=(
    State("choose", _("Scan a SKU to put away."), note="no task taken", on=(
        scan(Kind.sku, "take_sku", "task"),
        scan(ANY, "scan_sku_first", "choose"),
        *_CHOOSING,
    )),
    State("task", _("Take the goods to the cell shown and scan the cell."), note="a task taken", on=(
        scan(Kind.cell, "at_cell", "choose", "reason", note="confirmed, or another cell asks why"),
        scan(Kind.sku, "take_sku", "task"),
        scan(ANY, "scan_cell", "task"),
        key("skip", _("Skip"), "skip", "choose"),
        *_CHOOSING,
    )),
    State("reason", _("Another cell than suggested: choose why."), note="waiting for a reason", on=(
        key("reason", _("Reason"), "reason", "choose"),
        scan(Kind.cell, "at_cell", "choose", "reason"),
        scan(Kind.sku, "take_sku", "task"),
        scan(ANY, "scan_cell", "reason"),
        key("skip", _("Skip"), "skip", "choose"),
    )),
))


class PutawayScenario(FlowScenario):
    flow = FLOW

    def on_scan(self, ctx: Context, payload: dict):
        # A handheld has no station's warehouse: codes are looked up in the warehouse worked in.
        warehouse_id = ctx.warehouse_id or self.load(ctx)[1].warehouse_id
        if ctx.classified is None and warehouse_id is not None:
            limit = current_app.config["CELLWMS_SCAN_MAX_BYTES"]
            ctx.classified = classify(payload["raw"], warehouse_id, symbology=payload.get("symbology"), max_bytes=limit)
            if ctx.classified.kind == Kind.unknown:
                # A cell of another warehouse is named as such, not as an unknown code.
                anywhere = classify(payload["raw"], None, symbology=payload.get("symbology"), max_bytes=limit)
                if anywhere.kind == Kind.cell:
                    ctx.classified = anywhere
        return super().on_scan(ctx, payload)

    # --- the flow's view -------------------------------------------------------------------

    def settle(self, ctx: Context, state: str, data: PutawayState):
        if state != "choose" and queue.open_task(data.task_id) is None:  # done or taken meanwhile
            data.task_id = data.pending_cell_id = None
            return "choose", data
        return state, data

    def screen(self, ctx: Context, state: str, data: PutawayState) -> dict:
        task = queue.open_task(data.task_id) if state != "choose" else None
        screen = {"task": queue.task_view(task)} if task is not None else {}
        if state == "reason" and data.pending_cell_id:
            cell = db.session.get(Cell, data.pending_cell_id)
            screen["pending_cell"] = {"id": cell.id, "address": cell.address}
            screen["reasons"] = [{"value": r, "label": str(REASON_LABELS[r])} for r in service.OVERRIDE_REASONS]
        return screen

    def _warehouse(self, ctx: Context, data: PutawayState) -> int | None:
        return data.warehouse_id or ctx.warehouse_id

    # --- steps -----------------------------------------------------------------------------

    def take_sku(self, ctx: Context, data: PutawayState, result: Classification) -> Answer:
        sku = db.session.get(Sku, result.entity_id)
        gs1 = result.gs1 or {}
        task = queue.next_task_for(sku.id, ctx.user.id if ctx.user else None, data.delivery_id,
                                   self._warehouse(ctx, data), lot=gs1.get("lot"), expiry=gs1.get("expiry"))
        if task is None:
            if data.delivery_id:
                delivery = db.session.get(Delivery, data.delivery_id)
                message = _("%(sku)s has no open putaway task in delivery %(delivery)s.", sku=sku.name,
                            delivery=delivery.number if delivery else data.delivery_id)
            else:
                message = _("%(sku)s has no open putaway task.", sku=sku.name)
            return Answer(ctx.state, message, "error")
        return self._take(ctx, data, task)

    def take_task(self, ctx: Context, data: PutawayState, payload: dict) -> Answer:
        task = queue.open_task(payload.get("task_id"))
        if task is None:
            return Answer(ctx.state, _("This putaway task is not open."), "error")
        if data.delivery_id and task.delivery_id != data.delivery_id:
            return Answer(ctx.state, _("This task belongs to another delivery."), "error")
        return self._take(ctx, data, task)

    def _take(self, ctx: Context, data: PutawayState, task) -> Answer:
        data.task_id, data.pending_cell_id, data.warehouse_id = task.id, None, task.warehouse_id
        if ctx.user is not None and task.assigned_user_id is None:
            task.assigned_user_id = ctx.user.id
        task.started_at = task.started_at or utcnow()
        sku = db.session.get(Sku, task.sku_id)
        screen = {"route": queue.route_view(task, data.delivery_id)}
        if task.suggested_cell_id is None:
            return Answer("task", _("Take %(qty)s × %(sku)s: no cell fits, scan any free storage cell.",
                                    qty=task.quantity, sku=sku.name), screen=screen)
        cell = db.session.get(Cell, task.suggested_cell_id)
        return Answer("task", _("Take %(qty)s × %(sku)s to cell %(cell)s", qty=task.quantity, sku=sku.name,
                                cell=cell.address), screen=screen)

    def scan_sku_first(self, ctx: Context, data: PutawayState, result: Classification) -> Answer:
        if result.kind == Kind.cell:
            return Answer("choose", _("Scan a SKU first, then its cell."), "error", screen={"scan": result.answer()})
        if result.kind == Kind.unknown:
            return Answer("choose", _("Unknown code. Scan a SKU or a cell."), "error", screen={"scan": result.answer()})
        return Answer("choose", _("Scan a SKU to put away, or a cell."), "error", screen={"scan": result.answer()})

    def scan_cell(self, ctx: Context, data: PutawayState, result: Classification) -> Answer:
        if result.kind == Kind.unknown:
            return Answer(ctx.state, _("Unknown code. Scan a SKU or a cell."), "error",
                          screen={"scan": result.answer()})
        return Answer(ctx.state, _("Scan the cell to put the goods in."), "error", screen={"scan": result.answer()})

    def at_cell(self, ctx: Context, data: PutawayState, result: Classification) -> Answer:
        task, cell = queue.open_task(data.task_id), db.session.get(Cell, result.entity_id)
        service.validate_target(task, cell)
        if task.suggested_cell_id is None or cell.id == task.suggested_cell_id:
            return self._confirm(ctx, data, task, cell, None)
        data.pending_cell_id = cell.id
        suggested = db.session.get(Cell, task.suggested_cell_id)
        return Answer("reason", _("%(cell)s is not the suggested cell %(suggested)s. Why put it here?",
                                  cell=cell.address, suggested=suggested.address), "none",
                      details=[REASON_LABELS[r] for r in service.OVERRIDE_REASONS])

    def reason(self, ctx: Context, data: PutawayState, payload: dict) -> Answer:
        value = payload.get("value")
        if value not in service.OVERRIDE_REASONS:
            return Answer("reason", _("Choose one of the reasons."), "error")
        task, cell = queue.open_task(data.task_id), db.session.get(Cell, data.pending_cell_id)
        return self._confirm(ctx, data, task, cell, value)

    def _confirm(self, ctx: Context, data: PutawayState, task, cell: Cell, reason: str | None) -> Answer:
        task = service.confirm_putaway(task, cell, ctx.user, reason=reason, station=ctx.station,
                                       event_id=ctx.event.event_id)
        data.task_id = data.pending_cell_id = None
        data.warehouse_id = task.warehouse_id
        sku = db.session.get(Sku, task.sku_id)
        left = queue.open_count(data.delivery_id, task.warehouse_id)
        message = lazy_ngettext("Put %(qty)s × %(sku)s into %(cell)s. %(num)s task left.",
                                "Put %(qty)s × %(sku)s into %(cell)s. %(num)s tasks left.", left,
                                qty=task.quantity, sku=sku.name, cell=cell.address)
        return Answer("choose", message, screen={
            "done": {"task_id": task.id, "cell_id": cell.id, "address": cell.address, "reason": task.override_reason},
            **queue.overview(data.delivery_id, task.warehouse_id)})

    def choose_delivery(self, ctx: Context, data: PutawayState, payload: dict) -> Answer:
        delivery_id = payload.get("delivery_id")
        data.task_id = data.pending_cell_id = None
        if delivery_id is None:
            data.delivery_id = None
            return Answer("choose", _("All deliveries. Scan a SKU to put away."),
                          screen=queue.overview(None, data.warehouse_id))
        delivery = db.session.get(Delivery, delivery_id) if isinstance(delivery_id, int) else None
        if delivery is None:
            return Answer("choose", _("No such delivery."), "error")
        data.delivery_id, data.warehouse_id = delivery.id, delivery.warehouse_id
        return Answer("choose", _("Delivery %(number)s. Scan a SKU to put away.", number=delivery.number),
                      screen=queue.overview(delivery.id, delivery.warehouse_id))

    def skip(self, ctx: Context, data: PutawayState, payload: dict) -> Answer:
        task = queue.open_task(data.task_id)
        if task is not None and task.assigned_user_id == (ctx.user.id if ctx.user else None):
            task.assigned_user_id = None  # someone else may take it
        data.task_id = data.pending_cell_id = None
        return Answer("choose", _("Skipped. Scan the next SKU."),
                      screen=queue.overview(data.delivery_id, data.warehouse_id))


PUTAWAY = PutawayScenario()
