"""ZPL -> PNG offline.

Barcodes, boxes and the layout are drawn by zplkit (local Rust ZPL renderer). zplkit's resident
fonts have no Cyrillic and it cannot load printer fonts by name (^A@ E:TT0003M_.FNT), so text
fields (^A...^FD...^FS) are taken out before zplkit renders and drawn with Pillow in a system
TrueType font with Cyrillic (DejaVu Sans Condensed Bold, else Liberation Sans), scaled to the
field's ^A height and width.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path

import zplkit
from PIL import Image, ImageDraw, ImageFont

_FIELD = re.compile(r"\^FO(\d+),(\d+)(.*?)\^FS", re.S)
_FONT = re.compile(r"\^A(?:@|0)N,(\d+),(\d+)(?:,[^\^]*)?")
_FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSansCondensed-Bold.ttf",
)


@lru_cache(maxsize=64)
def _font(size: int):
    for path in _FONT_FILES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)  # Latin only


def _split(zpl: str) -> tuple[str, list[tuple[int, int, int, int, str]]]:
    """Remove text fields from the ZPL; return the rest and the texts (x, y, h, w, text)."""
    texts = []

    def take(match: re.Match) -> str:
        body = match.group(3)
        font = _FONT.match(body)
        if not font or re.search(r"\^B[A-Z0-9]", body):
            return match.group(0)
        data = body[body.index("^FD") + 3:]
        if "^FH" in body[: body.index("^FD")]:
            data = re.sub(r"_([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), data)
        texts.append((int(match.group(1)), int(match.group(2)), int(font.group(1)), int(font.group(2)), data))
        return ""

    return _FIELD.sub(take, zpl), texts


def render_image(zpl: bytes, dpi: int) -> Image.Image:
    """Render one ZPL label to a grayscale image (white 255, black 0)."""
    rest, texts = _split(zpl.decode("utf-8"))
    rest = re.sub(r"\^PQ[\d,YN]*", "", rest)  # zplkit has no ^PQ (print quantity)
    document = zplkit.render(rest.encode("utf-8"), zplkit.Options(dpi=dpi))
    raster = document.labels[0].rasterize()
    image = Image.frombytes("L", (raster.width, raster.height), raster.pixels)
    for x, y, h, w, text in texts:
        font = _font(h)
        left, top, right, bottom = font.getbbox(text)
        chunk = Image.new("L", (max(1, right), h + max(0, bottom - h)), 255)
        ImageDraw.Draw(chunk).text((0, 0), text, font=font, fill=0)
        if w != h:
            chunk = chunk.resize((max(1, round(chunk.width * w / h)), chunk.height))
        mask = chunk.point(lambda v: 255 if v < 128 else 0)
        image.paste(0, (x, y), mask)
    return image


def render_png(zpl: bytes, dpi: int) -> bytes:
    """PNG bytes of one ZPL label."""
    out = io.BytesIO()
    render_image(zpl, dpi).save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def preview(template: str, data, profile) -> bytes:
    """Render a template for a profile straight to PNG."""
    from .labels import build

    canvas = build(template, data, profile)
    return render_png(canvas.zpl(), canvas.profile.dpi)
