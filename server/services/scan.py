"""What a scan is: a cell, a SKU, a badge, a tote, an order, a parcel, or unknown.

Classification only reads. `decode()` turns the bytes a device sent into a `DecodedScan`
(suffix stripped, AIM symbology identifier split off, GS1 element strings parsed with biip);
`classify()` then asks every registered `Resolver` for its candidates in ONE query (a UNION ALL
of index-backed lookups) and lets the first resolver in the registry that matched describe
the entity. Recording the scan is `record_scan()`, kept apart so a scenario can classify first
and record with its own meaning.

Later flows plug in with `register_resolver()` (new kinds of codes) and read the
`Classification` they get back.
"""

import contextvars
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from biip import ParseConfig, ParseError
from biip.gs1_messages import GS1Message
from biip.sscc import Sscc
from biip.symbology import SymbologyIdentifier
from flask_babel import LazyString
from flask_babel import lazy_gettext as _
from sqlalchemy import BindParameter, Select, bindparam, literal_column, select, union_all

from server.extensions import db
from server.models import Cell, Order, Parcel, ScanEvent, Sku, SkuBarcode, Tote, User
from server.models.base import utcnow
from server.services.barcodes import is_valid_gtin

SUFFIX_CHARS = "\r\n\t"
GS = "\x1d"
# Longest code any lookup column holds (String(64)); longer text can only be a GS1 string.
MAX_CODE_CHARS = 64
# Longest GS1 string worth parsing (a GS1 DataMatrix holds at most ~2,300 characters).
MAX_GS1_CHARS = 2400
# Longest scan text shown inside a message.
MESSAGE_CODE_CHARS = 40

GS1_SYMBOLOGIES = {"]C1", "]e0", "]e1", "]e2", "]d2", "]Q3", "]J1"}
GTIN_SYMBOLOGIES = {"]E0", "]E3", "]E4", "]I1"}
GS1_CONFIG = ParseConfig(separator_chars=(GS,))
_CONTROL = re.compile(r"[\x00-\x1c\x1e\x1f\x7f]")  # C0 controls and DEL, except GS
# A Chestny Znak code read by a scanner that dropped the GS separators:
# 01 GTIN, 21 serial (13 for most goods, 6 or 7 for tobacco), then 91 key + 92 signature or 93 tail.
_MARKING_WITHOUT_GS = re.compile(
    r"^01(\d{14})21(.{13}|.{7}|.{6})(?:91(.{4})92(.{44}|.{88})|93(.{4}))$", re.DOTALL
)



class Kind:
    cell = "cell"
    sku = "sku"
    badge = "badge"
    tote = "tote"
    order = "order"
    parcel = "parcel"
    unknown = "unknown"


@dataclass(frozen=True)
class DecodedScan:
    raw: bytes  # as received
    text: str  # decoded, suffix and symbology identifier removed; GS kept
    symbology: str = ""  # AIM identifier such as "]d2", or ""
    defect: str | None = None  # empty, control, too_long: nothing can match
    gs1: dict | None = None  # parsed GS1 data (GTIN, SSCC, lot, expiry, serial, marking code)
    gs1_error: str | None = None
    gtin: str | None = None  # 14 digits, from a plain GTIN or a GS1 string
    sscc: str | None = None  # 18 digits
    explicit_gs1: bool = False  # the symbology or GS separators say GS1: skip text lookups

    @property
    def lookup_text(self) -> str | None:
        """The text to look up in code columns, or None when it cannot be a code."""
        if self.defect or self.explicit_gs1 or not self.text or len(self.text) > MAX_CODE_CHARS:
            return None
        return self.text


@dataclass
class Classification:
    kind: str
    message: LazyString | str  # str() translates it
    entity: dict | None = None
    entity_id: int | None = None
    scan: DecodedScan | None = None

    @property
    def gs1(self) -> dict | None:
        return self.scan.gs1 if self.scan else None

    def answer(self) -> dict:
        return {"kind": self.kind, "message": str(self.message), "entity": self.entity, "gs1": self.gs1}


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


# --- decoding -------------------------------------------------------------------------------


def normalize_symbology(symbology: str | None) -> str:
    """'d2', ']d2' -> ']d2'; anything unrecognised -> ''."""
    if not symbology:
        return ""
    value = symbology if symbology.startswith("]") else "]" + symbology
    try:
        return str(SymbologyIdentifier.extract(value))
    except (ParseError, ValueError, IndexError):
        return ""


def decode(raw: bytes, symbology: str | None = None, max_bytes: int | None = None) -> DecodedScan:
    """Bytes from a device -> DecodedScan. Never raises."""
    raw = bytes(raw or b"")
    if max_bytes is not None and len(raw) > max_bytes:
        text = _clean(raw[:max_bytes].decode("utf-8", errors="replace"))
        return DecodedScan(raw=raw, text=text, symbology=normalize_symbology(symbology), defect="too_long")
    text = raw.decode("utf-8", errors="replace").rstrip(SUFFIX_CHARS).strip(" ")
    aim = ""
    if text.startswith("]") and len(text) >= 3:
        try:
            aim = str(SymbologyIdentifier.extract(text))
            text = text[len(aim):]
        except (ParseError, ValueError, IndexError):
            aim = ""
    aim = aim or normalize_symbology(symbology)
    if not text:
        return DecodedScan(raw=raw, text="", symbology=aim, defect="empty")
    if _CONTROL.search(text):
        return DecodedScan(raw=raw, text=_clean(text), symbology=aim, defect="control")
    if len(text) > MAX_GS1_CHARS:
        return DecodedScan(raw=raw, text=text, symbology=aim, defect="too_long")
    try:
        return _read_codes(raw, text, aim)
    except Exception:  # biip on hostile input: the scan stays a plain text
        return DecodedScan(raw=raw, text=text, symbology=aim)


def _clean(text: str) -> str:
    """Printable text for the database: NUL and other controls (except GS) become U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def _read_codes(raw: bytes, text: str, aim: str) -> DecodedScan:
    explicit_gs1 = aim in GS1_SYMBOLOGIES or GS in text
    message, error = None, None
    if explicit_gs1 or text.startswith("(") or _may_be_gs1(text):
        message, error = _parse_gs1(text)
        if message is None and not explicit_gs1:
            error = None  # an ordinary code that happens to start like one
    if message is not None:
        gs1 = _gs1_answer(message, aim)
        if gs1.get("gtin") or gs1.get("sscc"):
            return DecodedScan(
                raw=raw, text=text, symbology=aim, gs1=gs1, gtin=gs1.get("gtin"), sscc=gs1.get("sscc"),
                explicit_gs1=explicit_gs1,
            )
    if explicit_gs1:
        return DecodedScan(raw=raw, text=text, symbology=aim, gs1_error=error or "no GTIN or SSCC in it",
                           explicit_gs1=True)
    if text.isascii() and text.isdigit():
        if is_valid_gtin(text):
            gtin = text.zfill(14)
            return DecodedScan(raw=raw, text=text, symbology=aim, gtin=gtin, gs1={"symbology": aim, "gtin": gtin})
        if len(text) == 18 and _valid_sscc(text):
            return DecodedScan(raw=raw, text=text, symbology=aim, sscc=text, gs1={"symbology": aim, "sscc": text})
    return DecodedScan(raw=raw, text=text, symbology=aim)


def _may_be_gs1(text: str) -> bool:
    # Unprefixed GS1 strings as keyboard wedges type them: (00) SSCC or (01) GTIN plus more.
    return len(text) > 16 and text[:2] in ("00", "01", "02") and text[2:16].isdigit()


def _parse_gs1(text: str) -> tuple[GS1Message | None, str | None]:
    try:
        if text.startswith("("):
            return GS1Message.parse_hri(text, config=GS1_CONFIG), None
        return GS1Message.parse(text, config=GS1_CONFIG), None
    except (ParseError, ValueError) as exc:
        match = _MARKING_WITHOUT_GS.match(text)
        if match:  # a marking code whose GS separators the scanner dropped
            gtin, serial, key, signature, tail = match.groups()
            rebuilt = f"01{gtin}21{serial}{GS}" + (f"91{key}{GS}92{signature}" if key else f"93{tail}")
            try:
                return GS1Message.parse(rebuilt, config=GS1_CONFIG), None
            except (ParseError, ValueError):
                pass
        return None, str(exc)


def _valid_sscc(text: str) -> bool:
    try:
        Sscc.parse(text)
        return True
    except ParseError:
        return False


def _gs1_answer(message: GS1Message, aim: str) -> dict:
    elements = message.element_strings
    answer: dict = {
        "symbology": aim,
        "hri": message.as_hri(),
        "elements": [{"ai": e.ai.ai, "title": e.ai.data_title, "value": e.value} for e in elements],
    }
    gtin = elements.get(ai="01") or elements.get(ai="02")
    if gtin is not None and gtin.gtin is not None:
        answer["gtin"] = gtin.gtin.as_gtin_14()
    sscc = elements.get(ai="00")
    if sscc is not None and sscc.sscc is not None:
        answer["sscc"] = sscc.sscc.value
    for ai, key in (("10", "lot"), ("21", "serial")):
        element = elements.get(ai=ai)
        if element is not None:
            answer[key] = element.value
    for ai, key in (("17", "expiry"), ("15", "best_before"), ("11", "produced")):
        element = elements.get(ai=ai)
        if element is not None and element.date is not None:
            answer[key] = element.date.isoformat()
    # Chestny Znak: 01 GTIN + 21 serial is the identification code; 91/92 or 93 verify it.
    crypto = elements.get(ai="92") or elements.get(ai="93")
    if "gtin" in answer and "serial" in answer and crypto is not None:
        key = elements.get(ai="91")
        answer["marking_code"] = {
            "id": f"01{answer['gtin']}21{answer['serial']}",
            "key": key.value if key is not None else None,
            "crypto": crypto.value,
            "crypto_ai": crypto.ai.ai,
        }
    return answer


# --- classifying ----------------------------------------------------------------------------


def classify(raw: bytes | str, warehouse_id: int | None = None, *, symbology: str | None = None,
             max_bytes: int | None = None) -> Classification:
    """What `raw` is. Reads only; one query for the candidates and one for the winner."""
    scan, statement, params = _plan(raw, warehouse_id, symbology, max_bytes)
    if scan.defect:
        return Classification(Kind.unknown, _defect_message(scan), scan=scan)
    hits = _connection().execute(statement, params).all() if statement is not None else []
    return _decide(scan, hits)


def classify_many(scans: list[tuple[bytes | str, str | None]], warehouse_id: int | None = None, *,
                  max_bytes: int | None = None) -> list[Classification]:
    """classify() of each (raw, symbology), same answers, for a batch that changes nothing those
    answers read in between. On PostgreSQL the candidate queries of the whole batch go in one
    pipelined round trip, the winners' rows in a second; elsewhere it is classify() in a loop."""
    if _connection().dialect.driver != "psycopg":
        return [classify(raw, warehouse_id, symbology=symbology, max_bytes=max_bytes) for raw, symbology in scans]
    plans = [_plan(raw, warehouse_id, symbology, max_bytes) for raw, symbology in scans]
    queries = [(statement, params) for scan, statement, params in plans if not scan.defect and statement is not None]
    found = iter(_pipelined(queries))
    hits = [next(found) if not scan.defect and statement is not None else [] for scan, statement, _params in plans]
    ahead = {}
    for rows in hits:
        if rows:  # the likely winner: the first hit in priority order
            entity_id, rank = min(rows, key=lambda row: (row[1], row[0]))
            statement = RESOLVERS[rank].row
            if statement is not None:
                ahead[(id(statement), entity_id)] = (statement, {"id": entity_id})
    rows_ahead = dict(zip(ahead, (rows[0] if rows else None for rows in _pipelined(list(ahead.values()))),
                          strict=True))
    token = _READ_AHEAD.set(rows_ahead)
    try:
        return [Classification(Kind.unknown, _defect_message(scan), scan=scan) if scan.defect else _decide(scan, found)
                for (scan, _statement, _params), found in zip(plans, hits, strict=True)]
    finally:
        _READ_AHEAD.reset(token)


def _plan(raw: bytes | str, warehouse_id: int | None, symbology: str | None, max_bytes: int | None):
    """(decoded scan, the UNION ALL of its lookups or None, its parameters)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    scan = decode(raw, symbology, max_bytes)
    if scan.defect:
        return scan, None, {}
    params: dict = {"warehouse_id": warehouse_id}
    present = []
    for rank, resolver in enumerate(RESOLVERS):
        for param, lookup, _statement in _PREPARED[id(resolver)]:
            value = lookup.value(scan, warehouse_id)
            if value is not None:
                params[param] = value
                present.append((rank, param))
    if not present:
        return scan, None, params
    key = tuple(present)
    statement = _UNIONS.get(key)
    if statement is None:
        statement = _UNIONS[key] = _union(key)
    return scan, statement, params


def _decide(scan: DecodedScan, hits) -> Classification:
    """The first resolver (in priority order) whose hit it can describe."""
    for entity_id, rank in sorted(hits, key=lambda row: (row[1], row[0])):
        resolver = RESOLVERS[rank]
        described = resolver.describe(entity_id, scan)
        if described is not None:
            entity_id, entity, message = described
            return Classification(resolver.kind, message, entity=entity, entity_id=entity_id, scan=scan)
    return Classification(Kind.unknown, _unknown_message(scan), scan=scan)


# (id(statement), id) -> row read ahead by classify_many (None: no such row)
_READ_AHEAD: contextvars.ContextVar[dict | None] = contextvars.ContextVar("scan_read_ahead", default=None)
_COMPILED: dict[int, tuple] = {}  # id(statement) -> (statement, compiled SQL, row class)


class _AheadRow(tuple):
    """A row read ahead: attribute access and `_mapping`, like a SQLAlchemy Row."""

    keys: tuple[str, ...] = ()

    def __getattr__(self, name):
        try:
            return self[self.keys.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> dict:
        return dict(zip(self.keys, self, strict=True))


def _pipelined(queries: list[tuple[object, dict]]) -> list[list[tuple]]:
    """Rows of each (statement, params), sent in one psycopg pipeline in the session's transaction."""
    if not queries:
        return []
    connection = _connection()
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    cursors = []
    with driver.pipeline():
        for statement, params in queries:
            compiled = _COMPILED.get(id(statement))
            if compiled is None:
                sql = statement.compile(dialect=dialect)
                row_class = type("Row", (_AheadRow,), {"keys": tuple(statement.selected_columns.keys())})
                compiled = _COMPILED[id(statement)] = (statement, sql, row_class)
            _statement, sql, row_class = compiled
            cursor = driver.cursor()
            cursor.execute(str(sql), sql.construct_params(params))
            cursors.append((cursor, row_class))
    results = []
    for cursor, row_class in cursors:
        results.append([row_class(row) for row in cursor.fetchall()])
        cursor.close()
    return results


def _union(present: tuple):
    statements = {param: statement for r in RESOLVERS for param, _lookup, statement in _PREPARED[id(r)]}
    parts = [statements[param].add_columns(literal_column(str(rank)).label("rank")) for rank, param in present]
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _connection():
    """The session's connection: plain Core statements, same transaction, no ORM overhead."""
    return db.session.connection()


def _defect_message(scan: DecodedScan):
    if scan.defect == "empty":
        return _("Empty scan: nothing was read.")
    if scan.defect == "control":
        return _("Unreadable scan: it contains control characters.")
    return _("Scan too long (%(length)s bytes) to be a warehouse code.", length=len(scan.raw))


def _unknown_message(scan: DecodedScan):
    if scan.gtin:
        return _("Unknown product: GTIN %(gtin)s is not a SKU barcode here.", gtin=scan.gtin)
    if scan.sscc:
        return _("Unknown SSCC %(sscc)s: no parcel carries it.", sscc=scan.sscc)
    if scan.explicit_gs1:
        return _("GS1 code not understood: %(error)s", error=scan.gs1_error or "")
    if len(scan.text) > MAX_CODE_CHARS:
        return _("Scan too long (%(length)s characters) to be a warehouse code.", length=len(scan.text))
    code = scan.text if len(scan.text) <= MESSAGE_CODE_CHARS else scan.text[:MESSAGE_CODE_CHARS] + "…"
    return _("Unknown code %(code)s: not a cell, SKU, badge, tote, order or parcel.", code=code)


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


def _one(statement: Select, entity_id: int):
    ahead = _READ_AHEAD.get()
    if ahead is not None and (id(statement), entity_id) in ahead:
        return ahead[(id(statement), entity_id)]
    return _connection().execute(statement, {"id": entity_id}).one_or_none()


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


# --- recording ------------------------------------------------------------------------------


def scan_row(
    result: Classification,
    *,
    raw_length: int | None = None,
    max_bytes: int | None = None,
    station_id: int | None = None,
    user_id: int | None = None,
    warehouse_id: int | None = None,
    event_id: str | None = None,
    scanned_at: datetime | None = None,
    source: str = "api",
    meaning: dict | None = None,
) -> dict:
    """The scan_events row for `result`, as column values.

    Raw bytes go to the bytea column as read (cut to `max_bytes`, with the true length kept);
    `text` is a printable copy without NUL or other controls, which PostgreSQL text refuses.
    """
    scan = result.scan
    raw = scan.raw
    limit = max_bytes if max_bytes is not None else len(raw)
    return {
        "event_id": event_id, "warehouse_id": warehouse_id, "station_id": station_id, "user_id": user_id,
        "source": source, "scanned_at": scanned_at, "received_at": utcnow(), "raw": raw[:limit],
        "raw_length": raw_length if raw_length is not None else len(raw), "text": _clean(scan.text)[:limit],
        "symbology": scan.symbology, "kind": result.kind, "entity_id": result.entity_id,
        "meaning": meaning if meaning is not None else result.answer(),
    }


def record_scan(result: Classification, **row) -> ScanEvent:
    """Add a ScanEvent for `result` to the session (the caller's transaction commits it); the
    keywords are scan_row's."""
    event = ScanEvent(**scan_row(result, **row))
    db.session.add(event)
    return event
