"""Serial / USB-CDC scanner driver: a pyserial `serial_for_url` port (tty, pty, socket://,
rfc2217://) plus the framing codec. When the port vanishes (unplugged) it reconnects with
backoff and says so through `say`.
"""

from __future__ import annotations

import contextlib
import logging
import time

import serial

from terminal.devices.reconnect import reopen_with_backoff, take

from .framing import Framer, Scan, ScanFormat

log = logging.getLogger("cellwms.scanners")
PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


class SerialScanner:
    def __init__(self, profile: dict, url: str, say=None, backoff: tuple[float, float] = (0.05, 2.0)):
        self.profile, self.url = profile, url
        self.framer = Framer(ScanFormat.from_profile(profile))
        self.say = say or log.warning
        self.backoff = backoff
        self.port = None
        self.reconnects = 0
        self._quiet = True  # the last look at the port found it silent

    @property
    def fmt_terminated(self) -> bool:
        return bool(self.framer.fmt.terminator)

    def open(self):
        self._quiet = True
        self.port = serial.serial_for_url(
            self.url, baudrate=self.profile.get("baudrate", 9600), bytesize=self.profile.get("bytesize", 8),
            parity=PARITY[self.profile.get("parity", "N")], stopbits=self.profile.get("stopbits", 1), timeout=0.02)
        return self

    def close(self):
        if self.port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                self.port.close()
            self.port = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def _reconnect(self, error, deadline: float | None) -> bool:
        self.say(f"scanner {self.url}: lost ({error}); reconnecting")
        self.close()
        self.framer.reset()            # a frame cut by the unplug is not a scan
        tries = reopen_with_backoff(self.open, deadline, self.backoff, (OSError, serial.SerialException))
        if tries is None:
            return False
        self.reconnects += 1
        self.say(f"scanner {self.url}: reconnected after {tries} tries")
        return True

    def read(self, timeout: float | None = 1.0) -> list[Scan]:
        """Scans that arrive within timeout (None: wait for ever); returns as soon as there are some."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                if self.port is None:
                    raise serial.SerialException("not open")
                data = self.port.read(max(1, self.port.in_waiting))
                now = time.monotonic()
                if data and not self._quiet and self.fmt_terminated and self.framer.last is not None:
                    # Bytes that waited in the port while we were busy (e.g. queuing scans): no
                    # silence was seen, so a frame they finish is not stale.
                    now = self.framer.last
                self._quiet = not data
                scans = self.framer.feed(data, now) if data else self.framer.flush(now)
                if scans:
                    return scans
            except (OSError, serial.SerialException) as error:
                if not self._reconnect(error, deadline):
                    return []
            if deadline is not None and time.monotonic() >= deadline:
                return []

    def scans(self, count: int | None = None, timeout: float | None = None):
        """Yield scans until `count` are out; stop when none comes for `timeout` seconds."""
        yield from take(self.read, count, timeout)
