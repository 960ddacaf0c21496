"""A batch's pick list on paper, in route order: ESC/POS for a receipt printer (Cyrillic in the
profile's code page) or an A4 PDF (Pillow, DejaVu Sans, which has Cyrillic).

Printed text is Russian, as the warehouse's other paper (receipts, acts) is."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _
from PIL import Image, ImageDraw, ImageFont

from printers.escpos import REPLACEMENTS, EscposDocument
from printers.profiles import load_profile
from printers.receipt_preview import FONT_FILES
from printers.receipts import pair, wrap
from server.models import Batch
from server.services.errors import DomainError

RECEIPT_PROFILE = "epson-tm-t20iii"
# DejaVu Sans next to the mono face the receipt previews use.
PDF_FONTS = tuple(str(Path(p).with_name("DejaVuSans.ttf")) for p in FONT_FILES)
PDF_BOLD = tuple(str(Path(p).with_name("DejaVuSans-Bold.ttf")) for p in FONT_FILES)
A4_DOTS = (1240, 1754)  # 150 dpi
MARGIN = 90


@dataclass(frozen=True)
class Stop:
    seq: int
    address: str
    sku: str
    name: str
    quantity: int
    slot: int
    order: str
    lot: str


def stops(batch: Batch) -> list[Stop]:
    slot_of = {bo.order_id: bo.slot for bo in batch.orders}
    number_of = {bo.order_id: bo.order.number for bo in batch.orders}
    return [Stop(line.seq, line.cell.address, line.sku.code, line.sku.name, line.quantity, slot_of.get(line.order_id, 0),
                 number_of.get(line.order_id, ""), line.lot) for line in batch.lines]


def header(batch: Batch) -> list[str]:
    return [f"Волна {batch.wave_id}, партия {batch.seq} (№ {batch.id})",
            f"Заказов: {len(batch.orders)}, строк: {len(batch.lines)}, путь {batch.planned_walk_m:.0f} м"]


def printable(text: str, code_page: str) -> str:
    """The text with what the code page cannot carry as "?" (a name from a shop may hold anything)."""
    out = []
    for char in text:
        char = REPLACEMENTS.get(char, char)
        try:
            char.encode(code_page)
        except UnicodeEncodeError:
            char = "?"
        out.append(char if char >= " " else " ")
    return "".join(out)


class _Receipt(EscposDocument):
    def line(self, text: str = "", field: str = "text") -> None:
        super().line(printable(text, self.code_page), field)


def escpos(batch: Batch, profile: str = RECEIPT_PROFILE) -> bytes:
    doc = _Receipt(load_profile(profile))
    w = doc.width
    doc.style(align="center", bold=True, size=2)
    for text in wrap("Лист подбора", w // 2):
        doc.line(text, "title")
    doc.style()
    for text in header(batch):
        for part in wrap(text, w):
            doc.line(part, "batch")
    doc.rule()
    for stop in stops(batch):
        doc.style(bold=True)
        for part in pair(f"{stop.seq}. {stop.address}", f"{stop.quantity} шт", w):
            doc.line(part, "address")
        doc.style()
        for part in wrap(f"{stop.sku} {stop.name}", w - 3):
            doc.line("   " + part, "name")
        tail = f"-> тележка {stop.slot}, заказ {stop.order}" + (f", партия {stop.lot}" if stop.lot else "")
        for part in wrap(tail, w - 3):
            doc.line("   " + part, "slot")
    doc.rule()
    doc.line("Собрал " + "_" * (w - 7), "signature")
    doc.feed(2)
    doc.cut()
    return doc.bytes()


def _font(paths, size: int):
    path = next((p for p in paths if Path(p).exists()), None)
    if path is None:
        raise DomainError(503, "no-pdf-font", _("The DejaVu Sans font is not installed: the PDF would lose Cyrillic."),
                          looked_for=list(paths))
    return ImageFont.truetype(path, size)


def pdf(batch: Batch) -> bytes:
    """A4 pages, 150 dpi: a header, then one row per line in route order."""
    body, bold, title = _font(PDF_FONTS, 26), _font(PDF_BOLD, 26), _font(PDF_BOLD, 40)
    width, height = A4_DOTS
    columns = (MARGIN, MARGIN + 70, MARGIN + 330, MARGIN + 860, MARGIN + 960)  # #, cell, SKU and name, qty, slot
    pages, page, draw, y = [], None, None, 0

    def new_page():
        nonlocal page, draw, y
        page = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(page)
        pages.append(page)
        y = MARGIN
        draw.text((MARGIN, y), "Лист подбора", font=title, fill="black")
        y += 60
        for text in header(batch):
            draw.text((MARGIN, y), text, font=body, fill="black")
            y += 36
        y += 10
        for x, text in zip(columns, ("№", "Ячейка", "Товар", "Кол.", "Тележка"), strict=True):
            draw.text((x, y), text, font=bold, fill="black")
        y += 40
        draw.line((MARGIN, y - 6, width - MARGIN, y - 6), fill="black", width=2)

    new_page()
    for stop in stops(batch):
        name_lines = wrap(f"{stop.sku} {stop.name}", 36)[:3]
        needed = 34 * max(1, len(name_lines)) + 14
        if y + needed > height - MARGIN:
            new_page()
        draw.text((columns[0], y), str(stop.seq), font=body, fill="black")
        draw.text((columns[1], y), stop.address, font=bold, fill="black")
        for k, text in enumerate(name_lines):
            draw.text((columns[2], y + 34 * k), text, font=body, fill="black")
        draw.text((columns[3], y), str(stop.quantity), font=bold, fill="black")
        draw.text((columns[4], y), f"{stop.slot} · {stop.order}", font=body, fill="black")
        y += needed
        draw.line((MARGIN, y - 8, width - MARGIN, y - 8), fill="#999999", width=1)
    out = io.BytesIO()
    pages[0].save(out, "PDF", resolution=150.0, save_all=True, append_images=pages[1:])
    return out.getvalue()
