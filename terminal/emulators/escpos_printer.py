"""An ESC/POS receipt printer on a TCP port and/or a pty serial port.

Answers `DLE EOT n` (n = 1..4) at once with the real status bytes, also while offline, and takes
the command out of the stream (like a real printer, it also sees DLE EOT inside image data).
A receipt ends at a paper cut (`GS V`), when the sender closes the connection, or after 1 s of
silence on the serial line. A connection dropped mid-receipt leaves a torn receipt
(`complete=False`): a real printer prints data as it arrives. While out of paper or with the cover
open, complete receipts wait in the buffer and print when paper is back / the cover is closed.
`decode(job)` turns a job into text with `printers.escpos_decode` when that module is present.
"""

import time

from printers.status import escpos_status_byte
from terminal.emulators.printer_base import PrintedJob, PrinterEmulator

DLE, EOT, GS = 0x10, 0x04, 0x1D


class _Session:
    def __init__(self):
        self.pending = b""  # undecided tail (a command split across reads)
        self.receipt = bytearray()
        self.last = time.monotonic()


class EscposPrinterEmulator(PrinterEmulator):
    kind = "escpos"
    serial_idle_s = 1.0

    def new_session(self) -> _Session:
        return _Session()

    def status_byte(self, n: int) -> int:
        with self.lock:
            return escpos_status_byte(n, offline=not self.ready, cover_open=self.head_open,
                                      paper_end=not self.paper)

    def feed(self, session: _Session, data: bytes, reply) -> None:
        buf = session.pending + data
        session.last = time.monotonic()
        i = 0
        while i < len(buf):
            byte = buf[i]
            if byte == DLE:
                if len(buf) - i < 3:
                    break
                if buf[i + 1] == EOT and buf[i + 2] in (1, 2, 3, 4):
                    reply(bytes([self.status_byte(buf[i + 2])]))
                    i += 3
                    continue
            elif byte == GS and len(buf) - i >= 2 and buf[i + 1] == ord("V"):
                if len(buf) - i < 3:
                    break
                size = 3 if buf[i + 2] in (0, 1, 48, 49) else 4
                if len(buf) - i < size:
                    break
                session.receipt += buf[i:i + size]
                i += size
                self._end_receipt(session, complete=True)
                continue
            elif byte == GS and len(buf) - i < 2:
                break
            session.receipt.append(byte)
            i += 1
        session.pending = buf[i:]

    def _end_receipt(self, session: _Session, complete: bool) -> None:
        data = bytes(session.receipt + (session.pending if complete else b""))
        session.receipt, session.pending = bytearray(), b""
        if data:
            self._job_done(data, 1, complete)

    def end_session(self, session: _Session, dropped: bool) -> None:
        self._end_receipt(session, complete=not dropped)

    def idle(self, session: _Session) -> None:
        if (session.receipt or session.pending) and time.monotonic() - session.last > self.serial_idle_s:
            self._end_receipt(session, complete=True)

    def decode(self, job: PrintedJob):
        """The receipt as printers.escpos_decode reads it (text lines, barcodes, cuts)."""
        from printers.escpos_decode import decode

        code_page = getattr(self.profile, "cyrillic_code_page", None) or "CP866"
        return decode(job.data, code_page=code_page)
