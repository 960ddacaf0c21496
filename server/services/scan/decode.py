"""Decoding: the bytes a device sent -> a `DecodedScan` (suffix stripped, AIM symbology
identifier split off, GS1 element strings parsed with biip). Pure: no database, no Flask."""

import re
from dataclasses import dataclass

from biip import ParseConfig, ParseError
from biip.gs1_messages import GS1Message
from biip.sscc import Sscc
from biip.symbology import SymbologyIdentifier

from server.services.barcodes import is_valid_gtin, stored_form

SUFFIX_CHARS = "\r\n\t"
GS = "\x1d"
# Longest code any lookup column holds (String(64)); longer text can only be a GS1 string.
MAX_CODE_CHARS = 64
# Longest GS1 string worth parsing (a GS1 DataMatrix holds at most ~2,300 characters).
MAX_GS1_CHARS = 2400

GS1_SYMBOLOGIES = {"]C1", "]e0", "]e1", "]e2", "]d2", "]Q3", "]J1"}
GTIN_SYMBOLOGIES = {"]E0", "]E3", "]E4", "]I1"}
GS1_CONFIG = ParseConfig(separator_chars=(GS,))
_CONTROL = re.compile(r"[\x00-\x1c\x1e\x1f\x7f]")  # C0 controls and DEL, except GS
# Chestny ZNAK marking codes as a keyboard wedge types them, without GS: after 01 + GTIN, the
# elements of each product group's form with their fixed lengths, most common first.
MARKING_FORMS = (
    (("21", 13), ("91", 4), ("92", 44)),  # most groups: serial 13, key id 4, crypto 44
    (("21", 13), ("91", 4), ("92", 88)),  # the same with the long crypto of early codes
    (("21", 13), ("93", 4)),  # short crypto tail (water, dietary supplements, ...)
    (("21", 7), ("8005", 6), ("93", 4)),  # tobacco blocks: serial 7, price, tail
    (("21", 7), ("93", 4)),
    (("21", 6), ("93", 4)),  # dairy
)
# What a handheld's wedge settings may hold: a few typed characters each.
WEDGE_MAX_CHARS = 8

@dataclass(frozen=True)
class DecodedScan:
    raw: bytes  # as received
    text: str  # decoded, suffix and symbology identifier removed; GS kept
    symbology: str = ""  # AIM identifier such as "]d2", or ""
    defect: str | None = None  # empty, control, too_long: nothing can match
    gs1: dict | None = None  # parsed GS1 data (GTIN, SSCC, lot, expiry, serial, marking code)
    gs1_error: str | None = None
    gtin: str | None = None  # 14 digits, from a plain GTIN or a GS1 string
    sscc: str | None = None  # 18 digits
    explicit_gs1: bool = False  # the symbology or GS separators say GS1: skip text lookups
    typed: str | None = None  # the text as typed, when `text` is its re-reading (layout, Caps Lock)

    @property
    def lookup_text(self) -> str | None:
        """The text to look up in code columns, or None when it cannot be a code."""
        if self.defect or self.explicit_gs1 or not self.text or len(self.text) > MAX_CODE_CHARS:
            return None
        return self.text


@dataclass(frozen=True)
class Wedge:
    """A keyboard-wedge scanner's settings as a handheld keeps them: the prefix and suffix it
    types around each code, and the character it types for GS (a browser cannot take GS)."""

    prefix: str = ""
    suffix: str = ""
    gs: str = ""

    @classmethod
    def from_json(cls, value, default_gs: str = "") -> "Wedge":
        """Settings from a request ({prefix, suffix, gs}, each optional); ValueError if out of bounds."""
        if value is None:
            value = {}
        if not isinstance(value, dict) or set(value) - {"prefix", "suffix", "gs"}:
            raise ValueError("wedge: an object with prefix, suffix and gs")
        fields = {}
        for name in ("prefix", "suffix", "gs"):
            text = value.get(name) or ""
            if not isinstance(text, str) or len(text) > WEDGE_MAX_CHARS or _CONTROL.search(text) or GS in text:
                raise ValueError(f"wedge.{name}: up to {WEDGE_MAX_CHARS} characters, no control characters")
            fields[name] = text
        fields["gs"] = fields["gs"] or default_gs or ""
        gs = fields["gs"]
        if gs and (len(gs) != 1 or gs.isalnum() or gs.isspace() or _CONTROL.search(gs)):
            raise ValueError("wedge.gs: one character that is not a letter, digit or space")
        return cls(**fields)

    def apply(self, text: str) -> str:
        """What the scanner read, from what it typed: prefix and suffix cut, GS put back."""
        text = text.rstrip(SUFFIX_CHARS).strip(" ")
        if self.prefix and text.startswith(self.prefix):
            text = text[len(self.prefix):]
        if self.suffix and text.endswith(self.suffix):
            text = text[:-len(self.suffix)]
        if self.gs:
            text = text.replace(self.gs, GS)
        return text.strip(" ")


# The Russian ЙЦУКЕН layout key by key over US QWERTY: what a wedge typing Latin text types in it.
_RUSSIAN_KEYS = ("ёйцукенгшщзхъфывапролджэячсмитьбю.ЁЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮ,\"№;:?/",
                 "`qwertyuiop[]asdfghjkl;'zxcvbnm,./~QWERTYUIOP{}ASDFGHJKL:\"ZXCVBNM<>?@#$^&|")
_FROM_RUSSIAN = str.maketrans(*_RUSSIAN_KEYS)
_CYRILLIC = re.compile("[а-яёА-ЯЁ]")


def typed_readings(text: str) -> list[str]:
    """What a wedge scanner may have meant by `text`: the same keys with Caps Lock off, in the
    US layout instead of Russian, or both. Only other texts, most likely first."""
    readings = []
    if _CYRILLIC.search(text):
        readings += [text.translate(_FROM_RUSSIAN), text.swapcase().translate(_FROM_RUSSIAN)]
    if any(c.isalpha() for c in text):
        readings.append(text.swapcase())
    return [r for r in dict.fromkeys(readings) if r != text]


def normalize_symbology(symbology: str | None) -> str:
    """'d2', ']d2' -> ']d2'; anything unrecognised -> ''."""
    if not symbology:
        return ""
    value = symbology if symbology.startswith("]") else "]" + symbology
    try:
        return str(SymbologyIdentifier.extract(value))
    except (ParseError, ValueError, IndexError):
        return ""


def decode(raw: bytes, symbology: str | None = None, max_bytes: int | None = None, *,
           wedge: Wedge | None = None) -> DecodedScan:
    """Bytes from a device -> DecodedScan (with a page's `wedge` settings applied). Never raises."""
    raw = bytes(raw or b"")
    if max_bytes is not None and len(raw) > max_bytes:
        text = _clean(raw[:max_bytes].decode("utf-8", errors="replace"))
        return DecodedScan(raw=raw, text=text, symbology=normalize_symbology(symbology), defect="too_long")
    text = raw.decode("utf-8", errors="replace").rstrip(SUFFIX_CHARS).strip(" ")
    if wedge is not None:
        text = wedge.apply(text)
    aim = ""
    if text.startswith("]") and len(text) >= 3:
        try:
            aim = str(SymbologyIdentifier.extract(text))
            text = text[len(aim):]
        except (ParseError, ValueError, IndexError):
            aim = ""
    aim = aim or normalize_symbology(symbology)
    if not text:
        return DecodedScan(raw=raw, text="", symbology=aim, defect="empty")
    if _CONTROL.search(text):
        return DecodedScan(raw=raw, text=_clean(text), symbology=aim, defect="control")
    if len(text) > MAX_GS1_CHARS:
        return DecodedScan(raw=raw, text=text, symbology=aim, defect="too_long")
    try:
        return _read_codes(raw, text, aim)
    except Exception:  # biip on hostile input: the scan stays a plain text
        return DecodedScan(raw=raw, text=text, symbology=aim)


def _clean(text: str) -> str:
    """Printable text for the database: NUL and other controls (except GS) become U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def _read_codes(raw: bytes, text: str, aim: str) -> DecodedScan:
    explicit_gs1 = aim in GS1_SYMBOLOGIES or GS in text
    message, error = None, None
    if explicit_gs1 or text.startswith("(") or _may_be_gs1(text):
        message, error = _parse_gs1(text)
        if message is None and not explicit_gs1:
            error = None  # an ordinary code that happens to start like one
    if message is not None:
        gs1 = _gs1_answer(message, aim)
        if gs1.get("gtin") or gs1.get("sscc"):
            return DecodedScan(
                raw=raw, text=text, symbology=aim, gs1=gs1, gtin=gs1.get("gtin"), sscc=gs1.get("sscc"),
                explicit_gs1=explicit_gs1,
            )
    if explicit_gs1:
        return DecodedScan(raw=raw, text=text, symbology=aim, gs1_error=error or "no GTIN or SSCC in it",
                           explicit_gs1=True)
    if text.isascii() and text.isdigit():
        if is_valid_gtin(text):
            gtin = stored_form(text)
            return DecodedScan(raw=raw, text=text, symbology=aim, gtin=gtin, gs1={"symbology": aim, "gtin": gtin})
        if len(text) == 18 and _valid_sscc(text):
            return DecodedScan(raw=raw, text=text, symbology=aim, sscc=text, gs1={"symbology": aim, "sscc": text})
    return DecodedScan(raw=raw, text=text, symbology=aim)


def _may_be_gs1(text: str) -> bool:
    # Unprefixed GS1 strings as keyboard wedges type them: (00) SSCC or (01) GTIN plus more.
    return len(text) > 16 and text[:2] in ("00", "01", "02") and text[2:16].isdigit()


def _parse_gs1(text: str) -> tuple[GS1Message | None, str | None]:
    try:
        if text.startswith("("):
            return GS1Message.parse_hri(text, config=GS1_CONFIG), None
        if GS not in text:
            marking = _marking_message(text)
            if marking is not None:
                return marking, None
        return GS1Message.parse(text, config=GS1_CONFIG), None
    except (ParseError, ValueError) as exc:
        return None, str(exc)


def _marking_message(text: str) -> GS1Message | None:
    """A marking code without GS separators, split by its product group's form (MARKING_FORMS):
    forms that use the whole text first, then forms followed by more (fixed-length) elements."""
    if not (text.startswith("01") and text[2:16].isdigit() and text[16:18] == "21"):
        return None
    for whole in (True, False):
        for form in MARKING_FORMS:
            parts, at = [text[:16]], 16
            for ai, length in form:
                value = text[at + len(ai):at + len(ai) + length]
                if text[at:at + len(ai)] != ai or len(value) != length:
                    break
                parts.append(ai + value)
                at += len(ai) + length
            else:
                rest = text[at:]
                if bool(rest) == whole:
                    continue
                try:
                    return GS1Message.parse(GS.join(parts + ([rest] if rest else [])), config=GS1_CONFIG)
                except (ParseError, ValueError):
                    continue
    return None


def _valid_sscc(text: str) -> bool:
    try:
        Sscc.parse(text)
        return True
    except ParseError:
        return False


def _gs1_answer(message: GS1Message, aim: str) -> dict:
    elements = message.element_strings
    answer: dict = {
        "symbology": aim,
        "hri": message.as_hri(),
        "elements": [{"ai": e.ai.ai, "title": e.ai.data_title, "value": e.value} for e in elements],
    }
    gtin = elements.get(ai="01") or elements.get(ai="02")
    if gtin is not None and gtin.gtin is not None:
        answer["gtin"] = gtin.gtin.as_gtin_14()
    sscc = elements.get(ai="00")
    if sscc is not None and sscc.sscc is not None:
        answer["sscc"] = sscc.sscc.value
    for ai, key in (("10", "lot"), ("21", "serial")):
        element = elements.get(ai=ai)
        if element is not None:
            answer[key] = element.value
    for ai, key in (("17", "expiry"), ("15", "best_before"), ("11", "produced")):
        element = elements.get(ai=ai)
        if element is not None and element.date is not None:
            answer[key] = element.date.isoformat()
    # Chestny Znak: 01 GTIN + 21 serial is the identification code; 91/92 or 93 verify it.
    crypto = elements.get(ai="92") or elements.get(ai="93")
    if "gtin" in answer and "serial" in answer and crypto is not None:
        key = elements.get(ai="91")
        answer["marking_code"] = {
            "id": f"01{answer['gtin']}21{answer['serial']}",
            "key": key.value if key is not None else None,
            "crypto": crypto.value,
            "crypto_ai": crypto.ai.ai,
        }
    return answer
