"""A serial (USB-CDC) barcode scanner on a pty, built on the framing codec's `encode`.

Reached through a stable symlink (`port`) to the current pty slave, so `unplug()` closes the pty
(the driver sees the port vanish) and `replug()` points the link at a fresh pty, as a USB CDC
scanner that comes back under the same /dev/serial/by-id path. Scans go out with the profile's
prefix, AIM identifier, GS substitute and suffix, paced at `byte_rate` bytes per second.
Faults: `garbage(bytes)`, `partial(text)` (a scan cut short, no suffix), unplug/replug.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
import time
from pathlib import Path

from terminal.devices.scanners.framing import ScanFormat, encode
from terminal.emulators.pty_port import PtyPort

SAMPLES = [  # (AIM identifier, data): what the demo scans
    ("]E0", "4601234567893"),
    ("]C1", "00146012345000000018"),
    ("]d2", "0104604060001104215Jk+3dbNq&Nqf\x1d91EE07\x1d92dGVzdCBjcnlwdG8gdGFpbCBmb3IgY2VsbHdtcyB0ZXN0"),
    ("]Q1", "CELL:A-01-02-3"),
]


class ScannerEmulator:
    def __init__(self, profile: dict, link: str | None = None, byte_rate: float | None = None):
        self.profile = profile
        self.fmt = ScanFormat.from_profile(profile)
        self.byte_rate = byte_rate or profile.get("baudrate", 9600) / 10
        self.pty = PtyPort(Path(link or Path(tempfile.mkdtemp(prefix="cellwms-scanner-")) / "scanner"))
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = None
        self.sent = 0

    # ---- life cycle ----
    def start(self):
        self.pty.open()
        self._thread = threading.Thread(target=self._run, daemon=True, name="scanner-emulator")
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._queue.put(None)
        if self._thread:
            self._thread.join(2)
        self.pty.remove()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> str:
        return self.pty.path

    # ---- scanning ----
    def scan(self, text: str, aim: str = ""):
        """Queue one scan (GS as \\x1d in text; aim like "]d2", sent when the profile has AIM on)."""
        self._queue.put(encode(text, self.fmt, aim))

    def garbage(self, data: bytes = b"\x00\xff#noise\xf8\x55"):
        self._queue.put(data)

    def partial(self, text: str, aim: str = ""):
        """The first half of a scan and no suffix (a cable wiggle mid-scan)."""
        frame = encode(text, self.fmt, aim)
        self._queue.put(frame[: max(1, len(frame) // 2)])

    def pause(self, seconds: float):
        self._queue.put(float(seconds))

    def idle(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued is written."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    # ---- faults ----
    def unplug(self):
        self.pty.unplug()

    def replug(self):
        self.pty.replug()

    def _write(self, data: bytes):
        step = max(1, int(self.byte_rate * 0.01))        # bytes per 10 ms
        for i in range(0, len(data), step):
            master = self.pty.master
            if master is None:
                return                                    # unplugged: the bytes are lost
            chunk = data[i:i + step]
            with contextlib.suppress(OSError):
                os.write(master, chunk)
            time.sleep(len(chunk) / self.byte_rate)  # pace by the bytes written, not a whole step

    def _run(self):
        while not self._stop.is_set():
            item = self._queue.get()
            try:
                if item is None:
                    return
                if isinstance(item, float):
                    time.sleep(item)
                else:
                    self._write(item)
                    self.sent += 1
            finally:
                self._queue.task_done()
