"""Pure HID keyboard-wedge decoder: evdev key events -> scans.

Events are (time, type, code, value) as in `struct input_event`. Keys are mapped with Shift,
Caps Lock and the keyboard layout the *scanner* is set to (not the host's: we read key codes, so
the host layout never garbles a scan). A scan ends at the suffix key (Enter for CR/LF/CRLF, Tab for
TAB) or, with suffix "none", after an inter-key gap. GS comes back from Ctrl+] (what HID scanners
send for 0x1D), from Alt+numpad 029, or from the profile's substitute string.
"""

from __future__ import annotations

from .framing import Scan, ScanFormat, make_scan

EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
KEY_TAB, KEY_ENTER, KEY_KPENTER = 15, 28, 96
SHIFTS, CTRLS, ALTS = {42, 54}, {29, 97}, {56, 100}
KEY_CAPSLOCK = 58
KEYPAD = {71: "7", 72: "8", 73: "9", 75: "4", 76: "5", 77: "6", 79: "1", 80: "2", 81: "3", 82: "0",
          83: ".", 55: "*", 74: "-", 78: "+", 98: "/"}


def _layout(rows: list[tuple[int, str, str]]) -> dict[int, tuple[str, str]]:
    """rows of (first key code, unshifted chars, shifted chars) -> {code: (char, shifted char)}."""
    table = {57: (" ", " ")}
    for first, plain, shifted in rows:
        for i, (a, b) in enumerate(zip(plain, shifted, strict=True)):
            table[first + i] = (a, b)
    return table


LAYOUTS = {
    "us": _layout([(2, "1234567890-=", "!@#$%^&*()_+"), (16, "qwertyuiop[]", "QWERTYUIOP{}"),
                   (30, "asdfghjkl;'`", 'ASDFGHJKL:"~'), (43, "\\zxcvbnm,./", "|ZXCVBNM<>?")]),
    # Russian ЙЦУКЕН (Windows / X11 "ru").
    "ru": _layout([(2, "1234567890-=", '!"№;%:?*()_+'), (16, "йцукенгшщзхъ", "ЙЦУКЕНГШЩЗХЪ"),
                   (30, "фывапролджэё", "ФЫВАПРОЛДЖЭЁ"), (43, "\\ячсмитьбю.", "/ЯЧСМИТЬБЮ,")]),
}


class WedgeDecoder:
    def __init__(self, fmt: ScanFormat | None = None):
        self.fmt = fmt or ScanFormat()
        if self.fmt.layout not in LAYOUTS:
            raise ValueError(f"unknown keyboard layout {self.fmt.layout!r} (known: {', '.join(LAYOUTS)})")
        self.keys = LAYOUTS[self.fmt.layout]
        self.end_keys = {"TAB": {KEY_TAB}, "NONE": set()}.get(self.fmt.suffix, {KEY_ENTER, KEY_KPENTER})
        self.held: set[int] = set()
        self.caps = False
        self.alt_digits = ""
        self.text = ""
        self.last = None
        self.dropped = 0

    def _char(self, code: int) -> str:
        if self.held & CTRLS:
            base = LAYOUTS["us"].get(code, ("", ""))[0]
            if base and (base.isalpha() or base in "[\\]"):
                return chr(ord(base.upper()) & 0x1F)   # Ctrl+] -> GS
            return ""
        if self.held & ALTS and code in KEYPAD:
            self.alt_digits += KEYPAD[code]
            return ""
        if code in KEYPAD:
            return KEYPAD[code]
        plain, shifted = self.keys.get(code, ("", ""))
        shift = bool(self.held & SHIFTS)
        if self.caps and plain.isalpha():
            shift = not shift
        return shifted if shift else plain

    def _finish(self) -> list[Scan]:
        text, self.text = self.text, ""
        scan = make_scan(text, self.fmt)
        return [scan] if scan else []

    def flush(self, now: float) -> list[Scan]:
        """With gap framing: the typed text is a scan once `gap` seconds passed without keys."""
        if self.end_keys or not self.text or self.last is None or now - self.last < self.fmt.gap:
            return []
        return self._finish()

    def feed(self, events) -> list[Scan]:
        scans: list[Scan] = []
        for t, etype, code, value in events:
            if etype != EV_KEY:
                continue
            if value == 0:
                self.held.discard(code)
                if code in ALTS and self.alt_digits:
                    digits, self.alt_digits = self.alt_digits, ""
                    if digits.isdigit():
                        self.text += _alt_char(int(digits), digits.startswith("0"))
                continue
            if code in SHIFTS | CTRLS | ALTS:
                self.held.add(code)
                continue
            if code == KEY_CAPSLOCK:
                if value == 1:
                    self.caps = not self.caps
                continue
            scans += self.flush(t)
            if self.text and self.last is not None and t - self.last > self.fmt.stale:
                self.dropped += 1      # an unfinished scan from long ago
                self.text = ""
            self.last = t
            if code in self.end_keys:
                scans += self._finish()
                continue
            self.text += self._char(code)
            if len(self.text) > 4096:
                self.dropped += 1
                self.text = ""
        return scans


def _alt_char(number: int, ansi: bool) -> str:
    """Windows Alt+numpad: Alt+0nnn is an ANSI (cp1252) code, Alt+nnn below 128 is ASCII."""
    number %= 256 if number < 65536 else 65536
    if number < 128:
        return chr(number)
    return bytes([number]).decode("cp1252" if ansi else "cp437", errors="replace")


def relayout(text: str, typed_as: str = "ru", meant: str = "us") -> str:
    """Text a `meant`-layout scanner typed into a host set to `typed_as`, put back as meant.
    E.g. a US-layout scanner into a Russian host: 'щ' -> 'o' ("0104..." survives, letters do not)."""
    back = {}
    for code, (plain, shifted) in LAYOUTS[typed_as].items():
        back.setdefault(plain, (code, 0))
        back.setdefault(shifted, (code, 1))
    out = []
    for ch in text:
        if ch in back:
            code, shift = back[ch]
            out.append(LAYOUTS[meant][code][shift])
        else:
            out.append(ch)
    return "".join(out)


def keystrokes(text: str, layout: str = "us", suffix: str = "CR", t0: float = 0.0,
               step: float = 0.002) -> list[tuple[float, int, int, int]]:
    """The events a wedge scanner set to `layout` sends for `text` (GS as Ctrl+]): used to make
    recordings and to drive the decoder in tests."""
    table = {}
    for code, (plain, shifted) in LAYOUTS[layout].items():
        table.setdefault(plain, (code, False))
        table.setdefault(shifted, (code, True))
    events, t = [], t0

    def key(code, value):
        nonlocal t
        events.append((round(t, 6), EV_MSC, 4, 0x70000 + code))
        events.append((round(t, 6), EV_KEY, code, value))
        events.append((round(t, 6), EV_SYN, 0, 0))
        t += step

    for ch in text:
        if ch == "\x1d":
            key(29, 1), key(27, 1), key(27, 0), key(29, 0)
            continue
        code, shift = table[ch]
        if shift:
            key(42, 1)
        key(code, 1), key(code, 0)
        if shift:
            key(42, 0)
    end = {"CR": KEY_ENTER, "LF": KEY_ENTER, "CRLF": KEY_ENTER, "TAB": KEY_TAB}.get(suffix.upper())
    if end:
        key(end, 1), key(end, 0)
    return events
