"""Cameras: OpenCV capture, JPEG stills, packing clips, barcode decoding from frames.

- `open_camera(source, profile)`: a device index ("0"), a device path (/dev/video0), an RTSP/HTTP
  URL or a video file; device settings (size, fps, fourcc) come from the camera profile.
- `ClipRecorder`: fixed size and frame rate, MJPG in .avi or mp4v in .mp4 (both present in the
  opencv-python-headless wheel; H.264 is not), split into numbered files at a size limit.
- `decode_frame` / `DecoderLoop`: zxing-cpp; a scan keeps its raw bytes (GS separators of GS1
  and marking codes intact) and its AIM symbology identifier (]E0, ]C1, ]Q1, ]d2, ...).
  `DecoderLoop` reports a code once per appearance: it ends after `absent_frames` frames without it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
import zxingcpp
from pydantic import Field, NonNegativeFloat, PositiveInt

from terminal.devices.profiles import Table, check_profile, read_profile

GS = b"\x1d"
CODECS = {".avi": "MJPG", ".mp4": "mp4v"}  # container -> fourcc the wheel really writes


class CameraError(RuntimeError):
    """A camera or clip that cannot be opened or read."""


# --- profile -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CameraProfile:
    name: str
    model: str
    width: int = 1280
    height: int = 720
    fps: int = 30
    fourcc: str = "MJPG"
    interface: str = "uvc"
    autofocus: bool = True
    clip_fourcc: str = "MJPG"
    clip_extension: str = ".avi"
    clip_fps: int = 15
    clip_width: int = 1280
    clip_height: int = 720
    clip_max_mb: float = 0  # 0: no split
    still_quality: int = 90
    decode_absent_frames: int = 5


FourCC = Annotated[str, Field(min_length=4, max_length=4)]


class CameraProfileFile(Table):
    """firmware_profiles/cameras/<name>.toml; a key left out takes CameraProfile's default."""

    model: str
    vendor: str = ""
    notes: str = ""
    width: PositiveInt
    height: PositiveInt
    fps: PositiveInt
    fourcc: FourCC
    interface: str | None = None
    autofocus: bool | None = None
    clip_fourcc: FourCC | None = None
    clip_extension: Literal[tuple(CODECS)] = Field(".avi", title="clip extension")
    clip_fps: PositiveInt | None = None
    clip_width: PositiveInt | None = None
    clip_height: PositiveInt | None = None
    clip_max_mb: NonNegativeFloat | None = None
    still_quality: Annotated[int, Field(ge=1, le=100)] | None = None
    decode_absent_frames: PositiveInt | None = None


def load_profile(name_or_path: str) -> CameraProfile:
    name, data = read_profile("cameras", name_or_path)
    checked = check_profile(CameraProfileFile, data, f"cameras/{name}")
    return CameraProfile(name=name, **checked.model_dump(exclude_unset=True, exclude={"vendor", "notes"}))


# --- capture -------------------------------------------------------------------------------------

def parse_source(source: str | int) -> str | int:
    """"0" -> 0 (device index); anything else (path, rtsp://, file) unchanged."""
    if isinstance(source, int):
        return source
    return int(source) if re.fullmatch(r"\d+", source.strip()) else source


def is_device(source: str | int) -> bool:
    source = parse_source(source)
    return isinstance(source, int) or str(source).startswith("/dev/video")


class Camera:
    """One opened capture source. Iterate for frames (BGR numpy arrays); `still()` for a JPEG."""

    def __init__(self, source: str | int, profile: CameraProfile | None = None):
        self.source = parse_source(source)
        self.profile = profile
        self.capture: cv2.VideoCapture | None = None
        self.frames_read = 0
        self.open()

    def open(self) -> None:
        source = self.source
        if isinstance(source, str) and "://" not in source and not is_device(source) and not os.path.exists(source):
            raise CameraError(f"no such camera source: {source}")
        if isinstance(source, str) and source.startswith(("rtsp://", "rtsps://", "http://", "https://")):
            capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
        else:
            capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            raise CameraError(f"cannot open camera source {source!r}")
        if self.profile and is_device(source):
            p = self.profile
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*p.fourcc))
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, p.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, p.height)
            capture.set(cv2.CAP_PROP_FPS, p.fps)
        self.capture = capture

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    @property
    def fps(self) -> float:
        return float(self.capture.get(cv2.CAP_PROP_FPS) or 0)

    def read(self) -> np.ndarray | None:
        """The next frame, or None at the end of a file or when the device stopped delivering."""
        if self.capture is None:
            return None
        ok, frame = self.capture.read()
        if not ok:
            return None
        self.frames_read += 1
        return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame

    def still(self, quality: int | None = None) -> bytes:
        frame = self.read()
        if frame is None:
            raise CameraError(f"no frame from {self.source!r}")
        return encode_jpeg(frame, quality or (self.profile.still_quality if self.profile else 90))

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_camera(source: str | int, profile: str | CameraProfile | None = None) -> Camera:
    if isinstance(profile, str):
        profile = load_profile(profile)
    return Camera(source, profile)


def encode_jpeg(frame: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise CameraError("JPEG encoding failed")
    return data.tobytes()


def save_still(frame: np.ndarray, path: str | os.PathLike, quality: int = 90) -> Path:
    path = Path(path)
    path.write_bytes(encode_jpeg(frame, quality))
    return path


# --- clips ---------------------------------------------------------------------------------------

class ClipRecorder:
    """Writes frames to a clip at a fixed size and frame rate; frames of another size are resized.

    With `max_bytes`, the clip is split into clip-001.avi, clip-002.avi, ... each closed once
    its file reaches the limit (checked on disk, so a part may exceed it by the writer's buffer).
    """

    def __init__(self, path: str | os.PathLike, size: tuple[int, int] = (1280, 720), fps: float = 15,
                 fourcc: str | None = None, max_bytes: int | None = None):
        self.path = Path(path)
        if self.path.suffix not in CODECS:
            raise CameraError(f"clip must end in {' or '.join(CODECS)}: {self.path}")
        self.fourcc = fourcc or CODECS[self.path.suffix]
        self.size = (int(size[0]), int(size[1]))
        self.fps = float(fps)
        self.max_bytes = max_bytes
        self.paths: list[Path] = []
        self.frame_counts: list[int] = []
        self._writer: cv2.VideoWriter | None = None

    @classmethod
    def for_profile(cls, path: str | os.PathLike, profile: CameraProfile) -> ClipRecorder:
        return cls(path, (profile.clip_width, profile.clip_height), profile.clip_fps, profile.clip_fourcc,
                   int(profile.clip_max_mb * 1024 * 1024) or None)

    def _part_path(self) -> Path:
        if not self.max_bytes:
            return self.path
        return self.path.with_name(f"{self.path.stem}-{len(self.paths) + 1:03d}{self.path.suffix}")

    def _open(self) -> None:
        path = self._part_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*self.fourcc), self.fps, self.size)
        if not writer.isOpened():
            raise CameraError(f"cannot write {self.fourcc} to {path}")
        self._writer = writer
        self.paths.append(path)
        self.frame_counts.append(0)

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            self._open()
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frame_counts[-1] += 1
        if self.max_bytes and self.paths[-1].stat().st_size >= self.max_bytes:
            self._writer.release()
            self._writer = None

    @property
    def frames_written(self) -> int:
        return sum(self.frame_counts)

    def close(self) -> list[Path]:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        return self.paths

    def __enter__(self) -> ClipRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def count_frames(path: str | os.PathLike) -> int:
    """Frames actually decodable in a clip (reads it through, not the container's header)."""
    with Camera(str(path)) as clip:
        return sum(1 for _ in clip)


# --- decoding ------------------------------------------------------------------------------------

DEFAULT_FORMATS = "EANUPC,Code128,QRCode,DataMatrix"


@dataclass(frozen=True)
class CameraScan:
    data: bytes          # raw content; GS (0x1D) separators of GS1/marking codes kept
    text: str            # content as text (charset/ECI applied), GS kept as \x1d
    aim: str             # AIM symbology identifier, e.g. ]E0, ]C1 (GS1-128), ]Q1, ]d2 (GS1 DataMatrix)
    format: str          # zxing-cpp format name, e.g. "EAN-13", "Data Matrix"
    frame: int = 0       # index of the frame it was first seen in
    position: tuple = field(default=(), compare=False)  # corner points in the frame

    @property
    def is_gs1(self) -> bool:
        return self.aim in ("]C1", "]d2", "]Q3", "]e0", "]J1")

    @property
    def key(self) -> tuple[str, bytes]:
        return (self.aim, self.data)


def decode_frame(frame: np.ndarray, formats: str = DEFAULT_FORMATS, frame_index: int = 0,
                 try_invert: bool = False) -> list[CameraScan]:
    """Every barcode zxing-cpp finds in one frame (BGR or grayscale)."""
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    results = zxingcpp.read_barcodes(frame, formats=zxingcpp.barcode_formats_from_str(formats),
                                     try_invert=try_invert, text_mode=zxingcpp.TextMode.Plain)
    scans = []
    for result in results:
        pos = result.position
        corners = tuple((p.x, p.y) for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left))
        scans.append(CameraScan(bytes(result.bytes), result.text, result.symbology_identifier, str(result.format),
                                frame_index, corners))
    return scans


class DecoderLoop:
    """Feeds frames to the decoder; reports each code once per appearance.

    An appearance ends when the code has been absent for `absent_frames` consecutive frames;
    seen again after that, it is reported again (the packer showed the same item twice).
    """

    def __init__(self, absent_frames: int = 5, formats: str = DEFAULT_FORMATS, every: int = 1):
        if absent_frames < 1:
            raise ValueError("absent_frames must be at least 1")
        self.absent_frames = absent_frames
        self.formats = formats
        self.every = max(1, every)  # decode every n-th frame (others count as frames, not absences)
        self.index = -1
        self.last_seen: dict[tuple[str, bytes], int] = {}

    def feed(self, frame: np.ndarray) -> list[CameraScan]:
        """The codes that appear in this frame and were not present just before."""
        self.index += 1
        if self.index % self.every:
            return []
        new = []
        for scan in decode_frame(frame, self.formats, self.index):
            if scan.key not in self.last_seen:
                new.append(scan)
            self.last_seen[scan.key] = self.index
        limit = self.absent_frames * self.every
        self.last_seen = {k: i for k, i in self.last_seen.items() if self.index - i < limit}
        return new

    def run(self, frames: Iterable[np.ndarray]) -> Iterator[CameraScan]:
        for frame in frames:
            yield from self.feed(frame)


def decode_clip(path: str | os.PathLike, absent_frames: int = 5) -> list[CameraScan]:
    """Once-per-appearance scans of a whole clip."""
    with Camera(str(path)) as clip:
        return list(DecoderLoop(absent_frames).run(clip))


# --- probe (for `cellwms devices probe` with a camera profile) ----------------------------------

def gs1_fields(scan: CameraScan) -> dict[str, str]:
    """AI -> value of a GS1 scan (biip), {} for plain codes or content biip cannot parse."""
    if not scan.is_gs1:
        return {}
    try:
        import biip

        message = biip.parse(scan.aim + scan.text).gs1_message
    except Exception:  # noqa: BLE001 - a probe prints what it can
        return {}
    return {element.ai.ai: element.value for element in message.element_strings} if message else {}


def scan_record(scan: CameraScan) -> dict:
    return {"aim": scan.aim, "data": scan.text, "format": scan.format, "frame": scan.frame,
            "gs1": gs1_fields(scan)}


def probe(profile_name: str, url: str, count: int = 5, as_json: bool = False, echo=print) -> int:
    """Decode up to `count` scans (once per appearance) from a camera or clip; returns scans printed."""
    import json

    profile = load_profile(profile_name)
    printed = 0
    with open_camera(url, profile) as camera:
        if not as_json:
            echo(f"# {profile.model}: {url} {camera.size[0]}x{camera.size[1]} @ {camera.fps:g} fps")
        for scan in DecoderLoop(profile.decode_absent_frames).run(camera):
            record = scan_record(scan)
            if as_json:
                echo(json.dumps(record, ensure_ascii=False))
            else:
                fields = " ".join(f"({ai}){value}" for ai, value in record["gs1"].items())
                echo(f"frame {scan.frame}: {scan.aim} {scan.text.replace(chr(29), '<GS>')}  [{scan.format}] {fields}")
            printed += 1
            if printed >= count:
                break
    return printed
