"""A ZPL label printer on a TCP port (raw 9100 protocol).

Keeps every format `^XA ... ^XZ` byte for byte as a job (rendered to PNG with `printers.preview`
when that module is present), answers `~HS` with the three host-status strings, `~JA` cancels the
buffered formats, and the SGD `! U1 getvar "odometer.total_label_count"` gives the printed-label
counter. A label counts `^PQ` copies.

Like a real Zebra it keeps receiving while out of paper, with the head open or paused: complete
formats wait in the receive buffer (`~HS` "formats in buffer") and print when the printer is ready
again. It answers `~HS` in those states too (older firmware does; a printer that stays silent is
treated as not ready by the spool). A format cut by a dropped connection is discarded.
Each job keeps `first_byte`: when the read that carried its `^XA` arrived (TCP).
"""

import time

from printers.spool import zpl_label_count
from printers.status import format_zpl_host_status
from terminal.emulators.printer_base import PrintedJob, PrinterEmulator

_TOKENS = (b"~HS", b"~JA", b"^XA", b"^XZ", b"! U1")


class _Session:
    def __init__(self):
        self.buffer = b""
        self.format: bytearray | None = None
        self.received_at: tuple[float, float] | None = None  # (time.time(), time.monotonic()) of the last read
        self.format_first_byte: tuple[float, float] | None = None


class ZplPrinterEmulator(PrinterEmulator):
    kind = "zpl"

    def __init__(self, profile=None, host: str = "127.0.0.1", port: int = 0):
        super().__init__(profile, host, port)
        self.sessions: set[_Session] = set()
        self.ribbon_out = False

    def new_session(self) -> _Session:
        session = _Session()
        with self.lock:
            self.sessions.add(session)
        return session

    def end_session(self, session: _Session, dropped: bool) -> None:
        with self.lock:
            self.sessions.discard(session)

    def received(self, session: _Session, first: bool) -> None:
        super().received(session, first)
        session.received_at = (time.time(), time.monotonic())

    @property
    def ready(self) -> bool:
        return super().ready and not self.ribbon_out

    def host_status(self) -> bytes:
        with self.lock:
            dots = 1218
            if self.profile is not None and self.profile.label_sizes:
                dots = int(round(self.profile.label_sizes[0].height_mm * self.profile.dots_per_mm))
            return format_zpl_host_status(
                paper_out=not self.paper, paused=self.paused or not self.ready, head_open=self.head_open,
                ribbon_out=self.ribbon_out, formats_in_buffer=len(self.pending),
                partial_format=any(s.format is not None for s in self.sessions), label_length_dots=dots,
            )

    def feed(self, session: _Session, data: bytes, reply) -> None:
        buf = session.buffer + data
        i = 0
        while i < len(buf):
            head = buf[i:i + 4]
            if buf[i] in b"~^!" and any(t.startswith(head) and len(head) < len(t) for t in _TOKENS):
                break  # a token split across reads: wait for the rest
            if head.startswith(b"~HS"):
                reply(self.host_status())
                i += 3
            elif head.startswith(b"~JA"):
                with self.lock:
                    self.pending.clear()
                session.format = None
                i += 3
            elif session.format is None:
                if head.startswith(b"^XA"):
                    session.format = bytearray(b"^XA")
                    session.format_first_byte = session.received_at
                    i += 3
                elif head == b"! U1":
                    end = buf.find(b"\n", i)
                    if end < 0:
                        break
                    self._sgd(buf[i:end + 1], reply)
                    i = end + 1
                else:
                    i += 1  # bytes between formats are ignored
            elif head.startswith(b"^XZ"):
                session.format += b"^XZ"
                fmt, session.format = bytes(session.format), None
                self._job_done(fmt, zpl_label_count(fmt), first_byte=session.format_first_byte)
                i += 3
            else:
                session.format.append(buf[i])
                i += 1
        session.buffer = buf[i:]

    def _sgd(self, line: bytes, reply) -> None:
        words = line.decode("ascii", "replace").split()
        if len(words) >= 4 and words[2] == "getvar" and words[3].strip('"') == "odometer.total_label_count":
            with self.lock:
                reply(f'"{self.label_count}"'.encode())
        elif len(words) >= 3 and words[2] == "getvar":
            reply(b'"?"')

    def png(self, job: PrintedJob) -> bytes | None:
        """The job rendered by printers.preview (None if that module or its renderer is missing)."""
        try:
            from printers.preview import render_png
        except ImportError:
            return None
        return render_png(job.data, self.profile.dpi if self.profile is not None else 203)
