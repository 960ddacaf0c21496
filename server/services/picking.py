"""Picking: a picker takes a batch (one cart of totes, one route), puts a tote on each order's
slot, walks the pick lines in route order (server.services.pick_scans: the scans, a short, a skip)
and drops the totes at the pack area.

- `take_next_batch(user, warehouse_id)`: the picker's own unfinished batch, else the first ready
  batch (locked, SKIP LOCKED on PostgreSQL, so two pickers never take the same one).
- `assign_tote(batch, slot, code)`: a free tote on an order's slot; a code of the tote format
  (`TOTE-<digits>`) that is no tote yet becomes one on its first scan.
- `drop_off(batch, cell)`: the picked batch's totes left at a pack-area cell (`at_pack`, still
  carrying their orders); `tote_lookup` finds a tote's order.
- `line_view`, `batch_view`, `slot_view`: what the handheld shows.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import (
    Batch,
    BatchOrder,
    BatchStatus,
    Cell,
    Order,
    OrderEvent,
    OrderStatus,
    PickLine,
    PickLineStatus,
    Sku,
    Tote,
    User,
    Zone,
    ZoneKind,
)
from server.models.base import utcnow
from server.services import orders
from server.services.errors import DomainError

TOTE_CODE = re.compile(r"^TOTE-\d{1,12}$")  # the tote label's code (printers: tote-label)


# --- orders --------------------------------------------------------------------------------------


def set_order_status(order: Order, status: str, user: User | None, **detail) -> None:
    orders.set_status(order, status, user=user, **detail)


def flag_short(order: Order, user: User | None, **detail) -> OrderEvent:
    """The order's card notes a line short with no stock left: an `order.short` event (sent to the
    shop's webhooks like every order event); the status stays."""
    return orders.record_event(order, "order.short", from_status=order.status, user=user, **detail)


# --- locks and reads ------------------------------------------------------------------------------


def lock_batch(batch_id: int) -> Batch:
    batch = db.session.get(Batch, batch_id, with_for_update=True, populate_existing=True)
    if batch is None:
        raise DomainError(404, "unknown-batch", _("No batch with id %(id)s.", id=batch_id))
    return batch


def lock_line(line_id: int) -> PickLine:
    line = db.session.get(PickLine, line_id, with_for_update=True, populate_existing=True)
    if line is None:
        raise DomainError(404, "unknown-pick-line", _("No pick line with id %(id)s.", id=line_id))
    return line


def open_lines(batch: Batch) -> list[PickLine]:
    return list(db.session.execute(select(PickLine).where(PickLine.batch_id == batch.id,
                                                          PickLine.status == PickLineStatus.open)
                                   .order_by(PickLine.seq, PickLine.id)).scalars())


def next_line(batch: Batch) -> PickLine | None:
    """The first open line on the route, or None."""
    return db.session.execute(select(PickLine).where(PickLine.batch_id == batch.id,
                                                     PickLine.status == PickLineStatus.open)
                              .order_by(PickLine.seq, PickLine.id).limit(1)).scalar_one_or_none()


def slot_of(batch: Batch, order_id: int) -> BatchOrder:
    return db.session.execute(select(BatchOrder).where(BatchOrder.batch_id == batch.id,
                                                       BatchOrder.order_id == order_id)).scalar_one()


def next_free_slot(batch: Batch) -> BatchOrder | None:
    """The first order slot without a tote yet."""
    return db.session.execute(select(BatchOrder).where(BatchOrder.batch_id == batch.id, BatchOrder.tote_id.is_(None))
                              .order_by(BatchOrder.slot).limit(1)).scalar_one_or_none()


def current_batch(user: User) -> Batch | None:
    """The picker's unfinished batch (picking, or picked and not yet dropped)."""
    return db.session.execute(select(Batch).where(Batch.picker_user_id == user.id,
                                                  Batch.status.in_((BatchStatus.picking, BatchStatus.picked)))
                              .order_by(Batch.started_at, Batch.id).limit(1)).scalar_one_or_none()


def left_of(line: PickLine) -> int:
    return line.quantity - line.picked


# --- taking a batch and its totes ---------------------------------------------------------------


def take_next_batch(user: User, warehouse_id: int | None = None) -> Batch:
    """The picker's own unfinished batch, else the first ready batch (of the warehouse, when given),
    assigned to the picker and its orders `picking`."""
    own = current_batch(user)
    if own is not None:
        return lock_batch(own.id)
    query = select(Batch).where(Batch.status == BatchStatus.ready)
    if warehouse_id is not None:
        query = query.where(Batch.warehouse_id == warehouse_id)
    batch = db.session.execute(query.order_by(Batch.seq, Batch.id).limit(1)
                               .with_for_update(skip_locked=True)
                               .execution_options(populate_existing=True)).scalar_one_or_none()
    if batch is None:
        raise DomainError(404, "no-ready-batch", _("No batch is ready to pick."))
    batch.status, batch.picker_user_id, batch.started_at = BatchStatus.picking, user.id, utcnow()
    for slot in batch.orders:
        order = db.session.get(Order, slot.order_id, with_for_update=True, populate_existing=True)
        if order.status != OrderStatus.picking:
            set_order_status(order, OrderStatus.picking, user, batch_id=batch.id)
    db.session.flush()
    return batch


def assign_tote(batch: Batch, slot: int, code: str) -> BatchOrder:
    """Put the tote `code` on the order slot `slot`: a free tote of the batch's warehouse (or one that
    already carries that order); a new code of the tote format is made a tote."""
    batch = lock_batch(batch.id)
    if batch.status != BatchStatus.picking:
        raise DomainError(409, "batch-not-picking", _("This batch is not being picked."))
    place = db.session.execute(select(BatchOrder).where(BatchOrder.batch_id == batch.id, BatchOrder.slot == slot)
                               .with_for_update()).scalar_one_or_none()
    if place is None:
        raise DomainError(404, "unknown-slot", _("The cart has no slot %(slot)s.", slot=slot))
    code = (code or "").strip()
    tote = _lock_tote(code)
    if tote is None:
        if not TOTE_CODE.match(code):
            raise DomainError(422, "not-a-tote", _("%(code)s is not a tote label.", code=code[:64]))
        tote = _new_tote(batch.warehouse_id, code)
    if tote.warehouse_id != batch.warehouse_id:
        raise DomainError(409, "tote-other-warehouse", _("Tote %(code)s belongs to another warehouse.", code=tote.code))
    if tote.order_id is not None and tote.order_id != place.order_id:
        other = db.session.get(Order, tote.order_id)
        raise DomainError(409, "tote-taken", _("Tote %(code)s carries order %(order)s: take an empty tote.",
                                                code=tote.code, order=other.number if other else tote.order_id))
    elsewhere = db.session.execute(select(BatchOrder).where(BatchOrder.batch_id == batch.id,
                                                            BatchOrder.tote_id == tote.id,
                                                            BatchOrder.id != place.id)).scalar_one_or_none()
    if elsewhere is not None:
        raise DomainError(409, "tote-on-other-slot", _("Tote %(code)s is already on slot %(slot)s.",
                                                        code=tote.code, slot=elsewhere.slot))
    if place.tote_id is not None and place.tote_id != tote.id:
        old = db.session.get(Tote, place.tote_id)
        if old is not None and old.order_id == place.order_id and not _picked_into(batch, place.order_id):
            old.status, old.order_id = "free", None
    place.tote_id = tote.id
    tote.status, tote.order_id, tote.cell_id = "picking", place.order_id, None
    db.session.flush()
    return place


def _picked_into(batch: Batch, order_id: int) -> bool:
    return bool(db.session.execute(select(func.coalesce(func.sum(PickLine.picked), 0))
                                   .where(PickLine.batch_id == batch.id, PickLine.order_id == order_id)).scalar())


def _lock_tote(code: str) -> Tote | None:
    if not code:
        return None
    return db.session.execute(select(Tote).where(Tote.code == code).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()


def _new_tote(warehouse_id: int, code: str) -> Tote:
    tote = Tote(warehouse_id=warehouse_id, code=code, status="free")
    try:
        with db.session.begin_nested():
            db.session.add(tote)
    except IntegrityError:  # made by another scan at the same moment: take its row
        tote = _lock_tote(code)
    return tote


# --- finishing and drop-off ---------------------------------------------------------------------



def drop_off(batch: Batch, cell_id: int | None, user: User | None) -> Batch:
    """Leave the picked batch's totes at a pack-area cell: batch `dropped`, totes `at_pack` there,
    each still carrying its order."""
    batch = lock_batch(batch.id)
    if batch.status != BatchStatus.picked:
        raise DomainError(409, "batch-not-picked", _("Pick every line before the drop-off."))
    cell = db.session.get(Cell, cell_id) if cell_id else None
    zone = db.session.get(Zone, cell.zone_id) if cell is not None else None
    if cell is None or zone.kind != ZoneKind.packing or cell.warehouse_id != batch.warehouse_id:
        raise DomainError(409, "not-pack-area", _("Scan a cell of the pack area."))
    batch.status, batch.dropped_at, batch.drop_cell_id = BatchStatus.dropped, utcnow(), cell.id
    for place in batch.orders:
        if place.tote_id is None:
            continue
        tote = db.session.get(Tote, place.tote_id, with_for_update=True, populate_existing=True)
        tote.status, tote.cell_id, tote.order_id = "at_pack", cell.id, place.order_id
    db.session.flush()
    return batch


def tote_lookup(code: str) -> tuple[Tote, Order | None]:
    tote = db.session.execute(select(Tote).where(Tote.code == (code or "").strip())).scalar_one_or_none()
    if tote is None:
        raise DomainError(404, "unknown-tote", _("No tote %(code)s.", code=(code or "")[:64]))
    return tote, db.session.get(Order, tote.order_id) if tote.order_id else None


# --- views for the handheld ---------------------------------------------------------------------


def line_view(line: PickLine) -> dict:
    cell, sku = db.session.get(Cell, line.cell_id), db.session.get(Sku, line.sku_id)
    order = db.session.get(Order, line.order_id)
    place = slot_of(line.batch, line.order_id)
    tote = db.session.get(Tote, place.tote_id) if place.tote_id else None
    return {"id": line.id, "seq": line.seq, "cell": {"id": cell.id, "address": cell.address},
            "sku": {"id": sku.id, "code": sku.code, "name": sku.name}, "quantity": left_of(line),
            "lot": line.lot or "", "expiry": line.expiry.isoformat() if line.expiry else "",
            "order": {"id": order.id, "number": order.number}, "slot": place.slot,
            "tote": tote.code if tote else ""}


def batch_view(batch: Batch) -> dict:
    lines = open_lines(batch)
    stops: list[dict] = []
    for pl in lines:  # consecutive lines at one cell are one stop
        if stops and stops[-1]["cell_ids"] == [pl.cell_id]:
            stops[-1]["line_ids"].append(pl.id)
            continue
        stops.append({"n": len(stops) + 1, "cell_ids": [pl.cell_id], "line_ids": [pl.id]})
    addresses = dict(db.session.execute(select(Cell.id, Cell.address).where(
        Cell.id.in_({pl.cell_id for pl in lines}))).all()) if lines else {}
    for stop in stops:
        stop["addresses"] = [addresses.get(stop["cell_ids"][0], "")]
    return {"id": batch.id, "cart": batch.cart, "status": batch.status, "lines_left": len(lines),
            "walked_m": round(batch.walked_m or 0.0, 1), "orders": len(batch.orders),
            # On a building plan the walk runs from the wave's start point to its drop point.
            "route": {"stops": stops, "start": batch.wave.start_point, "drop": batch.wave.drop_point}}


def slot_view(place: BatchOrder) -> dict:
    order = db.session.get(Order, place.order_id)
    return {"slot": place.slot, "order": {"id": order.id, "number": order.number}}


__all__ = ["TOTE_CODE", "assign_tote", "batch_view", "current_batch", "drop_off", "flag_short", "left_of",
           "line_view", "lock_batch", "lock_line", "next_free_slot", "next_line", "open_lines",
           "set_order_status", "slot_of", "slot_view", "take_next_batch", "tote_lookup"]
