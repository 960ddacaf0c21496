"""Pure scanner codec: bytes in, scans out (shared by the serial driver, the wedge decoder and the
emulator).

A scan ends at the profile's suffix (CR, LF, CRLF, TAB) or, with suffix "none", after an
inter-byte gap; the caller gives the timestamps. The AIM symbology identifier (`]Xm`) is split off
and kept, the GS (0x1D) separator is kept, and a scanner's GS substitute (`^]`, `<GS>`, ...) is
mapped back to GS. Garbage never raises: control bytes are dropped, a frame left unfinished
longer than `stale` seconds is discarded when the next bytes come, overlong frames are cut off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GS = "\x1d"
SUFFIXES = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "TAB": b"\t", "NONE": b""}
# ISO/IEC 15424 symbology code letters (the X in ]Xm).
SYMBOLOGIES = {
    "A": "Code 39", "C": "Code 128", "d": "Data Matrix", "E": "EAN/UPC", "e": "GS1 DataBar",
    "F": "Codabar", "G": "Code 93", "I": "ITF", "L": "PDF417", "Q": "QR Code", "z": "Aztec",
    "X": "other", "Z": "no symbology (keyboard, RFID)",
}
GS1_AIM = {"]C1", "]d2", "]Q3", "]e0", "]E0", "]E1", "]E2", "]E3", "]E4", "]J1", "]z1"}
AIM_RE = re.compile(r"\][A-Za-z][0-9A-Za-z]")
KEEP_CONTROLS = {GS, "\x1e", "\x04"}  # GS, RS and EOT (ISO/IEC 15434 envelopes)
MAX_LEN = 4096
# scanner profile key -> ScanFormat field
PROFILE_KEYS = {"suffix": "suffix", "prefix": "prefix", "aim": "aim", "gs_substitute": "gs_substitute", "gap": "gap",
                "stale": "stale", "encoding": "encoding", "keyboard_layout": "layout"}


@dataclass(frozen=True)
class ScanFormat:
    """How one scanner model frames its output (read from its profile)."""

    suffix: str = "CR"
    prefix: str = ""
    aim: bool = False
    gs_substitute: str = ""
    gap: float = 0.05
    stale: float = 0.5
    encoding: str = "utf-8"
    layout: str = "us"

    @classmethod
    def from_profile(cls, profile: dict) -> ScanFormat:
        """From a scanner profile (checked by its schema); a key it leaves out keeps the default here."""
        return cls(**{name: profile[key] for key, name in PROFILE_KEYS.items() if key in profile})

    def __post_init__(self):
        if self.suffix.upper() not in SUFFIXES:
            raise ValueError(f"unknown suffix {self.suffix!r} (known: {', '.join(SUFFIXES)})")
        object.__setattr__(self, "suffix", self.suffix.upper())

    @property
    def terminator(self) -> bytes:
        return SUFFIXES[self.suffix]


@dataclass(frozen=True)
class Scan:
    text: str                 # data with GS restored, AIM identifier removed
    aim: str = ""             # "]d2", "]E0", ... or "" when the scanner sends none
    raw: str = field(default="", compare=False)

    @property
    def symbology(self) -> str:
        return SYMBOLOGIES.get(self.aim[1:2], "unknown") if self.aim else ""

    @property
    def gs1(self) -> bool:
        """True for GS1 symbols (by AIM), or, without AIM, for data that reads as a GS1 message."""
        if self.aim:
            return self.aim in GS1_AIM
        return bool(self.fields())

    def parse(self):
        import biip
        return biip.parse(self.aim + self.text)

    def fields(self) -> list[dict]:
        """GS1 element strings: [{ai, title, value, date?}] (empty for non-GS1 data)."""
        if self.aim and self.aim not in GS1_AIM:
            return []
        try:
            result = self.parse()
        except Exception:  # biip raises on some malformed input; a scan is still a scan
            return []
        if result.gs1_message:
            out = []
            for element in result.gs1_message.element_strings:
                item = {"ai": element.ai.ai, "title": element.ai.data_title, "value": element.value}
                if element.date:
                    item["date"] = element.date.isoformat()
                out.append(item)
            return out
        if result.gtin:
            return [{"ai": "01", "title": "GTIN", "value": result.gtin.value.zfill(14)}]
        return []

    def as_dict(self) -> dict:
        return {"text": self.text, "aim": self.aim, "symbology": self.symbology, "gs1": self.gs1,
                "fields": self.fields()}


def make_scan(text: str, fmt: ScanFormat) -> Scan | None:
    """A decoded frame (suffix removed) -> Scan, or None when nothing is left of it."""
    raw = text
    if fmt.gs_substitute:
        text = text.replace(fmt.gs_substitute, GS)
    text = "".join(ch for ch in text if ch >= " " or ch in KEEP_CONTROLS)
    text = text.replace("\x7f", "")
    if fmt.prefix:
        at = text.find(fmt.prefix)
        if at >= 0:
            text = text[at + len(fmt.prefix):]
    aim = ""
    if fmt.aim:
        match = AIM_RE.search(text)
        if match:  # bytes before the identifier are line noise
            aim, text = match.group(), text[match.end():]
    elif AIM_RE.match(text):
        aim, text = text[:3], text[3:]
    if not text:
        return None
    return Scan(text=text, aim=aim, raw=raw)


class Framer:
    """Feed bytes with the time they arrived; get scans. `flush(now)` ends a gap-framed scan."""

    def __init__(self, fmt: ScanFormat | None = None):
        self.fmt = fmt or ScanFormat()
        self.buffer = b""
        self.last = None        # time of the last byte
        self.dropped = 0        # partial or overlong frames thrown away

    def reset(self):
        self.buffer, self.last = b"", None

    def _emit(self, frame: bytes) -> list[Scan]:
        scan = make_scan(frame.decode(self.fmt.encoding, errors="replace"), self.fmt)
        return [scan] if scan else []

    def feed(self, data: bytes, now: float = 0.0) -> list[Scan]:
        scans = self.flush(now) if data else []
        if self.buffer and self.last is not None and now - self.last > self.fmt.stale:
            self.dropped += 1           # an unfinished frame from long ago: a partial frame
            self.buffer = b""
        self.buffer += data
        if data:
            self.last = now
        term = self.fmt.terminator
        if term:
            # Any of CR/LF ends a frame when the suffix is CR, LF or CRLF (scanners are often
            # set to one and sent the other); empty frames between CR and LF are skipped.
            seps = b"\t" if term == b"\t" else b"\r\n"
            while True:
                cut = min((i for i in (self.buffer.find(bytes([s])) for s in seps) if i >= 0), default=-1)
                if cut < 0:
                    break
                frame, self.buffer = self.buffer[:cut], self.buffer[cut + 1:]
                scans += self._emit(frame)
        if len(self.buffer) > MAX_LEN:
            self.dropped += 1
            self.buffer = b""
        return scans

    def flush(self, now: float) -> list[Scan]:
        """With gap framing: the pending frame is a scan once `gap` seconds passed without bytes."""
        if self.fmt.terminator or not self.buffer or self.last is None or now - self.last < self.fmt.gap:
            return []
        frame, self.buffer = self.buffer, b""
        return self._emit(frame)

    @property
    def pending(self) -> bool:
        return bool(self.buffer)


def encode(text: str, fmt: ScanFormat, aim: str = "") -> bytes:
    """The bytes a scanner with this format sends for one scan (used by the emulator)."""
    out = text.replace(GS, fmt.gs_substitute) if fmt.gs_substitute else text
    if fmt.aim:
        out = (aim or "]X0") + out
    return (fmt.prefix + out).encode(fmt.encoding) + fmt.terminator
