"""ESC/POS byte stream -> printed text lines, barcodes, QR codes and raster images.

`decode(data, code_page="CP866")` reads the commands our receipts use (and a few common others): ESC @, ESC t,
ESC a, ESC E, ESC M, ESC !, GS !, ESC d, ESC J, ESC 2/3, ESC -, GS B, GS h/w/H/f, GS k (both forms), GS ( k (QR),
GS v 0, GS V, DLE EOT. Text is decoded with `code_page`; with `code_pages` ({ESC t number: codec}) an
`ESC t n` switches the table. Anything else is listed in `unknown` and skipped, so a receipt never stops decoding.
`items` keeps everything in print order for the preview renderer.
"""

from dataclasses import dataclass, field

ESC, GS, DLE, FS, LF, CR, NUL = 0x1B, 0x1D, 0x10, 0x1C, 0x0A, 0x0D, 0x00

# GS k symbologies: function A (m 0-6, NUL-terminated) and B (m 65-79, length-prefixed).
SYMBOLOGIES = {
    0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
    65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "CODABAR",
    72: "CODE93", 73: "CODE128", 74: "GS1-128",
}
QR_EC = {48: "L", 49: "M", 50: "Q", 51: "H"}


@dataclass
class Style:
    align: int = 0  # 0 left, 1 center, 2 right
    bold: bool = False
    font: int = 0  # 0 font A, 1 font B
    width: int = 1  # character size multipliers
    height: int = 1


@dataclass
class TextLine:
    text: str
    style: Style


@dataclass
class Feed:
    lines: int


@dataclass
class Barcode:
    symbology: str  # "CODE128", "EAN13", ..., or "QR"
    data: str  # the payload (Code 128 code-set selectors removed)
    raw: bytes  # the bytes as sent
    align: int = 0
    height: int = 162  # GS h (dots)
    module: int = 3  # GS w, or the QR module size
    hri: int = 0  # GS H: 0 none, 1 above, 2 below, 3 both
    ec: str = ""  # QR error correction level


@dataclass
class RasterImage:
    width: int  # dots
    height: int
    data: bytes  # rows of width/8 bytes, MSB first, 1 = black
    align: int = 0
    scale_x: int = 1
    scale_y: int = 1


@dataclass
class Cut:
    partial: bool


@dataclass
class DecodedReceipt:
    lines: list[str] = field(default_factory=list)
    barcodes: list[Barcode] = field(default_factory=list)
    images: list[RasterImage] = field(default_factory=list)
    cuts: int = 0
    code_pages: list[int] = field(default_factory=list)  # ESC t numbers seen
    status_requests: list[int] = field(default_factory=list)  # DLE EOT n
    unknown: list[str] = field(default_factory=list)
    items: list = field(default_factory=list)  # TextLine | Feed | Barcode | RasterImage | Cut, in print order

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def code128_payload(raw: bytes) -> str:
    """Payload of ESC/POS Code 128 data: `{A`/`{B`/`{C` select code sets, `{{` is a brace, `{1`..`{4` FNC."""
    out, mode, i = [], "B", 0
    while i < len(raw):
        byte = raw[i]
        if byte == ord("{") and i + 1 < len(raw):
            nxt = chr(raw[i + 1])
            i += 2
            if nxt in "ABC":
                mode = nxt
            elif nxt == "{":
                out.append("{")
            elif nxt == "1":
                out.append("\x1d")  # FNC1 as the GS1 group separator
            continue
        if mode == "C":
            out.append(f"{byte:02d}")
        else:
            out.append(chr(byte))
        i += 1
    return "".join(out)


def decode(data: bytes, code_page: str = "CP866", code_pages: dict[int, str] | None = None) -> DecodedReceipt:
    out = DecodedReceipt()
    style = Style()
    bc = {"height": 162, "module": 3, "hri": 0}
    qr = {"module": 3, "ec": "L", "data": b""}
    codec = code_page
    text = bytearray()
    n = len(data)

    def flush(force: bool) -> None:
        if text or force:
            line = bytes(text).decode(codec, errors="replace")
            out.lines.append(line)
            out.items.append(TextLine(line, Style(**vars(style))))
            text.clear()

    def feed(lines: int) -> None:
        flush(False)
        if lines:
            out.lines.extend([""] * lines)
            out.items.append(Feed(lines))

    def arg(k: int) -> int:
        return data[k] if k < n else 0

    i = 0
    while i < n:
        b = data[i]
        if b == LF:
            flush(True)
            i += 1
        elif b == CR:
            i += 1
        elif b == ESC:
            c = chr(arg(i + 1))
            if c == "@":
                style, codec = Style(), code_page
                bc = {"height": 162, "module": 3, "hri": 0}
                i += 2
            elif c == "t":
                number = arg(i + 2)
                out.code_pages.append(number)
                if code_pages and number in code_pages:
                    codec = code_pages[number]
                i += 3
            elif c == "a":
                style.align = arg(i + 2) % 48
                i += 3
            elif c == "E":
                style.bold = bool(arg(i + 2) & 1)
                i += 3
            elif c == "M":
                style.font = arg(i + 2) % 48
                i += 3
            elif c == "!":
                mode = arg(i + 2)
                style.font, style.bold = mode & 1, bool(mode & 8)
                style.height, style.width = 2 if mode & 16 else 1, 2 if mode & 32 else 1
                i += 3
            elif c == "d":
                feed(arg(i + 2))
                i += 3
            elif c == "J":
                feed(0)
                i += 3
            elif c == "2":
                i += 2
            elif c in "3-GV{ U":
                i += 3
            else:
                out.unknown.append(f"ESC {c!r} at {i}")
                i += 2
        elif b == GS:
            c = chr(arg(i + 1))
            if c == "!":
                size = arg(i + 2)
                style.width, style.height = (size >> 4) + 1, (size & 15) + 1
                i += 3
            elif c == "h":
                bc["height"] = arg(i + 2)
                i += 3
            elif c == "w":
                bc["module"] = arg(i + 2)
                i += 3
            elif c == "H":
                bc["hri"] = arg(i + 2) % 48
                i += 3
            elif c in "fB":
                i += 3
            elif c == "L":
                i += 4
            elif c == "k":
                flush(False)
                m = arg(i + 2)
                if m < 65:
                    end = data.find(b"\x00", i + 3)
                    end = n if end < 0 else end
                    raw, i = data[i + 3:end], end + 1
                else:
                    length = arg(i + 3)
                    raw, i = data[i + 4:i + 4 + length], i + 4 + length
                symbology = SYMBOLOGIES.get(m, f"GS k {m}")
                payload = code128_payload(raw) if symbology == "CODE128" else raw.decode("latin-1")
                barcode = Barcode(symbology, payload, raw, style.align, bc["height"], bc["module"], bc["hri"])
                out.barcodes.append(barcode)
                out.items.append(barcode)
            elif c == "(" and arg(i + 2) == ord("k"):
                size = arg(i + 3) | arg(i + 4) << 8
                body = data[i + 5:i + 5 + size]
                i += 5 + size
                cn, fn = (body[0], body[1]) if len(body) >= 2 else (0, 0)
                if cn != ord("1"):
                    out.unknown.append(f"GS ( k cn={cn} (not QR)")
                elif fn == 67 and len(body) > 2:
                    qr["module"] = body[2]
                elif fn == 69 and len(body) > 2:
                    qr["ec"] = QR_EC.get(body[2], "L")
                elif fn == 80:
                    qr["data"] = bytes(body[3:])
                elif fn == 81:
                    flush(False)
                    payload = qr["data"].decode("utf-8", errors="replace")
                    barcode = Barcode("QR", payload, qr["data"], style.align, module=qr["module"], ec=qr["ec"])
                    out.barcodes.append(barcode)
                    out.items.append(barcode)
            elif c == "v" and arg(i + 2) == ord("0"):
                flush(False)
                m = arg(i + 3)
                width_bytes = arg(i + 4) | arg(i + 5) << 8
                height = arg(i + 6) | arg(i + 7) << 8
                size = width_bytes * height
                image = RasterImage(width_bytes * 8, height, bytes(data[i + 8:i + 8 + size]), style.align,
                                    scale_x=2 if m & 1 else 1, scale_y=2 if m & 2 else 1)
                out.images.append(image)
                out.items.append(image)
                i += 8 + size
            elif c == "V":
                flush(False)
                m = arg(i + 2)
                out.cuts += 1
                out.items.append(Cut(partial=m in (1, 49, 66, 98)))
                i += 4 if m >= 65 else 3
            else:
                out.unknown.append(f"GS {c!r} at {i}")
                i += 2
        elif b == DLE and arg(i + 1) == 0x04:
            out.status_requests.append(arg(i + 2))
            i += 3
        elif b < 0x20 and b not in (0x09,):
            out.unknown.append(f"control 0x{b:02x} at {i}")
            i += 1
        else:
            text.append(b)
            i += 1
    flush(False)
    return out
