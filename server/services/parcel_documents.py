"""The data of a parcel's documents: the shipping label (`printers.labels`, "shipping-label") and
the packing slip (`printers.receipts`, "packing-slip"), from the parcel, its order and warehouse.

Texts are fitted to the templates: the label's lines are wrapped (and cut with "…" where a
template has room for no more) by the width the label font gives them; the slip's text keeps only
characters the receipt printer's Cyrillic code page (CP866) carries ("?" for any other)."""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy import func, select

from printers.escpos import REPLACEMENTS
from printers.zpl import text_width_dots
from server.extensions import db
from server.models import Order, OrderSource, Parcel, ParcelItem, Sku, User, Warehouse
from server.models.base import utcnow
from server.services.carriers import Shipment, adapter_for
from server.services.dates import local_time

# The shipping label's room (mm of text width at the template's character widths) and lines.
CARRIER_ROOM, CARRIER_CHAR = 58.0, 5.5
ORDER_ROOM, ORDER_CHAR = 30.0, 3.0
NAME_ROOM, SENDER_NAME_CHAR, RECIPIENT_NAME_CHAR = 88.0, 2.4, 3.8
ADDRESS_ROOM, SENDER_ADDRESS_CHAR, RECIPIENT_ADDRESS_CHAR = 88.0, 2.2, 3.0
SENDER_LINES = 3  # more would push the recipient down
RECIPIENT_LINES = 5  # address lines and the phone, above the tracking barcode


def _width_mm(text: str, char_mm: float) -> float:
    return text_width_dots(text, 1000) / 1000 * char_mm


def _fit(text: str, room_mm: float, char_mm: float) -> str:
    """One line: the text, or its start and "…" when it is wider than the room."""
    text = " ".join(str(text).split())
    if _width_mm(text, char_mm) <= room_mm:
        return text
    while text and _width_mm(text + "…", char_mm) > room_mm:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrap(text: str, room_mm: float, char_mm: float, max_lines: int) -> list[str]:
    """Lines (newlines kept, then word wrap; a word wider than the line is cut), at most max_lines."""
    lines: list[str] = []
    for paragraph in str(text).splitlines():
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if _width_mm(candidate, char_mm) <= room_mm:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = _fit(word, room_mm, char_mm)
        if line:
            lines.append(line)
    if len(lines) > max_lines:
        lines = [*lines[:max_lines - 1], _fit(" ".join(lines[max_lines - 1:]) + "…", room_mm, char_mm)]
    return lines


def _parcel_count(parcel: Parcel) -> int:
    if parcel.packing_session_id is None:
        return max(parcel.seq, 1)
    count = db.session.scalar(select(func.count(Parcel.id)).where(
        Parcel.packing_session_id == parcel.packing_session_id))
    return max(count or 1, parcel.seq)


def shipping_label_data(parcel: Parcel, order: Order, shipment: Shipment | None = None,
                        n: int | None = None, m: int | None = None) -> dict:
    """The "shipping-label" data of a parcel: carrier, tracking (Code 128), SSCC (GS1-128, when the
    parcel has one), order number, sender (the warehouse), recipient, weight in kg and "n of m".
    `shipment` defaults to the parcel's stored numbers; n and m to its place in its packing
    session. The carrier adapter's `label_data` fields are laid over the result."""
    warehouse = db.session.get(Warehouse, order.warehouse_id)
    tracking = shipment.tracking_number if shipment else parcel.tracking_number
    sscc = (shipment.sscc if shipment else None) or parcel.sscc
    n = n if n is not None else max(parcel.seq, 1)
    m = m if m is not None else _parcel_count(parcel)
    carrier = parcel.carrier or order.carrier
    weight_g = parcel.weight_g if parcel.weight_g is not None else (parcel.expected_weight_g or 0)
    recipient_lines = _wrap(order.delivery_address or "—", ADDRESS_ROOM, RECIPIENT_ADDRESS_CHAR,
                            RECIPIENT_LINES - (1 if order.customer_phone else 0))
    data = {
        "carrier": _fit(carrier or "—", CARRIER_ROOM, CARRIER_CHAR),
        "tracking": tracking or parcel.code,
        "order": _fit(order.number, ORDER_ROOM, ORDER_CHAR),
        "sender": {
            "name": _fit(warehouse.name, NAME_ROOM, SENDER_NAME_CHAR),
            "address": _wrap(warehouse.address or warehouse.name, ADDRESS_ROOM, SENDER_ADDRESS_CHAR, SENDER_LINES),
        },
        "recipient": {
            "name": _fit(order.customer_name or "—", NAME_ROOM, RECIPIENT_NAME_CHAR),
            "address": recipient_lines,
        },
        "weight_kg": round(weight_g / 1000, 3),
        "parcel": n,
        "parcels": m,
    }
    if order.customer_phone:
        data["recipient"]["phone"] = _fit(order.customer_phone, ADDRESS_ROOM, RECIPIENT_ADDRESS_CHAR)
    if sscc:
        data["sscc"] = f"(00){sscc}"
    if shipment is not None:
        data.update(adapter_for(carrier).label_data(parcel, order, shipment))
    return data


def _slip_text(text: str) -> str:
    out = []
    for char in " ".join(str(text).split()):
        char = REPLACEMENTS.get(char, char)
        try:
            char.encode("cp866")
        except UnicodeEncodeError:
            char = "?"
        out.append(char)
    return "".join(out)


def packing_slip_data(parcel: Parcel, order: Order) -> dict:
    """The "packing-slip" data of a parcel: shop (the order source's name, else the warehouse's),
    order number, packing time in the warehouse's zone, packer, the parcel's units per SKU (the
    order's lines when the parcel holds no scans yet) and its weight in kg."""
    warehouse = db.session.get(Warehouse, order.warehouse_id)
    shop = db.session.scalar(select(OrderSource.name).where(OrderSource.code == order.source)) or warehouse.name
    packer = db.session.get(User, parcel.packer_user_id) if parcel.packer_user_id else None
    rows = db.session.execute(
        select(Sku.code, Sku.name, ParcelItem.quantity).join(Sku, Sku.id == ParcelItem.sku_id)
        .where(ParcelItem.parcel_id == parcel.id).order_by(ParcelItem.id)).all() if parcel.id else []
    if not rows:
        rows = [(line_sku.code, line_sku.name, line.quantity) for line in order.lines
                if (line_sku := db.session.get(Sku, line.sku_id)) is not None]
    units: OrderedDict[str, list] = OrderedDict()
    for code, name, quantity in rows:
        units.setdefault(code, [name, 0])[1] += quantity
    data = {
        "shop": _slip_text(shop or "—"),
        "order": _slip_text(order.number),
        "date": local_time(parcel.packed_at or parcel.created_at or utcnow(), warehouse),
        "packer": _slip_text(packer.display_name if packer else "—"),
        "lines": [{"sku": _slip_text(code), "name": _slip_text(name or code), "qty": qty}
                  for code, (name, qty) in units.items() if qty > 0],
    }
    weight_g = parcel.weight_g if parcel.weight_g is not None else parcel.expected_weight_g
    if weight_g is not None:
        data["weight_kg"] = round(weight_g / 1000, 3)
    return data
