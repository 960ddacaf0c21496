"""ZPL building blocks: a canvas in millimetres that emits ZPL dots for a printer profile.

Text is UTF-8 under ^CI28, set in the profile's font (^A@ with a named font such as the Zebra
Swiss Unicode font, which has Cyrillic) or resident font 0 (^A0). Code 128 data is encoded into
explicit subsets (>; >: >5 >6) so every printer draws the same symbol; GS1-128 starts with FNC1
(>8) and puts FNC1 after every variable-length element that is not last. GS1 DataMatrix uses
ECC 200 with `_` as escape character and `_1` as FNC1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from biip import ParseError as _GS1ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_messages import GS1Message

from .errors import TemplateError
from .profiles import PrinterProfile

FNC1 = object()  # marker inside Code 128 data
_GS1_CHARS = re.compile(r"^[!-~]*$")


@dataclass(frozen=True)
class Barcode:
    """One symbol on a label and the payload a scanner must read back (GS1: GS as \\x1d)."""

    field: str
    symbology: str  # "code128", "gs1-128", "ean13", "datamatrix", "gs1-datamatrix"
    payload: str


@dataclass(frozen=True)
class GS1Element:
    ai: str
    value: str
    separator_required: bool  # variable length: FNC1/GS needed when another element follows


def parse_gs1(name: str, hri: str) -> list[GS1Element]:
    """Parse "(00)...(10)..." into checked elements; unknown AI, bad length or check digit raises."""
    if not isinstance(hri, str) or not hri.startswith("("):
        raise TemplateError(name, f"GS1 element string must look like (AI)value..., got {hri!r}")
    try:
        message = GS1Message.parse_hri(hri)
    except _GS1ParseError as error:
        raise TemplateError(name, f"not a valid GS1 element string: {error}") from None
    out = []
    for element in message.element_strings:
        for problem in (element.gtin_error, element.sscc_error, element.gln_error):
            if problem:
                raise TemplateError(name, f"({element.ai.ai}) {problem}")
        if not _GS1_CHARS.match(element.value):
            raise TemplateError(name, f"({element.ai.ai}) holds characters outside the GS1 set")
        out.append(GS1Element(element.ai.ai, element.value, element.ai.separator_required))
    # biip accepts AIs it does not know as long as they parse; it never returns an empty message.
    return out


def gs1_payload(elements: list[GS1Element]) -> str:
    """The element string as a scanner returns it: GS (\\x1d) after non-final variable elements."""
    parts = []
    for i, element in enumerate(elements):
        parts.append(element.ai + element.value)
        if element.separator_required and i < len(elements) - 1:
            parts.append("\x1d")
    return "".join(parts)


def ean13_digits(name: str, value: str) -> str:
    """Check a 13-digit EAN-13 (or 12 digits, check digit added); returns all 13 digits."""
    value = str(value)
    if not re.fullmatch(r"\d{12,13}", value):
        raise TemplateError(name, f"EAN-13 needs 12 or 13 digits, got {value!r}")
    body = value[:12]
    check = gs1_standard_check_digit(body)
    if len(value) == 13 and int(value[12]) != check:
        raise TemplateError(name, f"EAN-13 {value} has check digit {value[12]}, expected {check}")
    return body + str(check)


def code128_check(name: str, value: str) -> str:
    value = str(value)
    if not value:
        raise TemplateError(name, "Code 128 value is empty")
    bad = [c for c in value if not " " <= c <= "~"]
    if bad:
        raise TemplateError(name, f"Code 128 carries printable ASCII only, not {''.join(bad)!r}")
    return value


def code128_zpl(items: list) -> tuple[str, int]:
    """Encode chars and FNC1 markers as ^BC mode N data with explicit subsets.

    Returns the ^FD text and the number of symbol characters (start and check excluded).
    """
    out: list[str] = []
    count = 0
    subset = None
    i = 0
    n = len(items)

    def digits_from(j: int) -> int:
        k = j
        while k < n and isinstance(items[k], str) and items[k].isdigit():
            k += 1
        return k - j

    while i < n:
        item = items[i]
        run = digits_from(i)
        if subset is None:
            lead = digits_from(i + 1) if item is FNC1 else run
            subset = "C" if lead >= 4 or (lead >= 2 and (item is FNC1 or lead == n)) else "B"
            out.append(">;" if subset == "C" else ">:")
        elif item is FNC1:
            out.append(">8")
            count += 1
            i += 1
        elif subset == "C" and run >= 2:
            out.append(items[i] + items[i + 1])
            count += 1
            i += 2
        elif subset == "C":
            out.append(">6")
            subset = "B"
            count += 1
        elif run >= 4 and run % 2 == 0:
            out.append(">5")
            subset = "C"
            count += 1
        else:  # subset B; an odd digit run leaves its first digit here
            out.append(">0" if item == ">" else item)  # ">0" is code value 30, ">" in subset B
            count += 1
            i += 1
    return "".join(out), count


def _escape_fd(text: str) -> tuple[str, bool]:
    """Field data safe for ^FD: ^ ~ _ become ^FH hex escapes. Returns (text, needs ^FH)."""
    if not any(c in text for c in "^~_"):
        return text, False
    return "".join(f"_{ord(c):02X}" if c in "^~_" else c for c in text), True


# Advance widths of a condensed sans face, as a share of the ^A width: conservative, so text that
# passes fits on the printer and in the preview.
_NARROW = set("il1.,:;'!|Ii ()[]jftr-")
_WIDE = set("MWmwШЩЖЮФМшщжюфм@%")


def text_width_dots(text: str, char_width: int) -> int:
    total = 0.0
    for c in text:
        if c in _NARROW:
            total += 0.36
        elif c in _WIDE:
            total += 0.95
        elif c.isupper() or c.isdigit():
            total += 0.68
        else:
            total += 0.58
    return int(round(total * char_width))


@dataclass
class Canvas:
    """A label being built: positions and sizes in mm, ZPL in dots for the profile."""

    profile: PrinterProfile
    width_mm: float
    height_mm: float
    parts: list[str] = field(default_factory=list)
    barcodes: list[Barcode] = field(default_factory=list)

    def __post_init__(self):
        if self.profile.language != "zpl":
            raise TemplateError("profile", f"{self.profile.name} is not a ZPL printer")
        if self.width_mm > self.profile.print_width_mm + 5:
            raise TemplateError(
                "label", f"{self.width_mm:g} mm label is wider than {self.profile.name}'s "
                f"{self.profile.print_width_mm:g} mm print width")

    def dots(self, mm: float) -> int:
        return int(round(mm * self.profile.dpi / 25.4))

    @property
    def width_dots(self) -> int:
        return min(self.dots(self.width_mm), self.profile.print_width_dots)

    def module(self, mm: float) -> int:
        return max(1, self.dots(mm))

    def _font(self, height_mm: float, width_mm: float | None) -> tuple[str, int]:
        h = self.dots(height_mm)
        w = self.dots(width_mm) if width_mm else h
        if self.profile.font:
            return f"^A@N,{h},{w},{self.profile.font}", w
        return f"^A0N,{h},{w}", w

    def _room(self, name: str, x_mm: float, width: int, what: str):
        room = self.width_dots - self.dots(x_mm) - self.dots(2)
        if width > room:
            raise TemplateError(
                name, f"{what} is {width / self.profile.dpi * 25.4:.1f} mm wide, "
                f"{room / self.profile.dpi * 25.4:.1f} mm available")

    def text(self, name: str, x_mm: float, y_mm: float, text: str, height_mm: float,
             width_mm: float | None = None, max_width_mm: float | None = None):
        text = str(text)
        if "\n" in text or "\r" in text:
            raise TemplateError(name, "text must be one line")
        font, w = self._font(height_mm, width_mm)
        width = text_width_dots(text, w)
        if max_width_mm is not None and width > self.dots(max_width_mm):
            raise TemplateError(
                name, f"text {text!r} is {width / self.profile.dpi * 25.4:.1f} mm wide at "
                f"{height_mm:g} mm, {max_width_mm:g} mm available")
        self._room(name, x_mm, width, f"text {text!r} at {height_mm:g} mm")
        data, fh = _escape_fd(text)
        self.parts.append(f"^FO{self.dots(x_mm)},{self.dots(y_mm)}{font}{'^FH' if fh else ''}^FD{data}^FS")

    def box(self, x_mm: float, y_mm: float, w_mm: float, h_mm: float, thickness_mm: float = 0.5):
        t = max(1, self.dots(thickness_mm))
        self.parts.append(f"^FO{self.dots(x_mm)},{self.dots(y_mm)}^GB{self.dots(w_mm)},{self.dots(h_mm)},{t}^FS")

    def _code128(self, name: str, x_mm, y_mm, items, height_mm, module_mm, symbology, payload):
        data, count = code128_zpl(items)
        module = self.module(module_mm)
        width = ((count + 2) * 11 + 13 + 20) * module  # start, data, check, stop, quiet zones
        self._room(name, x_mm, width, f"{symbology} of {payload!r}")
        data, fh = _escape_fd(data)
        self.parts.append(
            f"^FO{self.dots(x_mm)},{self.dots(y_mm)}^BY{module}^BCN,{self.dots(height_mm)},N,N,N,N"
            f"{'^FH' if fh else ''}^FD{data}^FS")
        self.barcodes.append(Barcode(name, symbology, payload))

    def code128(self, name: str, x_mm: float, y_mm: float, value: str, height_mm: float,
                module_mm: float = 0.25):
        value = code128_check(name, value)
        self._code128(name, x_mm, y_mm, list(value), height_mm, module_mm, "code128", value)

    def gs1_128(self, name: str, x_mm: float, y_mm: float, hri: str, height_mm: float,
                module_mm: float = 0.25):
        elements = parse_gs1(name, hri)
        items: list = [FNC1]
        for i, element in enumerate(elements):
            items.extend(element.ai + element.value)
            if element.separator_required and i < len(elements) - 1:
                items.append(FNC1)
        self._code128(name, x_mm, y_mm, items, height_mm, module_mm, "gs1-128", gs1_payload(elements))

    def ean13(self, name: str, x_mm: float, y_mm: float, value: str, height_mm: float,
              module_mm: float = 0.33):
        digits = ean13_digits(name, value)
        module = self.module(module_mm)
        self._room(name, x_mm, (95 + 18) * module, f"EAN-13 {digits}")
        # The printer adds the check digit itself: send 12 digits.
        self.parts.append(
            f"^FO{self.dots(x_mm)},{self.dots(y_mm)}^BY{module}^BEN,{self.dots(height_mm)},Y,N^FD{digits[:12]}^FS")
        self.barcodes.append(Barcode(name, "ean13", digits))

    def _datamatrix(self, name, x_mm, y_mm, data, module_mm, symbology, payload, modules_guess):
        module = self.module(module_mm)
        self._room(name, x_mm, modules_guess * module, f"DataMatrix of {payload!r}")
        self.parts.append(f"^FO{self.dots(x_mm)},{self.dots(y_mm)}^BXN,{module},200,,,,_^FD{data}^FS")
        self.barcodes.append(Barcode(name, symbology, payload))

    def datamatrix(self, name: str, x_mm: float, y_mm: float, value: str, module_mm: float = 0.5):
        value = code128_check(name, value)
        data = value.replace("_", "__")
        if any(c in data for c in "^~"):
            raise TemplateError(name, "DataMatrix value must not contain ^ or ~")
        self._datamatrix(name, x_mm, y_mm, data, module_mm, "datamatrix", value, 10 + len(value))

    def gs1_datamatrix(self, name: str, x_mm: float, y_mm: float, hri: str, module_mm: float = 0.5):
        elements = parse_gs1(name, hri)
        data = ["_1"]
        for i, element in enumerate(elements):
            data.append((element.ai + element.value).replace("_", "__"))
            if element.separator_required and i < len(elements) - 1:
                data.append("_1")
        payload = gs1_payload(elements)
        self._datamatrix(name, x_mm, y_mm, "".join(data), module_mm, "gs1-datamatrix", payload,
                         10 + len(payload))

    def zpl(self) -> bytes:
        head = f"^XA^CI28^PW{self.width_dots}^LL{self.dots(self.height_mm)}^LH0,0"
        return ("\n".join([head, *self.parts, "^PQ1^XZ"]) + "\n").encode("utf-8")
