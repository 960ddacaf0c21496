"""A serial scale on a pty, for each serial scale protocol, built on the codecs' frame definitions.

The scale is reached through a stable symlink (`link`) to the current pty slave, so `unplug()`
can close the pty (the driver sees the port vanish) and `replug()` re-points the link to a new
pty, as a USB serial adapter that comes back as the same /dev/serial/by-id path.
Physics: `put(kg)` loads the platform; the reading settles exponentially (settle seconds) with
noise while moving, then is stable on the division grid. Zero, tare, overload above capacity,
under zero below zero. Faults: `garbage(bytes)`, `partial()` (next frame cut short), unplug/replug,
`motion()` (the load never settles, like a parcel rocking on the platform, until `put` or `motion(False)`).

`HidScaleEmulator` stands in for a USB HID POS scale's /dev/hidrawN node: a FIFO at `link`
that gets one 6-byte report (`hidpos.report`) per poll interval. unplug() removes the FIFO and
stops writing (the reader sees end of file, then no path); replug() makes it again.
"""

import contextlib
import math
import os
import random
import select
import struct
import tempfile
import threading
import time
from pathlib import Path

from terminal.devices.scales import cas, hidpos, massak, mtsics, toledo8217
from terminal.emulators.pty_port import PtyPort

SERIAL_PROTOCOLS = ("mt-sics", "toledo-8217", "cas", "massa-k-100")


class ScaleEmulator:
    protocols = SERIAL_PROTOCOLS
    kind = "pty"

    def __init__(self, profile: dict, link: str | None = None, settle: float = 0.3, seed: int = 0):
        if profile["protocol"] not in self.protocols:
            raise ValueError(f"no {self.kind} emulator for protocol {profile['protocol']!r} "
                             f"(only: {', '.join(self.protocols)})")
        self.profile = profile
        self.protocol = profile["protocol"]
        self.unit = profile.get("unit", "kg")
        self.division = float(profile["division"])
        self.capacity = float(profile["capacity"])
        self.decimals = int(profile.get("decimals", 3))
        self.period = float(profile.get("poll_interval", 0.1))
        self.settle = settle
        self.rng = random.Random(seed)
        self.link = Path(link or Path(tempfile.mkdtemp(prefix="cellwms-scale-")) / "scale")
        self.lock = threading.RLock()
        self.load, self.shown, self.since = 0.0, 0.0, time.monotonic()
        self.zero_offset, self.tare_value = 0.0, 0.0
        self.streaming = self.protocol == "cas"
        self._garbage, self._partial = b"", False
        self._moving = False
        self.pty = PtyPort(self.link)
        self._stop = threading.Event()
        self._thread = None
        self.received = bytearray()

    # ---- life cycle ----
    def start(self):
        self.pty.open()
        self._thread = threading.Thread(target=self._run, daemon=True, name="scale-emulator")
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        self.pty.remove()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> str:
        return str(self.link)

    # ---- faults ----
    def unplug(self):
        self.pty.unplug()

    def replug(self):
        self.pty.replug()

    def garbage(self, data: bytes = b"\x00\xff#noise\xf8\x55"):
        with self.lock:
            self._garbage += data

    def partial(self):
        with self.lock:
            self._partial = True

    # ---- physics ----
    def put(self, kg: float):
        with self.lock:
            self.load, self.since, self._moving = kg, time.monotonic(), False

    def set_weight(self, kg: float):
        self.put(kg)

    def motion(self, on: bool = True):
        """The load rocks (never stable) until `motion(False)`, then settles as after `put`."""
        with self.lock:
            self._moving = on
            self.since = time.monotonic()

    def _state(self):
        """(value on display, stable, overload)."""
        with self.lock:
            t = time.monotonic() - self.since
            gross = self.load - self.zero_offset
            if self._moving:  # rocking around the load
                value, stable = gross + self.rng.uniform(-3, 3) * self.division, False
            elif t < self.settle:
                moving = gross + (self.shown - gross) * math.exp(-5 * t / self.settle)
                value = moving + self.rng.uniform(-3, 3) * self.division
                stable = False
            else:
                value, stable = gross, True
            self.shown = value if not stable else gross
            overload = self.load > self.capacity + 9 * self.division
            net = value - self.tare_value
            return round(round(net / self.division) * self.division, self.decimals), stable, overload

    def _zero(self):
        with self.lock:
            if self._state()[1]:
                self.zero_offset, self.tare_value = self.load, 0.0
                return True
            return False

    def _tare(self, value=None):
        with self.lock:
            value_now, stable, _ = self._state()
            if value is not None:
                self.tare_value = value
                return True
            if stable and value_now > 0:
                self.tare_value += value_now
                return True
            return False

    # ---- frames ----
    def frame(self) -> bytes:
        value, stable, over = self._state()
        net = self.tare_value > 0
        d = self.decimals
        if self.protocol == "mt-sics":
            if over:
                return b"S +\r\n"
            return b"S -\r\n" if value < 0 and stable else mtsics.weight_frame(stable, value, self.unit, d)
        if self.protocol == "toledo-8217":
            if over or value < 0 or not stable:
                bits = toledo8217.OVER_BIT if over else toledo8217.UNDER_BIT if value < 0 else toledo8217.MOTION_BIT
                return toledo8217.status_frame(bits)
            return toledo8217.weight_frame(value, d)
        if self.protocol == "cas":
            if over:
                return cas.frame("OL", "NT" if net else "GS", None, self.unit, d)
            return cas.frame("ST" if stable else "US", "NT" if net else "GS", value, self.unit, d)
        if over:
            return massak.error(massak.ERR_OVERLOAD)
        raw = round(value * 1000)  # division code 1: grams
        return massak.ack_massa(raw, 1, stable, net, raw == 0, tare=round(self.tare_value * 1000))

    def _answer(self, data: bytes) -> bytes:
        """Replies to what the host sent (the bytes are kept in self.received)."""
        out = b""
        if self.protocol == "mt-sics":
            *lines, rest = data.split(b"\n")
            for raw in lines:
                cmd = raw.strip().split()
                word = cmd[0].decode(errors="replace") if cmd else ""
                if word in ("S", "SI"):
                    out += self.frame()
                elif word == "SIR":
                    self.streaming = True
                elif word == "Z":
                    out += b"Z A\r\n" if self._zero() else b"Z I\r\n"
                elif word == "T":
                    out += mtsics.tare_frame(self.tare_value, self.unit, self.decimals) if self._tare() else b"T I\r\n"
                elif word == "TA":
                    if len(cmd) >= 2:
                        self._tare(float(cmd[1]))
                    out += mtsics.tare_frame(self.tare_value, self.unit, self.decimals, "TA")
                elif word == "@":
                    self.streaming = False
                    out += mtsics.info_frame("I4", "B021002593")
                elif word == "I2":
                    out += mtsics.info_frame("I2", f"{self.profile.get('model', 'emulated')} {self.capacity} {self.unit}")
                elif word == "I4":
                    out += mtsics.info_frame("I4", "B021002593")
                elif word:
                    out += b"ES\r\n"
            return out, rest
        if self.protocol == "toledo-8217":
            for ch in data:
                c = chr(ch & 0x7F)
                if c == "W":
                    out += self.frame()
                elif c == "Z":
                    self._zero()
                    out += toledo8217.status_frame(self._status_bits())
                elif c == "T":
                    self._tare()
                    out += toledo8217.status_frame(self._status_bits())
                elif c == "C":
                    self.tare_value = 0.0
                    out += toledo8217.status_frame(self._status_bits())
            return out, b""
        if self.protocol == "massa-k-100":
            bodies, rest = massak.split_frames(data)
            for body in bodies:
                if body[0] == massak.CMD_GET_MASSA:
                    out += self.frame()
                elif body[0] == massak.CMD_SET_ZERO:
                    out += massak.reply(massak.CMD_ACK_SET) if self._zero() else massak.error(0x15)
                elif body[0] == massak.CMD_SET_TARE and len(body) == 5:
                    (raw,) = struct.unpack_from("<i", body, 1)
                    ok = self._tare(raw / 1000 if raw else None)
                    out += massak.reply(massak.CMD_ACK_SET_TARE if ok else massak.CMD_NACK_TARE)
                else:
                    out += massak.reply(massak.CMD_NACK)
            return out, rest
        return b"", b""  # CAS streams and takes no commands

    def _status_bits(self) -> int:
        value, stable, over = self._state()
        bits = (0 if stable else toledo8217.MOTION_BIT) | (toledo8217.OVER_BIT if over else 0)
        bits |= toledo8217.UNDER_BIT if value < 0 else 0
        return bits | (toledo8217.CENTER_ZERO_BIT if value == 0 else 0)

    def _send(self, fd, data: bytes):
        with self.lock:
            if self._garbage:
                data, self._garbage = self._garbage + data, b""
            if self._partial and data:
                data, self._partial = data[:max(1, len(data) // 2)], False
        with contextlib.suppress(OSError):
            os.write(fd, data)

    def _run(self):
        pending = b""
        next_stream = time.monotonic()
        while not self._stop.is_set():
            fd = self.pty.master
            if fd is None:
                time.sleep(0.02)
                continue
            try:
                ready, _, _ = select.select([fd], [], [], 0.02)
                if ready:
                    data = os.read(fd, 1024)
                    self.received += data
                    reply, pending = self._answer(pending + data)
                    if reply:
                        self._send(fd, reply)
            except (OSError, ValueError):
                time.sleep(0.02)  # unplugged under us, or no reader yet
                continue
            if self.streaming and time.monotonic() >= next_stream:
                next_stream = time.monotonic() + self.period
                self._send(fd, self.frame())


class HidScaleEmulator(ScaleEmulator):
    """A USB HID POS scale (protocol hid-pos) on a FIFO standing in for /dev/hidrawN.

    Same physics as ScaleEmulator (`put`, settle, overload, under zero); `motion(True)` keeps the
    platform moving (never stable) until `motion(False)` or the next `put`. No zero or tare: a HID
    POS scale takes none over USB. Reports are written whole (6 bytes < PIPE_BUF, so atomic);
    when no reader is there, or the pipe is full, a report is dropped as a real scale's would be.
    """

    protocols = ("hid-pos",)
    kind = "hidraw"

    def __init__(self, profile: dict, link: str | None = None, settle: float = 0.3, seed: int = 0):
        super().__init__(profile, link, settle, seed)
        if link is None:
            self.link = self.link.with_name("hidraw")
        self.period = float(profile.get("poll_interval", 0.2))
        self.exponent = -self.decimals
        self._fd = None
        self._plugged = False
        self.sent = 0

    # ---- life cycle ----
    def start(self):
        self._make_fifo()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hid-scale-emulator")
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        self.unplug()

    def _make_fifo(self):
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        os.mkfifo(self.link)
        with self.lock:
            self._plugged = True

    def _close_fd(self):
        with self.lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    # ---- faults ----
    def unplug(self):
        with self.lock:
            self._plugged = False
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        self._close_fd()

    def replug(self):
        self._make_fifo()

    # ---- reports ----
    def frame(self) -> bytes:
        with self.lock:
            value, stable, over = self._state()
        if over:
            return hidpos.report(6, self.unit, self.exponent, 0)
        raw = round(abs(value) * 10 ** self.decimals)
        if value < 0:
            status = 5
        elif not stable:
            status = 3
        else:
            status = 2 if raw == 0 else 4
        return hidpos.report(status, self.unit, self.exponent, raw)

    def _connect(self):
        """Open the FIFO for writing once a reader has it open (ENXIO until then)."""
        with self.lock:
            if not self._plugged or self._fd is not None:
                return self._fd
        try:
            fd = os.open(self.link, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return None
        with self.lock:
            if self._plugged and self._fd is None:
                self._fd = fd
                return fd
        os.close(fd)
        return None

    def _send(self, fd, data: bytes):
        with self.lock:
            if self._garbage:
                data, self._garbage = self._garbage + data, b""
            if self._partial and data:
                data, self._partial = data[:max(1, len(data) // 2)], False
        try:
            os.write(fd, data)
            self.sent += 1
        except BlockingIOError:
            pass  # nobody reading fast enough: the report is lost
        except OSError:
            self._close_fd()  # the reader went away (EPIPE): wait for the next one

    def _run(self):
        next_report = time.monotonic()
        while not self._stop.is_set():
            fd = self._connect()
            if fd is None:
                time.sleep(0.01)
                continue
            now = time.monotonic()
            if now < next_report:
                time.sleep(min(0.01, next_report - now))
                continue
            next_report = now + self.period
            self._send(fd, self.frame())
