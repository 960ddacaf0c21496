"""Master data import: SKUs, barcodes and opening stock from CSV or JSON (docs/import.md).

All or nothing: every record is checked first against the file and the database (lookups are
prefetched in bulk, never a query per row); on any bad record ImportFailed lists every problem
as (line, field, reason) and nothing is written. Otherwise the rows are written with bulk
statements in the caller's transaction (the service flushes; the caller commits).

Opening stock goes into the ledger as `receive` movements (reason "opening stock") with the
quants updated in the same transaction, so `check_quants()` stays empty.
"""

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select, update

from server.extensions import db
from server.models import Cell, CellStatus, Movement, Sku, SkuBarcode, Warehouse
from server.models.catalog import BarcodeKind
from server.services.barcodes import BarcodeError, gtin_kind, is_gtin_kind, looks_like_gtin, normalize_gtin
from server.services.stock import OPENING_STOCK, Actor, ReceiptLine, receive_lines

CHUNK = 1000
MAX_TEXT = {"code": 64, "name": 300, "barcode": 64, "lot": 64}

SKU_FIELDS = {
    "code", "name", "length_mm", "width_mm", "height_mm", "weight_g",
    "track_lot", "track_expiry", "track_serial", "track_marking", "active", "barcodes",
}
BARCODE_FIELDS = {"sku", "barcode", "kind", "units"}
STOCK_FIELDS = {"cell", "sku", "lot", "expiry", "quantity"}
ALIASES = {
    "sku_code": "sku", "cell_address": "cell", "cell_barcode": "cell", "qty": "quantity",
    "best_before": "expiry", "expiry_date": "expiry", "barcode": "barcode",
}
TRUE = {"1", "true", "yes", "y", "да", "д", "x", "+"}
FALSE = {"0", "false", "no", "n", "нет", "н", "-"}


@dataclass(frozen=True)
class RowError:
    line: int  # line in the file where the record starts (0: the file as a whole)
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}, {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


class ImportFailed(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = sorted(errors, key=lambda e: e.line)
        super().__init__(f"{len(self.errors)} problem(s); nothing imported")


@dataclass
class Record:
    line: int
    data: dict


@dataclass
class ImportReport:
    what: str
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    barcodes_added: int = 0
    quantity: int = 0
    dry_run: bool = False

    def lines(self) -> list[str]:
        if self.what == "stock":
            out = [f"stock: {self.records} line(s), {self.quantity} unit(s) received as opening stock"]
        else:
            out = [f"{self.what}: {self.records} record(s): {self.created} created, {self.updated} updated, "
                   f"{self.unchanged} unchanged"]
            if self.what == "skus":
                out.append(f"barcodes: {self.barcodes_added} added")
        if self.dry_run:
            out.append("dry run: nothing written")
        return out


# --- reading files ---------------------------------------------------------------------------


def read_file(path: str) -> tuple[list[Record], str]:
    """Records of a .csv or .json file, and a digest of its bytes. Raises ImportFailed."""
    lower = path.lower()
    if not lower.endswith((".csv", ".json")):
        raise ImportFailed([RowError(0, "", "the file name must end in .csv or .json")])
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ImportFailed([RowError(0, "", f"cannot read {path}: {e.strerror}")]) from None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ImportFailed([RowError(line, "", "not UTF-8 text (save the file as UTF-8)")]) from None
    return (read_json(text) if lower.endswith(".json") else read_csv(text)), digest


def read_csv(text: str) -> list[Record]:
    """Header row, then one record per row. Comma, semicolon or tab separated."""
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise ImportFailed([RowError(1, "", f"bad CSV: {e}")]) from None
    if not header or not any(h.strip() for h in header):
        raise ImportFailed([RowError(1, "", "no header row")])
    names = [_column(h) for h in header]
    records, errors = [], []
    line = reader.line_num + 1
    try:
        for row in reader:
            start, line = line, reader.line_num + 1
            if not any(v.strip() for v in row):
                continue
            if len(row) > len(names) and any(v.strip() for v in row[len(names):]):
                errors.append(RowError(start, "", f"{len(row)} values but {len(names)} columns"))
                continue
            records.append(Record(start, {n: v for n, v in zip(names, row, strict=False) if n}))
    except csv.Error as e:
        errors.append(RowError(line, "", f"bad CSV: {e}"))
    if errors:
        raise ImportFailed(errors)
    return records


def read_json(text: str) -> list[Record]:
    """A JSON array of objects; each record's line is where its object starts."""
    decoder = json.JSONDecoder()
    n, records = len(text), []
    line, counted = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, pos)
        counted = pos
        return line

    def skip(pos: int) -> int:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        return pos

    def fail(pos: int, reason: str):
        raise ImportFailed([RowError(line_at(min(pos, n)), "", reason)])

    i = skip(0)
    if i >= n or text[i] != "[":
        fail(i, "a JSON import file holds an array of objects: [{...}, {...}]")
    i = skip(i + 1)
    if i < n and text[i] == "]":
        return []
    while True:
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            fail(e.pos, f"bad JSON: {e.msg}")
        if not isinstance(obj, dict):
            fail(i, "each item must be an object")
        records.append(Record(line_at(i), {_column(k): v for k, v in obj.items()}))
        i = skip(end)
        if i < n and text[i] == ",":
            i = skip(i + 1)
            continue
        if i < n and text[i] == "]":
            break
        fail(i, "bad JSON: expected ',' or ']'")
    if skip(i + 1) < n:
        fail(skip(i + 1), "bad JSON: extra data after the array")
    return records


def _column(name: str) -> str:
    name = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(name, name)


# --- values ----------------------------------------------------------------------------------


class _Bad(ValueError):
    pass


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value, name: str, required: bool) -> str | None:
    if _blank(value):
        if required:
            raise _Bad("missing")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _Bad("must be text")
    value = str(value).strip()
    if any(ord(ch) < 32 for ch in value):
        raise _Bad("contains control characters")
    limit = MAX_TEXT.get(name)
    if limit and len(value) > limit:
        raise _Bad(f"longer than {limit} characters")
    return value


def _whole(value, minimum: int) -> int | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise _Bad("must be a whole number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        s = value.strip().replace("\u00a0", "").replace(" ", "")
        if not (s.isascii() and s.lstrip("-").isdigit()):
            raise _Bad(f"must be a whole number, not {value.strip()[:40]!r}")
        value = int(s)
    if not isinstance(value, int):
        raise _Bad("must be a whole number")
    if value < minimum:
        raise _Bad(f"must be >= {minimum}")
    if value > 2_000_000_000:
        raise _Bad("is too large")
    return value


def _flag(value) -> bool | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in TRUE:
        return True
    if s in FALSE:
        return False
    raise _Bad(f"must be yes/no (true/false, 1/0, да/нет), not {str(value)[:40]!r}")


def _date(value) -> date | None:
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise _Bad("must be a date YYYY-MM-DD")
    s = value.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            pass
    raise _Bad(f"must be a date YYYY-MM-DD or DD.MM.YYYY, not {s[:40]!r}")


def _barcode(value: str, kind: str | None) -> tuple[str, str]:
    """(stored form, kind) of a printed barcode; GTINs checked and padded to 14 digits."""
    if kind is not None and kind not in set(BarcodeKind):
        raise _Bad(f"unknown kind {kind!r} (known: {', '.join(BarcodeKind)})")
    if kind == BarcodeKind.internal or (kind is None and not looks_like_gtin(value)):
        return value, BarcodeKind.internal
    try:
        found = gtin_kind(value)
        stored = normalize_gtin(value)
    except BarcodeError as e:
        hint = "" if kind else " (give kind internal to keep it as an internal code)"
        raise _Bad(f"{value}: {e}{hint}") from None
    if kind is not None and is_gtin_kind(kind) and kind != found:
        raise _Bad(f"{value} has {len(value)} digits: it is {found}, not {kind}")
    return stored, str(found)


def _lookup_form(value: str) -> str:
    """How a scanned/printed code is looked up among stored barcodes."""
    return value.zfill(14) if looks_like_gtin(value) else value


class _Rows:
    """Collects problems while records are checked."""

    def __init__(self, records: list[Record], allowed: set[str]):
        self.records = records
        self.errors: list[RowError] = []
        if records:
            unknown = sorted({k for r in records for k in r.data} - allowed)
            for name in unknown:
                line = next(r.line for r in records if name in r.data)
                self.errors.append(RowError(line, name, f"unknown field (known: {', '.join(sorted(allowed))})"))

    def get(self, record: Record, name: str, convert, *args):
        try:
            return convert(record.data.get(name), *args)
        except _Bad as e:
            self.errors.append(RowError(record.line, name, str(e)))
            return _BAD

    def error(self, record: Record, name: str, reason: str) -> None:
        self.errors.append(RowError(record.line, name, reason))

    def raise_if_bad(self) -> None:
        if self.errors:
            raise ImportFailed(self.errors)


_BAD = object()


def _in_chunks(column, values, *columns, filters=()):
    """Rows of `columns` where `column` is one of `values`: one query per thousand values."""
    values = sorted(set(values))
    for i in range(0, len(values), CHUNK):
        query = select(*columns).where(column.in_(values[i : i + CHUNK]), *filters)
        yield from db.session.execute(query).all()


# --- SKUs --------------------------------------------------------------------------------------

SKU_NUMBERS = ("length_mm", "width_mm", "height_mm", "weight_g")
SKU_FLAGS = ("track_lot", "track_expiry", "track_serial", "track_marking", "active")


def import_skus(records: list[Record], *, dry_run: bool = False) -> ImportReport:
    """Create or update SKUs by code; add the barcodes they list."""
    rows = _Rows(records, SKU_FIELDS)
    report = ImportReport("skus", records=len(records), dry_run=dry_run)
    parsed, seen_code, seen_barcode = [], {}, {}
    for r in records:
        code = rows.get(r, "code", _text, "code", True)
        values = {"name": rows.get(r, "name", _text, "name", True)}
        values.update({k: rows.get(r, k, _whole, 0) for k in SKU_NUMBERS})
        values.update({k: rows.get(r, k, _flag) for k in SKU_FLAGS})
        barcodes = []
        raw = r.data.get("barcodes")
        items = raw if isinstance(raw, list) else ([] if _blank(raw) else str(raw).replace(",", ";").split(";"))
        for item in items:
            item = str(item).strip() if isinstance(item, str | int) and not isinstance(item, bool) else None
            if item is None:
                rows.error(r, "barcodes", "each barcode must be text")
                continue
            if not item:
                continue
            try:
                stored, kind = _barcode(item, None)
            except _Bad as e:
                rows.error(r, "barcodes", str(e))
                continue
            if stored in seen_barcode:
                rows.error(r, "barcodes", f"{item} is also on line {seen_barcode[stored]}")
                continue
            seen_barcode[stored] = r.line
            barcodes.append((stored, kind))
        if isinstance(code, str):
            if code in seen_code:
                rows.error(r, "code", f"{code} is also on line {seen_code[code]}")
            seen_code[code] = r.line
        parsed.append((r, code, values, barcodes))

    columns = [Sku.id, Sku.code, Sku.name, *(getattr(Sku, k) for k in SKU_NUMBERS + SKU_FLAGS)]
    existing = {row.code: row._asdict() for row in _in_chunks(Sku.code, seen_code, *columns)}
    owners = {
        row[0]: (row[1], row[2])
        for row in _in_chunks(SkuBarcode.barcode, seen_barcode, SkuBarcode.barcode, SkuBarcode.sku_id, Sku.code,
                              filters=(Sku.id == SkuBarcode.sku_id,))
    }
    new_rows, changed_rows, new_barcodes = [], [], []
    for r, code, values, barcodes in parsed:
        if not isinstance(code, str):
            continue
        old = existing.get(code)
        for stored, kind in barcodes:
            owner = owners.get(stored)
            if owner is None:
                new_barcodes.append((code, stored, kind))
            elif owner[1] != code:
                rows.error(r, "barcodes", f"{stored.lstrip('0') or stored} belongs to SKU {owner[1]}")
        given = {k: v for k, v in values.items() if v is not None}
        if old is None:
            new_rows.append({"code": code, **{k: 0 for k in SKU_NUMBERS}, **{k: False for k in SKU_FLAGS},
                             "active": True, **given})
        elif any(old[k] != v for k, v in given.items()):
            changed_rows.append({"id": old["id"], **given})
        else:
            report.unchanged += 1
    rows.raise_if_bad()
    report.created, report.updated, report.barcodes_added = len(new_rows), len(changed_rows), len(new_barcodes)
    if dry_run:
        return report

    for i in range(0, len(new_rows), CHUNK):
        db.session.execute(insert(Sku), new_rows[i : i + CHUNK])
    if changed_rows:
        db.session.execute(update(Sku), changed_rows)
    if new_barcodes:
        ids = {code: sku_id for code, sku_id in _in_chunks(Sku.code, {c for c, _, _ in new_barcodes}, Sku.code, Sku.id)}
        rows_out = [{"sku_id": ids[c], "barcode": b, "kind": k, "units": 1} for c, b, k in new_barcodes]
        for i in range(0, len(rows_out), CHUNK):
            db.session.execute(insert(SkuBarcode), rows_out[i : i + CHUNK])
    db.session.flush()
    return report


# --- barcodes ----------------------------------------------------------------------------------


def import_barcodes(records: list[Record], *, dry_run: bool = False) -> ImportReport:
    """Add barcodes to existing SKUs (by SKU code); a barcode of another SKU is an error."""
    rows = _Rows(records, BARCODE_FIELDS)
    report = ImportReport("barcodes", records=len(records), dry_run=dry_run)
    parsed, seen = [], {}
    for r in records:
        code = rows.get(r, "sku", _text, "code", True)
        value = rows.get(r, "barcode", _text, "barcode", True)
        kind = rows.get(r, "kind", _text, "kind", False)
        units = rows.get(r, "units", _whole, 1)
        if not isinstance(value, str) or kind is _BAD:
            continue
        try:
            stored, kind = _barcode(value, kind.lower() if kind else None)
        except _Bad as e:
            rows.error(r, "barcode" if "unknown kind" not in str(e) else "kind", str(e))
            continue
        if stored in seen:
            rows.error(r, "barcode", f"{value} is also on line {seen[stored]}")
            continue
        seen[stored] = r.line
        parsed.append((r, code, stored, kind, units if isinstance(units, int) else 1))

    codes = {p[1] for p in parsed if isinstance(p[1], str)}
    skus = {c: i for c, i in _in_chunks(Sku.code, codes, Sku.code, Sku.id)}
    existing = {
        row.barcode: row
        for row in _in_chunks(
            SkuBarcode.barcode, seen, SkuBarcode.id, SkuBarcode.barcode, SkuBarcode.sku_id,
            SkuBarcode.kind, SkuBarcode.units, Sku.code, filters=(Sku.id == SkuBarcode.sku_id,),
        )
    }
    new_rows, changed_rows = [], []
    for r, code, stored, kind, units in parsed:
        if not isinstance(code, str):
            continue
        sku_id = skus.get(code)
        if sku_id is None:
            rows.error(r, "sku", f"no SKU with code {code!r}")
            continue
        old = existing.get(stored)
        if old is None:
            new_rows.append({"sku_id": sku_id, "barcode": stored, "kind": kind, "units": units})
        elif old.sku_id != sku_id:
            rows.error(r, "barcode", f"{r.data.get('barcode')} belongs to SKU {old.code}")
        elif (old.kind, old.units) != (kind, units):
            changed_rows.append({"id": old.id, "kind": kind, "units": units})
        else:
            report.unchanged += 1
    rows.raise_if_bad()
    report.created, report.updated = len(new_rows), len(changed_rows)
    if dry_run:
        return report
    for i in range(0, len(new_rows), CHUNK):
        db.session.execute(insert(SkuBarcode), new_rows[i : i + CHUNK])
    if changed_rows:
        db.session.execute(update(SkuBarcode), changed_rows)
    db.session.flush()
    return report


# --- opening stock -----------------------------------------------------------------------------


def import_stock(
    records: list[Record],
    *,
    warehouse_code: str | None = None,
    batch: str | None = None,
    actor: Actor = Actor(scenario="import"),
    reference: str = "",
    dry_run: bool = False,
) -> ImportReport:
    """Receive opening stock into cells. `batch` (e.g. the file's digest) makes a re-import of the
    same file an error instead of doubling the stock."""
    rows = _Rows(records, STOCK_FIELDS)
    report = ImportReport("stock", records=len(records), dry_run=dry_run)
    warehouse = _warehouse(warehouse_code)
    parsed = []
    for r in records:
        cell = rows.get(r, "cell", _text, "barcode", True)
        sku = rows.get(r, "sku", _text, "barcode", True)
        lot = rows.get(r, "lot", _text, "lot", False)
        expiry = rows.get(r, "expiry", _date)
        quantity = rows.get(r, "quantity", _whole, 1)
        if quantity is None:
            rows.error(r, "quantity", "missing")
        parsed.append((r, cell, sku, lot or "", expiry, quantity))

    cell_refs = {p[1] for p in parsed if isinstance(p[1], str)}
    by_address, by_barcode = {}, {}
    cell_columns = (Cell.id, Cell.address, Cell.barcode, Cell.status)
    in_warehouse = (Cell.warehouse_id == warehouse.id,)
    for row in _in_chunks(Cell.address, cell_refs, *cell_columns, filters=in_warehouse):
        by_address[row.address] = row
    for row in _in_chunks(Cell.barcode, cell_refs - set(by_address), *cell_columns, filters=in_warehouse):
        by_barcode[row.barcode] = row
    sku_columns = (Sku.id, Sku.code, Sku.track_lot, Sku.track_expiry)
    sku_refs = {p[2] for p in parsed if isinstance(p[2], str)}
    skus = {row.code: row for row in _in_chunks(Sku.code, sku_refs, *sku_columns)}
    lookups = {_lookup_form(ref) for ref in sku_refs - set(skus)}
    by_sku_barcode = {
        row.barcode: row
        for row in _in_chunks(
            SkuBarcode.barcode, lookups, SkuBarcode.barcode, *sku_columns, filters=(Sku.id == SkuBarcode.sku_id,)
        )
    }

    lines = []
    for r, cell_ref, sku_ref, lot, expiry, quantity in parsed:
        cell = sku = None
        if isinstance(cell_ref, str):
            cell = by_address.get(cell_ref) or by_barcode.get(cell_ref)
            if cell is None:
                rows.error(r, "cell", f"no cell {cell_ref!r} in warehouse {warehouse.code}")
            elif cell.status != CellStatus.active:
                rows.error(r, "cell", f"cell {cell.address} is {cell.status}")
        if isinstance(sku_ref, str):
            sku = skus.get(sku_ref) or by_sku_barcode.get(_lookup_form(sku_ref))
            if sku is None:
                rows.error(r, "sku", f"no SKU with code or barcode {sku_ref!r}")
            else:
                if sku.track_lot and not lot:
                    rows.error(r, "lot", f"SKU {sku.code} is tracked by lot; give the lot")
                if sku.track_expiry and expiry is None:
                    rows.error(r, "expiry", f"SKU {sku.code} is tracked by expiry; give the expiry date")
        if cell is not None and sku is not None and not rows.errors:
            key = f"opening:{batch}:{r.line}" if batch else None
            lines.append(ReceiptLine(cell.id, sku.id, lot, expiry, quantity, key))
    rows.raise_if_bad()
    if batch and lines:
        earlier = db.session.execute(
            select(Movement.id, Movement.created_at).where(Movement.idempotency_key == lines[0].idempotency_key)
        ).first()
        if earlier is not None:
            raise ImportFailed([RowError(0, "", f"this file was already imported ({earlier.created_at:%Y-%m-%d %H:%M})")])
    report.quantity = sum(line.quantity for line in lines)
    if not dry_run:
        receive_lines(lines, actor=actor, reason=OPENING_STOCK, reference=reference)
    return report


def _warehouse(code: str | None) -> Warehouse:
    if code:
        warehouse = db.session.execute(select(Warehouse).filter_by(code=code)).scalar_one_or_none()
        if warehouse is None:
            raise ImportFailed([RowError(0, "", f"no warehouse {code!r}")])
        return warehouse
    warehouses = db.session.execute(select(Warehouse).limit(2)).scalars().all()
    if len(warehouses) != 1:
        raise ImportFailed([RowError(0, "", "give the warehouse code (there is not exactly one warehouse)")])
    return warehouses[0]
