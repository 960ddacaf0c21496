"""Importing SKUs (by code, with their barcodes) and barcodes of existing SKUs."""

from sqlalchemy import insert, update

from server.extensions import db
from server.models import Sku, SkuBarcode
from server.services.importer.records import ImportReport, Record
from server.services.importer.values import (
    _BAD,
    CHUNK,
    _Bad,
    _barcode,
    _blank,
    _flag,
    _in_chunks,
    _Rows,
    _text,
    _whole,
)

SKU_FIELDS = {
    "code", "name", "length_mm", "width_mm", "height_mm", "weight_g",
    "track_lot", "track_expiry", "track_serial", "track_marking", "active", "barcodes",
}
BARCODE_FIELDS = {"sku", "barcode", "kind", "units"}


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

    _write(Sku, new_rows, changed_rows)
    if new_barcodes:
        ids = {code: sku_id for code, sku_id in _in_chunks(Sku.code, {c for c, _, _ in new_barcodes}, Sku.code, Sku.id)}
        rows_out = [{"sku_id": ids[c], "barcode": b, "kind": k, "units": 1} for c, b, k in new_barcodes]
        _write(SkuBarcode, rows_out, [])
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
    _write(SkuBarcode, new_rows, changed_rows)
    db.session.flush()
    return report


def _write(model, new_rows: list[dict], changed_rows: list[dict]) -> None:
    """Bulk INSERT of the new rows (a thousand a statement) and bulk UPDATE of the changed ones (by id)."""
    for i in range(0, len(new_rows), CHUNK):
        db.session.execute(insert(model), new_rows[i : i + CHUNK])
    if changed_rows:
        db.session.execute(update(model), changed_rows)
