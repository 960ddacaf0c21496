"""Checking the values of import records: text, whole numbers, flags, dates, barcodes; bulk lookups."""

from datetime import date

from sqlalchemy import select

from server.extensions import db
from server.models import Sku, SkuBarcode, Warehouse
from server.models.catalog import BarcodeKind
from server.services.barcodes import (
    BarcodeError,
    barcode_candidates,
    gtin_kind,
    is_gtin_kind,
    looks_like_gtin,
    normalize_gtin,
)
from server.services.dates import parse_date
from server.services.importer.records import ImportFailed, Record, RowError

CHUNK = 1000
MAX_TEXT = {"code": 64, "name": 300, "barcode": 64, "lot": 64}


TRUE = {"1", "true", "yes", "y", "да", "д", "x", "+"}
FALSE = {"0", "false", "no", "n", "нет", "н", "-"}


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
    try:
        return parse_date(value)
    except ValueError:
        raise _Bad(f"must be a date YYYY-MM-DD or DD.MM.YYYY, not {value.strip()[:40]!r}") from None


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


def _skus_by_code_or_barcode(refs, *columns) -> dict:
    """For each ref, the row of Sku `columns` of the SKU with that code, else of the SKU with that
    barcode (any stored form of a GTIN); refs that find none are left out. In bulk."""
    refs = set(refs)
    columns = columns if any(c is Sku.code for c in columns) else (*columns, Sku.code)
    found = {row.code: row for row in _in_chunks(Sku.code, refs, *columns)}
    forms = {ref: barcode_candidates(ref) for ref in refs - set(found)}
    by_barcode = {row.barcode: row for row in _in_chunks(
        SkuBarcode.barcode, {f for fs in forms.values() for f in fs}, SkuBarcode.barcode, *columns,
        filters=(Sku.id == SkuBarcode.sku_id,))}
    for ref, candidates in forms.items():
        row = next((by_barcode[form] for form in candidates if form in by_barcode), None)
        if row is not None:
            found[ref] = row
    return found


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
