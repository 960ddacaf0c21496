"""Moving and reserving stock: one ledger row per change, quants updated in the same transaction.

Concurrency: the quants a movement touches are locked (SELECT ... FOR UPDATE, in id order, so
two movements never deadlock) before availability is checked; on SQLite every transaction
already holds the write lock (BEGIN IMMEDIATE). Available stock therefore never goes below zero.
"""

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _
from sqlalchemy import and_, case, func, insert, or_, select, text, union_all
from sqlalchemy.exc import IntegrityError

from server.core.bounds import INT32_MAX
from server.extensions import db
from server.models import KIND_EFFECTS, Cell, CellStatus, Movement, MovementKind, Quant, Sku
from server.models.base import utcnow
from server.models.stock import NO_EXPIRY, TAKES_AVAILABLE
from server.services.dates import parse_date
from server.services.errors import DomainError
from server.services.placement import check_placement, is_storage_cell
from server.services.upsert import upsert

# Adjustments (counts) may touch a blocked cell; nothing else may.
ALLOWED_IN_BLOCKED_CELL = {MovementKind.adjust_in, MovementKind.adjust_out, MovementKind.release}


@dataclass(frozen=True)
class Actor:
    """Who causes a movement, for the ledger."""

    user_id: int | None = None
    station_id: int | None = None
    scenario: str = ""


def _check_fits(total: int, cell: str = "", sku: str = "") -> None:
    """A quant's quantity (and a movement's) is an `Integer` column: refuse what it cannot hold."""
    if total > INT32_MAX:
        raise DomainError(422, "quantity-too-large", _("The quantity is too large."),
                          _("%(cell)s would hold more than %(max)s units of %(sku)s.", cell=cell or "a cell",
                            max=INT32_MAX, sku=sku or "a SKU"), maximum=INT32_MAX)


def apply_movement(
    kind: str,
    sku_id: int,
    quantity: int,
    *,
    from_cell_id: int | None = None,
    to_cell_id: int | None = None,
    lot: str = "",
    expiry: date | None = None,
    actor: Actor = Actor(),
    reason: str = "",
    reference: str = "",
    idempotency_key: str | None = None,
    placement_checked: bool = False,
) -> Movement:
    """Record one movement and update the quants it touches. Raises DomainError on bad input.

    A move into a storage cell is checked against the placement rules (services/placement.py)
    under the cell's lock, unless the caller did that (`placement_checked`: putaway confirmation)."""
    try:
        kind = MovementKind(kind)
    except ValueError:
        raise DomainError(422, "unknown-movement-kind", _("Unknown movement kind %(kind)s.", kind=kind)) from None
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise DomainError(422, "bad-quantity", _("Quantity must be a positive whole number."))
    _check_fits(quantity)
    lot = (lot or "").strip()

    if idempotency_key:
        earlier = db.session.execute(
            select(Movement).where(Movement.idempotency_key == idempotency_key)
        ).scalar_one_or_none()
        if earlier is not None:
            return _same_or_conflict(earlier, kind, sku_id, quantity, from_cell_id, to_cell_id, lot, expiry)

    (src_q, src_r), (dst_q, dst_r) = KIND_EFFECTS[kind]
    needs_source = bool(src_q or src_r)
    needs_target = bool(dst_q or dst_r)
    if needs_source and from_cell_id is None:
        raise DomainError(422, "source-cell-required", _("A %(kind)s movement needs a source cell.", kind=kind))
    if needs_target and to_cell_id is None:
        raise DomainError(422, "target-cell-required", _("A %(kind)s movement needs a target cell.", kind=kind))
    if not needs_source:
        from_cell_id = None
    if not needs_target:
        to_cell_id = None
    if from_cell_id is not None and from_cell_id == to_cell_id:
        raise DomainError(422, "same-cell", _("Source and target cell are the same."))

    sku = db.session.get(Sku, sku_id)
    if sku is None:
        raise DomainError(404, "unknown-sku", _("No SKU with id %(id)s.", id=sku_id))
    if sku.track_lot and not lot:
        raise DomainError(422, "lot-required", _("SKU %(sku)s is tracked by lot; give the lot.", sku=sku.code))
    if sku.track_expiry and expiry is None:
        raise DomainError(422, "expiry-required", _("SKU %(sku)s is tracked by expiry; give the expiry date.", sku=sku.code))
    cells = _cells(kind, from_cell_id, to_cell_id)
    if kind == MovementKind.move and not placement_checked and is_storage_cell(cells[to_cell_id]):
        check_placement(lock_cell(to_cell_id), sku, quantity, lot, expiry)  # the cell lock, then quants

    keys = [(cell_id, sku_id, lot, expiry) for cell_id in (from_cell_id, to_cell_id) if cell_id is not None]
    quants = _lock_quants(keys)
    if from_cell_id is not None:
        source = quants.get((from_cell_id, sku_id, lot, expiry))
        have_total = source.quantity if source else 0
        have_reserved = source.reserved if source else 0
        if kind in TAKES_AVAILABLE and have_total - have_reserved < quantity:
            raise DomainError(
                409,
                "insufficient-stock",
                _("Not enough available stock in the cell."),
                _("%(cell)s: %(available)s of %(sku)s available, %(asked)s asked.", cell=cells[from_cell_id].address,
                  available=have_total - have_reserved, sku=sku.code, asked=quantity),
                available=have_total - have_reserved,
            )
        if src_r < 0 and have_reserved < quantity:
            raise DomainError(
                409,
                "insufficient-reserved",
                _("Not enough reserved stock in the cell."),
                _("%(cell)s: %(reserved)s of %(sku)s reserved, %(asked)s asked.", cell=cells[from_cell_id].address,
                  reserved=have_reserved, sku=sku.code, asked=quantity),
                reserved=have_reserved,
            )
        source.quantity += src_q * quantity
        source.reserved += src_r * quantity
    if to_cell_id is not None:
        target = quants.get((to_cell_id, sku_id, lot, expiry))
        _check_fits((target.quantity if target else 0) + dst_q * quantity, cells[to_cell_id].address, sku.code)
        target = target or _create_quant(to_cell_id, sku_id, lot, expiry)
        target.quantity += dst_q * quantity
        target.reserved += dst_r * quantity

    movement = Movement(
        kind=kind,
        sku_id=sku_id,
        lot=lot,
        expiry=expiry,
        quantity=quantity,
        from_cell_id=from_cell_id,
        to_cell_id=to_cell_id,
        user_id=actor.user_id,
        station_id=actor.station_id,
        scenario=actor.scenario,
        reason=reason,
        reference=reference,
        idempotency_key=idempotency_key or None,
    )
    db.session.add(movement)
    db.session.flush()
    return movement


def reserve_fefo(
    sku_id: int,
    quantity: int,
    *,
    warehouse_id: int,
    actor: Actor = Actor(),
    reference: str = "",
    reason: str = "",
) -> list[Movement]:
    """Reserve `quantity` of a SKU in a warehouse, first-expiring first; all or nothing."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise DomainError(422, "bad-quantity", _("Quantity must be a positive whole number."))
    quants = (
        db.session.execute(
            select(Quant)
            .join(Cell, Cell.id == Quant.cell_id)
            .where(
                Quant.sku_id == sku_id,
                Cell.warehouse_id == warehouse_id,
                Cell.status == CellStatus.active,
                Quant.quantity > Quant.reserved,
            )
            .order_by(func.coalesce(Quant.expiry, NO_EXPIRY), Quant.id)
            .with_for_update(of=Quant)
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    if sum(q.available for q in quants) < quantity:
        raise DomainError(
            409,
            "insufficient-stock",
            _("Not enough available stock in the warehouse."),
            available=sum(q.available for q in quants),
        )
    movements, left = [], quantity
    for quant in quants:
        take = min(left, quant.available)
        if take <= 0:
            continue
        movements.append(
            apply_movement(
                MovementKind.reserve, sku_id, take, from_cell_id=quant.cell_id, lot=quant.lot,
                expiry=quant.expiry, actor=actor, reference=reference, reason=reason,
            )
        )
        left -= take
        if left == 0:
            break
    return movements


def lock_cell(cell_id: int) -> Cell | None:
    """The cell row, locked for this transaction (SELECT ... FOR UPDATE on PostgreSQL) and read fresh.

    Every write that checks what a cell holds against its capacity or mixing rule takes this lock
    first: the quants it reads may be rows that do not exist yet (a SKU new to the cell), which no
    quant lock covers, so two such writes into one cell would both pass the check. Taken before
    any quant lock (quants are locked after, in id order), so the order is always cell, then quants."""
    # FOR NO KEY UPDATE: two such writes wait for each other, but a quant insert's foreign-key
    # check (FOR KEY SHARE on the cell) does not wait for it, so a move out of the cell never
    # deadlocks with a move into it.
    return db.session.get(Cell, cell_id, with_for_update={"key_share": True}, populate_existing=True)


def _same_or_conflict(earlier: Movement, kind, sku_id, quantity, from_cell_id, to_cell_id, lot, expiry):
    same = (earlier.kind, earlier.sku_id, earlier.quantity, earlier.lot, earlier.expiry) == (
        kind, sku_id, quantity, lot, expiry
    ) and (from_cell_id is None or earlier.from_cell_id == from_cell_id) and (
        to_cell_id is None or earlier.to_cell_id == to_cell_id
    )
    if not same:
        raise DomainError(
            422, "idempotency-key-reused", _("This idempotency key was already used for a different movement."),
            movement_id=earlier.id,
        )
    return earlier


def _cells(kind: str, from_cell_id: int | None, to_cell_id: int | None) -> dict[int, Cell]:
    cells = {}
    for cell_id in (from_cell_id, to_cell_id):
        if cell_id is None:
            continue
        cell = db.session.get(Cell, cell_id)
        if cell is None:
            raise DomainError(404, "unknown-cell", _("No cell with id %(id)s.", id=cell_id))
        if cell.status == CellStatus.blocked and kind not in ALLOWED_IN_BLOCKED_CELL:
            raise DomainError(409, "cell-blocked", _("Cell %(cell)s is blocked.", cell=cell.address))
        cells[cell_id] = cell
    if from_cell_id and to_cell_id and cells[from_cell_id].warehouse_id != cells[to_cell_id].warehouse_id:
        raise DomainError(422, "different-warehouses", _("Source and target cell are in different warehouses."))
    return cells


def _key_clause(cell_id, sku_id, lot, expiry):
    return and_(
        Quant.cell_id == cell_id,
        Quant.sku_id == sku_id,
        Quant.lot == lot,
        Quant.expiry.is_(None) if expiry is None else Quant.expiry == expiry,
    )


def _lock_quants(keys) -> dict[tuple, Quant]:
    rows = (
        db.session.execute(
            select(Quant)
            .where(or_(*(_key_clause(*key) for key in keys)))
            .order_by(Quant.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    return {(q.cell_id, q.sku_id, q.lot, q.expiry): q for q in rows}


def _create_quant(cell_id, sku_id, lot, expiry) -> Quant:
    quant = Quant(cell_id=cell_id, sku_id=sku_id, lot=lot, expiry=expiry, quantity=0, reserved=0)
    try:
        with db.session.begin_nested():
            db.session.add(quant)
    except IntegrityError:
        # Another transaction created it first; take its row (and its lock).
        quant = _lock_quants([(cell_id, sku_id, lot, expiry)])[(cell_id, sku_id, lot, expiry)]
    return quant


# --- bulk receipts (opening stock, demo data) ---------------------------------------------------

BULK_CHUNK = 1000
OPENING_STOCK = "opening stock"  # the reason on movements that bring in a warehouse's first stock


@dataclass(frozen=True)
class ReceiptLine:
    cell_id: int
    sku_id: int
    lot: str
    expiry: date | None
    quantity: int
    idempotency_key: str | None = None


def receive_lines(
    lines: list["ReceiptLine"], *, actor: Actor, reason: str,
    reference: str = "",
) -> int:
    """Bulk `receive` movements and their quants, in the caller's transaction; returns the count.

    The lines must be checked (cells active, lot/expiry present where tracked, quantity > 0).
    Quants are added to by one upsert (INSERT ... ON CONFLICT DO UPDATE on the quant key), so two
    receipts of a SKU new to a cell at the same moment both land: the second waits for the first's
    row and adds to it, instead of failing on uq_quants_key.
    """
    if not lines:
        return 0
    now = utcnow()
    totals: dict[tuple, int] = {}
    for line in lines:
        key = (line.cell_id, line.sku_id, line.lot, line.expiry)
        totals[key] = totals.get(key, 0) + line.quantity
    movements = [
        {
            "created_at": now, "kind": MovementKind.receive, "sku_id": line.sku_id, "lot": line.lot,
            "expiry": line.expiry, "quantity": line.quantity, "from_cell_id": None, "to_cell_id": line.cell_id,
            "user_id": actor.user_id, "station_id": actor.station_id, "scenario": actor.scenario,
            "reason": reason, "reference": reference, "idempotency_key": line.idempotency_key,
        }
        for line in lines
    ]
    new_quants = [
        {"cell_id": key[0], "sku_id": key[1], "lot": key[2], "expiry": key[3], "quantity": quantity, "reserved": 0,
         "updated_at": now}
        # In key order, so two receipts into the same quants lock them in the same order (no deadlock).
        for key, quantity in sorted(totals.items(), key=lambda item: (*item[0][:3], item[0][3] or NO_EXPIRY))
    ]
    _lock_cells(sorted({key[0] for key in totals}))
    _check_receipt_fits(totals)
    for i in range(0, len(movements), BULK_CHUNK * 5):
        db.session.execute(insert(Movement), movements[i : i + BULK_CHUNK * 5])
    for i in range(0, len(new_quants), BULK_CHUNK * 5):
        db.session.execute(_add_to_quants(), new_quants[i : i + BULK_CHUNK * 5])
    db.session.flush()
    for quant in [obj for obj in db.session.identity_map.values() if isinstance(obj, Quant)]:
        db.session.expire(quant)  # changed under the ORM: read again when used
    return len(movements)


def _lock_cells(cell_ids: list[int]) -> None:
    """Lock the cells a bulk receipt goes into, in id order (as lock_cell does for one), before their
    fill is read: a receipt at the same moment into the same cell waits instead of reading stale fill."""
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the transaction already holds the write lock
    for i in range(0, len(cell_ids), BULK_CHUNK):
        db.session.execute(select(Cell.id).where(Cell.id.in_(cell_ids[i : i + BULK_CHUNK]))
                           .order_by(Cell.id).with_for_update())


def _check_receipt_fits(totals: dict[tuple, int]) -> None:
    """Refuse a receipt that would take a quant past its `Integer` column (422, not a database error).

    One aggregate read decides whether any quant of the cells could overflow; only then each key
    is looked at."""
    cell_ids = sorted({key[0] for key in totals})
    largest = 0
    for i in range(0, len(cell_ids), BULK_CHUNK):
        found = db.session.execute(
            select(func.max(Quant.quantity)).where(Quant.cell_id.in_(cell_ids[i : i + BULK_CHUNK]))).scalar()
        largest = max(largest, found or 0)
    if largest + max(totals.values()) <= INT32_MAX:
        return
    for (cell_id, sku_id, lot, expiry), quantity in totals.items():
        have = db.session.execute(
            select(Quant.quantity).where(Quant.cell_id == cell_id, Quant.sku_id == sku_id, Quant.lot == lot,
                                         Quant.expiry.is_(None) if expiry is None else Quant.expiry == expiry)
        ).scalar() or 0
        _check_fits(have + quantity, f"cell {cell_id}", f"SKU {sku_id}")


def _add_to_quants():
    """INSERT INTO quants ... ON CONFLICT (the uq_quants_key expression) DO UPDATE: quantity added."""
    statement = upsert(Quant)
    return statement.on_conflict_do_update(
        index_elements=[Quant.cell_id, Quant.sku_id, Quant.lot, text(f"coalesce(expiry, '{NO_EXPIRY.isoformat()}')")],
        set_={"quantity": Quant.quantity + statement.excluded.quantity, "updated_at": statement.excluded.updated_at},
    )


# --- rebuilding quants from the ledger -------------------------------------------------------


@dataclass
class QuantDifference:
    cell_id: int
    sku_id: int
    lot: str
    expiry: date | None
    ledger_quantity: int
    ledger_reserved: int
    quant_quantity: int
    quant_reserved: int


def ledger_balances():
    """(cell, sku, lot, expiry) -> (quantity, reserved), summed by the database from the ledger."""
    sides = []
    for side, cell_col in ((0, Movement.from_cell_id), (1, Movement.to_cell_id)):
        dq = case(*((Movement.kind == k, KIND_EFFECTS[k][side][0]) for k in KIND_EFFECTS), else_=0)
        dr = case(*((Movement.kind == k, KIND_EFFECTS[k][side][1]) for k in KIND_EFFECTS), else_=0)
        sides.append(
            select(
                cell_col.label("cell_id"),
                Movement.sku_id.label("sku_id"),
                Movement.lot.label("lot"),
                Movement.expiry.label("expiry"),
                (dq * Movement.quantity).label("dq"),
                (dr * Movement.quantity).label("dr"),
            ).where(cell_col.is_not(None))
        )
    both = union_all(*sides).subquery()
    rows = db.session.execute(
        select(
            both.c.cell_id, both.c.sku_id, both.c.lot, both.c.expiry,
            func.sum(both.c.dq), func.sum(both.c.dr),
        ).group_by(both.c.cell_id, both.c.sku_id, both.c.lot, both.c.expiry)
    ).all()
    return {(r[0], r[1], r[2], parse_date(r[3])): (int(r[4] or 0), int(r[5] or 0)) for r in rows}


def check_quants(repair: bool = False) -> list[QuantDifference]:
    """Compare quants with the ledger; with repair, make the quants equal to the ledger."""
    ledger = ledger_balances()
    stored = {
        (q.cell_id, q.sku_id, q.lot, q.expiry): q
        for q in db.session.execute(select(Quant).with_for_update()).scalars()
    }
    differences = []
    for key in sorted(set(ledger) | set(stored), key=lambda k: (k[0], k[1], k[2], k[3] or NO_EXPIRY)):
        lq, lr = ledger.get(key, (0, 0))
        quant = stored.get(key)
        sq, sr = (quant.quantity, quant.reserved) if quant else (0, 0)
        if (lq, lr) != (sq, sr):
            differences.append(QuantDifference(*key, lq, lr, sq, sr))
            if repair:
                if quant is None:
                    quant = Quant(cell_id=key[0], sku_id=key[1], lot=key[2], expiry=key[3])
                    db.session.add(quant)
                quant.quantity, quant.reserved = lq, lr
    if repair:
        db.session.flush()
    return differences


