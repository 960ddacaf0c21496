"""`CameraDevice`: jobs `photo` (JPEG in the media dir, `photo` event with media=path),
`record_start` / `record_stop` (ClipRecorder fed by the reading thread, `clip` events). A camera
lost mid-clip closes the clip (playable, partial=True), emits it, goes down, reconnects and
records on into a new part until `record_stop`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from terminal.backoff import Backoff

from .base import StationDevice, close_quietly, failed


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

        backoff = Backoff(self.backoff, self._stop)
        while not self._stop.is_set():
            try:
                self.camera = Camera(self.url, self.profile)
                frame = self.camera.read()
                if frame is None:
                    raise CameraError(f"no frames from {self.url}")
            except (CameraError, OSError) as error:
                self._close()
                self._set_health("down", str(error))
                backoff.wait()
                continue
            backoff.reset()
            self._set_health("up", "")
            self._resume_clip()
            why = "no_frames"  # a problem name the server words for the worker
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
            backoff.wait()

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
        self._set_health("down", why)
        with self._clip_lock:  # the partial clip's event after the status: the station shows it last
            clip = self._clip
            if clip is not None and clip["recorder"] is not None:
                self._finish_clip(clip, partial=True)
                clip["recorder"] = None

    def _close(self) -> None:
        close_quietly(self, "camera")

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

