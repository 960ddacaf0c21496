"""The open putaway tasks a worker chooses from: by delivery and warehouse, the next one for a
scanned SKU, the walk through them, and each task as a handheld shows it."""

from __future__ import annotations

from sqlalchemy import case, func, select

from server.extensions import db
from server.models import Cell, PutawayStatus, PutawayTask, Sku
from server.services import putaway as putaway_service
from server.services.errors import DomainError

ROUTE_TASKS = 200  # open tasks drawn on a route at most


def _open(delivery_id: int | None, warehouse_id: int | None):
    statement = select(PutawayTask).where(PutawayTask.status == PutawayStatus.open)
    if delivery_id:
        statement = statement.where(PutawayTask.delivery_id == delivery_id)
    if warehouse_id:
        statement = statement.where(PutawayTask.warehouse_id == warehouse_id)
    return statement


def open_count(delivery_id: int | None, warehouse_id: int | None) -> int:
    return db.session.execute(select(func.count()).select_from(_open(delivery_id, warehouse_id).subquery())).scalar()


def open_task(task_id) -> PutawayTask | None:
    """The task, if it is still open."""
    if not isinstance(task_id, int) or isinstance(task_id, bool):
        return None
    task = db.session.get(PutawayTask, task_id)
    return task if task is not None and task.status == PutawayStatus.open else None


def next_task_for(sku_id: int, user_id: int | None, delivery_id: int | None, warehouse_id: int | None, *,
                  lot: str | None = None, expiry=None) -> PutawayTask | None:
    """The worker's next open task of a SKU: matching the scanned lot/expiry, the worker's own or
    unassigned, oldest first."""
    statement = _open(delivery_id, warehouse_id).where(PutawayTask.sku_id == sku_id)
    tasks = db.session.execute(statement.order_by(PutawayTask.id)).scalars().all()

    def rank(task):
        lot_match = lot is None or (task.lot or "") == lot
        expiry_match = expiry is None or (task.expiry.isoformat() if task.expiry else None) in (expiry, str(expiry))
        return (not (lot_match and expiry_match), task.assigned_user_id not in (None, user_id),
                task.assigned_user_id is None, task.id)

    return min(tasks, key=rank) if tasks else None


def task_view(task: PutawayTask) -> dict:
    sku = db.session.get(Sku, task.sku_id)
    suggested = db.session.get(Cell, task.suggested_cell_id) if task.suggested_cell_id else None
    source = db.session.get(Cell, task.from_cell_id)
    return {
        "id": task.id, "delivery_id": task.delivery_id, "sku_id": task.sku_id, "sku_code": sku.code,
        "sku_name": sku.name, "lot": task.lot, "expiry": task.expiry.isoformat() if task.expiry else None,
        "quantity": task.quantity, "from_cell": {"id": source.id, "address": source.address},
        "suggested_cell": {"id": suggested.id, "address": suggested.address} if suggested else None,
        "note": putaway_service.note_of(task), "status": task.status,
    }


def _route_view(walk: putaway_service.PutawayRoute) -> dict:
    return {"polyline": walk.polyline, "stops": walk.stops, "task_ids": [t.id for t in walk.tasks],
            "length": walk.length}


NO_ROUTE = {"polyline": [], "stops": [], "task_ids": []}


def route_view(task: PutawayTask, delivery_id: int | None) -> dict:
    """The walk through the open tasks of the task's delivery (or the task alone), it first."""
    scope = delivery_id or task.delivery_id
    statement = select(PutawayTask).where(PutawayTask.status == PutawayStatus.open,
                                          PutawayTask.warehouse_id == task.warehouse_id)
    statement = statement.where(PutawayTask.delivery_id == scope) if scope else statement.where(
        PutawayTask.id == task.id)
    tasks = db.session.execute(statement.order_by(case((PutawayTask.id == task.id, 0), else_=1), PutawayTask.id)
                               .limit(ROUTE_TASKS)).scalars().all()
    try:
        return _route_view(putaway_service.route_for(tasks, task.warehouse_id))
    except DomainError:
        return dict(NO_ROUTE)


def overview(delivery_id: int | None, warehouse_id: int | None) -> dict:
    """What is left: open tasks in walking order, with the route."""
    tasks = db.session.execute(_open(delivery_id, warehouse_id).order_by(PutawayTask.id)
                               .limit(ROUTE_TASKS)).scalars().all()
    screen = {"delivery_id": delivery_id, "tasks": [], "route": dict(NO_ROUTE)}
    if tasks and warehouse_id:
        try:
            walk = putaway_service.route_for(tasks, warehouse_id)
        except DomainError:
            walk = None
        if walk is not None:
            tasks = walk.tasks
            screen["route"] = _route_view(walk)
    screen["tasks"] = [task_view(t) for t in tasks]
    return screen
