"""Importing opening stock: receive movements into the ledger, quants kept in step."""

from sqlalchemy import select

from server.extensions import db
from server.models import Cell, CellStatus, Movement, Sku
from server.services.importer.records import ImportFailed, ImportReport, Record, RowError
from server.services.importer.values import (
    _date,
    _in_chunks,
    _Rows,
    _skus_by_code_or_barcode,
    _text,
    _warehouse,
    _whole,
)
from server.services.stock import OPENING_STOCK, Actor, ReceiptLine, receive_lines

STOCK_FIELDS = {"cell", "sku", "lot", "expiry", "quantity"}


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
    skus = _skus_by_code_or_barcode(sku_refs, *sku_columns)

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
            sku = skus.get(sku_ref)
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
