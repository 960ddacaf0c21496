"""Import files: CSV or JSON read into records; the problems and the report an import answers with."""

import csv
import hashlib
import io
import json
from dataclasses import dataclass

ALIASES = {
    "sku_code": "sku", "cell_address": "cell", "cell_barcode": "cell", "qty": "quantity",
    "best_before": "expiry", "expiry_date": "expiry", "barcode": "barcode",
    # Orders as Russian shops export them.
    "номер": "number", "номер_заказа": "number", "заказ": "number", "артикул": "sku", "код_товара": "sku",
    "количество": "quantity", "кол_во": "quantity", "кол.": "quantity", "клиент": "customer_name",
    "покупатель": "customer_name", "фио": "customer_name", "получатель": "customer_name", "телефон": "phone",
    "адрес": "delivery_address", "адрес_доставки": "delivery_address", "служба_доставки": "carrier",
    "перевозчик": "carrier", "тариф": "service", "услуга": "service", "приоритет": "priority",
    "отгрузить_до": "cutoff_at", "отсечка": "cutoff_at", "наложенный_платёж": "cod_amount",
    "наложенный_платеж": "cod_amount", "комментарий": "comment", "подтвердить": "needs_confirmation",
    "частично": "partial_allowed", "customer": "customer_name", "customer_phone": "phone",
}


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


def read_file(path: str, *, windows_1251: bool = False) -> tuple[list[Record], str]:
    """Records of a .csv or .json file, and a digest of its bytes. Raises ImportFailed.
    With `windows_1251`, a file that is not UTF-8 is read as Windows-1251 (Excel's Russian CSV)."""
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
        try:
            if not windows_1251:
                raise
            text = raw.decode("cp1251")
        except UnicodeDecodeError:
            why = "neither UTF-8 nor Windows-1251 text" if windows_1251 else "not UTF-8 text (save the file as UTF-8)"
            raise ImportFailed([RowError(line, "", why)]) from None
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
