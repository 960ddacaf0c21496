"""`ScaleDevice`: ScaleDriver -> `weight` events for stable readings when the stable weight
changes (zero is not sent, but after zero the same load counts again); job `read_weight`.
A load that stays in motion for `settle_timeout` seconds (option, default 4) turns the scale's
health `degraded` with the detail `not_settling` until a stable reading comes; a load over the
scale's capacity, `overload`.
"""

from __future__ import annotations

import threading
import time

from terminal.devices.scales.reading import MOTION, OVERLOAD

from .base import DriverDevice, failed


class ScaleDevice(DriverDevice):
    kind = "scale"
    jobs = ("read_weight",)
    silence = 5.0  # seconds without a reading on an open port: degraded

    def __init__(self, spec):
        super().__init__(spec)
        self.emit_zero = bool(self.options.get("emit_zero", False))
        self.read_timeout = float(self.options.get("read_timeout", 5.0))
        self.settle_timeout = float(self.options.get("settle_timeout", 4.0))
        self.moving_since = None     # monotonic time of the first reading of a load still in motion
        self.current = None          # the last Reading
        self.current_at = 0.0
        self.last_sent = None        # (value, unit, net, tare) of the last stable weight seen
        self.readings = 0
        self._cond = threading.Condition()

    def _open(self):
        from terminal.devices.scales.driver import ScaleDriver

        return ScaleDriver(self.spec.model, self.url, say=self._driver_said, backoff=self.backoff).open()

    def _read(self) -> None:
        last_data = time.monotonic()
        while not self._stop.is_set():
            readings = self.driver.read(0.5)
            for reading in readings:
                self._reading(reading)
            now = time.monotonic()
            if readings:
                last_data = now
                problem = self._problem(readings[-1], now)
                if problem:
                    self._set_health("degraded", problem, new_detail=True)
                elif self.health()["state"] != "up":
                    self._set_health("up", "")
            elif self.driver.port is None and self.driver._hid_fd is None:
                self._set_health("down", f"{self.url}: not there; reopening")
            elif now - last_data > self.silence:
                self._set_health("degraded", f"no readings for {self.silence:g} s")

    def _problem(self, reading, now: float) -> str:
        """What keeps the load from being weighed, by name (the server words it), or ""."""
        if reading.status == OVERLOAD:
            return "overload"
        if self.moving_since is not None and now - self.moving_since >= self.settle_timeout:
            return "not_settling"
        return ""

    def _reading(self, reading) -> None:
        with self._cond:
            self.current, self.current_at = reading, time.monotonic()
            self.readings += 1
            self._cond.notify_all()
        if not reading.stable:
            if reading.status == MOTION and reading.value != 0 and self.moving_since is None:
                self.moving_since = time.monotonic()
            return
        self.moving_since = None
        key = (reading.value, reading.unit, reading.net, reading.tare)
        if key == self.last_sent:
            return
        self.last_sent = key
        if reading.value == 0 and not self.emit_zero:
            return  # an empty platform is not a weight; the next load counts as new
        self._send("weight", weight_payload(reading))

    def _job_read_weight(self, job: dict, payload: dict) -> dict:
        timeout = float(payload.get("timeout") or self.read_timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                reading = self.current
                if reading is not None and reading.stable and time.monotonic() - self.current_at < 1.0:
                    return {"result": "done", "detail": "", "weight": weight_payload(reading)}
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        health = self.health()
        if health["state"] == "down":
            return failed(f"scale is down: {health['detail']}")
        status = reading.status if reading is not None else "no readings"
        return failed(f"no stable weight within {timeout:g} s (last: {status})")


def weight_payload(reading) -> dict:
    return {"value": reading.value, "unit": reading.unit, "net": reading.net, "tare": reading.tare}

