"""`ScannerDevice`: serial/USB-CDC (SerialScanner) or keyboard wedge (EvdevScanner) -> `scan`
events: `raw_b64` = AIM identifier + data, prefix and suffix removed, GS restored; `symbology` =
the AIM identifier ("" when the scanner sends none).
"""

from __future__ import annotations

import base64
import contextlib

from terminal.backoff import Backoff

from .base import StationDevice


class ScannerDevice(StationDevice):
    kind = "scanner"

    def __init__(self, spec):
        super().__init__(spec)
        from terminal.devices.scanners.framing import ScanFormat

        self.format = ScanFormat.from_profile(spec.model)
        self.wedge = self.url.startswith(("/dev/input/", "evdev:")) or self.url.endswith(".bin")
        self.driver = None
        self.scans = 0

    def _open(self):
        if self.wedge:
            from terminal.devices.scanners.evdev import EvdevScanner
            return EvdevScanner(self.spec.model, self.url.removeprefix("evdev:"), say=self._driver_said).open()
        from terminal.devices.scanners.serial import SerialScanner
        return SerialScanner(self.spec.model, self.url, say=self._driver_said, backoff=self.backoff).open()

    def _supervise(self) -> None:
        backoff = Backoff(self.backoff, self._stop)
        while not self._stop.is_set():
            try:
                self.driver = self._open()
            except Exception as error:  # noqa: BLE001 - OSError, SerialException: say why, retry
                self._set_health("down", f"cannot open {self.url}: {error}")
                backoff.wait()
                continue
            backoff.reset()
            self._set_health("up", "")
            try:
                while not self._stop.is_set():
                    for scan in self.driver.read(0.5):
                        self._scan(scan)
                    if self.wedge and self.driver.eof:  # the end of a recording
                        self._stop.wait(0.5)
                    elif not self.wedge and self.driver.port is None:
                        self._set_health("down", f"{self.url}: not there; reopening")
            except Exception as error:  # noqa: BLE001 - evdev: ENODEV when unplugged
                self._set_health("down", f"{self.url}: {error}")
                backoff.wait()
            finally:
                self._close()

    def _scan(self, scan) -> None:
        raw = (scan.aim + scan.text).encode(self.format.encoding, errors="replace")
        self.scans += 1
        self._send("scan", {"raw_b64": base64.b64encode(raw).decode("ascii"), "symbology": scan.aim})

    def _close(self) -> None:
        driver, self.driver = self.driver, None
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.close()

