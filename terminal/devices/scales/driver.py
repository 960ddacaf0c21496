"""Scale driver: a pyserial `serial_for_url` port (tty, pty, socket://, rfc2217://) or a hidraw
device, plus the codec of the profile's protocol. Polls when the protocol needs it, sends zero
and tare, and when the port vanishes reconnects with backoff and says so through `say`.
"""

import contextlib
import logging
import os
import time

import serial

from terminal.devices.reconnect import reopen_with_backoff, take

from . import codec_for, hidpos, massak, mtsics
from .reading import Reading

log = logging.getLogger("cellwms.scales")


class ScaleDriver:
    def __init__(self, profile: dict, url: str, say=None, backoff: tuple[float, float] = (0.05, 2.0)):
        self.profile, self.url = profile, url
        self.protocol = profile["protocol"]
        self.codec = codec_for(self.protocol, profile.get("unit", "kg"))
        self.poll_interval = float(profile.get("poll_interval", 0.2))
        self.say = say or log.warning
        self.backoff = backoff
        self.port = None
        self.reconnects = 0
        self._last_poll = 0.0
        self._hid_fd = None
        self._hid_data = False  # a report came since the device was opened

    # ---- transport ----
    def open(self):
        if self.protocol == "hid-pos":
            self._hid_fd = os.open(self.url, os.O_RDONLY | os.O_NONBLOCK)
            self._hid_data = False
            return self
        parity = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}[self.profile.get("parity", "N")]
        self.port = serial.serial_for_url(self.url, baudrate=self.profile.get("baudrate", 9600),
                                          bytesize=self.profile.get("bytesize", 8), parity=parity,
                                          stopbits=self.profile.get("stopbits", 1), timeout=0.05)
        if self.protocol == "mt-sics" and self.profile.get("mode") == "continuous":
            self.port.write(mtsics.request_repeat())
        return self

    def close(self):
        if self.port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                self.port.close()
            self.port = None
        if self._hid_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._hid_fd)
            self._hid_fd = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def _reconnect(self, error, deadline: float) -> bool:
        self.say(f"scale {self.url}: lost ({error}); reconnecting")
        self.close()
        tries = reopen_with_backoff(self.open, deadline, self.backoff, (OSError, serial.SerialException))
        if tries is None:
            return False
        self.reconnects += 1
        if hasattr(self.codec, "buffer"):
            self.codec.buffer = b""  # a frame cut by the unplug is not a reading
        self.say(f"scale {self.url}: reconnected after {tries} tries")
        return True

    # ---- commands ----
    def _request(self) -> bytes:
        if self.profile.get("mode") == "continuous" or self.protocol in ("cas", "hid-pos"):
            return b""
        return {"mt-sics": mtsics.request_immediate, "toledo-8217": lambda: self.codec.encode("weight"),
                "massa-k-100": massak.get_massa}[self.protocol]()

    def _command(self, name: str) -> bytes:
        if self.protocol == "mt-sics":
            return {"zero": mtsics.zero, "tare": mtsics.tare, "clear": lambda: mtsics.tare_preset(0, self.codec.unit)}[name]()
        if self.protocol == "toledo-8217":
            return self.codec.encode(name)
        if self.protocol == "massa-k-100" and name in ("zero", "tare"):
            return massak.zero() if name == "zero" else massak.tare(self.codec.last_raw)
        raise ValueError(f"{self.profile.get('model', self.protocol)}: no {name} command over {self.protocol}")

    def send(self, name: str):
        """zero, tare or clear (tare), where the protocol has it."""
        self._write(self._command(name))

    def zero(self):
        self.send("zero")

    def tare(self):
        self.send("tare")

    def _write(self, data: bytes):
        if data and self.port is not None:
            self.port.write(data)

    # ---- readings ----
    def read(self, timeout: float = 1.0) -> list[Reading]:
        """Readings that arrive within timeout (returns as soon as there are some)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.port is None and self._hid_fd is None:
                    raise serial.SerialException("not open")
                now = time.monotonic()
                if now - self._last_poll >= self.poll_interval:
                    self._last_poll = now
                    self._write(self._request())
                if self._hid_fd is not None:
                    data = self._read_hid()
                else:
                    data = self.port.read(max(1, self.port.in_waiting))
                readings = self.codec.feed(data) if data else []
                if readings:
                    return readings
            except (OSError, serial.SerialException) as error:
                if not self._reconnect(error, deadline):
                    return []
            if time.monotonic() >= deadline:
                return []

    def _read_hid(self) -> bytes:
        """Whole reports from the hidraw node (or a FIFO standing in for one); b"" when none yet.

        A real hidraw node fails with ENODEV when unplugged; a FIFO gives end of file when its
        writer goes away. Either, or the path vanishing, is "lost" for the reconnect path. End of
        file before the first report only means the writer has not opened it yet: wait.
        """
        try:
            data = os.read(self._hid_fd, hidpos.SIZE * 10)  # a multiple of the report: never split one
        except BlockingIOError:  # open, nothing to read yet
            data, eof = b"", False
        else:
            eof = not data
        if data:
            self._hid_data = True
            return data
        if not os.path.exists(self.url):
            raise FileNotFoundError(f"{self.url} is gone")
        if eof and self._hid_data:
            raise ConnectionError("end of file: the device went away")
        time.sleep(0.02)  # nothing read: no busy loop
        return b""

    def readings(self, count: int | None = None, timeout: float = 5.0):
        """Yield readings until `count` are out; stop when none comes for `timeout` seconds."""
        yield from take(self.read, count, timeout)

    def stable_weight(self, timeout: float = 5.0) -> Reading | None:
        """The next stable reading, or None when the scale does not settle in time."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for reading in self.read(left):
                if reading.stable:
                    return reading
        return None
