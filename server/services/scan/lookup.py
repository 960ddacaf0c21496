"""Classifying: what a decoded scan is. Every registered resolver's lookups for it go in ONE
query (a UNION ALL of index-backed selects), and the first resolver in the registry that matched
describes the entity. On PostgreSQL `classify_many` pipelines a batch's queries (psycopg)."""

from dataclasses import dataclass, replace

from flask_babel import LazyString
from flask_babel import lazy_gettext as _
from sqlalchemy import literal_column, union_all

from server.services.scan.decode import MAX_CODE_CHARS, DecodedScan, Wedge, decode, typed_readings
from server.services.scan.resolvers import _PREPARED, _READ_AHEAD, _UNIONS, RESOLVERS, Kind, _connection

# Longest scan text shown inside a message.
MESSAGE_CODE_CHARS = 40


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
        answer = {"kind": self.kind, "message": str(self.message), "entity": self.entity, "gs1": self.gs1}
        if self.scan is not None and self.scan.typed is not None:
            answer["typed"] = self.scan.typed
        return answer


def classify(raw: bytes | str, warehouse_id: int | None = None, *, symbology: str | None = None,
             max_bytes: int | None = None, wedge: Wedge | None = None) -> Classification:
    """What `raw` is. Reads only; one query for the candidates and one for the winner (and, for
    an unknown code, one more for each of its typed readings until one is known)."""
    return _reread(_classify_once(raw, warehouse_id, symbology, max_bytes, wedge), warehouse_id, max_bytes)


def _classify_once(raw, warehouse_id, symbology, max_bytes, wedge=None) -> Classification:
    scan, statement, params = _plan(raw, warehouse_id, symbology, max_bytes, wedge)
    if scan.defect:
        return Classification(Kind.unknown, _defect_message(scan), scan=scan)
    hits = _connection().execute(statement, params).all() if statement is not None else []
    return _decide(scan, hits)


def _reread(result: Classification, warehouse_id: int | None, max_bytes: int | None) -> Classification:
    """An unknown code as a wedge scanner typed it in the Russian layout or with Caps Lock: the
    first of its readings that is known, with the bytes as received and the text as typed."""
    scan = result.scan
    if result.kind != Kind.unknown or scan is None or scan.defect or scan.gtin or scan.sscc:
        return result
    for text in typed_readings(scan.text):
        again = _classify_once(text.encode("utf-8"), warehouse_id, scan.symbology, max_bytes)
        if again.kind != Kind.unknown:
            again.scan = replace(again.scan, raw=scan.raw, typed=scan.text)
            return again
    return result


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
        results = [Classification(Kind.unknown, _defect_message(scan), scan=scan) if scan.defect
                   else _decide(scan, found) for (scan, _statement, _params), found in zip(plans, hits, strict=True)]
        return [_reread(result, warehouse_id, max_bytes) for result in results]
    finally:
        _READ_AHEAD.reset(token)


def _plan(raw: bytes | str, warehouse_id: int | None, symbology: str | None, max_bytes: int | None,
          wedge: Wedge | None = None):
    """(decoded scan, the UNION ALL of its lookups or None, its parameters)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    scan = decode(raw, symbology, max_bytes, wedge=wedge)
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
