"""Receipt templates for ESC/POS printers: `packing-slip`, `handoff-act` and `receiving-act`.

Each template is a function of plain data (a dict, as from JSON) and a printer profile to the job's bytes:
`render("packing-slip", data, "epson-tm-t20iii")`. Text is wrapped at word boundaries to the profile's
`chars_per_line` (font A); a word longer than the line is broken hard at the line width, never cut off.
Bad data is a `TemplateError` naming the field: a missing or empty field, a key the template does not know,
a quantity that is not a positive whole number, a character the code page cannot carry, a barcode value
that Code 128 cannot carry or that does not fit the paper. An unknown profile is the loader's `ProfileError`.
"""

import textwrap
from collections.abc import Callable

from .errors import TemplateError
from .escpos import EscposDocument
from .profiles import PrinterProfile, load_profile

PACKING_SLIP_KEYS = {"shop", "order", "date", "packer", "lines", "weight_kg", "comment"}
SLIP_LINE_KEYS = {"sku", "name", "qty"}
HANDOFF_ACT_KEYS = {"carrier", "manifest", "date", "dispatcher", "courier", "warehouse", "parcels"}
PARCEL_KEYS = {"tracking", "order", "weight_kg"}
RECEIVING_ACT_KEYS = {"number", "supplier", "date", "receiver", "lines", "totals"}
RECEIVING_LINE_KEYS = {"sku", "name", "expected", "received", "damaged", "kind"}
RECEIVING_TOTAL_KEYS = ("expected", "received", "damaged", "short", "over", "unexpected")
# A line's discrepancy as printed; "" is a line that matched the ASN.
DISCREPANCY_NAMES = {"": "", "short": "НЕДОСТАЧА", "over": "ИЗЛИШЕК", "damaged": "БРАК",
                     "unexpected": "НЕ ПО ЗАЯВКЕ", "unknown": "НЕИЗВЕСТНЫЙ ШК"}
TOTAL_NAMES = {"expected": "Ожидалось, шт:", "received": "Принято, шт:", "damaged": "Брак, шт:",
               "short": "Недостача, шт:", "over": "Излишек, шт:", "unexpected": "Не по заявке, шт:"}


def wrap(text: str, width: int, indent: int = 0) -> list[str]:
    """Word wrap; words longer than the line are split hard. Continuation lines are indented."""
    lines = textwrap.wrap(text, width, subsequent_indent=" " * indent, break_long_words=True,
                          break_on_hyphens=False) or [""]
    return lines


def pair(left: str, right: str, width: int) -> list[str]:
    """`left ... right` on one line when it fits, else left wrapped and right alone, right-aligned."""
    if len(left) + 1 + len(right) <= width:
        return [left + " " * (width - len(left) - len(right)) + right]
    return [*wrap(left, width), right.rjust(width)]


def _check_keys(data, allowed: set[str], where: str) -> None:
    if not isinstance(data, dict):
        raise TemplateError(where or "data", "must be an object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise TemplateError(f"{where}.{unknown[0]}" if where else unknown[0], "unknown field")


def _text(data: dict, key: str, where: str = "", required: bool = True) -> str | None:
    field = f"{where}.{key}" if where else key
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise TemplateError(field, "missing")
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise TemplateError(field, f"must be text, not {type(value).__name__}")
    return " ".join(str(value).split())


def _weight(data: dict, where: str) -> float | None:
    value = data.get("weight_kg")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TemplateError(f"{where}.weight_kg" if where else "weight_kg", "must be a non-negative number")
    return float(value)


def _list(data: dict, key: str) -> list:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise TemplateError(key, "missing" if value is None else "must be a non-empty list")
    return value


def _profile(profile: PrinterProfile | str) -> PrinterProfile:
    return load_profile(profile) if isinstance(profile, str) else profile


def _block(doc: EscposDocument, lines: list[str], field: str) -> None:
    for line in lines:
        doc.line(line, field)


def _signature(doc: EscposDocument, field: str) -> None:
    doc.line("Подпись " + "_" * (doc.width - 8), field)


def _title(doc: EscposDocument, text: str, field: str) -> None:
    doc.style(align="center", bold=True, size=2)
    _block(doc, wrap(text, doc.width // 2), field)  # double width: half the characters
    doc.style()


def packing_slip(data: dict, profile: PrinterProfile | str) -> bytes:
    """Packing slip: shop, order number (Code 128), lines (SKU, name, qty), totals, packer, date."""
    _check_keys(data, PACKING_SLIP_KEYS, "")
    shop, order = _text(data, "shop"), _text(data, "order")
    date, packer = _text(data, "date"), _text(data, "packer")
    comment = _text(data, "comment", required=False)
    weight = _weight(data, "")
    items = []
    for i, item in enumerate(_list(data, "lines")):
        where = f"lines[{i}]"
        _check_keys(item, SLIP_LINE_KEYS, where)
        qty = item.get("qty")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise TemplateError(f"{where}.qty", "missing" if qty is None else "must be a positive whole number")
        items.append((where, _text(item, "sku", where), _text(item, "name", where), qty))

    doc = EscposDocument(_profile(profile))
    w = doc.width
    _title(doc, shop, "shop")
    doc.style(align="center")
    doc.line("Упаковочный лист", "title")
    doc.style()
    doc.rule()
    _block(doc, wrap(f"Заказ: {order}", w, 2), "order")
    _block(doc, wrap(f"Дата: {date}", w, 2), "date")
    doc.code128(order, "order")
    doc.style()
    doc.rule()
    for n, (where, sku, name, qty) in enumerate(items, 1):
        _block(doc, wrap(f"{n}. {name}", w, 3), f"{where}.name")
        _block(doc, pair(f"   {sku}", f"{qty} шт", w), f"{where}.sku")
    doc.rule()
    doc.style(bold=True)
    _block(doc, pair("Позиций:", str(len(items)), w), "lines")
    _block(doc, pair("Всего единиц:", str(sum(item[3] for item in items)), w), "lines")
    doc.style()
    if weight is not None:
        _block(doc, pair("Вес, кг:", f"{weight:.3f}", w), "weight_kg")
    if comment:
        doc.rule()
        _block(doc, wrap(comment, w), "comment")
    doc.rule()
    _block(doc, wrap(f"Упаковал: {packer}", w, 2), "packer")
    doc.feed(1)
    doc.style(align="center")
    doc.line("Спасибо за заказ!", "footer")
    doc.style()
    doc.cut()
    return doc.bytes()


def handoff_act(data: dict, profile: PrinterProfile | str) -> bytes:
    """Handoff act: carrier, manifest (Code 128 and QR), parcels with tracking numbers, counts, signatures."""
    _check_keys(data, HANDOFF_ACT_KEYS, "")
    carrier, manifest = _text(data, "carrier"), _text(data, "manifest")
    date, dispatcher = _text(data, "date"), _text(data, "dispatcher")
    courier = _text(data, "courier", required=False)
    warehouse = _text(data, "warehouse", required=False)
    parcels = []
    for i, parcel in enumerate(_list(data, "parcels")):
        where = f"parcels[{i}]"
        _check_keys(parcel, PARCEL_KEYS, where)
        parcels.append((where, _text(parcel, "tracking", where), _text(parcel, "order", where, required=False),
                        _weight(parcel, where)))

    doc = EscposDocument(_profile(profile))
    w = doc.width
    _title(doc, "Акт приёма-передачи", "title")
    doc.style(align="center")
    _block(doc, wrap(f"Манифест {manifest}", w), "manifest")
    doc.style()
    doc.rule()
    if warehouse:
        _block(doc, wrap(f"Склад: {warehouse}", w, 2), "warehouse")
    _block(doc, wrap(f"Перевозчик: {carrier}", w, 2), "carrier")
    _block(doc, wrap(f"Дата: {date}", w, 2), "date")
    doc.code128(manifest, "manifest")
    doc.qr(manifest, "manifest")
    doc.style()
    doc.rule()
    for n, (where, tracking, order, weight) in enumerate(parcels, 1):
        _block(doc, wrap(f"{n}. {tracking}", w, 3), f"{where}.tracking")
        details = " ".join(x for x in (f"заказ {order}" if order else "",
                                       f"{weight:.3f} кг" if weight is not None else "") if x)
        if details:
            _block(doc, ["   " + x for x in wrap(details, w - 3)], f"{where}.order")
    doc.rule()
    doc.style(bold=True)
    _block(doc, pair("Всего отправлений:", str(len(parcels)), w), "parcels")
    doc.style()
    weights = [p[3] for p in parcels]
    if all(x is not None for x in weights):
        _block(doc, pair("Общий вес, кг:", f"{sum(weights):.3f}", w), "parcels")
    doc.rule()
    doc.feed(1)
    _block(doc, wrap(f"Сдал (склад): {dispatcher}", w, 2), "dispatcher")
    doc.feed(1)
    _signature(doc, "dispatcher")
    doc.feed(1)
    _block(doc, wrap(f"Принял (курьер): {courier or ''}", w, 2), "courier")
    doc.feed(1)
    _signature(doc, "courier")
    doc.cut()
    return doc.bytes()


def _count(data: dict, key: str, where: str) -> int:
    """A non-negative whole number of units (0 is fine: nothing expected, nothing damaged)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TemplateError(f"{where}.{key}", "missing" if value is None else "must be a whole number, 0 or more")
    return value


def receiving_act(data: dict, profile: PrinterProfile | str) -> bytes:
    """Receiving act: delivery (Code 128), supplier, lines expected / received / damaged with each
    discrepancy marked, the discrepancies again in a list, totals, signatures of driver and receiver."""
    _check_keys(data, RECEIVING_ACT_KEYS, "")
    number, supplier = _text(data, "number"), _text(data, "supplier", required=False)
    date, receiver = _text(data, "date"), _text(data, "receiver")
    items = []
    for i, item in enumerate(_list(data, "lines")):
        where = f"lines[{i}]"
        _check_keys(item, RECEIVING_LINE_KEYS, where)
        kind = item.get("kind", "")
        if kind is None:
            kind = ""
        if kind not in DISCREPANCY_NAMES:
            raise TemplateError(f"{where}.kind", f"must be one of: {', '.join(repr(k) for k in DISCREPANCY_NAMES)}")
        items.append((where, _text(item, "sku", where), _text(item, "name", where, required=False),
                      _count(item, "expected", where), _count(item, "received", where),
                      _count(item, "damaged", where), kind))
    totals = data.get("totals")
    if not isinstance(totals, dict):
        raise TemplateError("totals", "missing" if totals is None else "must be an object")
    _check_keys(totals, set(RECEIVING_TOTAL_KEYS), "totals")
    sums = {key: _count(totals, key, "totals") for key in RECEIVING_TOTAL_KEYS}

    doc = EscposDocument(_profile(profile))
    w = doc.width
    _title(doc, "Акт приёмки", "title")
    doc.style(align="center")
    _block(doc, wrap(f"Поставка {number}", w), "number")
    doc.style()
    doc.rule()
    if supplier:
        _block(doc, wrap(f"Поставщик: {supplier}", w, 2), "supplier")
    else:
        doc.line("Поставщик: без заявки", "supplier")
    _block(doc, wrap(f"Дата: {date}", w, 2), "date")
    doc.code128(number, "number")
    doc.style()
    doc.rule()
    _block(doc, pair("Товар", "ожид/прин/брак", w), "lines")
    doc.rule()
    for n, (where, sku, name, expected, received, damaged, kind) in enumerate(items, 1):
        _block(doc, wrap(f"{n}. {name or sku}", w, 3), f"{where}.name")
        _block(doc, pair(f"   {sku}" if name else "", f"{expected}/{received}/{damaged}", w), f"{where}.sku")
        if kind:
            doc.style(bold=True)
            doc.line(f"   >> {DISCREPANCY_NAMES[kind]}", f"{where}.kind")
            doc.style()
    doc.rule()
    marked = [(n, sku, kind) for n, (_, sku, _, _, _, _, kind) in enumerate(items, 1) if kind]
    doc.style(bold=True)
    doc.line(f"Расхождения: {len(marked)}" if marked else "Расхождений нет", "lines")
    doc.style()
    for n, sku, kind in marked:
        _block(doc, pair(f"{n}. {sku}", DISCREPANCY_NAMES[kind], w), f"lines[{n - 1}].kind")
    doc.rule()
    doc.style(bold=True)
    _block(doc, pair("Позиций:", str(len(items)), w), "lines")
    doc.style()
    for key in RECEIVING_TOTAL_KEYS:
        _block(doc, pair(TOTAL_NAMES[key], str(sums[key]), w), f"totals.{key}")
    doc.rule()
    doc.feed(1)
    doc.line("Сдал (водитель поставщика):", "driver")
    doc.feed(1)
    _signature(doc, "driver")
    doc.feed(1)
    _block(doc, wrap(f"Принял (склад): {receiver}", w, 2), "receiver")
    doc.feed(1)
    _signature(doc, "receiver")
    doc.cut()
    return doc.bytes()


TEMPLATES: dict[str, Callable[[dict, PrinterProfile | str], bytes]] = {
    "packing-slip": packing_slip,
    "handoff-act": handoff_act,
    "receiving-act": receiving_act,
}

SAMPLES = {
    "packing-slip": {
        "shop": "Магазин «Ёлка»",
        "order": "SO-104233",
        "date": "2024-05-14 15:42",
        "packer": "Иванова А. С.",
        "weight_kg": 1.25,
        "lines": [
            {"sku": "TS-001-BLK-M", "name": "Футболка хлопковая чёрная, размер M", "qty": 2},
            {"sku": "MUG-330", "name": "Кружка керамическая 330 мл", "qty": 1},
            {"sku": "NB-A5-DOT", "name": "Блокнот А5 в точку, 80 листов", "qty": 3},
        ],
    },
    "handoff-act": {
        "carrier": "СДЭК",
        "manifest": "MF-240514-07",
        "date": "2024-05-14 18:05",
        "warehouse": "Склад №1, Москва",
        "dispatcher": "Петров И. В.",
        "parcels": [
            {"tracking": "1504233001", "order": "SO-104233", "weight_kg": 1.25},
            {"tracking": "1504233002", "order": "SO-104234", "weight_kg": 0.4},
            {"tracking": "1504233003", "order": "SO-104240", "weight_kg": 2.1},
        ],
    },
    "receiving-act": {
        "number": "PO-240514-03",
        "supplier": "ООО «Текстиль-Опт»",
        "date": "2024-05-14 11:20",
        "receiver": "Сидоров П. А.",
        "lines": [
            {"sku": "TS-001-BLK-M", "name": "Футболка хлопковая чёрная, размер M", "expected": 24,
             "received": 24, "damaged": 0, "kind": ""},
            {"sku": "MUG-330", "name": "Кружка керамическая 330 мл", "expected": 12, "received": 10,
             "damaged": 0, "kind": "short"},
            {"sku": "NB-A5-DOT", "name": "Блокнот А5 в точку, 80 листов", "expected": 30, "received": 29,
             "damaged": 1, "kind": "damaged"},
            {"sku": "PEN-BLU", "name": "Ручка шариковая синяя", "expected": 0, "received": 5,
             "damaged": 0, "kind": "unexpected"},
            {"sku": "4601234567893", "name": "", "expected": 0, "received": 2, "damaged": 0, "kind": "unknown"},
        ],
        "totals": {"expected": 66, "received": 70, "damaged": 1, "short": 2, "over": 0, "unexpected": 7},
    },
}


def render(template: str, data: dict, profile: PrinterProfile | str) -> bytes:
    try:
        build = TEMPLATES[template]
    except KeyError:
        raise TemplateError("template", f"unknown receipt template {template!r} (known: {', '.join(TEMPLATES)})") from None
    return build(data, profile)
