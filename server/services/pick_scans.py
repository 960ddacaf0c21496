"""At the cell: the scans of a pick line checked, the pick recorded, a short, a skip, the route
made again. The batch, its totes and the drop-off are server.services.picking's.

- `check_cell` / `check_item` / `check_quantity` / `check_tote`: each scan against the line (and
  its reservation); `pick(...)` checks them all again under the row locks and records the pick:
  a ledger `pick` movement (picker, cart, tote in its reference), the pick line, the reservation,
  the order line and the batch's walked metres. A refused check records nothing.
- `short(line, found)`: picks what was found, releases the rest in that cell, re-reserves it from
  other cells (`reservation.reserve_again`) as new pick lines and routes the open lines again from the
  cell where the picker stands; with no stock left the order gets an `order.short` event. The cell
  goes onto the count list (`CountRequest`).
- `skip(line)`: the line goes to the end of the route; `reroute(batch, cell)`: the open lines in
  the order of the shortest walk from that cell.
- When no open line is left the batch is `picked` and its orders `picked`.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select

from server.core.routing import route
from server.extensions import db
from server.models import (
    Batch,
    BatchStatus,
    Cell,
    CountRequest,
    CountRequestStatus,
    MovementKind,
    Order,
    OrderLine,
    OrderReservation,
    OrderStatus,
    PickLine,
    PickLineStatus,
    Sku,
    Tote,
    User,
)
from server.models.base import utcnow
from server.services import reservation as reservation_service
from server.services.errors import DomainError
from server.services.geometry import WarehouseGeometry, warehouse_geometry
from server.services.picking import (
    flag_short,
    left_of,
    lock_line,
    next_line,
    open_lines,
    set_order_status,
    slot_of,
)
from server.services.stock import Actor, apply_movement

SCENARIO = "picking"


# --- the checks of one pick ---------------------------------------------------------------------


def _open(line: PickLine) -> None:
    if line.status != PickLineStatus.open:
        raise DomainError(409, "pick-line-done", _("This line is already done."))


def check_cell(line: PickLine, cell_id: int | None) -> Cell:
    _open(line)
    if cell_id != line.cell_id:
        cell = db.session.get(Cell, line.cell_id)
        raise DomainError(409, "wrong-cell", _("Wrong cell: go to %(cell)s.", cell=cell.address))
    return db.session.get(Cell, cell_id)


def check_item(line: PickLine, sku_id: int | None, lot: str | None = None, expiry: str | date | None = None) -> Sku:
    """The scanned goods against the line: its SKU, and the lot and expiry a GS1 code carries
    against the reservation's."""
    _open(line)
    sku = db.session.get(Sku, line.sku_id)
    if sku_id != line.sku_id:
        raise DomainError(409, "wrong-sku", _("Wrong goods: take %(sku)s.", sku=sku.code + " " + sku.name))
    if lot and lot != (line.lot or ""):
        raise DomainError(409, "wrong-lot", _("Wrong lot %(lot)s: take lot %(wanted)s.", lot=lot,
                                              wanted=line.lot or "-"))
    if expiry:
        scanned = expiry if isinstance(expiry, date) else date.fromisoformat(str(expiry))
        if scanned != line.expiry:
            raise DomainError(409, "wrong-expiry", _("Wrong expiry %(expiry)s: take the goods expiring %(wanted)s.",
                                                     expiry=scanned.isoformat(),
                                                     wanted=line.expiry.isoformat() if line.expiry else "-"))
    return sku


def check_quantity(line: PickLine, quantity) -> int:
    _open(line)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise DomainError(422, "bad-quantity", _("Quantity must be a positive whole number."))
    if quantity > left_of(line):
        raise DomainError(409, "too-many", _("Too many: %(left)s to pick here.", left=left_of(line)))
    return quantity


def check_tote(line: PickLine, tote_id: int | None) -> Tote:
    _open(line)
    place = slot_of(line.batch, line.order_id)
    wanted = db.session.get(Tote, place.tote_id) if place.tote_id else None
    if wanted is None:
        raise DomainError(409, "no-tote", _("Slot %(slot)s has no tote yet.", slot=place.slot))
    if tote_id != wanted.id:
        raise DomainError(409, "wrong-tote", _("Wrong tote: put it into tote %(tote)s (slot %(slot)s).",
                                               tote=wanted.code, slot=place.slot))
    return wanted


# --- a pick --------------------------------------------------------------------------------------


def pick(line: PickLine, cell_id: int | None, sku_id: int | None, quantity: int, tote_id: int | None,
         user: User | None, *, lot: str | None = None, expiry=None, station_id: int | None = None) -> PickLine:
    """Take `quantity` units of the line from its cell into its order's tote. Every scan is checked
    again under the line's lock; a refusal records nothing."""
    line = lock_line(line.id)
    if line.batch.status != BatchStatus.picking:
        raise DomainError(409, "batch-not-picking", _("This batch is not being picked."))
    check_cell(line, cell_id)
    check_item(line, sku_id, lot, expiry)
    check_quantity(line, quantity)
    tote = check_tote(line, tote_id)
    _take(line, quantity, tote, user, station_id)
    _finish_if_done(line.batch, user)
    return line


def _take(line: PickLine, quantity: int, tote: Tote | None, user: User | None, station_id: int | None) -> None:
    batch = line.batch
    reservation = db.session.get(OrderReservation, line.reservation_id, with_for_update=True, populate_existing=True)
    order_line = db.session.get(OrderLine, line.order_line_id, with_for_update=True, populate_existing=True)
    order = db.session.get(Order, line.order_id)
    if reservation.quantity < quantity:
        raise DomainError(409, "insufficient-reserved", _("This order holds fewer units here than asked."))
    reference = f"batch {batch.id} cart {batch.cart or '-'} tote {tote.code if tote else '-'} order {order.number}"
    apply_movement(MovementKind.pick, line.sku_id, quantity, from_cell_id=line.cell_id, lot=line.lot or "",
                   expiry=line.expiry, reference=reference[:128],
                   actor=Actor(user_id=user.id if user else None, station_id=station_id, scenario=SCENARIO))
    _walk_to(batch, line.cell_id)
    line.picked += quantity
    line.picker_user_id, line.picked_at = (user.id if user else None), utcnow()
    if line.picked == line.quantity:
        line.status = PickLineStatus.picked
    reservation.quantity -= quantity
    reservation.picked += quantity
    order_line.reserved -= quantity
    order_line.picked += quantity
    db.session.flush()


def _last_cell(batch: Batch) -> int | None:
    return db.session.execute(select(PickLine.cell_id).where(PickLine.batch_id == batch.id,
                                                             PickLine.picked_at.is_not(None))
                              .order_by(PickLine.picked_at.desc(), PickLine.id.desc()).limit(1)).scalar()


def _walk_to(batch: Batch, cell_id: int) -> None:
    """Batch.walked_m grows by the walk from the previous stop (the depot at the first pick)."""
    last = _last_cell(batch)
    if last == cell_id:
        return
    try:
        geometry = warehouse_geometry(batch.warehouse_id, [cell_id] + ([last] if last is not None else []))
    except DomainError:
        return
    here = geometry.points.get(cell_id)
    if here is None:
        return
    layout = _walking(batch, geometry).layout
    before = geometry.points.get(last) if last is not None else layout.depot
    if before is not None:
        batch.walked_m = round((batch.walked_m or 0.0) + layout.distance(before, here), 2)


def _walking(batch: Batch, geometry: WarehouseGeometry, start_cell_id: int | None = None) -> WarehouseGeometry:
    """The geometry walked as the batch is: from its wave's start point (or from where the picker
    stands, the pick point of `start_cell_id`) to its wave's drop point (the warehouse's, for a
    point a plan applied since no longer has)."""
    wave = batch.wave
    known = geometry.plan.points if geometry.plan is not None else {}
    start_point, drop_point = ((code if code in known else None) for code in (wave.start_point, wave.drop_point))
    start = geometry.points.get(start_cell_id) if start_cell_id is not None else None
    return geometry.walked(start or start_point, drop_point)


# --- short, skip, the route ----------------------------------------------------------------------


def short(line: PickLine, found: int, user: User | None, *, station_id: int | None = None) -> dict:
    """The cell has only `found` of the line's units left to pick: they are picked into the order's
    tote, the rest is released here and reserved again from other cells (new lines, the route made
    again from this cell), or, with no stock, the order flagged `order.short`. The cell goes onto the
    count list. Returns {"picked", "reserved_again", "flagged", "new_line_ids"}."""
    line = lock_line(line.id)
    _open(line)
    if line.batch.status != BatchStatus.picking:
        raise DomainError(409, "batch-not-picking", _("This batch is not being picked."))
    if isinstance(found, bool) or not isinstance(found, int) or found < 0:
        raise DomainError(422, "bad-quantity", _("Found: a whole number, 0 or more."))
    if found >= left_of(line):
        raise DomainError(409, "not-short", _("Found %(found)s of %(left)s: that is not short, pick them.",
                                               found=found, left=left_of(line)))
    batch, cell_id = line.batch, line.cell_id
    if found:
        place = slot_of(batch, line.order_id)
        _take(line, found, db.session.get(Tote, place.tote_id) if place.tote_id else None, user, station_id)
    rest = left_of(line)
    reservation = db.session.get(OrderReservation, line.reservation_id, with_for_update=True, populate_existing=True)
    order_line = db.session.get(OrderLine, line.order_line_id, with_for_update=True, populate_existing=True)
    order = db.session.get(Order, line.order_id, with_for_update=True, populate_existing=True)
    reservation_service.release_reservation(reservation, rest, user, reason="pick-short")
    line.status, line.picker_user_id, line.picked_at = PickLineStatus.short, (user.id if user else None), utcnow()
    if not found:
        _walk_to(batch, cell_id)
    _count_list(batch, cell_id, line.sku_id, user, found=found, short=rest)
    outcome = {"picked": found, "reserved_again": 0, "flagged": False, "new_line_ids": []}
    try:
        with db.session.begin_nested():
            reservations = reservation_service.reserve_again(order_line, rest, exclude_cell_ids=[cell_id], user=user)
    except DomainError as error:
        if error.slug != "insufficient-stock":
            raise
        reservations = []
    if reservations:
        top = db.session.execute(select(func.max(PickLine.seq)).where(PickLine.batch_id == batch.id)).scalar() or 0
        for n, reservation in enumerate(reservations, start=1):
            new = PickLine(batch_id=batch.id, order_id=order.id, order_line_id=order_line.id,
                           reservation_id=reservation.id, cell_id=reservation.cell_id, sku_id=reservation.sku_id,
                           lot=reservation.lot or "", expiry=reservation.expiry, quantity=reservation.quantity,
                           seq=top + n)
            db.session.add(new)
        db.session.flush()
        outcome["reserved_again"] = sum(r.quantity for r in reservations)
        outcome["new_line_ids"] = [pl.id for pl in open_lines(batch) if pl.reservation_id in
                                   {r.id for r in reservations}]
        reroute(batch, cell_id)
    else:
        flag_short(order, user, batch_id=batch.id, line_no=order_line.line_no, sku_id=line.sku_id, cell_id=cell_id,
                   short=rest)
        outcome["flagged"] = True
    db.session.flush()
    _finish_if_done(batch, user)
    return outcome


def _count_list(batch: Batch, cell_id: int, sku_id: int, user: User | None, **detail) -> CountRequest:
    """The cell onto the count list: one open request per cell."""
    cell = db.session.get(Cell, cell_id, with_for_update={"key_share": True}, populate_existing=True)
    request = db.session.execute(select(CountRequest).where(CountRequest.cell_id == cell_id,
                                                            CountRequest.status == CountRequestStatus.open)
                                 .limit(1)).scalar_one_or_none()
    if request is None:
        request = CountRequest(warehouse_id=cell.warehouse_id, cell_id=cell_id, sku_id=sku_id, reason="pick-short",
                               user_id=user.id if user else None, batch_id=batch.id, detail=detail)
        db.session.add(request)
        db.session.flush()
    return request


def skip(line: PickLine) -> PickLine:
    """The line goes to the end of the route."""
    line = lock_line(line.id)
    _open(line)
    top = db.session.execute(select(func.max(PickLine.seq)).where(PickLine.batch_id == line.batch_id)).scalar() or 0
    line.seq = top + 1
    db.session.flush()
    return line


def reroute(batch: Batch, start_cell_id: int | None) -> list[PickLine]:
    """The open lines in the order of the shortest walk from the aisle of `start_cell_id` (the depot
    when it has no place), renumbered after the done lines."""
    lines = open_lines(batch)
    if not lines:
        return lines
    done_top = db.session.execute(select(func.max(PickLine.seq)).where(
        PickLine.batch_id == batch.id, PickLine.status != PickLineStatus.open)).scalar() or 0
    ordered = lines
    try:
        geometry = warehouse_geometry(batch.warehouse_id, [pl.cell_id for pl in lines] + [start_cell_id or 0])
    except DomainError:
        geometry = None
    if geometry is not None:
        layout = _walking(batch, geometry, start_cell_id).layout
        placed = [pl for pl in lines if pl.cell_id in geometry.points]
        if placed:
            walk = route(layout, [geometry.points[pl.cell_id] for pl in placed])
            rank = {(p.x, p.y): i for i, p in enumerate(walk.stops)}
            placed.sort(key=lambda pl: (rank[(geometry.points[pl.cell_id].x, geometry.points[pl.cell_id].y)],
                                        pl.cell_id, pl.seq, pl.id))
            ordered = placed + [pl for pl in lines if pl.cell_id not in geometry.points]
    for n, pl in enumerate(ordered, start=1):
        pl.seq = done_top + n
    db.session.flush()
    return ordered


# --- finishing --------------------------------------------------------------------------------------


def _finish_if_done(batch: Batch, user: User | None) -> bool:
    if batch.status != BatchStatus.picking or next_line(batch) is not None:
        return batch.status == BatchStatus.picked
    batch.status, batch.picked_at = BatchStatus.picked, utcnow()
    for place in batch.orders:
        order = db.session.get(Order, place.order_id, with_for_update=True, populate_existing=True)
        if order.status == OrderStatus.picking:
            set_order_status(order, OrderStatus.picked, user, batch_id=batch.id)
    db.session.flush()
    return True


__all__ = ["check_cell", "check_item", "check_quantity", "check_tote", "pick", "reroute", "short", "skip"]
