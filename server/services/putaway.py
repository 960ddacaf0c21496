"""Putaway: tasks that move received goods from the receiving cell to storage cells.

`create_putaway_tasks(delivery)` (called when a delivery is closed, after its good units were
received into `delivery.receiving_cell_id`) makes one task per SKU + lot + expiry with the cell
the slotting index suggests. `confirm_putaway` moves the stock in the ledger once the worker
scans the cell (the cell row locked first, so two putaways into one cell are checked one after
the other); `validate_target` says why a cell cannot take the goods; `route_for` orders the
tasks along the shortest walk.
"""

from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select

from server.core.routing import route
from server.core.slotting import SlotIndex, SlottingError
from server.extensions import db
from server.models import (
    Cell,
    CellStatus,
    Delivery,
    DeliveryLine,
    MovementKind,
    PutawayStatus,
    PutawayTask,
    ReceiptCount,
    Sku,
    Station,
    User,
    Zone,
    ZoneKind,
)
from server.models.base import utcnow
from server.services import reservation
from server.services.errors import DomainError
from server.services.geometry import warehouse_geometry, with_ends
from server.services.placement import check_placement
from server.services.slotting import (
    STORAGE_ZONE_KINDS,
    SlotMaps,
    ensure_sku,
    forget_slot_index,
    slot_index,
)
from server.services.stock import Actor, apply_movement, lock_cell

OVERRIDE_REASONS = ("suggested-full", "suggested-blocked", "consolidate", "closer", "other")
MAX_SPLITS = 20  # cells one received quantity may be split across before the rest waits unsuggested
NO_CELL_NOTE = "No storage cell can take these goods: choose a cell and scan it."



def _not_storage(cell: Cell, zone_kind):
    """Whole sentences per zone kind (and task status below): the words change their form in Russian."""
    address = cell.address
    titles = {
        ZoneKind.receiving: _("Cell %(cell)s is not a storage cell (receiving zone).", cell=address),
        ZoneKind.packing: _("Cell %(cell)s is not a storage cell (packing zone).", cell=address),
        ZoneKind.shipping: _("Cell %(cell)s is not a storage cell (shipping zone).", cell=address),
        ZoneKind.returns: _("Cell %(cell)s is not a storage cell (returns zone).", cell=address),
        ZoneKind.quarantine: _("Cell %(cell)s is not a storage cell (quarantine zone).", cell=address),
    }
    if zone_kind in titles:
        return titles[zone_kind]
    return _("Cell %(cell)s is not a storage cell (%(zone)s zone).", cell=address, zone=zone_kind)


def _task_not_open(task: PutawayTask) -> DomainError:
    if task.status == PutawayStatus.done:
        detail = _("Putaway task %(id)s is done.", id=task.id)
    elif task.status == PutawayStatus.cancelled:
        detail = _("Putaway task %(id)s is cancelled.", id=task.id)
    else:
        detail = _("Putaway task %(id)s is %(status)s.", id=task.id, status=task.status)
    return DomainError(409, "task-not-open", _("This putaway task is not open."), detail, task_id=task.id)


# --- creating tasks -----------------------------------------------------------------------------


def received_goods(delivery: Delivery) -> dict[tuple[int, str, date | None], int]:
    """Good units received per (sku, lot, expiry): from the counts, else from the lines' totals."""
    goods: dict[tuple, int] = {}
    counted = db.session.execute(
        select(ReceiptCount.sku_id, ReceiptCount.lot, ReceiptCount.expiry, func.sum(ReceiptCount.quantity))
        .where(ReceiptCount.delivery_id == delivery.id, ReceiptCount.damaged.is_(False))
        .group_by(ReceiptCount.sku_id, ReceiptCount.lot, ReceiptCount.expiry)
    ).all()
    if counted:
        for sku_id, lot, expiry, quantity in counted:
            goods[(sku_id, lot or "", expiry)] = goods.get((sku_id, lot or "", expiry), 0) + int(quantity or 0)
    else:
        for line in db.session.execute(select(DeliveryLine).where(DeliveryLine.delivery_id == delivery.id)).scalars():
            key = (line.sku_id, line.lot or "", line.expiry)
            goods[key] = goods.get(key, 0) + line.received_qty
    return {key: quantity for key, quantity in goods.items() if quantity > 0}


def create_putaway_tasks(delivery: Delivery) -> list[PutawayTask]:
    """Open putaway tasks for the good units of a closed delivery waiting in its receiving cell.

    One task per SKU + lot + expiry, with the cell slotting suggests (capacity, consolidation,
    velocity class, FEFO). When no cell takes the whole quantity it is split across cells; what
    still fits nowhere gets a task without a suggested cell (`task.note` says why). Calling it
    again only adds tasks for units not yet covered by the delivery's tasks. Does not commit.
    """
    if delivery.receiving_cell_id is None:
        raise DomainError(409, "no-receiving-cell", _("Delivery %(number)s has no receiving cell.",
                                                    number=delivery.number))
    goods = received_goods(delivery)
    covered: dict[tuple, int] = {}
    for sku_id, lot, expiry, quantity in db.session.execute(
        select(PutawayTask.sku_id, PutawayTask.lot, PutawayTask.expiry, func.sum(PutawayTask.quantity))
        .where(PutawayTask.delivery_id == delivery.id, PutawayTask.status != PutawayStatus.cancelled)
        .group_by(PutawayTask.sku_id, PutawayTask.lot, PutawayTask.expiry)
    ):
        covered[(sku_id, lot or "", expiry)] = int(quantity or 0)
    todo = [(key, quantity - covered.get(key, 0)) for key, quantity in goods.items()
            if quantity > covered.get(key, 0)]
    if not todo:
        return []
    index, maps = slot_index(delivery.warehouse_id)
    now = utcnow()
    tasks = []
    for (sku_id, lot, expiry), quantity in sorted(todo, key=lambda item: (item[0][0], item[0][1],
                                                                          item[0][2] or date.max)):
        sku = db.session.get(Sku, sku_id)
        ensure_sku(index, maps, sku)
        for cell_id, part in split_suggestions(index, maps, sku_id, quantity, lot, expiry):
            task = PutawayTask(
                warehouse_id=delivery.warehouse_id, delivery_id=delivery.id, sku_id=sku_id, lot=lot, expiry=expiry,
                quantity=part, from_cell_id=delivery.receiving_cell_id, suggested_cell_id=cell_id,
                status=PutawayStatus.open, created_at=now,
            )
            task.note = "" if cell_id is not None else NO_CELL_NOTE
            db.session.add(task)
            tasks.append(task)
    db.session.flush()
    return tasks


def split_suggestions(index: SlotIndex, maps: SlotMaps, sku_id: int, quantity: int, lot: str,
                      expiry: date | None) -> list[tuple[int | None, int]]:
    """[(cell id or None, units)]: the whole quantity into the best cell, else the most that fits
    into the best cell for it, repeatedly. Each part is applied to the index (planned stock)."""
    parts, left = [], quantity
    velocity = maps.velocity_of(sku_id)
    while left > 0 and len(parts) < MAX_SPLITS:
        cell_id, fits = _best_cell(index, sku_id, left, lot, expiry, velocity)
        if cell_id is None:
            break
        parts.append((cell_id, fits))
        index.apply(cell_id, sku_id, lot, expiry, fits)
        left -= fits
    if left > 0:
        parts.append((None, left))
    return parts


def _best_cell(index: SlotIndex, sku_id, quantity: int, lot: str, expiry, velocity: str):
    """(cell, units): the whole quantity into the best cell; else the most that tops up a cell
    already holding the SKU (consolidation first); else the most any cell takes; else (None, 0)."""
    def best(q):
        try:
            return index.suggest(sku_id, q, lot=lot, expiry=expiry, velocity=velocity, limit=1)[0]
        except SlottingError:  # nothing fits (or no cells at all): no suggestion
            return None

    whole = best(quantity)
    if whole is not None:
        return whole.cell_id, quantity
    for wanted in (lambda c: c.reason in ("same lot", "same SKU"), lambda c: True):
        # Binary search: what fits a cell also fits it in smaller quantities.
        low, high, found = 1, quantity - 1, None
        while low <= high:
            middle = (low + high) // 2
            candidate = best(middle)
            if candidate is not None and wanted(candidate):
                found, low = (candidate.cell_id, middle), middle + 1
            else:
                high = middle - 1
        if found:
            return found
    return None, 0


# --- checking a target cell ----------------------------------------------------------------------


def validate_target(task: PutawayTask, cell: Cell, quantity: int | None = None) -> None:
    """Raise DomainError when `cell` cannot take the task's goods (slugs: wrong-warehouse,
    same-as-source, not-storage-cell, cell-blocked, then the placement rules the suggestion
    applies: mixing-not-allowed, expiry-order, cell-full; see services/placement.py)."""
    quantity = task.quantity if quantity is None else quantity
    if cell.warehouse_id != task.warehouse_id:
        raise DomainError(422, "wrong-warehouse", _("Cell %(cell)s is in another warehouse.", cell=cell.address),
                      cell_id=cell.id)
    if cell.id == task.from_cell_id:
        raise DomainError(422, "same-as-source",
                      _("Cell %(cell)s is where the goods wait. Scan the storage cell.", cell=cell.address),
                      cell_id=cell.id)
    zone_kind = db.session.execute(select(Zone.kind).where(Zone.id == cell.zone_id)).scalar_one()
    if zone_kind not in STORAGE_ZONE_KINDS:
        raise DomainError(422, "not-storage-cell", _not_storage(cell, zone_kind), cell_id=cell.id)
    if cell.status == CellStatus.blocked:
        raise DomainError(409, "cell-blocked", _("Cell %(cell)s is blocked.", cell=cell.address), cell_id=cell.id)
    sku = task.sku or db.session.get(Sku, task.sku_id)
    check_placement(cell, sku, quantity, task.lot, task.expiry, planned=cell.id != task.suggested_cell_id,
                    task_id=task.id)


# --- confirming ----------------------------------------------------------------------------------


def confirm_putaway(task: PutawayTask, cell: Cell, user: User | None, *, reason: str | None = None,
                    station: Station | None = None, event_id: str | None = None,
                    quantity: int | None = None) -> PutawayTask:
    """Put the task's goods into `cell`: the suggested cell, or another valid one with a reason
    from OVERRIDE_REASONS. Moves the stock (idempotency key putaway-<task id>) and marks the task
    done. `quantity` below the task's puts that many; the rest stays in a new open task.
    Confirming a done task again into the same cell returns it unchanged. Does not commit."""
    task = lock_task(task.id)
    if task.status == PutawayStatus.done:
        if task.done_cell_id == cell.id and (quantity is None or quantity == task.quantity):
            return task  # the same confirmation again (a retry, a second worker): moved once
        raise DomainError(409, "task-done", _("This task is already done."),
                          _("Putaway task %(id)s is done.", id=task.id), task_id=task.id)
    if task.status != PutawayStatus.open:
        raise _task_not_open(task)
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)
                                 or not 0 < quantity <= task.quantity):
        raise DomainError(422, "bad-quantity", _("Quantity must be a whole number from 1 to %(max)s.", max=task.quantity))
    quantity = quantity or task.quantity
    # The target cell is locked before its contents are checked: a second putaway into it waits
    # here and then sees the first one's stock (capacity, mixing).
    cell = lock_cell(cell.id) or cell
    validate_target(task, cell, quantity)
    override = None
    if task.suggested_cell_id is not None and cell.id != task.suggested_cell_id:
        if not reason:
            raise DomainError(422, "reason-required", _("Another cell than the suggested one needs a reason."),
                          reasons=list(OVERRIDE_REASONS))
        if reason not in OVERRIDE_REASONS:
            raise DomainError(422, "unknown-reason", _("Unknown reason %(reason)s.", reason=reason),
                          reasons=list(OVERRIDE_REASONS))
        override = reason
    if quantity < task.quantity:
        rest = PutawayTask(
            warehouse_id=task.warehouse_id, delivery_id=task.delivery_id, sku_id=task.sku_id, lot=task.lot,
            expiry=task.expiry, quantity=task.quantity - quantity, from_cell_id=task.from_cell_id,
            suggested_cell_id=task.suggested_cell_id, status=PutawayStatus.open, created_at=utcnow(),
            assigned_user_id=task.assigned_user_id,
        )
        db.session.add(rest)
        task.quantity = quantity
    delivery = db.session.get(Delivery, task.delivery_id) if task.delivery_id else None
    try:
        apply_movement(
            MovementKind.move, task.sku_id, quantity, from_cell_id=task.from_cell_id, to_cell_id=cell.id,
            lot=task.lot or "", expiry=task.expiry,
            actor=Actor(user_id=user.id if user else None, station_id=station.id if station else None,
                        scenario="putaway"),
            reason=override or "", reference=(delivery.number if delivery else f"putaway-{task.id}")[:128],
            idempotency_key=f"putaway-{task.id}", placement_checked=True,
        )
    except DomainError as error:
        if error.slug != "insufficient-stock":
            raise
        raise DomainError(error.status, error.slug, _("The goods are no longer in the receiving cell."),
                          error.title, **error.extra) from None
    now = utcnow()
    task.status = PutawayStatus.done
    task.done_cell_id = cell.id
    task.override_reason = override
    task.done_by_user_id = user.id if user else None
    task.done_station_id = station.id if station else None
    task.done_event_id = event_id
    task.started_at = task.started_at or now
    task.done_at = now
    db.session.flush()
    forget_slot_index()
    reservation.stock_arrived(task.warehouse_id, [task.sku_id])  # orders postponed for these goods
    return task


def lock_task(task_id: int) -> PutawayTask:
    """The task row, locked for this transaction (PostgreSQL) and read fresh."""
    task = db.session.get(PutawayTask, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise DomainError(404, "unknown-putaway-task", _("No putaway task with id %(id)s.", id=task_id))
    return task


def assign(task: PutawayTask, user: User | None) -> PutawayTask:
    task = lock_task(task.id)
    if task.status != PutawayStatus.open:
        raise _task_not_open(task)
    task.assigned_user_id = user.id if user else None
    if user is not None:
        task.started_at = task.started_at or utcnow()
    db.session.flush()
    return task


def note_of(task: PutawayTask) -> str:
    if task.status == PutawayStatus.open and task.suggested_cell_id is None:
        return NO_CELL_NOTE
    return ""


# --- the route -----------------------------------------------------------------------------------


@dataclass
class PutawayRoute:
    tasks: list[PutawayTask]  # in walking order; tasks without a placed target cell last
    stops: list[dict] = field(default_factory=list)  # {cell_id, address, x, y, task_ids}
    polyline: list[tuple[float, float]] = field(default_factory=list)
    length: float = 0.0


def route_for(tasks: list[PutawayTask], warehouse_id: int, start: int | None = None) -> PutawayRoute:
    """Tasks in the order of the shortest walk to their suggested cells, from the depot (or from
    the aisle of cell `start`, when it has a place) and back."""
    if not tasks:
        return PutawayRoute([])
    geometry = warehouse_geometry(warehouse_id)
    layout = with_ends(geometry.layout, geometry.points.get(start) if start is not None else None)
    placed = [t for t in tasks if t.suggested_cell_id in geometry.points]
    unplaced = [t for t in tasks if t.suggested_cell_id not in geometry.points]
    if not placed:
        return PutawayRoute(list(tasks))
    walk = route(layout, [geometry.points[t.suggested_cell_id] for t in placed])
    ordered: list[PutawayTask] = []
    stops = []
    by_point: dict[tuple[float, float], list[PutawayTask]] = {}
    for t in placed:
        p = geometry.points[t.suggested_cell_id]
        by_point.setdefault((p.x, p.y), []).append(t)
    addresses = dict(db.session.execute(
        select(Cell.id, Cell.address).where(Cell.id.in_({t.suggested_cell_id for t in placed}))).all())
    for stop in walk.stops:
        here = sorted(by_point[(stop.x, stop.y)], key=lambda t: (addresses.get(t.suggested_cell_id, ""), t.id))
        ordered.extend(here)
        stops.append({"cell_ids": sorted({t.suggested_cell_id for t in here}),
                      "addresses": sorted({addresses.get(t.suggested_cell_id, "") for t in here}),
                      "x": stop.x, "y": stop.y, "task_ids": [t.id for t in here]})
    return PutawayRoute(ordered + unplaced, stops, [list(v) for v in walk.polyline], walk.length)


__all__ = ["MAX_SPLITS", "NO_CELL_NOTE", "OVERRIDE_REASONS", "PutawayRoute", "assign", "confirm_putaway",
           "create_putaway_tasks", "lock_task", "note_of", "received_goods", "route_for", "split_suggestions",
           "validate_target"]
