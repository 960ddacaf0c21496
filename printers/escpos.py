"""ESC/POS document building on python-escpos.

`EscposDocument(profile)` collects the bytes of one receipt in python-escpos's `Dummy` printer (built with
the profile's capability profile), through its public API only (`set`, `textln`, `print_and_feed`, `cut`,
`barcode`, `qr`, `image`). The profile's Cyrillic code page (CP866) is pinned with `charcode()` right after
`ESC @` (`ESC t n`; the firmware profile's number must match python-escpos's), so python-escpos's magic
encoding never picks another table; text is checked by us first (`encode_text`).
Barcodes and QR go out natively (`GS k`, `GS ( k`) where the profile has the feature, else as raster images
(`GS v 0`) drawn here module by module.

Characters the code page cannot carry: a few typographic ones are replaced (see `REPLACEMENTS`), any other is a
`TemplateError` naming the field.
"""

from barcode import Code128
from barcode.charsets.code128 import CODES as CODE128_PATTERNS
from escpos.printer import Dummy
from PIL import Image
from qrcode import QRCode
from qrcode.constants import ERROR_CORRECT_M

from .errors import TemplateError
from .profiles import PrinterProfile

ESC, GS, LF = b"\x1b", b"\x1d", b"\n"
FONT_A_DOTS = 12  # font A cell width at 203 dpi; chars_per_line * 12 is the print width in dots
BARCODE_HEIGHT = 80  # dots (10 mm)
QR_MODULE = 6  # dots per QR module (0.75 mm)
QUIET = 10  # quiet zone in modules for raster Code 128

# Typographic characters CP866 lacks, replaced by the nearest it has; everything else unencodable is an error.
REPLACEMENTS = {
    "«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "‘": "'", "’": "'",
    "–": "-", "—": "-", "−": "-", "…": "...", "\u00a0": " ", "\u202f": " ", "\t": " ",
}


def print_width_dots(profile: PrinterProfile) -> int:
    return profile.chars_per_line * FONT_A_DOTS


def encode_text(text: str, code_page: str, field: str) -> bytes:
    """Text -> bytes of the code page, after the documented replacements; TemplateError names the field."""
    out = bytearray()
    for char in text:
        char = REPLACEMENTS.get(char, char)
        if char < " " and char != "\n":
            raise TemplateError(field, f"control character {char!r} cannot be printed")
        try:
            out += char.encode(code_page)
        except UnicodeEncodeError:
            raise TemplateError(field, f"character {char!r} (U+{ord(char):04X}) is not in {code_page}") from None
    return bytes(out)


def code128_modules(data: str) -> str:
    """Code 128 as a string of '1' (bar) and '0' (space) modules, quiet zones excluded."""
    return Code128(data).build()[0]


def code128_escpos_data(data: str) -> bytes:
    """`GS k 73` data: code set B, switching to C (`{C`, digit pairs as bytes 0-99) for runs of 4+ digits."""
    out, i, mode = bytearray(), 0, ""
    while i < len(data):
        run = 0
        while i + run < len(data) and data[i + run].isdigit():
            run += 1
        if run >= 4:
            run -= run % 2
            if mode != "C":
                out += b"{C"
                mode = "C"
            out += bytes(int(data[j:j + 2]) for j in range(i, i + run, 2))
            i += run
            continue
        if mode != "B":
            out += b"{B"
            mode = "B"
        out += b"{{" if data[i] == "{" else data[i].encode("ascii")
        i += 1
    return bytes(out)


def code128_escpos_modules(raw: bytes) -> str:
    """Modules of `GS k 73` data as the printer draws it: start, data, switches, check, stop."""
    values, mode, i = [], "", 0
    while i < len(raw):
        if raw[i] == ord("{") and i + 1 < len(raw) and raw[i + 1] in b"ABC":
            new = chr(raw[i + 1])
            if not values:
                values.append({"A": 103, "B": 104, "C": 105}[new])
            elif new != mode:
                values.append({"A": 101, "B": 100, "C": 99}[new])
            mode, i = new, i + 2
            continue
        if raw[i] == ord("{") and i + 1 < len(raw) and raw[i + 1] == ord("{"):
            i += 1
        byte = raw[i]
        values.append(byte if mode == "C" else (byte + 64 if byte < 32 else byte - 32))
        i += 1
    check = (values[0] + sum(k * v for k, v in enumerate(values[1:], 1))) % 103
    return "".join(CODE128_PATTERNS[v] for v in [*values, check]) + "1100011101011"


def qr_matrix(data: str) -> list[list[bool]]:
    qr = QRCode(error_correction=ERROR_CORRECT_M, border=4)
    qr.add_data(data.encode("utf-8"))
    qr.make(fit=True)
    return qr.get_matrix()


def buzzer(times: int, duration: int = 2) -> bytes:
    """`ESC B n t` (python-escpos's buzzer): n beeps of t x 50 ms on Xprinter, Rongta, Star-compatible buzzers."""
    printer = Dummy()
    printer.buzzer(times, duration)
    return printer.output


class EscposDocument:
    """One receipt for one ESC/POS profile; `bytes()` returns the job."""

    def __init__(self, profile: PrinterProfile):
        if profile.language != "escpos":
            raise TemplateError("profile", f"{profile.name} is a {profile.language} printer, not ESC/POS")
        if not profile.cyrillic_code_page:
            raise TemplateError("profile", f"{profile.name} has no cyrillic_code_page")
        self.profile = profile
        self.code_page = profile.cyrillic_code_page
        self.width = profile.chars_per_line
        self.dots = print_width_dots(profile)
        self._p = Dummy(profile=profile.escpos_capability or "default")
        pinned = profile.code_pages[self.code_page]
        theirs = self._p.profile.get_code_pages().get(self.code_page)  # {name: number as text}
        if theirs is None or int(theirs) != pinned:
            raise TemplateError("profile", f"{profile.name}: {self.code_page} is ESC t {pinned}, but python-escpos's "
                                           f"{self._p.profile.profile_data['name']} profile says {theirs}")
        self._p.hw("INIT")  # ESC @
        self._p.charcode(self.code_page)  # ESC t n, and every text() in this table from now on

    def bytes(self) -> bytes:
        return self._p.output

    # text
    def style(self, align: str = "left", bold: bool = False, size: int = 1) -> None:
        """Character size (ESC ! 0, GS ! 0 or 0x11: 1 or 2 times), ESC E (emphasis), ESC a (justification)."""
        self._p.set(align=align, bold=bold, normal_textsize=size != 2, double_width=size == 2,
                    double_height=size == 2)

    def line(self, text: str = "", field: str = "text") -> None:
        """One printed line; the caller has wrapped it to the line width."""
        encode_text(text, self.code_page, field)  # refuses what CP866 cannot carry, naming the field
        self._p.textln("".join(REPLACEMENTS.get(char, char) for char in text))

    def rule(self, char: str = "-") -> None:
        self.line(char * self.width)

    def feed(self, lines: int = 1) -> None:
        self._p.print_and_feed(lines)  # ESC d n

    # codes
    def code128(self, data: str, field: str) -> None:
        """Code 128 with the data printed below; native `GS k 73` or a raster image."""
        if not data or not data.isascii() or not data.isprintable():
            raise TemplateError(field, f"{data!r} cannot be carried by Code 128 (printable ASCII only)")
        raw = code128_escpos_data(data)
        native = self.profile.has("barcode")
        modules = len(code128_escpos_modules(raw) if native else code128_modules(data))
        module = next((m for m in (3, 2) if (modules + 2 * QUIET) * m <= self.dots), None)
        if module is None:
            raise TemplateError(field, f"{data!r} is too long for a Code 128 on {self.dots} dots")
        if native:
            # GS k 73 via python-escpos; the printer adds the check character.
            self._p._hw_barcode(raw.decode("latin-1"), "CODE128", height=BARCODE_HEIGHT, width=module,
                                pos="BELOW", font="A", align_ct=True, function_type="B", check=False)
            self._p.ln()
            return
        bits = code128_modules(data)
        width = (len(bits) + 2 * QUIET) * module
        image = Image.new("1", (width, BARCODE_HEIGHT), 1)
        for i, bit in enumerate(bits):
            if bit == "1":
                x = (QUIET + i) * module
                image.paste(0, (x, 0, x + module, BARCODE_HEIGHT))
        self._image(image)
        self.style(align="center")
        self.line(data, field)

    def qr(self, data: str, field: str) -> None:
        """QR (model 2, level M); native `GS ( k` or a raster image."""
        if not data:
            raise TemplateError(field, "empty QR payload")
        matrix = qr_matrix(data)
        if len(matrix) * QR_MODULE > self.dots:
            raise TemplateError(field, f"QR of {len(data)} bytes is too big for {self.dots} dots")
        if self.profile.has("qr"):
            self.style(align="center")
            self._p.qr(data, ec=1, size=QR_MODULE, native=True)  # ec 1 = M
            self._p.ln()
            return
        size = len(matrix) * QR_MODULE
        image = Image.new("1", (size, size), 1)
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                if dark:
                    image.paste(0, (x * QR_MODULE, y * QR_MODULE, (x + 1) * QR_MODULE, (y + 1) * QR_MODULE))
        self._image(image)

    def _image(self, image: Image.Image) -> None:
        """`GS v 0` of the image, centered by padding on the left (works whatever ESC a does to images)."""
        left = (self.dots - image.width) // 2
        canvas = Image.new("1", (left + image.width, image.height), 1)
        canvas.paste(image, (left, 0))
        self.style()
        self._p.image(canvas.convert("RGB"), impl="bitImageRaster", center=False)

    def cut(self) -> None:
        """Cut where the printer has a cutter (python-escpos: ESC d 6, GS V 1 partial cut), else feed
        past the tear bar."""
        if self.profile.has("cutter"):
            self._p.cut(mode="PART")
        else:
            self.feed(4)
