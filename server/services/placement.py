"""Whether a storage cell may take goods: the core's placement rules on what it holds and what open
putaway tasks plan for it.

Suggestions (the slotting index), putaway confirmations and moves into storage cells apply the
same rules (`server.core.slotting.mixing_refusal` and `capacity_refusal`): the cell's mixing rule,
never a later expiry in front of an earlier one (FEFO), capacity, and units that open putaway tasks
are to bring (the index counts them as if already there). The caller holds the cell's row lock
(`server.services.stock.lock_cell`), so two placements into one cell are checked in turn.
"""

from datetime import date

from flask_babel import lazy_gettext as _
from flask_babel.speaklater import LazyString
from sqlalchemy import select

from server.core.slotting import EARLIER_EXPIRY, OTHER_LOT, capacity_refusal, mixing_refusal
from server.extensions import db
from server.models import Cell, PutawayStatus, PutawayTask, Quant, Sku, Zone
from server.services.errors import DomainError
from server.services.slotting import STORAGE_ZONE_KINDS, mixing_rule, unit_dims


def is_storage_cell(cell: Cell) -> bool:
    """Cells of storage and picking zones: the cells the placement rules govern."""
    return db.session.scalar(select(Zone.kind).where(Zone.id == cell.zone_id)) in STORAGE_ZONE_KINDS


def _held(cell: Cell) -> list[tuple]:
    """(sku id, lot, expiry, units, unit cm3, unit g) of the cell's quants."""
    return [(sku.id, lot or "", expiry, quantity, *unit_dims(sku)) for sku, lot, expiry, quantity in db.session.execute(
        select(Sku, Quant.lot, Quant.expiry, Quant.quantity).join(Sku, Sku.id == Quant.sku_id)
        .where(Quant.cell_id == cell.id, Quant.quantity > 0)
    )]


def _planned(cell: Cell, task_id: int | None) -> list[tuple]:
    """The same for open putaway tasks suggested into the cell, except task `task_id`."""
    statement = (
        select(PutawayTask.id, Sku, PutawayTask.lot, PutawayTask.expiry, PutawayTask.quantity)
        .join(Sku, Sku.id == PutawayTask.sku_id)
        .where(PutawayTask.suggested_cell_id == cell.id, PutawayTask.status == PutawayStatus.open)
        .order_by(PutawayTask.id)
    )
    if task_id is not None:
        statement = statement.where(PutawayTask.id != task_id)
    return [(sku.id, lot or "", expiry, quantity, *unit_dims(sku), task)
            for task, sku, lot, expiry, quantity in db.session.execute(statement)]


def check_placement(cell: Cell, sku: Sku, quantity: int, lot: str = "", expiry: date | None = None, *,
                    planned: bool = True, task_id: int | None = None) -> None:
    """Raise DomainError when `cell` may not take `quantity` × sku/lot/expiry (slugs:
    mixing-not-allowed, expiry-order, cell-full).

    planned: also count what open putaway tasks (other than `task_id`) are to bring; when that is
    what refuses, the answer names the task (`planned_task_id`). A task confirmed into its own
    suggested cell passes planned=False: its suggestion already took the other plans into account."""
    contents = _held(cell)
    _refuse_if_barred(cell, sku, quantity, lot or "", expiry, contents, None)
    for row in _planned(cell, task_id) if planned else ():
        contents.append(row[:6])
        _refuse_if_barred(cell, sku, quantity, lot or "", expiry, contents, row[6])


def _refuse_if_barred(cell: Cell, sku: Sku, quantity: int, lot: str, expiry, contents: list[tuple],
                      planned_task: int | None) -> None:
    detail = _("Planned: putaway task %(id)s brings goods to this cell.", id=planned_task) if planned_task else None
    extra = {"cell_id": cell.id, **({"planned_task_id": planned_task} if planned_task else {})}
    refusal = mixing_refusal(mixing_rule(cell.cell_type), [row[:3] for row in contents], sku.id, lot, expiry)
    if refusal == EARLIER_EXPIRY:
        earliest = min(row[2] for row in contents if row[0] == sku.id and row[2] is not None)
        raise DomainError(409, "expiry-order", _(
            "Cell %(cell)s holds %(sku)s expiring on %(date)s, before these goods: put them elsewhere so the "
            "earlier ones are picked first.", cell=cell.address, sku=sku.name, date=earliest.isoformat()),
            detail, **extra)
    if refusal == OTHER_LOT:
        raise DomainError(409, "mixing-not-allowed",
                          _("Cell %(cell)s holds another lot and takes one lot only.", cell=cell.address),
                          detail, **extra)
    if refusal is not None:
        raise DomainError(409, "mixing-not-allowed",
                          _("Cell %(cell)s holds other goods and cannot take %(sku)s.", cell=cell.address,
                            sku=sku.name), detail, **extra)
    capacity = (cell.max_volume_cm3, cell.max_weight_g, cell.max_units)
    volume, weight = unit_dims(sku)
    over = capacity_refusal(capacity, [row[3:6] for row in contents], quantity, volume, weight)
    if over:
        raise DomainError(409, "cell-full", _("Cell %(cell)s has no room for %(qty)s × %(sku)s.",
                                              cell=cell.address, qty=quantity, sku=sku.name),
                          detail or _room_detail(over, capacity, contents, quantity, volume, weight),
                          over=list(over), **extra)


def _room_detail(over, capacity, contents, quantity: int, volume: float, weight: float) -> LazyString:
    used_v = sum(row[3] * row[4] for row in contents)
    used_w = sum(row[3] * row[5] for row in contents)
    used_u = sum(row[3] for row in contents)
    parts = []
    if "units" in over:
        parts.append(_("units %(used)s + %(quantity)s > %(max)s", used=used_u, quantity=quantity, max=capacity[2]))
    if "volume" in over:
        parts.append(_("volume %(used)s + %(quantity)s cm3 > %(max)s cm3", used=f"{used_v:,.0f}",
                       quantity=f"{quantity * volume:,.0f}", max=f"{capacity[0]:,}"))
    if "weight" in over:
        parts.append(_("weight %(used)s + %(quantity)s g > %(max)s g", used=f"{used_w:,.0f}",
                       quantity=f"{quantity * weight:,.0f}", max=f"{capacity[1]:,}"))
    return LazyString(lambda: "; ".join(str(part) for part in parts))
