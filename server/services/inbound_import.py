"""ASN import: expected deliveries from CSV or JSON (`cellwms import deliveries`, docs/import.md).

One record per delivery line: number, supplier, expected_date, sku, quantity, lot, expiry, sscc.
Records with the same number form one delivery (in any order); the delivery's supplier and
expected date are given on any of its rows and must agree where given twice. A row with a number
and no sku/quantity announces a delivery without lines (a blind receipt). The same SKU, lot and
expiry twice in one delivery add up into one line; an SSCC on several rows of a delivery is one
pallet.

All or nothing, like server/services/importer/: every record is checked against the file and
the database (SKUs, delivery numbers and SSCCs fetched in bulk), every problem is reported as
(line, field, reason) in ImportFailed, and nothing is written. Otherwise deliveries, lines and
pallets are added in the caller's transaction (flushed, not committed).

For the API: `read_csv(text)` or `read_json(text)` from the importer, then
`import_deliveries(records, warehouse_id=...)`; catch ImportFailed for `.errors`.
"""

from dataclasses import dataclass, field
from datetime import date

from server.extensions import db
from server.models import Delivery, DeliveryLine, DeliveryPallet, DeliveryStatus, Sku, Warehouse
from server.services.barcodes import check_digit
from server.services.importer.records import ImportFailed, Record, RowError
from server.services.importer.values import (
    _BAD,
    _Bad,
    _date,
    _in_chunks,
    _Rows,
    _skus_by_code_or_barcode,
    _text,
    _warehouse,
    _whole,
)

DELIVERY_FIELDS = {"number", "supplier", "expected_date", "sku", "quantity", "lot", "expiry", "sscc"}
MAX_SUPPLIER = 200


@dataclass
class DeliveryImportReport:
    records: int = 0
    deliveries: int = 0
    delivery_lines: int = 0
    units: int = 0
    pallets: int = 0
    blind: int = 0
    dry_run: bool = False
    numbers: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"deliveries: {self.records} record(s): {self.deliveries} delivery(ies) created "
               f"({self.blind} blind), {self.delivery_lines} line(s), {self.units} unit(s), {self.pallets} pallet(s)"]
        if self.dry_run:
            out.append("dry run: nothing written")
        return out


def _supplier(value) -> str | None:
    text = _text(value, "supplier", False)
    if text is not None and len(text) > MAX_SUPPLIER:
        raise _Bad(f"longer than {MAX_SUPPLIER} characters")
    return text


def _sscc(value) -> str | None:
    """An SSCC: 18 digits with a GS1 check digit; `00` or `(00)` in front is the AI and is dropped."""
    text = _text(value, "sscc", False)
    if text is None:
        return None
    s = text.replace(" ", "")
    if s.startswith("(00)"):
        s = s[4:]
    elif len(s) == 20 and s.startswith("00"):
        s = s[2:]
    if not (len(s) == 18 and s.isascii() and s.isdigit()):
        raise _Bad(f"an SSCC has 18 digits, not {text[:40]!r}")
    if check_digit(s[:-1]) != int(s[-1]):
        raise _Bad(f"{s}: wrong check digit, expected {check_digit(s[:-1])}")
    return s


@dataclass
class _Delivery:
    number: str
    line: int  # first record
    supplier: tuple[str, int] | None = None  # value, line where given
    expected_date: tuple[date, int] | None = None
    items: dict = field(default_factory=dict)  # (sku_ref, lot, expiry) -> [first line, quantity]
    ssccs: dict = field(default_factory=dict)  # sscc -> first line


def import_deliveries(
    records: list[Record],
    *,
    warehouse_id: int | None = None,
    warehouse_code: str | None = None,
    dry_run: bool = False,
) -> DeliveryImportReport:
    """Create expected deliveries (status `expected`) with their lines and pallets."""
    rows = _Rows(records, DELIVERY_FIELDS)
    report = DeliveryImportReport(records=len(records), dry_run=dry_run)
    if warehouse_id is not None:
        warehouse = db.session.get(Warehouse, warehouse_id)
        if warehouse is None:
            raise ImportFailed([RowError(0, "", f"no warehouse with id {warehouse_id}")])
    else:
        warehouse = _warehouse(warehouse_code)

    deliveries: dict[str, _Delivery] = {}
    sscc_owner: dict[str, tuple[str, int]] = {}  # sscc -> (number, line)
    for r in records:
        number = rows.get(r, "number", _text, "code", True)
        supplier = rows.get(r, "supplier", _supplier)
        expected_date = rows.get(r, "expected_date", _date)
        sku = rows.get(r, "sku", _text, "barcode", False)
        quantity = rows.get(r, "quantity", _whole, 1)
        lot = rows.get(r, "lot", _text, "lot", False)
        expiry = rows.get(r, "expiry", _date)
        sscc = rows.get(r, "sscc", _sscc)
        if sku is None and quantity is not None and quantity is not _BAD:
            rows.error(r, "sku", "missing (a quantity needs its SKU)")
        if sku is not None and quantity is None:
            rows.error(r, "quantity", "missing")
        if sku is None and (lot or expiry):
            rows.error(r, "sku", "missing (a lot or expiry needs its SKU)")
        if not isinstance(number, str):
            continue
        d = deliveries.get(number)
        if d is None:
            d = deliveries[number] = _Delivery(number, r.line)
        if isinstance(supplier, str):
            if d.supplier and d.supplier[0] != supplier:
                rows.error(r, "supplier", f"delivery {number} has supplier {d.supplier[0]!r} on line {d.supplier[1]}")
            elif not d.supplier:
                d.supplier = (supplier, r.line)
        if isinstance(expected_date, date):
            if d.expected_date and d.expected_date[0] != expected_date:
                rows.error(r, "expected_date",
                           f"delivery {number} is expected on {d.expected_date[0]:%Y-%m-%d} on line {d.expected_date[1]}")
            elif not d.expected_date:
                d.expected_date = (expected_date, r.line)
        if isinstance(sscc, str):
            owner = sscc_owner.get(sscc)
            if owner and owner[0] != number:
                rows.error(r, "sscc", f"{sscc} is a pallet of delivery {owner[0]} (line {owner[1]})")
            else:
                sscc_owner.setdefault(sscc, (number, r.line))
                d.ssccs.setdefault(sscc, r.line)
        if isinstance(sku, str) and isinstance(quantity, int) and lot is not _BAD and expiry is not _BAD:
            key = (sku, lot or "", expiry)
            if key in d.items:
                d.items[key][1] += quantity
            else:
                d.items[key] = [r.line, quantity]

    # Lookups in bulk: SKUs by code, then by barcode; numbers and SSCCs already taken.
    sku_refs = {key[0] for d in deliveries.values() for key in d.items}
    skus = {ref: row.id for ref, row in _skus_by_code_or_barcode(sku_refs, Sku.id).items()}
    taken = {row.number for row in _in_chunks(Delivery.number, deliveries, Delivery.number,
                                              filters=(Delivery.warehouse_id == warehouse.id,))}
    pallets_taken = {
        row.sscc: row.number
        for row in _in_chunks(DeliveryPallet.sscc, sscc_owner, DeliveryPallet.sscc, Delivery.number,
                              filters=(Delivery.id == DeliveryPallet.delivery_id,))
    }

    planned = []
    for d in deliveries.values():
        if d.number in taken:
            rows.errors.append(
                RowError(d.line, "number", f"delivery {d.number} already exists in warehouse {warehouse.code}"))
        for sscc, line in d.ssccs.items():
            if sscc in pallets_taken:
                rows.errors.append(RowError(line, "sscc", f"{sscc} is already a pallet of delivery {pallets_taken[sscc]}"))
        lines = []
        for (ref, lot, expiry), (line, quantity) in d.items.items():
            sku_id = skus.get(ref)
            if sku_id is None:
                rows.errors.append(RowError(line, "sku", f"no SKU with code or barcode {ref!r}"))
                continue
            lines.append((sku_id, lot, expiry, quantity))
        planned.append((d, lines))
    rows.raise_if_bad()

    # The same SKU given once by code and once by barcode is still one line.
    for i, (d, lines) in enumerate(planned):
        merged: dict = {}
        for sku_id, lot, expiry, quantity in lines:
            merged[(sku_id, lot, expiry)] = merged.get((sku_id, lot, expiry), 0) + quantity
        planned[i] = (d, [(*key, qty) for key, qty in merged.items()])

    report.deliveries = len(planned)
    report.blind = sum(1 for _, lines in planned if not lines)
    report.delivery_lines = sum(len(lines) for _, lines in planned)
    report.units = sum(q for _, lines in planned for *_, q in lines)
    report.pallets = len(sscc_owner)
    report.numbers = [d.number for d, _ in planned]
    if dry_run:
        return report

    for d, lines in planned:
        delivery = Delivery(
            warehouse_id=warehouse.id, number=d.number, supplier=d.supplier[0] if d.supplier else "",
            expected_date=d.expected_date[0] if d.expected_date else None, status=DeliveryStatus.expected,
            blind=not lines,
        )
        delivery.lines = [
            DeliveryLine(line_no=n, sku_id=sku_id, expected_qty=quantity, lot=lot, expiry=expiry)
            for n, (sku_id, lot, expiry, quantity) in enumerate(lines, 1)
        ]
        db.session.add(delivery)
        db.session.flush()
        db.session.add_all(DeliveryPallet(delivery_id=delivery.id, sscc=sscc) for sscc in d.ssccs)
    db.session.flush()
    return report
