"""ZPL label templates: plain data (dict or dataclass) + a printer profile -> ZPL bytes.

Layouts are in millimetres and rendered in dots for the profile's dpi. Every problem with the
data is a `TemplateError` naming the field (e.g. "recipient.name").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from .errors import TemplateError
from .profiles import PrinterProfile, load_profile
from .zpl import Canvas

_MISSING = object()


def _get(data: Mapping, path: str, default=_MISSING):
    value = data
    for key in path.split("."):
        value = value.get(key, _MISSING) if isinstance(value, Mapping) else _MISSING
        if value is _MISSING:
            break
    if value is _MISSING or value is None or value == "":
        if default is _MISSING:
            raise TemplateError(path, "missing")
        return default
    return value


def _lines(name: str, value) -> list[str]:
    lines = value.split("\n") if isinstance(value, str) else [str(v) for v in value]
    if not lines:
        raise TemplateError(name, "missing")
    return lines


def cell_label(c: Canvas, data: Mapping):
    """100x50 mm: big cell address, its barcode (Code 128 or DataMatrix), optional zone."""
    address = str(_get(data, "address"))
    code = str(_get(data, "barcode", address))
    symbology = _get(data, "symbology", "code128")
    c.text("address", 4, 3, address, 14, 9)
    if symbology == "datamatrix":
        c.datamatrix("barcode", 4, 21, code, 1.0)
        c.text("barcode", 36, 24, code, 5, 3.5)
    elif symbology == "code128":
        c.code128("barcode", 4, 21, code, 18, 0.375)
        c.text("barcode", 4, 41, code, 5, 3.5)
    else:
        raise TemplateError("symbology", f"must be code128 or datamatrix, not {symbology!r}")
    zone = _get(data, "zone", None)
    if zone:
        c.text("zone", 70, 41, str(zone), 5, 3.5)


def sku_sticker(c: Canvas, data: Mapping):
    """58x40 mm: name, SKU, EAN-13 (when given) or Code 128 of the SKU, lot, expiry."""
    c.text("name", 2, 1.5, str(_get(data, "name")), 3.5, 2.4, max_width_mm=54)
    sku = str(_get(data, "sku"))
    c.text("sku", 2, 6, f"SKU {sku}", 3, 2.2)
    ean = _get(data, "ean13", None)
    if ean:
        c.ean13("ean13", 6, 10, str(ean), 14, 0.25)
    else:
        c.code128("sku", 2, 10, sku, 14, 0.25)
    lot = _get(data, "lot", None)
    if lot:
        c.text("lot", 2, 30, f"Партия: {lot}", 3, 2.2)
    expiry = _get(data, "expiry", None)
    if expiry:
        c.text("expiry", 2, 34.5, f"Годен до: {expiry}", 3, 2.2)


def tote_label(c: Canvas, data: Mapping):
    """100x50 mm: tote number big, its Code 128, optional zone/colour."""
    code = str(_get(data, "code"))
    c.text("code", 4, 3, code, 12, 8)
    c.code128("code", 4, 19, code, 20, 0.375)
    note = _get(data, "zone", None)
    if note:
        c.text("zone", 4, 42, str(note), 5, 3.5)


def badge(c: Canvas, data: Mapping):
    """86x54 mm: worker name, role, Code 128 of the badge code."""
    c.text("name", 4, 4, str(_get(data, "name")), 6, 4, max_width_mm=78)
    c.text("role", 4, 12, str(_get(data, "role")), 4.5, 3)
    code = str(_get(data, "code"))
    c.code128("code", 4, 22, code, 18, 0.33)
    c.text("code", 4, 43, code, 4, 2.8)


def shipping_label(c: Canvas, data: Mapping):
    """100x150 mm: carrier, addresses, tracking Code 128, GS1-128 SSCC, order, weight, parcel n of m."""
    c.text("carrier", 4, 3, str(_get(data, "carrier")), 8, 5.5, max_width_mm=60)
    c.text("order", 66, 5, f"№ {_get(data, 'order')}", 4.5, 3, max_width_mm=32)
    c.box(2, 14, 96, 0.5)
    c.text("sender", 4, 16, "Отправитель:", 3, 2.2)
    y = 20.0
    c.text("sender.name", 4, y, str(_get(data, "sender.name")), 3.5, 2.4, max_width_mm=92)
    for line in _lines("sender.address", _get(data, "sender.address")):
        y += 4
        c.text("sender.address", 4, y, line, 3, 2.2, max_width_mm=92)
    y = max(y + 6, 38)
    c.box(2, y - 2, 96, 0.5)
    c.text("recipient", 4, y, "Получатель:", 3, 2.2)
    y += 4
    c.text("recipient.name", 4, y, str(_get(data, "recipient.name")), 5.5, 3.8, max_width_mm=92)
    y += 6.5
    for line in _lines("recipient.address", _get(data, "recipient.address")):
        c.text("recipient.address", 4, y, line, 4.5, 3, max_width_mm=92)
        y += 5.5
    phone = _get(data, "recipient.phone", None)
    if phone:
        c.text("recipient.phone", 4, y, str(phone), 4.5, 3, max_width_mm=92)
    tracking = str(_get(data, "tracking"))
    c.code128("tracking", 6, 80, tracking, 20, 0.375)
    c.text("tracking", 6, 101.5, tracking, 4, 2.8)
    sscc = _get(data, "sscc", None)
    if sscc:
        c.gs1_128("sscc", 6, 108, str(sscc), 18, 0.375)
        c.text("sscc", 6, 127, str(sscc), 3.5, 2.4)
    c.box(2, 132, 96, 0.5)
    weight = _get(data, "weight_kg")
    try:
        weight = f"{float(weight):.3f}".rstrip("0").rstrip(".")
    except (TypeError, ValueError):
        raise TemplateError("weight_kg", f"must be a number, not {weight!r}") from None
    c.text("weight_kg", 4, 135, f"Вес: {weight} кг", 5, 3.4)
    n, m = _get(data, "parcel"), _get(data, "parcels")
    if not (isinstance(n, int) and isinstance(m, int) and 1 <= n <= m):
        raise TemplateError("parcel", f"parcel {n!r} of {m!r} must be whole numbers with 1 <= n <= m")
    c.text("parcel", 56, 135, f"Место {n} из {m}", 5, 3.4)


# name -> (builder, label width mm, label height mm)
TEMPLATES: dict[str, tuple[Callable[[Canvas, Mapping], None], float, float]] = {
    "cell-label": (cell_label, 100, 50),
    "sku-sticker": (sku_sticker, 58, 40),
    "tote-label": (tote_label, 100, 50),
    "badge": (badge, 86, 54),
    "shipping-label": (shipping_label, 100, 150),
}


def build(template: str, data, profile: PrinterProfile | str) -> Canvas:
    """Lay out a template; the canvas holds the ZPL parts and the barcodes with their payloads."""
    if template not in TEMPLATES:
        raise TemplateError("template", f"unknown template {template!r} (known: {', '.join(TEMPLATES)})")
    if isinstance(profile, str):
        profile = load_profile(profile)
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        data = dataclasses.asdict(data)
    if not isinstance(data, Mapping):
        raise TemplateError("data", f"must be a mapping or a dataclass, not {type(data).__name__}")
    builder, width, height = TEMPLATES[template]
    canvas = Canvas(profile, width, height)
    builder(canvas, data)
    return canvas


def render(template: str, data, profile: PrinterProfile | str) -> bytes:
    """ZPL bytes (UTF-8, ^CI28) of one label."""
    return build(template, data, profile).zpl()
