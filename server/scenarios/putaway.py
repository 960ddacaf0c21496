"""The putaway scenario on a handheld: scan a SKU waiting in the receiving zone, walk to the cell
shown, scan the cell. Another valid cell asks for a reason; an invalid one changes nothing.

State (ctx.session.state): task_id (the task being put away), pending_cell_id (another cell
scanned, waiting for a reason), delivery_id (only this delivery's tasks), warehouse_id.
Buttons: {key: "task", task_id}, {key: "reason", value}, {key: "delivery", delivery_id or
null}, {key: "skip"}.
"""

from sqlalchemy import case, select

from server.extensions import db
from server.models import Cell, Delivery, PutawayStatus, PutawayTask, Sku
from server.models.base import utcnow
from server.problems import Problem
from server.scenarios import Context, Prompt, Scenario, _
from server.services import putaway as service
from server.services.scan import Classification, Kind, classify

ROUTE_TASKS = 200  # open tasks drawn on the route at most

REASON_LABELS = {
    "suggested-full": _("The suggested cell is full"),
    "suggested-blocked": _("The suggested cell is blocked"),
    "consolidate": _("Put with the same goods"),
    "closer": _("This cell is closer"),
    "other": _("Other reason"),
}


class PutawayScenario(Scenario):
    name = "putaway"

    # --- input -------------------------------------------------------------------------------

    def on_scan(self, ctx: Context, payload: dict) -> Prompt | None:
        # A handheld has no station's warehouse: codes are looked up in the warehouse worked in.
        warehouse_id = ctx.warehouse_id or _state(ctx).get("warehouse_id")
        if ctx.classified is None and warehouse_id is not None:
            from flask import current_app

            limit = current_app.config["CELLWMS_SCAN_MAX_BYTES"]
            ctx.classified = classify(payload["raw"], warehouse_id, symbology=payload.get("symbology"), max_bytes=limit)
            if ctx.classified.kind == Kind.unknown:
                # A cell of another warehouse is named as such, not as an unknown code.
                anywhere = classify(payload["raw"], None, symbology=payload.get("symbology"), max_bytes=limit)
                if anywhere.kind == Kind.cell:
                    ctx.classified = anywhere
        return super().on_scan(ctx, payload)

    def on_code(self, ctx: Context, result: Classification) -> Prompt:
        if result.kind == Kind.sku and result.entity_id is not None:
            return self.on_sku(ctx, result)
        if result.kind == Kind.cell and result.entity_id is not None:
            return self.on_cell(ctx, db.session.get(Cell, result.entity_id))
        if result.kind == Kind.unknown:
            return _error(_("Unknown code. Scan a SKU or a cell."), screen={"scan": result.answer()})
        return _error(_("Scan a SKU to put away, or a cell."), screen={"scan": result.answer()})

    def on_button(self, ctx: Context, payload: dict) -> Prompt | None:
        key = payload.get("key")
        if key == "task":
            return self.on_task(ctx, payload.get("task_id"))
        if key == "reason":
            return self.on_reason(ctx, payload.get("value"))
        if key == "delivery":
            return self.on_delivery(ctx, payload.get("delivery_id"))
        if key == "skip":
            return self.on_skip(ctx)
        return super().on_button(ctx, payload)

    # --- steps -------------------------------------------------------------------------------

    def on_sku(self, ctx: Context, result: Classification) -> Prompt:
        sku = db.session.get(Sku, result.entity_id)
        state = _state(ctx)
        gs1 = result.gs1 or {}
        task = _open_task_for(sku.id, ctx, state.get("delivery_id"), state.get("warehouse_id") or ctx.warehouse_id,
                              lot=gs1.get("lot"), expiry=gs1.get("expiry"))
        if task is None:
            if state.get("delivery_id"):
                delivery = db.session.get(Delivery, state["delivery_id"])
                return _error(_("%(sku)s has no open putaway task in delivery %(delivery)s.", sku=sku.name,
                                delivery=delivery.number if delivery else state["delivery_id"]))
            return _error(_("%(sku)s has no open putaway task.", sku=sku.name))
        return self._take(ctx, task)

    def on_task(self, ctx: Context, task_id) -> Prompt:
        task = db.session.get(PutawayTask, task_id) if isinstance(task_id, int) and not isinstance(task_id, bool) \
            else None
        state = _state(ctx)
        if task is None or task.status != PutawayStatus.open:
            return _error(_("This putaway task is not open."))
        if state.get("delivery_id") and task.delivery_id != state["delivery_id"]:
            return _error(_("This task belongs to another delivery."))
        return self._take(ctx, task)

    def on_cell(self, ctx: Context, cell: Cell) -> Prompt:
        state = _state(ctx)
        task = _current(ctx)
        if task is None:
            return _error(_("Scan a SKU first, then its cell."))
        try:
            service.validate_target(task, cell)
        except Problem as problem:
            return _refused(problem, task, cell)
        if task.suggested_cell_id is None or cell.id == task.suggested_cell_id:
            return self._confirm(ctx, task, cell, None)
        _set_state(ctx, **{**state, "pending_cell_id": cell.id})
        suggested = db.session.get(Cell, task.suggested_cell_id)
        return Prompt(
            _("%(cell)s is not the suggested cell %(suggested)s. Why put it here?", cell=cell.address,
              suggested=suggested.address),
            "none", title=_("Putaway"), details=[REASON_LABELS[r] for r in service.OVERRIDE_REASONS],
            screen={**_task_screen(task), "pending_cell": {"id": cell.id, "address": cell.address},
                    "reasons": [{"value": r, "label": str(REASON_LABELS[r])} for r in service.OVERRIDE_REASONS]},
        )

    def on_reason(self, ctx: Context, value) -> Prompt:
        state = _state(ctx)
        task = _current(ctx)
        if task is None or not state.get("pending_cell_id"):
            return _error(_("Scan a cell first."))
        if value not in service.OVERRIDE_REASONS:
            return _error(_("Choose one of the reasons."))
        cell = db.session.get(Cell, state["pending_cell_id"])
        return self._confirm(ctx, task, cell, value)

    def on_delivery(self, ctx: Context, delivery_id) -> Prompt:
        state = _state(ctx)
        if delivery_id is None:
            _set_state(ctx, warehouse_id=state.get("warehouse_id"))
            return Prompt(_("All deliveries. Scan a SKU to put away."), "ok", title=_("Putaway"),
                          screen=_overview(ctx, None, state.get("warehouse_id")))
        delivery = db.session.get(Delivery, delivery_id) if isinstance(delivery_id, int) else None
        if delivery is None:
            return _error(_("No such delivery."))
        _set_state(ctx, delivery_id=delivery.id, warehouse_id=delivery.warehouse_id)
        return Prompt(_("Delivery %(number)s. Scan a SKU to put away.", number=delivery.number), "ok",
                      title=_("Putaway"), screen=_overview(ctx, delivery.id, delivery.warehouse_id))

    def on_skip(self, ctx: Context) -> Prompt:
        state = _state(ctx)
        task = _current(ctx)
        _set_state(ctx, delivery_id=state.get("delivery_id"), warehouse_id=state.get("warehouse_id"))
        if task is not None and task.assigned_user_id == (ctx.user.id if ctx.user else None):
            task.assigned_user_id = None  # someone else may take it
        return Prompt(_("Skipped. Scan the next SKU."), "ok", title=_("Putaway"),
                      screen=_overview(ctx, state.get("delivery_id"), state.get("warehouse_id")))

    # --- helpers -----------------------------------------------------------------------------

    def _take(self, ctx: Context, task: PutawayTask) -> Prompt:
        state = _state(ctx)
        _set_state(ctx, delivery_id=state.get("delivery_id"), warehouse_id=task.warehouse_id, task_id=task.id)
        if ctx.user is not None and task.assigned_user_id is None:
            task.assigned_user_id = ctx.user.id
        task.started_at = task.started_at or utcnow()
        sku = db.session.get(Sku, task.sku_id)
        screen = {**_task_screen(task), "route": _route(task, state.get("delivery_id"))}
        if task.suggested_cell_id is None:
            return Prompt(_("Take %(qty)s × %(sku)s: no cell fits, scan any free storage cell.", qty=task.quantity,
                            sku=sku.name), "ok", title=_("Putaway"), screen=screen)
        cell = db.session.get(Cell, task.suggested_cell_id)
        return Prompt(_("Take %(qty)s × %(sku)s to cell %(cell)s", qty=task.quantity, sku=sku.name, cell=cell.address),
                      "ok", title=_("Putaway"), screen=screen)

    def _confirm(self, ctx: Context, task: PutawayTask, cell: Cell, reason: str | None) -> Prompt:
        state = _state(ctx)
        try:
            with db.session.begin_nested():
                task = service.confirm_putaway(task, cell, ctx.user, reason=reason, station=ctx.station,
                                               event_id=ctx.event.event_id)
        except Problem as problem:  # the savepoint is rolled back: nothing changed
            return _refused(problem, task, cell)
        _set_state(ctx, delivery_id=state.get("delivery_id"), warehouse_id=task.warehouse_id)
        sku = db.session.get(Sku, task.sku_id)
        left = _open_count(ctx, state.get("delivery_id"), task.warehouse_id)
        return Prompt(_("Put %(qty)s × %(sku)s into %(cell)s. %(left)s tasks left.", qty=task.quantity, sku=sku.name,
                        cell=cell.address, left=left),
                      "ok", title=_("Putaway"),
                      screen={"done": {"task_id": task.id, "cell_id": cell.id, "address": cell.address,
                                       "reason": task.override_reason},
                              **_overview(ctx, state.get("delivery_id"), task.warehouse_id)})


PUTAWAY = PutawayScenario()


def _state(ctx: Context) -> dict:
    return dict(ctx.session.state or {})


def _set_state(ctx: Context, **values) -> None:
    # A new dict: the JSON column sees the change.
    ctx.session.state = {key: value for key, value in values.items() if value is not None}
    ctx.session.scenario = PUTAWAY.name


def _current(ctx: Context) -> PutawayTask | None:
    task_id = _state(ctx).get("task_id")
    task = db.session.get(PutawayTask, task_id) if task_id else None
    return task if task is not None and task.status == PutawayStatus.open else None


def _error(message, screen: dict | None = None) -> Prompt:
    return Prompt(message, "error", title=_("Putaway"), screen=screen or {})


def _refused(problem: Problem, task: PutawayTask, cell: Cell) -> Prompt:
    sku = db.session.get(Sku, task.sku_id)
    address = cell.address
    messages = {
        "wrong-warehouse": _("Cell %(cell)s is in another warehouse.", cell=address),
        "same-as-source": _("Cell %(cell)s is where the goods wait. Scan the storage cell.", cell=address),
        "not-storage-cell": _("Cell %(cell)s is not a storage cell.", cell=address),
        "cell-blocked": _("Cell %(cell)s is blocked.", cell=address),
        "cell-full": _("Cell %(cell)s has no room for %(qty)s × %(sku)s.", cell=address, qty=task.quantity,
                       sku=sku.name),
        "mixing-not-allowed": _("Cell %(cell)s holds other goods and cannot take %(sku)s.", cell=address,
                                sku=sku.name),
        "task-done": _("This task is already done."),
        "task-not-open": _("This putaway task is not open."),
        "insufficient-stock": _("The goods are no longer in the receiving cell."),
    }
    message = messages.get(problem.slug, problem.title)
    details = [problem.detail] if problem.detail else []
    return Prompt(message, "error", title=_("Putaway"), details=details,
                  screen={**_task_screen(task), "problem": problem.slug})


def _task_json(task: PutawayTask) -> dict:
    sku = db.session.get(Sku, task.sku_id)
    suggested = db.session.get(Cell, task.suggested_cell_id) if task.suggested_cell_id else None
    source = db.session.get(Cell, task.from_cell_id)
    return {
        "id": task.id, "delivery_id": task.delivery_id, "sku_id": task.sku_id, "sku_code": sku.code,
        "sku_name": sku.name, "lot": task.lot, "expiry": task.expiry.isoformat() if task.expiry else None,
        "quantity": task.quantity, "from_cell": {"id": source.id, "address": source.address},
        "suggested_cell": {"id": suggested.id, "address": suggested.address} if suggested else None,
        "note": service.note_of(task), "status": task.status,
    }


def _task_screen(task: PutawayTask) -> dict:
    return {"task": _task_json(task)}


def _open_tasks(ctx: Context, delivery_id, warehouse_id):
    statement = select(PutawayTask).where(PutawayTask.status == PutawayStatus.open)
    if delivery_id:
        statement = statement.where(PutawayTask.delivery_id == delivery_id)
    if warehouse_id:
        statement = statement.where(PutawayTask.warehouse_id == warehouse_id)
    return statement


def _open_count(ctx: Context, delivery_id, warehouse_id) -> int:
    return len(db.session.execute(_open_tasks(ctx, delivery_id, warehouse_id)).scalars().all())


def _open_task_for(sku_id: int, ctx: Context, delivery_id, warehouse_id, *, lot=None, expiry=None):
    """The worker's next open task of a SKU: matching the scanned lot/expiry, the worker's own
    or unassigned, oldest first."""
    statement = _open_tasks(ctx, delivery_id, warehouse_id).where(PutawayTask.sku_id == sku_id)
    tasks = db.session.execute(statement.order_by(PutawayTask.id)).scalars().all()
    me = ctx.user.id if ctx.user else None

    def rank(task):
        lot_match = lot is None or (task.lot or "") == lot
        expiry_match = expiry is None or (task.expiry.isoformat() if task.expiry else None) in (expiry, str(expiry))
        return (not (lot_match and expiry_match), task.assigned_user_id not in (None, me),
                task.assigned_user_id is None, task.id)

    return min(tasks, key=rank) if tasks else None


def _route(task: PutawayTask, delivery_id) -> dict:
    """The walk through the open tasks of the same delivery (or the task alone)."""
    scope = delivery_id or task.delivery_id
    statement = select(PutawayTask).where(PutawayTask.status == PutawayStatus.open,
                                          PutawayTask.warehouse_id == task.warehouse_id)
    statement = statement.where(PutawayTask.delivery_id == scope) if scope else statement.where(
        PutawayTask.id == task.id)
    tasks = db.session.execute(statement.order_by(case((PutawayTask.id == task.id, 0), else_=1), PutawayTask.id)
                               .limit(ROUTE_TASKS)).scalars().all()
    try:
        walk = service.route_for(tasks, task.warehouse_id)
    except Problem:
        return {"polyline": [], "stops": [], "task_ids": []}
    return {"polyline": walk.polyline, "stops": walk.stops, "task_ids": [t.id for t in walk.tasks],
            "length": walk.length}


def _overview(ctx: Context, delivery_id, warehouse_id) -> dict:
    """What is left: open tasks in walking order, with the route."""
    tasks = db.session.execute(_open_tasks(ctx, delivery_id, warehouse_id).order_by(PutawayTask.id)
                               .limit(ROUTE_TASKS)).scalars().all()
    screen = {"delivery_id": delivery_id, "tasks": [], "route": {"polyline": [], "stops": [], "task_ids": []}}
    if tasks and warehouse_id:
        try:
            walk = service.route_for(tasks, warehouse_id)
        except Problem:
            walk = None
        if walk is not None:
            tasks = walk.tasks
            screen["route"] = {"polyline": walk.polyline, "stops": walk.stops, "task_ids": [t.id for t in walk.tasks],
                               "length": walk.length}
    screen["tasks"] = [_task_json(t) for t in tasks]
    return screen


__all__ = ["PUTAWAY", "REASON_LABELS", "PutawayScenario"]
