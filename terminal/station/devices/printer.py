"""`PrinterDevice`: job `print`: render locally, wait while the printer is not ready (health
degraded with the reason), then PrinterSpool on the connection the ready status was read on (the
status is asked once per job, not again by the spool); `paper_out` / `head_open` after
`max_wait`; `beep`.
"""

from __future__ import annotations

import threading
import time

from terminal.backoff import Backoff

from .base import StationDevice, failed


class PrinterDevice(StationDevice):
    kind = "printer"
    jobs = ("print", "beep")

    def __init__(self, spec):
        super().__init__(spec)
        from printers.spool import PrinterSpool
        from printers.transports import parse_url

        self.profile = spec.model
        self.max_wait = float(self.options.get("max_wait", 600.0))
        self.status_interval = float(self.options.get("status_interval", 30.0))
        self.io_timeout = float(self.options.get("io_timeout", 5.0))
        self.protocol = self.profile.status or ""
        scheme, _ = parse_url(self.url)
        self.reports_status = bool(self.protocol) and scheme in ("tcp", "socket", "serial", "usb")
        self.spool = PrinterSpool(self.url, self.profile, io_timeout=self.io_timeout,
                                  status_timeout=min(2.0, self.io_timeout),
                                  first_backoff=self.backoff[0], max_backoff=self.backoff[1],
                                  on_wait=lambda reason: self._set_health("degraded", reason, new_detail=True))
        self._io = threading.Lock()  # one conversation with the printer at a time
        self.printed = 0

    def _check(self):
        """(state, detail, PrinterStatus or None) as the printer reports it now."""
        state, detail, status, transport = self._ask()
        if transport is not None:
            transport.close()
        return state, detail, status

    def _ask(self):
        """(state, detail, PrinterStatus or None, transport or None): the printer's status, and the
        connection it was asked on while the printer is up (the caller closes it), else None."""
        from printers.status import StatusError, query_status
        from printers.transports import TransportError, open_transport

        if not self.reports_status:
            return "up", "", None, None
        transport = None
        try:
            transport = open_transport(self.url, timeout=self.io_timeout)
            status = query_status(transport, self.protocol, min(2.0, self.io_timeout))
        except (TransportError, OSError) as error:
            if transport is not None:
                transport.close()
            return "down", str(error), None, None
        except StatusError as error:
            transport.close()
            return "degraded", f"bad status answer: {error}", None, None
        if status.ready:
            return "up", "", status, transport
        transport.close()
        return "degraded", ", ".join(status.problems()), status, None

    def _supervise(self) -> None:
        while not self._stop.is_set():
            if self._io.acquire(blocking=False):  # a job under way reports health itself
                try:
                    state, detail, _ = self._check()
                    self._set_health(state, detail, new_detail=True)
                finally:
                    self._io.release()
            self._stop.wait(self.status_interval)

    def _job_print(self, job: dict, payload: dict) -> dict:
        from printers.documents import render
        from printers.spool import SpoolError

        template = payload.get("template")
        copies = int(payload.get("copies") or 1)
        try:
            data = render(template, payload.get("data") or {}, self.profile)
        except (ValueError, KeyError, TypeError) as error:  # TemplateError is a ValueError
            return failed(f"cannot render {template}: {error}")
        data *= max(1, copies)
        started = time.monotonic()
        with self._io:
            backoff = Backoff(self.backoff)
            while True:  # nothing is sent while the printer is not ready
                state, detail, status, transport = self._ask()
                self._set_health(state, detail, new_detail=True)
                if state == "up":
                    break
                delay = backoff.next()
                if time.monotonic() - started + delay > self.max_wait:
                    return self._gave_up(state, detail, status)
                if self._stop.wait(delay):
                    return failed(f"station stopping; {template} not printed ({detail})")
            self.spool.timeout = max(1.0, self.max_wait - (time.monotonic() - started))
            try:
                # The job goes on over the connection the status was just read on: asked once, not twice.
                result = self.spool.print(data, transport=transport, status=status)
            except SpoolError as error:
                state, detail, _ = self._check()
                self._set_health(state, detail, new_detail=True)
                return self._gave_up("degraded", str(error), error.status)
            except BaseException:
                state, detail, _ = self._check()
                self._set_health(state, detail, new_detail=True)
                raise
            if result.status is not None and result.status.ready:  # the spool's last answer, after the job
                self._set_health("up", "", new_detail=True)
            else:
                state, detail, _ = self._check()
                self._set_health(state, detail, new_detail=True)
        self.printed += 1
        return {"result": "printed", "detail": f"{template} x{copies}", "attempts": result.attempts,
                "waited_s": round(time.monotonic() - started, 3), "resent": result.resent}

    def _gave_up(self, state: str, detail: str, status) -> dict:
        waited = f"not printed after {self.max_wait:g} s"
        if status is not None and status.paper_out:
            return {"result": "paper_out", "detail": f"{waited}: paper out"}
        if status is not None and status.head_open:
            return {"result": "head_open", "detail": f"{waited}: head open"}
        return failed(f"{waited}: {detail or state}")

    def _job_beep(self, job: dict, payload: dict) -> dict:
        from printers.escpos import buzzer
        from printers.transports import TransportError, open_transport

        if not self.spec.can_beep:
            return failed(f"beep not supported by {self.profile.name} ({self.profile.language})")
        times = 1 if payload.get("sound", "ok") == "ok" else 3
        try:
            with self._io, open_transport(self.url, timeout=self.io_timeout) as transport:
                transport.write(buzzer(times))
        except (TransportError, OSError) as error:
            return failed(f"cannot beep: {error}")
        return {"result": "done", "detail": f"{times} beep(s)"}

