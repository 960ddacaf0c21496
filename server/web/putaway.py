"""Putaway pages: the open tasks by delivery in walking order, and the handheld task screen (the
cell to go to, the goods, a small map of the route, one scan field; the reason chooser when
another cell was scanned). Scans and keys go through the putaway scenario (`handheld_input`)."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from server import scenarios
from server.auth import signed_in, signed_in_user
from server.core.bounds import parse_whole
from server.extensions import db
from server.models import Cell
from server.models.inbound import Delivery, PutawayStatus, PutawayTask
from server.problems import Problem, problem_response
from server.scenarios.putaway import PUTAWAY, REASON_LABELS
from server.services import putaway as service
from server.web.handheld import (
    WORKERS,
    chosen_station,
    event_id_of,
    key_payload,
    plural_texts,
    scan_payload,
)

putaway = Blueprint("putaway", __name__, template_folder="templates")

KEYS = PUTAWAY.flow.key_params()  # what the page may send: the flow's declared keys


@putaway.errorhandler(CSRFError)
def _on_csrf(error):
    db.session.rollback()
    return problem_response(Problem(400, "csrf", _("The page is out of date: reload it.")))


def _open_tasks(delivery_id: int | None = None) -> list[PutawayTask]:
    query = select(PutawayTask).where(PutawayTask.status == PutawayStatus.open)
    if delivery_id is not None:
        query = query.where(PutawayTask.delivery_id == delivery_id)
    return list(db.session.execute(query.order_by(PutawayTask.id).limit(2000)).scalars())


def _cells(ids) -> dict[int, Cell]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {c.id: c for c in db.session.execute(select(Cell).where(Cell.id.in_(ids))).scalars()}


@putaway.get("/putaway")
@signed_in(*WORKERS)
def index():
    tasks = _open_tasks()
    by_delivery: dict[int | None, list[PutawayTask]] = {}
    for task in tasks:
        by_delivery.setdefault(task.delivery_id, []).append(task)
    deliveries = {d.id: d for d in db.session.execute(
        select(Delivery).where(Delivery.id.in_([k for k in by_delivery if k]))).scalars()}
    groups = []
    for delivery_id, group in sorted(by_delivery.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        route = service.route_for(group, group[0].warehouse_id)
        groups.append({"delivery": deliveries.get(delivery_id), "tasks": route.tasks,
                       "units": sum(t.quantity for t in group)})
    cells = _cells([t.suggested_cell_id for t in tasks] + [t.from_cell_id for t in tasks])
    return render_template("putaway/index.html", groups=groups, cells=cells)




@putaway.get("/putaway/task")
@signed_in(*WORKERS)
def task():
    """The task screen. ?task=ID or ?delivery=ID take that task (or that delivery's tasks) on load;
    without either, the worker's current task (or delivery) comes back."""
    start = None
    for name, key in (("task", "task_id"), ("delivery", "delivery_id")):
        value = parse_whole(request.args.get(name, ""))
        if value is not None:
            start = {"kind": "button", "key": name, key: value}
            break
    flow = PUTAWAY.view(user=current_user._get_current_object())
    if start is None:
        state = flow["data"].as_json()
        if isinstance(state.get("task_id"), int):
            start = {"kind": "button", "key": "task", "task_id": state["task_id"]}
        elif isinstance(state.get("delivery_id"), int):
            start = {"kind": "button", "key": "delivery", "delivery_id": state["delivery_id"]}
    texts = {
        "no_cell": _("No cell suggested: choose a cell and scan it."), "lot": _("Lot"),
        "units": plural_texts(lambda n: ngettext("%(count)s unit", "%(count)s units", n, count="{count}")),
        "expiry": _("Expiry"), "sku": _("SKU"), "from": _("from"), "next": _("Next"),
        "no_answer": _("The server did not answer."), "all_done": _("All tasks are done."),
        "take": _("Take this task"),
        "left": plural_texts(lambda n: ngettext("%(count)s task left", "%(count)s tasks left", n, count="{count}")),
    }
    return render_template("putaway/task.html", start=start, texts=texts, reasons=REASON_LABELS, keys=flow["keys"],
                           index_url=url_for(".index"))


@putaway.post("/putaway/input")
@signed_in(*WORKERS, json=True)
def page_input():
    user = signed_in_user()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "bad-request", _("Send JSON."))
    event_id = event_id_of(body)
    kind = body.get("kind")
    if kind == "scan":
        payload = scan_payload(body.get("code"))
    elif kind == "button":
        payload = key_payload(body, KEYS)
        if payload["key"] == "reason":
            value = body.get("value")
            if value not in service.OVERRIDE_REASONS:
                raise Problem(422, "unknown-reason", _("Choose one of the reasons."))
            payload["value"] = value
    else:
        raise Problem(422, "unknown-input", _("This input does nothing here."))
    outcome = scenarios.handheld_input(user, kind, payload, scenario=PUTAWAY, station=chosen_station(user),
                                       event_id=event_id)
    db.session.commit()
    return {**outcome, "status": outcome.get("status") or "stored"}
