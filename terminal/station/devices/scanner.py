"""`ScannerDevice`: serial/USB-CDC (SerialScanner) or keyboard wedge (EvdevScanner) -> `scan`
events: `raw_b64` = AIM identifier + data, prefix and suffix removed, GS restored; `symbology` =
the AIM identifier ("" when the scanner sends none).
"""

from __future__ import annotations

import base64

from .base import DriverDevice


class ScannerDevice(DriverDevice):
    kind = "scanner"

    def __init__(self, spec):
        super().__init__(spec)
        from terminal.devices.scanners.framing import ScanFormat

        self.format = ScanFormat.from_profile(spec.model)
        self.wedge = self.url.startswith(("/dev/input/", "evdev:")) or self.url.endswith(".bin")
        self.scans = 0

    def _open(self):
        if self.wedge:
            from terminal.devices.scanners.evdev import EvdevScanner
            return EvdevScanner(self.spec.model, self.url.removeprefix("evdev:"), say=self._driver_said).open()
        from terminal.devices.scanners.serial import SerialScanner
        return SerialScanner(self.spec.model, self.url, say=self._driver_said, backoff=self.backoff).open()

    def _read(self) -> None:
        while not self._stop.is_set():
            for scan in self.driver.read(0.5):
                self._scan(scan)
            if self.wedge and self.driver.eof:  # the end of a recording
                self._stop.wait(0.5)
            elif not self.wedge and self.driver.port is None:
                self._set_health("down", f"{self.url}: not there; reopening")

    def _scan(self, scan) -> None:
        raw = (scan.aim + scan.text).encode(self.format.encoding, errors="replace")
        self.scans += 1
        self._send("scan", {"raw_b64": base64.b64encode(raw).decode("ascii"), "symbology": scan.aim})
