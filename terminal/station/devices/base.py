"""What every station device supervisor shares: the thread, health and events.

A `StationDevice` reads its device in its own thread (`_supervise`), reopens it with backoff when
it goes away, keeps its health (`up`, `down`, `degraded`, with the reason and since when) and
emits a `device_status` event on every change. `emit(kind, payload, media=None)` is the agent's,
bound to this device (see terminal/station/__init__.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, datetime

from terminal.backoff import Backoff

log = logging.getLogger("cellwms.station")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def failed(detail: str, **extra) -> dict:
    return {"result": "failed", "detail": detail, **extra}


class StationDevice:
    kind = ""
    jobs: tuple[str, ...] = ()

    def __init__(self, spec):
        self.spec, self.name, self.url = spec, spec.name, spec.url
        self.options = spec.options
        self.backoff = (float(self.options.get("backoff_min", 0.05)), float(self.options.get("backoff_max", 5.0)))
        self._emit = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._health_lock = threading.Lock()
        self._health = {"kind": self.kind, "state": "down", "detail": "not started", "since": now_iso()}
        self._reported = False

    # ---- the contract ----
    def start(self, emit):
        self._emit = emit
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name=f"device-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._close()

    def health(self) -> dict:
        with self._health_lock:
            return dict(self._health)

    def run_job(self, job: dict) -> dict:
        kind = job.get("kind")
        if kind not in self.jobs:
            return failed(f"{self.kind} {self.name} does not run {kind!r} jobs")
        try:
            return getattr(self, f"_job_{kind}")(job, job.get("payload") or {})
        except Exception as error:  # noqa: BLE001 - a job result says what went wrong
            log.exception("%s: %s job failed", self.name, kind)
            return failed(f"{type(error).__name__}: {error}")

    # ---- for subclasses ----
    def _supervise(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    def _set_health(self, state: str, detail: str = "", *, new_detail: bool = False) -> None:
        """Change health; a device_status event goes out when the state changes (or, with
        `new_detail`, the reason does). The first report always goes out."""
        with self._health_lock:
            old = self._health
            same = old["state"] == state and (old["detail"] == detail or not new_detail)
            if same and self._reported:
                return
            since = old["since"] if old["state"] == state and self._reported else now_iso()
            self._health = {"kind": self.kind, "state": state, "detail": detail, "since": since}
            self._reported = True
        log.info("%s %s: %s %s", self.kind, self.name, state, detail)
        self._send("device_status", {"state": state, "detail": detail, "device_kind": self.kind})

    def _send(self, kind: str, payload: dict, media: str | None = None):
        if self._emit is None:
            return None
        try:
            return self._emit(kind, payload, media=media) if media else self._emit(kind, payload)
        except Exception:  # noqa: BLE001 - a failing outbox must not kill the device thread
            log.exception("%s: cannot queue %s event", self.name, kind)
            return None

    def _driver_said(self, message: str) -> None:
        """The drivers' `say`: "... lost (...); reconnecting" / "... reconnected after N tries"."""
        log.debug("%s: %s", self.name, message)
        if "reconnected" in message:
            self._set_health("up", "")
        elif "lost" in message:
            self._set_health("down", message)



class DriverDevice(StationDevice):
    """A device read through a driver (scanner, scale): `_open()` returns the opened driver,
    `_read()` reads it until stopped or it fails; then it is closed and, after a backoff step,
    opened again."""

    driver = None

    def _open(self):
        raise NotImplementedError

    def _read(self) -> None:
        raise NotImplementedError

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
                self._read()
            except Exception as error:  # noqa: BLE001 - evdev: ENODEV when unplugged
                self._set_health("down", f"{self.url}: {error}")
                backoff.wait()
            finally:
                self._close()

    def _close(self) -> None:
        close_quietly(self, "driver")


def close_quietly(device, attribute: str) -> None:
    """Close and forget `device.<attribute>` (a driver or camera); closing errors do not matter."""
    driver = getattr(device, attribute)
    setattr(device, attribute, None)
    if driver is not None:
        with contextlib.suppress(Exception):
            driver.close()
