"""Synthetic camera and video-file playback.

`SyntheticCamera` draws 1280x720 frames of a packing table with barcodes rendered by zxing-cpp's
writer, placed at angles, then blurred and noised like a cheap UVC camera. `scene()` is a scripted
sequence (each code in view for some frames, then gone) with the scans a decoder must report.
`Playback` replays a video file as a camera source, at its frame rate or as fast as read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

# A Chestny Znak (Russian marking) code: GTIN, serial, GS, key id (91), GS, crypto tail (92).
MARKING_HRI = "(01)04650118041112(21)5Ab&Ckd-7!pqZ(91)EE10(92)dGVzdGtleWNyeXB0b3Rlc3RrZXljcnlwdG8xMjM0NTY3OA=="
MARKING_BYTES = b"0104650118041112215Ab&Ckd-7!pqZ\x1d91EE10\x1d92dGVzdGtleWNyeXB0b3Rlc3RrZXljcnlwdG8xMjM0NTY3OA=="

# kind -> (zxing-cpp format, GS1?, AIM identifier the decoder reports)
KINDS = {
    "ean13": (zxingcpp.BarcodeFormat.EAN13, False, "]E0"),
    "code128": (zxingcpp.BarcodeFormat.Code128, False, "]C0"),
    "gs1-128": (zxingcpp.BarcodeFormat.Code128, True, "]C1"),
    "qr": (zxingcpp.BarcodeFormat.QRCode, False, "]Q1"),
    "datamatrix": (zxingcpp.BarcodeFormat.DataMatrix, False, "]d1"),
    "gs1-datamatrix": (zxingcpp.BarcodeFormat.DataMatrix, True, "]d2"),
}


@dataclass(frozen=True)
class Symbol:
    kind: str
    content: str          # as given to the writer; GS1 kinds in (AI)value form
    angle: float = 0.0    # degrees, counter-clockwise
    center: tuple[int, int] = (640, 360)
    module: int = 4       # pixels per module (bar / cell) before rotation

    @property
    def expected(self) -> tuple[str, bytes]:
        """(AIM identifier, bytes) the decoder should report."""
        aim = KINDS[self.kind][2]
        if self.kind == "gs1-datamatrix" and self.content == MARKING_HRI:
            return aim, MARKING_BYTES
        if KINDS[self.kind][1]:
            return aim, gs1_bytes(self.content)
        return aim, self.content.encode()


def gs1_bytes(hri: str) -> bytes:
    """(01)...(21)... -> element string with GS after variable-length fields (as decoders return it)."""
    fixed = {"00": 18, "01": 14, "02": 14, "11": 6, "13": 6, "15": 6, "17": 6, "20": 2}
    parts = [p.split(")", 1) for p in hri.split("(")[1:]]
    out = ""
    for i, (ai, value) in enumerate(parts):
        out += ai + value
        if i < len(parts) - 1 and ai not in fixed:
            out += "\x1d"
    return out.encode()


def render_symbol(kind: str, content: str, module: int = 4) -> np.ndarray:
    """A grayscale image (0 black, 255 white) of one symbol, quiet zone included."""
    fmt, gs1, _ = KINDS[kind]
    options = {}
    if gs1:
        options["gs1"] = True
    if fmt == zxingcpp.BarcodeFormat.DataMatrix:
        options["force_square"] = True  # marking codes are square; DMRE would change the AIM id
    barcode = zxingcpp.create_barcode(content, fmt, **options)
    image = np.array(barcode.to_image(scale=module), dtype=np.uint8)
    if fmt in (zxingcpp.BarcodeFormat.EAN13, zxingcpp.BarcodeFormat.Code128):
        # bars half as tall as the symbol is wide, like a printed label; a 1D decoder's scan line
        # then stays inside the bars up to about 25 degrees of skew
        image = cv2.resize(image, (image.shape[1], max(image.shape[0], image.shape[1] // 2)),
                           interpolation=cv2.INTER_NEAREST)
    return image


class SyntheticCamera:
    """Frames of a packing table with barcodes at angles, with blur and sensor noise."""

    def __init__(self, width: int = 1280, height: int = 720, blur: float = 1.0, noise: float = 6.0,
                 seed: int = 1):
        self.width, self.height = width, height
        self.blur, self.noise = blur, noise
        self.rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:height, 0:width]
        # uneven light across a grey table
        self.background = (150 + 40 * np.sin(xx / width * 2.5) * np.cos(yy / height * 1.7)).astype(np.float32)
        self._cache: dict[tuple, np.ndarray] = {}

    def _symbol(self, symbol: Symbol) -> np.ndarray:
        key = (symbol.kind, symbol.content, symbol.module)
        if key not in self._cache:
            self._cache[key] = render_symbol(symbol.kind, symbol.content, symbol.module)
        return self._cache[key]

    def frame(self, symbols: tuple[Symbol, ...] | list[Symbol] = ()) -> np.ndarray:
        canvas = self.background.copy()
        for symbol in symbols:
            image = self._symbol(symbol).astype(np.float32)
            h, w = image.shape
            # label paper slightly larger than the symbol, rotated with it
            label = np.full((h + 16, w + 16), 245, np.float32)
            label[8:8 + h, 8:8 + w] = np.minimum(image, 245)
            lh, lw = label.shape
            matrix = cv2.getRotationMatrix2D((lw / 2, lh / 2), symbol.angle, 1.0)
            matrix[:, 2] += (symbol.center[0] - lw / 2, symbol.center[1] - lh / 2)
            mask = cv2.warpAffine(np.ones_like(label), matrix, (self.width, self.height), flags=cv2.INTER_NEAREST)
            warped = cv2.warpAffine(label, matrix, (self.width, self.height), flags=cv2.INTER_LINEAR)
            canvas = np.where(mask > 0, warped, canvas)
        if self.blur > 0:
            canvas = cv2.GaussianBlur(canvas, (0, 0), self.blur)
        if self.noise > 0:
            canvas = canvas + self.rng.normal(0, self.noise, canvas.shape).astype(np.float32)
        gray = np.clip(canvas, 0, 255).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


# The scripted packing scene: (symbols in view, for how many frames).
SCENE: list[tuple[tuple[Symbol, ...], int]] = [
    ((), 3),
    ((Symbol("ean13", "4607001771234", angle=12, center=(420, 360), module=3),), 6),
    ((), 4),
    ((Symbol("gs1-datamatrix", MARKING_HRI, angle=-25, center=(700, 380), module=6),), 6),
    ((), 4),
    ((Symbol("gs1-128", "(00)146500000000000019", angle=5, center=(640, 300), module=2),
      Symbol("qr", "https://cellwms.example/t/TOTE-0042", angle=35, center=(1050, 450), module=5)), 6),
    ((), 4),
    ((Symbol("code128", "CELL-A-01-02-3", angle=-8, center=(500, 500), module=3),), 6),
    ((), 4),
    ((Symbol("datamatrix", "BADGE-0007", angle=40, center=(900, 250), module=8),), 5),
    ((), 4),
    # the same item shown again: a second appearance, reported again
    ((Symbol("ean13", "4607001771234", angle=-15, center=(800, 360), module=3),), 5),
    ((), 3),
]


def scene(repeat: int = 1) -> list[tuple[Symbol, ...]]:
    """Symbols in view per frame, for the whole scripted scene."""
    return [symbols for _ in range(repeat) for symbols, count in SCENE for _ in range(count)]


def scene_expected(repeat: int = 1) -> list[tuple[str, bytes]]:
    """(AIM, bytes) once per appearance, in order (codes of one frame sorted)."""
    out = []
    for _ in range(repeat):
        for symbols, _count in SCENE:
            out.extend(sorted(symbol.expected for symbol in symbols))
    return out


def scene_frames(camera: SyntheticCamera | None = None, repeat: int = 1, limit: int | None = None
                 ) -> Iterator[np.ndarray]:
    camera = camera or SyntheticCamera()
    for i, symbols in enumerate(scene(repeat)):
        if limit is not None and i >= limit:
            return
        yield camera.frame(symbols)


class Playback:
    """A video file as a camera source; `realtime` paces frames at the file's rate, `loop` rewinds."""

    def __init__(self, path: str, realtime: bool = False, loop: bool = False):
        self.path, self.realtime, self.loop = path, realtime, loop

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            capture = cv2.VideoCapture(str(self.path))
            if not capture.isOpened():
                raise FileNotFoundError(self.path)
            period = 1.0 / (capture.get(cv2.CAP_PROP_FPS) or 15)
            start, n = time.monotonic(), 0
            try:
                while True:
                    ok, frame = capture.read()
                    if not ok:
                        break
                    if self.realtime:
                        time.sleep(max(0.0, start + n * period - time.monotonic()))
                    n += 1
                    yield frame
            finally:
                capture.release()
            if not self.loop or n == 0:
                return
