"""The resolver registry: which kinds of codes there are, how each is looked up (index-backed
selects of one id column) and how the winner is described. Later flows plug in with
`register_resolver()`; registry order is priority."""

import contextvars
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import LazyString
from flask_babel import lazy_gettext as _
from sqlalchemy import BindParameter, Select, bindparam, select

from server.extensions import db
from server.models import Cell, Order, Parcel, Sku, SkuBarcode, Tote, User
from server.services.scan.decode import DecodedScan


class Kind:
    cell = "cell"
    sku = "sku"
    badge = "badge"
    tote = "tote"
    order = "order"
    parcel = "parcel"
    unknown = "unknown"


@dataclass(frozen=True)
class Lookup:
    """One index-backed lookup. `statement(param)` builds, once, a select of ONE id column that
    filters on the bind parameter `param` (it may also use `:warehouse_id`); `value(scan,
    warehouse_id)` is what to look up for a scan, or None to skip it."""

    statement: Callable[[BindParameter], Select]
    value: Callable[[DecodedScan, int | None], object | None]


@dataclass(frozen=True)
class Resolver:
    """One kind of code: its lookups, and `describe(id, scan)` -> (entity id, entity JSON, message)
    for the id that won (a SKU barcode's id names its SKU), or None to pass.

    Registry order is priority: the first resolver with a hit wins.
    """

    kind: str
    lookups: tuple[Lookup, ...]
    describe: Callable[[int, DecodedScan], tuple[int, dict, LazyString | str] | None]
    name: str = field(default="")
    # The by-id select `describe` reads through `_one` (bind `:id`), if any: classify_many reads
    # it ahead for a whole batch. Optional; without it describe queries as usual.
    row: Select | None = None


RESOLVERS: list[Resolver] = []
_PREPARED: dict[int, list[tuple[str, Lookup, Select]]] = {}  # id(resolver) -> its built lookups
_UNIONS: dict[tuple, object] = {}  # (rank, param) of the lookups used -> their UNION ALL
_PARAM_NUMBERS = itertools.count()


def register_resolver(resolver: Resolver, *, before: str | None = None) -> Resolver:
    """Add a resolver; `before` names a resolver (by name or kind) it takes priority over."""
    name = resolver.name or resolver.kind
    RESOLVERS[:] = [r for r in RESOLVERS if (r.name or r.kind) != name]
    index = len(RESOLVERS)
    if before is not None:
        index = next((i for i, r in enumerate(RESOLVERS) if before in (r.name, r.kind)), index)
    RESOLVERS.insert(index, resolver)
    prepared = []
    for lookup in resolver.lookups:
        param = f"scan_{next(_PARAM_NUMBERS)}"
        prepared.append((param, lookup, lookup.statement(bindparam(param))))
    _PREPARED[id(resolver)] = prepared
    _UNIONS.clear()
    return resolver


# (id(statement), id) -> row read ahead by classify_many (None: no such row)
_READ_AHEAD: contextvars.ContextVar[dict | None] = contextvars.ContextVar("scan_read_ahead", default=None)


def _connection():
    """The session's connection: plain Core statements, same transaction, no ORM overhead."""
    return db.session.connection()


def _one(statement: Select, entity_id: int):
    """The row of `statement` (bind `:id`) for `entity_id`, read ahead by classify_many if it was."""
    ahead = _READ_AHEAD.get()
    if ahead is not None and (id(statement), entity_id) in ahead:
        return ahead[(id(statement), entity_id)]
    return _connection().execute(statement, {"id": entity_id}).one_or_none()


# --- the built-in resolvers -----------------------------------------------------------------


WAREHOUSE = bindparam("warehouse_id")
ID = bindparam("id")


def _text(scan: DecodedScan, warehouse_id: int | None):
    return scan.lookup_text


def _text_here(scan: DecodedScan, warehouse_id: int | None):
    """The text, when the warehouse is known (a station): lookups narrowed to it."""
    return scan.lookup_text if warehouse_id is not None else None


def _text_anywhere(scan: DecodedScan, warehouse_id: int | None):
    return scan.lookup_text if warehouse_id is None else None


def _gtin(scan: DecodedScan, warehouse_id: int | None):
    return scan.gtin


def _text_unless_gtin(scan: DecodedScan, warehouse_id: int | None):
    text = scan.lookup_text
    return text if text != scan.gtin else None


def _sscc(scan: DecodedScan, warehouse_id: int | None):
    return scan.sscc


_CELL = select(Cell.id, Cell.address, Cell.barcode, Cell.warehouse_id, Cell.zone_id, Cell.cell_type,
               Cell.status).where(Cell.id == ID)
_SKU = (
    select(Sku.id, Sku.code, Sku.name, SkuBarcode.barcode, SkuBarcode.kind, SkuBarcode.units, Sku.active,
           Sku.track_lot, Sku.track_expiry, Sku.track_serial, Sku.track_marking)
    .join(Sku, Sku.id == SkuBarcode.sku_id)
    .where(SkuBarcode.id == ID)
)
_USER = select(User.id, User.full_name, User.username, User.roles_csv.label("roles_csv")).where(User.id == ID)
_TOTE = select(Tote.id, Tote.code, Tote.status, Tote.warehouse_id).where(Tote.id == ID)
_ORDER = select(Order.id, Order.number, Order.status, Order.warehouse_id).where(Order.id == ID)
_PARCEL = select(Parcel.id, Parcel.code, Parcel.sscc, Parcel.carrier, Parcel.tracking_number, Parcel.status,
                 Parcel.order_id).where(Parcel.id == ID)


def _describe_cell(cell_id: int, scan: DecodedScan):
    row = _one(_CELL, cell_id)
    if row is None:
        return None
    entity = dict(row._mapping)
    if row.status != "active":
        return row.id, entity, _("Cell %(address)s (%(status)s).", address=row.address, status=row.status)
    return row.id, entity, _("Cell %(address)s.", address=row.address)


def _describe_sku(barcode_id: int, scan: DecodedScan):
    row = _one(_SKU, barcode_id)
    if row is None:
        return None
    entity = {
        "id": row.id, "code": row.code, "name": row.name, "barcode": row.barcode, "barcode_kind": row.kind,
        "units": row.units, "active": row.active,
        "tracking": {"lot": row.track_lot, "expiry": row.track_expiry, "serial": row.track_serial,
                     "marking": row.track_marking},
    }
    if row.units > 1:
        return row.id, entity, _("SKU %(code)s %(name)s, pack of %(units)s.", code=row.code, name=row.name,
                                 units=row.units)
    return row.id, entity, _("SKU %(code)s %(name)s.", code=row.code, name=row.name)


def _describe_badge(user_id: int, scan: DecodedScan):
    # Only the name and roles: a badge scan must not reveal more about the person.
    row = _one(_USER, user_id)
    if row is None:
        return None
    name = row.full_name or row.username
    roles = sorted(r for r in row.roles_csv.split(",") if r)
    return row.id, {"name": name, "roles": roles}, _("Badge of %(name)s.", name=name)


def _describe_tote(tote_id: int, scan: DecodedScan):
    row = _one(_TOTE, tote_id)
    if row is None:
        return None
    return row.id, dict(row._mapping), _("Tote %(code)s (%(status)s).", code=row.code, status=row.status)


def _describe_order(order_id: int, scan: DecodedScan):
    row = _one(_ORDER, order_id)
    if row is None:
        return None
    return row.id, dict(row._mapping), _("Order %(number)s (%(status)s).", number=row.number, status=row.status)


def _describe_parcel(parcel_id: int, scan: DecodedScan):
    row = _one(_PARCEL, parcel_id)
    if row is None:
        return None
    return row.id, dict(row._mapping), _("Parcel %(code)s (%(status)s).", code=row.code, status=row.status)


for _resolver in (
    Resolver(Kind.cell, (
        Lookup(lambda p: select(Cell.id).where(Cell.warehouse_id == WAREHOUSE, Cell.barcode == p), _text_here),
        Lookup(lambda p: select(Cell.id).where(Cell.warehouse_id == WAREHOUSE, Cell.address == p), _text_here),
        Lookup(lambda p: select(Cell.id).where(Cell.barcode == p), _text_anywhere),
        Lookup(lambda p: select(Cell.id).where(Cell.address == p), _text_anywhere),
    ), _describe_cell, row=_CELL),
    Resolver(Kind.sku, (
        # GS1 and EAN/UPC scans go straight to the 14-digit GTIN; internal barcodes are stored as read.
        Lookup(lambda p: select(SkuBarcode.id).where(SkuBarcode.barcode == p), _gtin),
        Lookup(lambda p: select(SkuBarcode.id).where(SkuBarcode.barcode == p), _text_unless_gtin),
    ), _describe_sku, row=_SKU),
    Resolver(Kind.parcel, (
        Lookup(lambda p: select(Parcel.id).where(Parcel.sscc == p), _sscc),
        Lookup(lambda p: select(Parcel.id).where(Parcel.code == p), _text),
        Lookup(lambda p: select(Parcel.id).where(Parcel.tracking_number == p), _text),
    ), _describe_parcel, row=_PARCEL),
    Resolver(Kind.tote, (Lookup(lambda p: select(Tote.id).where(Tote.code == p), _text),), _describe_tote, row=_TOTE),
    Resolver(Kind.order, (Lookup(lambda p: select(Order.id).where(Order.number == p), _text),), _describe_order, row=_ORDER),
    Resolver(Kind.badge, (
        Lookup(lambda p: select(User.id).where(User.badge_code == p, User.active.is_(True)), _text),
    ), _describe_badge, row=_USER),
):
    register_resolver(_resolver)
