"""HID keyboard-wedge scanner through evdev: /dev/input/eventN read with the device grabbed
(EVIOCGRAB), so the scanner's keys do not reach the desktop, and decoded by the wedge codec.

Reads raw `struct input_event` records itself (no build-time dependency); the `evdev` package,
when installed, only supplies device names for listings. A regular file or a pipe of records
(a recording) is read the same way, without the grab.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import stat
import struct
import time

from .framing import Scan, ScanFormat
from .wedge import WedgeDecoder

EVENT = struct.Struct("llHHi")          # struct input_event: timeval, type, code, value
EVIOCGRAB = 0x40044590                  # _IOW('E', 0x90, int)


class EvdevScanner:
    def __init__(self, profile: dict, path: str, grab: bool = True, say=None):
        self.path = path
        self.decoder = WedgeDecoder(ScanFormat.from_profile(profile))
        self.grab = grab
        self.say = say or (lambda message: None)
        self.fd = None
        self.grabbed = False
        self._rest = b""
        self.eof = False

    def open(self):
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        if self.grab and stat.S_ISCHR(os.fstat(self.fd).st_mode):
            try:
                fcntl.ioctl(self.fd, EVIOCGRAB, 1)
                self.grabbed = True
            except OSError as error:     # grabbed by someone else (an X server, another agent)
                os.close(self.fd)
                self.fd = None
                raise OSError(f"{self.path}: cannot grab the device ({error})") from error
        return self

    def close(self):
        if self.fd is not None:
            if self.grabbed:
                with contextlib.suppress(OSError):
                    fcntl.ioctl(self.fd, EVIOCGRAB, 0)
            os.close(self.fd)
            self.fd, self.grabbed = None, False

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def events(self, data: bytes):
        data = self._rest + data
        whole = len(data) - len(data) % EVENT.size
        self._rest = data[whole:]
        for sec, usec, etype, code, value in EVENT.iter_unpack(data[:whole]):
            yield sec + usec / 1e6, etype, code, value

    def read(self, timeout: float | None = 1.0) -> list[Scan]:
        """Scans typed within timeout; [] at the end of a recording or when the time is up."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.eof:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], 0.05 if left is None else min(left, 0.05))
            if ready:
                try:
                    data = os.read(self.fd, EVENT.size * 64)
                except BlockingIOError:
                    data = None
                if data == b"":
                    self.eof = True
                    return self.decoder.flush(float("inf"))
                scans = self.decoder.feed(self.events(data)) if data else []
            else:   # gap framing: event time is the kernel's clock, close enough to wall time
                scans = self.decoder.flush(time.time())
            if scans:
                return scans
            if deadline is not None and time.monotonic() >= deadline:
                break
        return []


def input_devices() -> list[dict]:
    """Keyboard-like input devices: [{path, name}] (names through the evdev package if present)."""
    out = []
    for path in sorted(p for p in os.listdir("/dev/input") if p.startswith("event")) if os.path.isdir("/dev/input") else []:
        name = ""
        with contextlib.suppress(Exception):
            import evdev
            name = evdev.InputDevice(f"/dev/input/{path}").name
        out.append({"path": f"/dev/input/{path}", "name": name})
    return out
