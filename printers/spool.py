"""Send print jobs so that a job is never lost and never printed twice.

`PrinterSpool(url, profile).print(data)` (or `print_job(url, profile, data)`) returns a
`PrintResult`; `submit(data)` queues jobs for one background worker, in order.

The rule (for printers that report status, `profile.status` set and a transport that reads):

1. Before sending, ask the status. Not ready (paper out, head/cover open, paused, ribbon out,
   offline, no answer) or a ZPL printer still holding formats in its buffer: nothing is sent; wait
   with backoff (doubling up to `max_backoff`) and ask again. A connection that cannot be made
   is retried the same way.
2. ZPL: read the printed-label counter (SGD `odometer.total_label_count`), send the job, then `~HS`.
   The printer answers `~HS` only after reading every byte before it, so an answer means the whole
   job is in the printer: it is never sent again. Paper out / head open during the job: the job
   sits in the printer's buffer; we wait until the printer is ready and its buffer is empty.
3. ZPL, connection dropped before that answer: reconnect (with backoff), wait for ready, and count
   what the printer took: labels printed since step 2 plus formats in its buffer. Formats the
   printer took are not sent again; the rest of the job is (the whole job when it took nothing).
   Without the counter (old firmware) the job is resent only if our write failed before its end
   (then its last format never arrived complete and the printer dropped it).
4. ESC/POS has no job counter: the job is followed by `DLE EOT 1`, whose answer confirms delivery.
   A connection dropped before that answer means the job is sent again whole; the printer may
   have printed a torn-off part of the first try (ESC/POS prints as it receives), never a second
   complete copy unless the connection failed after the last byte and before the answer.
Without status (CUPS, files, `status = ""`) a job is written once; only a failed connect is retried.
One spool per printer: the counter rule assumes no one else prints on it meanwhile.
"""

import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tenacity import RetryCallState, wait_exponential

from printers.status import (
    NO_ANSWER,
    PrinterStatus,
    escpos_status_request,
    query_label_count,
    query_status,
    read_until,
)
from printers.transports import DEFAULT_TIMEOUT, TransportError, open_transport


class SpoolError(RuntimeError):
    """A job that could not be printed within the spool's timeout."""

    def __init__(self, message: str, status: PrinterStatus | None = None, attempts: int = 0):
        super().__init__(message)
        self.status, self.attempts = status, attempts


@dataclass(frozen=True)
class PrintResult:
    printed: bool
    waited_s: float  # time spent waiting for the printer (not ready, reconnecting)
    attempts: int  # connections used
    resent: bool = False  # part or all of the job was sent a second time after a drop
    confirmed: bool = False  # the printer confirmed it holds the whole job
    status: PrinterStatus | None = None  # the last status read


# ---- ZPL framing (shared with the emulator) --------------------------------------------------

def zpl_formats(data: bytes) -> list[bytes]:
    """Split a ZPL job into formats; bytes before the first ^XA go with the first format."""
    parts, start = [], 0
    for match in re.finditer(rb"\^XZ", data):
        parts.append(data[start:match.end()])
        start = match.end()
    if start < len(data):
        if parts and not data[start:].strip(b"\r\n\t "):
            parts[-1] += data[start:]
        else:
            parts.append(data[start:])
    return parts


def zpl_label_count(fmt: bytes) -> int:
    """Labels a format prints: `^PQ` copies, 0 for a format without fields or graphics."""
    if not re.search(rb"\^(FD|GF|GB|XG|IM)", fmt):
        return 0
    match = re.findall(rb"\^PQ(\d+)", fmt)
    return max(1, int(match[-1])) if match else 1


# ---- the spool --------------------------------------------------------------------------------

class _Dropped(Exception):
    def __init__(self, write_finished: bool):
        self.write_finished = write_finished


class PrinterSpool:
    def __init__(self, url: str, profile, *, timeout: float | None = None, io_timeout: float = DEFAULT_TIMEOUT,
                 status_timeout: float = 2.0, first_backoff: float = 0.05, max_backoff: float = 5.0,
                 on_wait=None):
        self.url, self.profile = url, profile
        self.on_wait = on_wait  # on_wait(reason): called each time a job waits for the printer
        self.timeout = timeout  # None: wait for the printer as long as it takes
        self.io_timeout, self.status_timeout = io_timeout, status_timeout
        self.first_backoff, self.max_backoff = first_backoff, max_backoff
        self._lock = threading.Lock()
        self._worker: ThreadPoolExecutor | None = None

    def submit(self, data: bytes) -> Future:
        """Queue a job; jobs print one at a time in submission order."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        return self._worker.submit(self.print, data)

    def close(self) -> None:
        if self._worker:
            self._worker.shutdown(wait=True)

    def print(self, data: bytes, *, transport=None, status: PrinterStatus | None = None) -> PrintResult:
        """Print `data`. `transport` and `status`: a connection the caller just asked the status on,
        and that answer; the job goes on over it and does not ask the same again (the spool closes it)."""
        with self._lock:
            return _Job(self, bytes(data), transport, status).run()


def print_job(url: str, profile, data: bytes, **options) -> PrintResult:
    return PrinterSpool(url, profile, **options).print(data)


class _Job:
    def __init__(self, spool: PrinterSpool, data: bytes, transport=None, status: PrinterStatus | None = None):
        self.spool, self.data = spool, data
        self.given, self.asked = transport, status  # a connection and the status just read on it
        self.protocol = getattr(spool.profile, "status", "") or ""
        self.started = time.monotonic()
        self.waited = 0.0
        self.attempts = 0
        # Waits double from first_backoff to max_backoff (tenacity's schedule, by attempt number).
        self.delays = wait_exponential(multiplier=spool.first_backoff, min=spool.first_backoff,
                                       max=spool.max_backoff)
        self.waits = RetryCallState(None, None, (), {})
        self.status: PrinterStatus | None = None
        self.resent = False

    # waiting
    def _sleep(self, reason: str) -> None:
        spool = self.spool
        delay = self.delays(self.waits)
        if spool.timeout is not None and time.monotonic() - self.started + delay > spool.timeout:
            raise SpoolError(f"{spool.url}: not printed after {spool.timeout:g} s: {reason}", self.status,
                             self.attempts)
        if spool.on_wait is not None:
            spool.on_wait(reason)
        time.sleep(delay)
        self.waited += delay
        self.waits.attempt_number += 1

    def _connect(self):
        while True:
            try:
                transport = open_transport(self.spool.url, timeout=self.spool.io_timeout)
                self.attempts += 1
                return transport
            except TransportError as error:
                self._sleep(str(error))

    def _ask(self, transport) -> PrinterStatus:
        self.status = query_status(transport, self.protocol, self.spool.status_timeout)
        return self.status

    def _ready(self, transport, drained: bool) -> bool:
        status = self._ask(transport)
        return status.ready and (not drained or status.formats_in_buffer == 0)

    def _wait_ready(self, transport, drained: bool):
        """Poll until ready; reconnects when the connection fails. Returns the live transport.
        The status the caller read just before on this connection counts as the first answer."""
        asked, self.asked = self.asked, None
        if asked is not None:
            self.status = asked
            if asked.ready and (not drained or asked.formats_in_buffer == 0):
                return transport
        while True:
            try:
                if self._ready(transport, drained):
                    self.waits.attempt_number = 1
                    return transport
                reason = ", ".join(self.status.problems()) or "formats in buffer"
            except TransportError as error:
                transport.close()
                reason = str(error)
                self._sleep(reason)
                transport = self._connect()
                continue
            self._sleep(reason)

    def run(self) -> PrintResult:
        if self.given is not None:
            transport, self.given = self.given, None
            self.attempts += 1
        else:
            transport, self.asked = self._connect(), None
        try:
            if not self.protocol or not transport.can_read:
                transport.write(self.data)
                return PrintResult(True, self.waited, self.attempts)
            if self.protocol == "zpl-hs":
                return self._run_zpl(transport)
            return self._run_escpos(transport)
        finally:
            transport.close()

    def _result(self, confirmed: bool = True) -> PrintResult:
        return PrintResult(True, round(self.waited, 3), self.attempts, self.resent, confirmed, self.status)

    # ZPL
    def _run_zpl(self, transport) -> PrintResult:
        formats = zpl_formats(self.data)
        while True:
            transport = self._wait_ready(transport, drained=True)
            try:
                before = query_label_count(transport, self.spool.status_timeout)
                self._send_confirmed(transport, b"".join(formats), b"~HS")
            except _Dropped as drop:
                transport.close()
                self._sleep("connection dropped during the job")
                transport = self._connect()
                transport = self._wait_ready(transport, drained=False)
                left = self._zpl_not_taken(transport, formats, before, drop.write_finished)
                if not left:
                    return self._finish_zpl(transport)
                formats, self.resent = left, True
                continue
            return self._finish_zpl(transport)

    def _finish_zpl(self, transport) -> PrintResult:
        """The printer holds the job: wait until it has printed it (ready, buffer empty)."""
        self._wait_ready(transport, drained=True)
        return self._result()

    def _zpl_not_taken(self, transport, formats, before, write_finished) -> list[bytes]:
        after = query_label_count(transport, self.spool.status_timeout) if before is not None else None
        if after is None:
            return [] if write_finished else formats
        status = self.status or NO_ANSWER
        if status.partial_format and status.formats_in_buffer == 0:
            transport.write(b"~JA")  # a cut-off format of ours: cancel it before resending
        printed, i = after - before, 0
        while i < len(formats) and printed > 0:
            printed -= zpl_label_count(formats[i])
            i += 1
        i += status.formats_in_buffer
        return formats[i:]

    # ESC/POS
    def _run_escpos(self, transport) -> PrintResult:
        while True:
            transport = self._wait_ready(transport, drained=False)
            try:
                self._send_confirmed(transport, self.data, escpos_status_request(1))
            except _Dropped:
                transport.close()
                self._sleep("connection dropped during the job")
                transport = self._connect()
                self.resent = True
                continue
            self._wait_ready(transport, drained=False)
            return self._result()

    def _send_confirmed(self, transport, data: bytes, request: bytes) -> None:
        """Write the job and a status request; return once the printer answered the request."""
        try:
            transport.write(data)
        except TransportError:
            raise _Dropped(write_finished=False) from None
        try:
            transport.write(request)
            need = 3 if request == b"~HS" else 1
            answer = read_until(transport, lambda b: (b.count(b"\x03") if need == 3 else len(b)) >= need,
                                self.spool.io_timeout)
        except TransportError:
            raise _Dropped(write_finished=True) from None
        if (answer.count(b"\x03") if need == 3 else len(answer)) < need:
            raise _Dropped(write_finished=True)
