"""ESC/POS bytes -> PNG, offline: what the receipt printer would print, dot for dot at 203 dpi.

Interprets what `escpos_decode.decode` finds: text in font A (12x24 dots) or B (9x17) with size and emphasis,
justification, feeds, Code 128 (code set B, as the printer encodes it) and other GS k symbologies via
python-barcode, QR (`GS ( k`) via qrcode, raster images (`GS v 0`) blitted, cuts as a dashed line.
Text is drawn with DejaVu Sans Mono (it has Cyrillic); without it Pillow's default font is used, which has no
Cyrillic glyphs, so the text is then only approximate. Barcodes and QR never depend on a font.
"""

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from qrcode import QRCode
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

from .escpos import code128_escpos_modules, print_width_dots
from .escpos_decode import Barcode, Cut, Feed, RasterImage, TextLine, decode
from .profiles import PrinterProfile

FONTS = {0: (12, 24), 1: (9, 17)}  # font A, font B cell in dots
LINE_GAP = 6  # default line spacing (30 dots) minus the 24-dot font A cell
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
    "/usr/local/share/fonts/DejaVuSansMono.ttf",
)
QR_LEVELS = {"L": ERROR_CORRECT_L, "M": ERROR_CORRECT_M, "Q": ERROR_CORRECT_Q, "H": ERROR_CORRECT_H}
_fonts: dict[int, ImageFont.ImageFont] = {}


def _font(size: int):
    if size not in _fonts:
        path = next((p for p in FONT_FILES if Path(p).exists()), None)
        _fonts[size] = ImageFont.truetype(path, size) if path else ImageFont.load_default(size)
    return _fonts[size]


def _barcode_modules(barcode: Barcode) -> str:
    if barcode.symbology == "CODE128" and barcode.raw[:1] == b"{":
        return code128_escpos_modules(barcode.raw)
    import barcode as python_barcode  # other symbologies: python-barcode's encoders

    name = {"EAN13": "ean13", "EAN8": "ean8", "UPC-A": "upca", "CODE39": "code39", "ITF": "itf",
            "GS1-128": "gs1_128", "CODE128": "code128"}.get(barcode.symbology)
    if name is None:
        raise ValueError(f"preview cannot draw {barcode.symbology}")
    return python_barcode.get_barcode_class(name)(barcode.data).build()[0]


class _Canvas:
    def __init__(self, width: int):
        self.width = width
        self.image = Image.new("L", (width, 2000), 255)
        self.y = 8

    def reserve(self, height: int) -> None:
        if self.y + height + 8 > self.image.height:
            bigger = Image.new("L", (self.width, max(self.image.height * 2, self.y + height + 64)), 255)
            bigger.paste(self.image, (0, 0))
            self.image = bigger

    def x_for(self, width: int, align: int) -> int:
        return {0: 0, 1: (self.width - width) // 2, 2: self.width - width}.get(align, 0)

    def text(self, text: str, font: int = 0, align: int = 1, bold: bool = False, sx: int = 1, sy: int = 1):
        cw, ch = FONTS.get(font, FONTS[0])
        cw, ch = cw * sx, ch * sy
        self.reserve(ch + LINE_GAP)
        draw = ImageDraw.Draw(self.image)
        face = _font(int(ch * 0.8))
        x0 = max(0, self.x_for(len(text) * cw, align))
        for col, char in enumerate(text):
            x = x0 + col * cw
            for dx in (0, 1) if bold else (0,):
                draw.text((x + dx, self.y + 1), char, font=face, fill=0)
        self.y += ch + LINE_GAP

    def blit(self, image: Image.Image, align: int) -> None:
        self.reserve(image.height)
        self.image.paste(image, (max(0, self.x_for(image.width, align)), self.y))
        self.y += image.height


def preview_png(data: bytes, profile: PrinterProfile) -> bytes:
    """The receipt as PNG for the profile's print width and code page."""
    return render_png(data, print_width_dots(profile), profile.cyrillic_code_page or "CP437")


def render_png(data: bytes, width_dots: int = 576, code_page: str = "CP866") -> bytes:
    """The receipt as PNG bytes (grayscale, one pixel per printer dot)."""
    return _to_png(render_image(data, width_dots, code_page))


def render_image(data: bytes, width_dots: int = 576, code_page: str = "CP866") -> Image.Image:
    receipt = decode(data, code_page)
    canvas = _Canvas(width_dots)
    for item in receipt.items:
        if isinstance(item, TextLine):
            s = item.style
            canvas.text(item.text, s.font, s.align, s.bold, s.width, s.height)
        elif isinstance(item, Feed):
            canvas.y += item.lines * (FONTS[0][1] + LINE_GAP)
        elif isinstance(item, Barcode) and item.symbology == "QR":
            qr = QRCode(error_correction=QR_LEVELS.get(item.ec, ERROR_CORRECT_L), box_size=item.module, border=0)
            qr.add_data(item.raw)
            qr.make(fit=True)
            canvas.y += 4 * item.module  # quiet zone
            canvas.blit(qr.make_image().get_image().convert("L"), item.align)
            canvas.y += 4 * item.module
        elif isinstance(item, Barcode):
            modules = _barcode_modules(item)
            bars = Image.new("L", (len(modules) * item.module, max(item.height, 1)), 255)
            for i, bit in enumerate(modules):
                if bit == "1":
                    bars.paste(0, (i * item.module, 0, (i + 1) * item.module, bars.height))
            if item.hri in (1, 3):
                canvas.text(item.data, align=item.align)
            canvas.blit(bars, item.align)
            if item.hri in (2, 3):
                canvas.y += 4
                canvas.text(item.data, align=item.align)
        elif isinstance(item, RasterImage):
            image = Image.frombytes("1", (item.width, item.height), item.data)
            image = Image.eval(image.convert("L"), lambda v: 255 - v)  # raster 1 = black
            if item.scale_x != 1 or item.scale_y != 1:
                image = image.resize((item.width * item.scale_x, item.height * item.scale_y))
            canvas.blit(image, item.align)
        elif isinstance(item, Cut):
            canvas.y += 12
            canvas.reserve(4)
            draw = ImageDraw.Draw(canvas.image)
            for x in range(0, width_dots, 16):
                draw.line((x, canvas.y, x + 8, canvas.y), fill=128, width=2)
            canvas.y += 12
    return canvas.image.crop((0, 0, width_dots, canvas.y + 8))


def _to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
