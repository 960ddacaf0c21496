"""Station devices: one supervised `StationDevice` per device of the station profile, one
module per device kind (docs/station-protocol.md):

- `base.py`     the shared supervisor: thread, health, `device_status` events, jobs.
- `scanner.py`  `ScannerDevice`: `scan` events.
- `scale.py`    `ScaleDevice`: `weight` events, job `read_weight`.
- `printer.py`  `PrinterDevice`: jobs `print`, `beep`.
- `camera.py`   `CameraDevice`: jobs `photo`, `record_start`, `record_stop`; `photo`, `clip` events.
"""

from __future__ import annotations

from pathlib import Path

from .base import StationDevice
from .camera import CameraDevice
from .printer import PrinterDevice
from .scale import ScaleDevice
from .scanner import ScannerDevice

__all__ = ["CameraDevice", "PrinterDevice", "ScaleDevice", "ScannerDevice", "StationDevice", "make_device"]

def make_device(spec, station: str = "station", media_dir: str | Path | None = None) -> StationDevice:
    if spec.kind == "camera":
        return CameraDevice(spec, station, media_dir)
    return {"scanner": ScannerDevice, "scale": ScaleDevice, "printer": PrinterDevice}[spec.kind](spec)
