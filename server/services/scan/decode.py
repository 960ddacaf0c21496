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
# A Chestny Znak code read by a scanner that dropped the GS separators:
# 01 GTIN, 21 serial (13 for most goods, 6 or 7 for tobacco), then 91 key + 92 signature or 93 tail.
_MARKING_WITHOUT_GS = re.compile(
    r"^01(\d{14})21(.{13}|.{7}|.{6})(?:91(.{4})92(.{44}|.{88})|93(.{4}))$", re.DOTALL
)


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

    @property
    def lookup_text(self) -> str | None:
        """The text to look up in code columns, or None when it cannot be a code."""
        if self.defect or self.explicit_gs1 or not self.text or len(self.text) > MAX_CODE_CHARS:
            return None
        return self.text


def normalize_symbology(symbology: str | None) -> str:
    """'d2', ']d2' -> ']d2'; anything unrecognised -> ''."""
    if not symbology:
        return ""
    value = symbology if symbology.startswith("]") else "]" + symbology
    try:
        return str(SymbologyIdentifier.extract(value))
    except (ParseError, ValueError, IndexError):
        return ""


def decode(raw: bytes, symbology: str | None = None, max_bytes: int | None = None) -> DecodedScan:
    """Bytes from a device -> DecodedScan. Never raises."""
    raw = bytes(raw or b"")
    if max_bytes is not None and len(raw) > max_bytes:
        text = _clean(raw[:max_bytes].decode("utf-8", errors="replace"))
        return DecodedScan(raw=raw, text=text, symbology=normalize_symbology(symbology), defect="too_long")
    text = raw.decode("utf-8", errors="replace").rstrip(SUFFIX_CHARS).strip(" ")
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
        return GS1Message.parse(text, config=GS1_CONFIG), None
    except (ParseError, ValueError) as exc:
        match = _MARKING_WITHOUT_GS.match(text)
        if match:  # a marking code whose GS separators the scanner dropped
            gtin, serial, key, signature, tail = match.groups()
            rebuilt = f"01{gtin}21{serial}{GS}" + (f"91{key}{GS}92{signature}" if key else f"93{tail}")
            try:
                return GS1Message.parse(rebuilt, config=GS1_CONFIG), None
            except (ParseError, ValueError):
                pass
        return None, str(exc)


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
