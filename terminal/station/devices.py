"""Station devices: one supervised `StationDevice` per device of the station profile.

Each reads its device in its own thread, reopens it with backoff when it goes away, keeps its
health (`up`, `down`, `degraded`, with the reason and since when) and emits a `device_status`
event on every change, turns input into events and runs the jobs it can (docs/station-protocol.md):

- `ScannerDevice`  serial/USB-CDC (SerialScanner) or keyboard wedge (EvdevScanner) -> `scan`
  events: `raw_b64` = AIM identifier + data, prefix and suffix removed, GS restored; `symbology`
  = the AIM identifier ("" when the scanner sends none).
- `ScaleDevice`    ScaleDriver -> `weight` events for stable readings when the stable weight
  changes (zero is not sent, but after zero the same load counts again); job `read_weight`.
- `PrinterDevice`  job `print`: render locally, wait while the printer is not ready (health
  degraded with the reason), then PrinterSpool; `paper_out` / `head_open` after `max_wait`; `beep`.
- `CameraDevice`   jobs `photo` (JPEG in the media dir, `photo` event with media=path),
  `record_start` / `record_stop` (ClipRecorder fed by the reading thread, `clip` events). A camera
  lost mid-clip closes the clip (playable, partial=True), emits it, goes down, reconnects and
  records on into a new part until `record_stop`.

`emit(kind, payload, media=None)` is the agent's, bound to this device (see __init__.py).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("cellwms.station")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Backoff:
    def __init__(self, limits: tuple[float, float]):
        self.first, self.most = limits
        self.delay = self.first

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, self.most)
        return delay

    def reset(self) -> None:
        self.delay = self.first


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


# ---- scanner ------------------------------------------------------------------------------------

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
        backoff = Backoff(self.backoff)
        while not self._stop.is_set():
            try:
                self.driver = self._open()
            except Exception as error:  # noqa: BLE001 - OSError, SerialException: say why, retry
                self._set_health("down", f"cannot open {self.url}: {error}")
                self._stop.wait(backoff.next())
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
                self._stop.wait(backoff.next())
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


# ---- scale --------------------------------------------------------------------------------------

class ScaleDevice(StationDevice):
    kind = "scale"
    jobs = ("read_weight",)
    silence = 5.0  # seconds without a reading on an open port: degraded

    def __init__(self, spec):
        super().__init__(spec)
        self.emit_zero = bool(self.options.get("emit_zero", False))
        self.read_timeout = float(self.options.get("read_timeout", 5.0))
        self.driver = None
        self.current = None          # the last Reading
        self.current_at = 0.0
        self.last_sent = None        # (value, unit, net, tare) of the last stable weight seen
        self.readings = 0
        self._cond = threading.Condition()

    def _supervise(self) -> None:
        from terminal.devices.scales.driver import ScaleDriver

        backoff = Backoff(self.backoff)
        while not self._stop.is_set():
            try:
                self.driver = ScaleDriver(self.spec.model, self.url, say=self._driver_said, backoff=self.backoff).open()
            except Exception as error:  # noqa: BLE001 - OSError, SerialException: say why, retry
                self._set_health("down", f"cannot open {self.url}: {error}")
                self._stop.wait(backoff.next())
                continue
            backoff.reset()
            self._set_health("up", "")
            last_data = time.monotonic()
            try:
                while not self._stop.is_set():
                    readings = self.driver.read(0.5)
                    for reading in readings:
                        self._reading(reading)
                    now = time.monotonic()
                    if readings:
                        last_data = now
                        if self.health()["state"] != "up":
                            self._set_health("up", "")
                    elif self.driver.port is None and self.driver._hid_fd is None:
                        self._set_health("down", f"{self.url}: not there; reopening")
                    elif now - last_data > self.silence:
                        self._set_health("degraded", f"no readings for {self.silence:g} s")
            except Exception as error:  # noqa: BLE001
                self._set_health("down", f"{self.url}: {error}")
                self._stop.wait(backoff.next())
            finally:
                self._close()

    def _reading(self, reading) -> None:
        with self._cond:
            self.current, self.current_at = reading, time.monotonic()
            self.readings += 1
            self._cond.notify_all()
        if not reading.stable:
            return
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

    def _close(self) -> None:
        driver, self.driver = self.driver, None
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.close()


def weight_payload(reading) -> dict:
    return {"value": reading.value, "unit": reading.unit, "net": reading.net, "tare": reading.tare}


# ---- printer ------------------------------------------------------------------------------------

ESC_B = b"\x1bB"  # ESC B n t: n beeps of t x 50 ms (Xprinter, Rongta, Star-compatible buzzers)


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
        from printers.status import StatusError, query_status
        from printers.transports import TransportError, open_transport

        if not self.reports_status:
            return "up", "", None
        try:
            with open_transport(self.url, timeout=self.io_timeout) as transport:
                status = query_status(transport, self.protocol, min(2.0, self.io_timeout))
        except (TransportError, OSError) as error:
            return "down", str(error), None
        except StatusError as error:
            return "degraded", f"bad status answer: {error}", None
        if status.ready:
            return "up", "", status
        return "degraded", ", ".join(status.problems()), status

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
                state, detail, status = self._check()
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
                result = self.spool.print(data)  # waits (health degraded, with why) while the printer is not ready
            except SpoolError as error:
                return self._gave_up("degraded", str(error), error.status)
            finally:
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
        from printers.transports import TransportError, open_transport

        if not self.spec.can_beep:
            return failed(f"beep not supported by {self.profile.name} ({self.profile.language})")
        times = 1 if payload.get("sound", "ok") == "ok" else 3
        try:
            with self._io, open_transport(self.url, timeout=self.io_timeout) as transport:
                transport.write(ESC_B + bytes([times, 2]))
        except (TransportError, OSError) as error:
            return failed(f"cannot beep: {error}")
        return {"result": "done", "detail": f"{times} beep(s)"}


# ---- camera -------------------------------------------------------------------------------------

def write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]


class CameraDevice(StationDevice):
    kind = "camera"
    jobs = ("photo", "record_start", "record_stop")

    def __init__(self, spec, station: str = "station", media_dir: str | Path | None = None):
        super().__init__(spec)
        self.profile = spec.model
        self.role = spec.role
        folder = media_dir or self.options.get("media_dir") or Path(tempfile.gettempdir()) / f"cellwms-{station}-media"
        self.media_dir = Path(folder)
        self.quality = int(self.options.get("still_quality", self.profile.still_quality))
        self.frame_timeout = float(self.options.get("frame_timeout", 5.0))
        self.camera = None
        self.frames = 0
        self._frame = None
        self._cond = threading.Condition()
        self._clip: dict | None = None  # session, job_id, part, recorder (None while the camera is away)
        self._clip_lock = threading.Lock()

    def _supervise(self) -> None:
        from terminal.devices.camera import Camera, CameraError

        backoff = Backoff(self.backoff)
        while not self._stop.is_set():
            try:
                self.camera = Camera(self.url, self.profile)
                frame = self.camera.read()
                if frame is None:
                    raise CameraError(f"no frames from {self.url}")
            except (CameraError, OSError) as error:
                self._close()
                self._set_health("down", str(error))
                self._stop.wait(backoff.next())
                continue
            backoff.reset()
            self._set_health("up", "")
            self._resume_clip()
            why = "camera stopped delivering frames"
            try:
                while frame is not None and not self._stop.is_set():
                    self._on_frame(frame)
                    frame = self.camera.read()
            except Exception as error:  # noqa: BLE001 - cv2.error from a broken stream
                why = f"camera failed: {error}"
            self._close()
            if self._stop.is_set():
                break
            self._gone(why)
            self._stop.wait(backoff.next())

    def _on_frame(self, frame) -> None:
        with self._cond:
            self._frame = frame
            self.frames += 1
            self._cond.notify_all()
        with self._clip_lock:
            if self._clip is not None and self._clip["recorder"] is not None:
                self._clip["recorder"].write(frame)

    def _gone(self, why: str) -> None:
        """The camera went away: close the clip (playable, partial) and say so; then down."""
        with self._clip_lock:
            clip = self._clip
            if clip is not None and clip["recorder"] is not None:
                self._finish_clip(clip, partial=True)
                clip["recorder"] = None
        self._set_health("down", why)

    def _close(self) -> None:
        camera, self.camera = self.camera, None
        if camera is not None:
            with contextlib.suppress(Exception):
                camera.close()

    def stop(self) -> None:
        super().stop()
        with self._clip_lock:
            clip, self._clip = self._clip, None
            if clip is not None and clip["recorder"] is not None:
                self._finish_clip(clip, partial=True)

    # photo
    def _next_frame(self):
        with self._cond:
            seen = self.frames
            if not self._cond.wait_for(lambda: self.frames > seen, self.frame_timeout):
                return None
            return self._frame

    def _job_photo(self, job: dict, payload: dict) -> dict:
        from terminal.devices.camera import encode_jpeg

        frame = self._next_frame()
        if frame is None:
            health = self.health()
            return failed(f"no frame within {self.frame_timeout:g} s ({health['state']}: {health['detail']})")
        jpeg = encode_jpeg(frame, self.quality)
        self.media_dir.mkdir(parents=True, exist_ok=True)
        path = self.media_dir / f"photo-{self.name}-{stamp()}-{uuid.uuid4().hex[:8]}.jpg"
        write_durably(path, jpeg)
        sha = hashlib.sha256(jpeg).hexdigest()
        payload = {"media": sha, "size": len(jpeg), "role": self.role, "job_id": job.get("id")}
        self._send("photo", payload, media=str(path))
        return {"result": "done", "detail": "", "media": sha, "size": len(jpeg), "path": str(path)}

    # clips
    def _recorder(self, clip: dict):
        from terminal.devices.camera import ClipRecorder

        session = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(clip["session"]))[:60] or "clip"
        path = self.media_dir / f"clip-{self.name}-{session}-{stamp()}-{clip['part']}{self.profile.clip_extension}"
        return ClipRecorder.for_profile(path, self.profile)

    def _resume_clip(self) -> None:
        with self._clip_lock:
            if self._clip is not None and self._clip["recorder"] is None:
                self._clip["part"] += 1
                self._clip["recorder"] = self._recorder(self._clip)

    def _job_record_start(self, job: dict, payload: dict) -> dict:
        with self._clip_lock:
            if self._clip is not None:
                return failed(f"already recording session {self._clip['session']!r}")
            health = self.health()
            if health["state"] == "down":
                return failed(f"camera is down: {health['detail']}")
            self.media_dir.mkdir(parents=True, exist_ok=True)
            clip = {"session": payload.get("session") or "", "job_id": job.get("id"), "part": 1, "recorder": None}
            clip["recorder"] = self._recorder(clip)
            self._clip = clip
        return {"result": "done", "detail": f"recording {clip['recorder'].path.name}"}

    def _job_record_stop(self, job: dict, payload: dict) -> dict:
        with self._clip_lock:
            clip, self._clip = self._clip, None
            if clip is None:
                return failed("not recording")
            sent = self._finish_clip(clip, partial=False) if clip["recorder"] is not None else []
        frames = sum(item["frames"] for item in sent)
        return {"result": "done", "detail": f"{len(sent)} clip file(s), {frames} frames",
                "media": [item["media"] for item in sent], "frames": frames}

    def _finish_clip(self, clip: dict, partial: bool) -> list[dict]:
        """Close the recorder; a `clip` event per file written. Caller holds _clip_lock."""
        recorder = clip["recorder"]
        paths = recorder.close()
        sent = []
        for path, frames in zip(paths, recorder.frame_counts, strict=True):
            if not frames or not path.exists():
                continue
            with open(path, "rb") as written:
                os.fsync(written.fileno())
            payload = {"media": file_sha256(path), "size": path.stat().st_size, "role": self.role,
                       "frames": frames, "partial": partial, "job_id": clip["job_id"], "session": clip["session"]}
            self._send("clip", payload, media=str(path))
            sent.append(payload)
        return sent


def make_device(spec, station: str = "station", media_dir: str | Path | None = None) -> StationDevice:
    if spec.kind == "camera":
        return CameraDevice(spec, station, media_dir)
    return {"scanner": ScannerDevice, "scale": ScaleDevice, "printer": PrinterDevice}[spec.kind](spec)
