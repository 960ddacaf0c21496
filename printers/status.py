"""Printer status: ZPL `~HS` host status and ESC/POS `DLE EOT n` real-time status.

Pure codecs (bytes <-> `PrinterStatus`), shared by the spool and the printer emulators, plus
`query_status(transport, protocol)` that asks a printer over an open transport.

ZPL `~HS` (ZPL II Programming Guide, "Host Status Return"): three strings, each
`<STX>...<ETX><CR><LF>`:
  1. aaa,b,c,dddd,eee,f,g,h,iii,j,k,l  interface settings, paper out, pause, label length (dots),
     formats in receive buffer, buffer full, diagnostic mode, partial format, unused (000),
     corrupt RAM, under temperature, over temperature
  2. mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www  function settings, unused, head up, ribbon out, thermal
     transfer, print mode, print width mode, label waiting, labels remaining in batch, format
     while printing (always 1), graphics stored
  3. xxxx,y                            password, static RAM installed
The current manual says some firmware sends no answer while MEDIA OUT / HEAD OPEN / RIBBON OUT;
`query_status` therefore reports a silent printer as not ready (`answered=False`).

Printed-label counter: the SGD variable `odometer.total_label_count` (`! U1 getvar ...`), used by
the spool to tell whether a job cut by a dropped connection reached the printer.

ESC/POS `DLE EOT n` (Epson ESC/POS reference): one byte per request, bits 1 and 4 always 1,
bits 0 and 7 always 0 (base 0x12):
  n=1 printer:   bit2 drawer pin 3 high, bit3 offline, bit5 waiting for online recovery,
                 bit6 paper feed button pressed
  n=2 offline:   bit2 cover open, bit3 paper fed by the feed button, bit5 printing stopped by
                 paper end, bit6 error
  n=3 error:     bit2 recoverable (mechanical) error, bit3 autocutter error, bit5 unrecoverable
                 error, bit6 auto-recoverable error (e.g. head temperature)
  n=4 roll paper: bits 2+3 paper near end, bits 5+6 paper end
"""

import re
import time
from dataclasses import dataclass, field

STX, ETX = b"\x02", b"\x03"
ZPL_HOST_STATUS = b"~HS"
ZPL_LABEL_COUNT = b'! U1 getvar "odometer.total_label_count"\r\n'
DLE_EOT = b"\x10\x04"
ESCPOS_BASE = 0x12


class StatusError(ValueError):
    """A status answer that does not have the documented format."""


@dataclass(frozen=True)
class PrinterStatus:
    """What a printer reports; fields a protocol does not carry stay at their defaults."""

    answered: bool = True  # False: the printer sent nothing (or no status protocol)
    paper_out: bool = False
    paper_near_end: bool = False
    paused: bool = False
    head_open: bool = False  # ZPL head up; ESC/POS cover open
    ribbon_out: bool = False
    offline: bool = False
    error: bool = False  # ESC/POS error bit, ZPL corrupt RAM
    cutter_error: bool = False
    unrecoverable_error: bool = False
    buffer_full: bool = False
    partial_format: bool = False
    under_temperature: bool = False
    over_temperature: bool = False
    formats_in_buffer: int = 0
    labels_remaining: int = 0
    label_length_dots: int = 0
    print_mode: int = 0
    raw: bytes = field(default=b"", repr=False)

    @property
    def ready(self) -> bool:
        """The printer answered and nothing stops it from printing."""
        return self.answered and not self.problems()

    def problems(self) -> list[str]:
        names = ("paper_out", "paused", "head_open", "ribbon_out", "offline", "error", "cutter_error",
                 "unrecoverable_error", "over_temperature")
        found = [name for name in names if getattr(self, name)]
        if not self.answered:
            found.insert(0, "no_answer")
        return found


NO_ANSWER = PrinterStatus(answered=False)


# ---- ZPL ~HS ----------------------------------------------------------------------------------

_HS_SHAPE = (12, 11, 2)


def parse_zpl_host_status(data: bytes) -> PrinterStatus:
    """Parse the three `~HS` strings (bytes as read from the printer, STX/ETX/CRLF included)."""
    strings = re.findall(rb"\x02([^\x02\x03]*)\x03", data)
    if len(strings) != 3:
        raise StatusError(f"~HS answer needs 3 <STX>...<ETX> strings, got {len(strings)}: {data[:80]!r}")
    parts = [s.decode("ascii", "replace").split(",") for s in strings]
    for number, (got, want) in enumerate(zip(parts, _HS_SHAPE, strict=True), 1):
        if len(got) != want:
            raise StatusError(f"~HS string {number} needs {want} fields, got {len(got)}: {strings[number - 1]!r}")
    try:
        one = [int(x) for x in parts[0]]
        two = [int(x) for x in parts[1]]
    except ValueError:
        raise StatusError(f"~HS answer has a non-numeric field: {data[:80]!r}") from None
    return PrinterStatus(
        paper_out=one[1] == 1, paused=one[2] == 1, label_length_dots=one[3], formats_in_buffer=one[4],
        buffer_full=one[5] == 1, partial_format=one[7] == 1, error=one[9] == 1,
        under_temperature=one[10] == 1, over_temperature=one[11] == 1,
        head_open=two[2] == 1, ribbon_out=two[3] == 1, print_mode=two[5], labels_remaining=two[8],
        raw=data,
    )


def format_zpl_host_status(
    *, paper_out=False, paused=False, head_open=False, ribbon_out=False, formats_in_buffer=0,
    partial_format=False, labels_remaining=0, label_length_dots=1218, print_mode=2, buffer_full=False,
    thermal_transfer=False,
) -> bytes:
    """The `~HS` answer a printer in this state sends (used by the emulator)."""
    def flag(value) -> str:
        return "1" if value else "0"

    one = (f"030,{flag(paper_out)},{flag(paused)},{label_length_dots:04d},{formats_in_buffer:03d},"
           f"{flag(buffer_full)},0,{flag(partial_format)},000,0,0,0")
    two = (f"001,0,{flag(head_open)},{flag(ribbon_out)},{flag(thermal_transfer)},{print_mode},6,0,"
           f"{labels_remaining:08d},1,000")
    three = "1234,0"
    return b"".join(STX + s.encode() + ETX + b"\r\n" for s in (one, two, three))


def parse_sgd_value(data: bytes) -> str:
    """An SGD getvar answer: `"value"`."""
    match = re.search(rb'"([^"]*)"', data)
    if not match:
        raise StatusError(f"SGD answer is not a quoted value: {data[:80]!r}")
    return match.group(1).decode("ascii", "replace")


# ---- ESC/POS DLE EOT --------------------------------------------------------------------------

def escpos_status_request(n: int) -> bytes:
    if n not in (1, 2, 3, 4):
        raise ValueError(f"DLE EOT n must be 1..4, not {n}")
    return DLE_EOT + bytes([n])


def check_escpos_byte(n: int, byte: int) -> None:
    if byte & 0x93 != ESCPOS_BASE:
        raise StatusError(f"DLE EOT {n} answer 0x{byte:02x} does not have the fixed bits (0x12 under mask 0x93)")


def parse_escpos_status(answers: dict[int, int]) -> PrinterStatus:
    """Combine the answers to DLE EOT 1..4 (n -> byte); missing requests count as all clear."""
    for n, byte in answers.items():
        check_escpos_byte(n, byte)
    one, two, three, four = (answers.get(n, ESCPOS_BASE) for n in (1, 2, 3, 4))
    return PrinterStatus(
        offline=bool(one & 0x08),
        head_open=bool(two & 0x04),
        paper_out=bool(two & 0x20) or (four & 0x60) == 0x60,
        error=bool(two & 0x40) or bool(three & 0x04),
        cutter_error=bool(three & 0x08),
        unrecoverable_error=bool(three & 0x20),
        over_temperature=bool(three & 0x40),
        paper_near_end=(four & 0x0C) == 0x0C,
        raw=bytes(answers.get(n, ESCPOS_BASE) for n in (1, 2, 3, 4)),
    )


def escpos_status_byte(n: int, *, offline=False, cover_open=False, paper_end=False, paper_near_end=False,
                       error=False, cutter_error=False, feed_pressed=False) -> int:
    """The byte a printer in this state answers to DLE EOT n (used by the emulator)."""
    byte = ESCPOS_BASE
    if n == 1:
        byte |= 0x08 if offline else 0
        byte |= 0x40 if feed_pressed else 0
    elif n == 2:
        byte |= 0x04 if cover_open else 0
        byte |= 0x20 if paper_end else 0
        byte |= 0x40 if error or cutter_error else 0
    elif n == 3:
        byte |= 0x08 if cutter_error else 0
    elif n == 4:
        byte |= 0x0C if paper_near_end or paper_end else 0
        byte |= 0x60 if paper_end else 0
    else:
        raise ValueError(f"DLE EOT n must be 1..4, not {n}")
    return byte


# ---- asking a printer ------------------------------------------------------------------------

def read_until(transport, done, timeout: float) -> bytes:
    """Read from the transport until `done(buffer)` or the timeout; returns what came."""
    deadline = time.monotonic() + timeout
    buffer = b""
    while not done(buffer):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        chunk = transport.read(256, timeout=left)
        if chunk is None:  # connection closed
            break
        buffer += chunk
    return buffer


def query_status(transport, protocol: str, timeout: float = 2.0) -> PrinterStatus:
    """Ask the printer for its status; a printer that stays silent gives `NO_ANSWER`."""
    if protocol == "zpl-hs":
        transport.write(ZPL_HOST_STATUS)
        data = read_until(transport, lambda b: b.count(ETX) >= 3, timeout)
        return parse_zpl_host_status(data) if data.count(ETX) >= 3 else NO_ANSWER
    if protocol == "escpos-dle-eot":
        answers = {}
        for n in (1, 2, 3, 4):
            transport.write(escpos_status_request(n))
            data = read_until(transport, lambda b: len(b) >= 1, timeout)
            if not data:
                return NO_ANSWER
            answers[n] = data[0]
        return parse_escpos_status(answers)
    raise ValueError(f"unknown status protocol {protocol!r} (zpl-hs, escpos-dle-eot)")


def query_label_count(transport, timeout: float = 2.0) -> int | None:
    """The printer's total printed-label counter, or None when it does not answer."""
    transport.write(ZPL_LABEL_COUNT)
    data = read_until(transport, lambda b: b.count(b'"') >= 2, timeout)
    try:
        return int(parse_sgd_value(data))
    except (StatusError, ValueError):
        return None


__all__ = [
    "PrinterStatus", "StatusError", "NO_ANSWER", "parse_zpl_host_status", "format_zpl_host_status",
    "parse_escpos_status", "escpos_status_byte", "escpos_status_request", "query_status",
    "query_label_count", "parse_sgd_value", "read_until",
]
