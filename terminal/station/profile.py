"""Station profiles: firmware_profiles/stations/<name>.toml, read by the station agent at start.

    [station]
    name = "pack-1"
    kind = "pack"                        # dock | pack | handoff | returns | pick

    [devices.scanner]                    # the table name is the device's name
    kind = "scanner"                     # scanner | scale | printer | camera
    profile = "honeywell-voyager-1450g"  # model profile (name in firmware_profiles/<kind>s/ or a path)
    url = "/dev/serial/by-id/usb-Honeywell_..."

    [devices.label_printer]
    kind = "printer"
    profile = "zebra-zd421-203"
    url = "tcp://192.168.10.21:9100"
    templates = ["sku-sticker", "shipping-label"]   # which templates this printer prints

    [devices.overhead]
    kind = "camera"
    profile = "generic-uvc"
    url = "0"
    role = "overhead"                    # the role jobs ask for: overhead, packing, ...

    [devices.label_printer.options]      # optional, per kind (see OPTIONS)
    max_wait = 600

The shape is checked by pydantic models (StationFile, the OPTIONS of each kind), what depends on
the device's model here. Every mistake is a `ProfileError` "<file>: <key>: <what is wrong>". Nothing is opened while
loading; `build_devices()` makes the `StationDevice`s (terminal/station/devices/).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeFloat, StringConstraints, field_validator

from terminal.devices.profiles import ProfileError, Table, check_profile, read_profile

STATION_KINDS = ("dock", "pack", "handoff", "returns", "pick")
DEVICE_KINDS = ("scanner", "scale", "printer", "camera")
BEEPS = ("esc-b", "none")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class StationTable(Table):
    name: Text
    kind: Literal[STATION_KINDS] = Field(title="station kind")
    notes: str = ""


class DeviceTable(Table):
    kind: Literal[DEVICE_KINDS] = Field(title="device kind")
    profile: Text
    url: Any  # a string, or a camera index; checked by kind below
    role: str | None = None
    templates: list[str] | None = None
    options: dict[str, Any] = {}
    notes: str = ""


class StationFile(Table):
    station: StationTable
    devices: dict[str, DeviceTable]

    @field_validator("devices")
    @classmethod
    def _some_devices(cls, devices):
        if not devices:
            raise ValueError("a station needs at least one [devices.<name>] table")
        return devices


class ScannerOptions(Table):  # [devices.<name>.options], per kind
    backoff_min: NonNegativeFloat | None = None
    backoff_max: NonNegativeFloat | None = None


class ScaleOptions(ScannerOptions):
    emit_zero: bool | None = None
    read_timeout: NonNegativeFloat | None = None
    settle_timeout: NonNegativeFloat | None = None


class PrinterOptions(ScannerOptions):
    max_wait: NonNegativeFloat | None = None
    status_interval: NonNegativeFloat | None = None
    io_timeout: NonNegativeFloat | None = None
    beep: Literal[BEEPS] = Field("esc-b", title="buzzer command")


class CameraOptions(ScannerOptions):
    media_dir: str | None = None
    still_quality: Annotated[int, Field(ge=1, le=100)] | None = None
    frame_timeout: NonNegativeFloat | None = None


OPTIONS = {"scanner": ScannerOptions, "scale": ScaleOptions, "printer": PrinterOptions, "camera": CameraOptions}
DEFAULT_ROLE = {"photo": "overhead", "record_start": "packing", "record_stop": "packing"}
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
ROLE_RE = re.compile(r"[a-z][a-z0-9_-]*\Z")
SERIAL_SCHEMES = ("socket", "rfc2217", "loop")
CAMERA_SCHEMES = ("http", "https", "rtsp", "rtsps")


@dataclass(frozen=True)
class DeviceSpec:
    """One device of a station, checked but not opened."""

    name: str
    kind: str
    profile_name: str
    url: str
    model: object = field(repr=False, compare=False)  # the loaded model profile (dict or dataclass)
    role: str = ""
    templates: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)

    @property
    def language(self) -> str:
        """A printer's language (zpl, escpos); "" for other devices."""
        return getattr(self.model, "language", "") if self.kind == "printer" else ""

    @property
    def can_beep(self) -> bool:
        return self.kind == "printer" and self.language == "escpos" and self.options.get("beep", "esc-b") != "none"


@dataclass(frozen=True)
class StationProfile:
    path: Path
    name: str
    kind: str
    devices: dict[str, DeviceSpec]

    def build_devices(self, media_dir: str | Path | None = None) -> dict:
        """name -> StationDevice, not started. `media_dir`: where cameras write stills and clips
        (default: each camera's `media_dir` option, else a temp folder for this station)."""
        from terminal.station.devices import make_device

        return {name: make_device(spec, station=self.name, media_dir=media_dir) for name, spec in self.devices.items()}

    def device_for_job(self, job: dict) -> str | None:
        """The device that runs a job (see docs/station-protocol.md), or None when none can."""
        if job.get("device"):
            return job["device"] if job["device"] in self.devices else None
        kind, payload = job.get("kind"), job.get("payload") or {}
        if kind == "print":
            template = payload.get("template")
            named = [s.name for s in self._of("printer") if template in s.templates]
            if named:
                return named[0]
            # a template no printer names: the one printer that speaks its language
            from printers.documents import LANGUAGE_OF

            able = [s.name for s in self._of("printer") if not s.templates and s.language == LANGUAGE_OF.get(template)]
            return able[0] if len(able) == 1 else None
        if kind in DEFAULT_ROLE:
            role = payload.get("role") or DEFAULT_ROLE[kind]
            return next((s.name for s in self._of("camera") if s.role == role), None)
        if kind == "read_weight":
            return next((s.name for s in self._of("scale")), None)
        if kind == "beep":
            return next((s.name for s in self._of("printer") if s.can_beep), None)
        return None

    def _of(self, kind: str) -> list[DeviceSpec]:
        return [spec for spec in self.devices.values() if spec.kind == kind]


def load_station_profile(path: str | Path) -> StationProfile:
    """Read and check a station profile (a path, or a name in firmware_profiles/stations/)."""
    path = Path(path)
    if not (path.suffix == ".toml" and path.exists()):
        try:
            name, _ = read_profile("stations", str(path))
        except ProfileError as error:
            raise ProfileError(f"{path}: {error}") from None
        from terminal.devices.profiles import ROOTS

        path = next(root / "stations" / f"{name}.toml" for root in ROOTS if (root / "stations" / f"{name}.toml").exists())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise ProfileError(f"{path}: cannot read: {error.strerror or error}") from None
    return _Checker(path).station(data)


class _Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str):
        raise ProfileError(f"{self.path}: {key}: {problem}")

    def text(self, key: str, value) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"must be a non-empty string, not {value!r}")
        return value.strip()

    def station(self, data: dict) -> StationProfile:
        checked = check_profile(StationFile, data, str(self.path))
        devices = {dev: self.device(dev, spec) for dev, spec in checked.devices.items()}
        self.across(devices)
        return StationProfile(self.path, checked.station.name, checked.station.kind, devices)

    def device(self, name: str, data: DeviceTable) -> DeviceSpec:
        where = f"devices.{name}"
        if not NAME_RE.match(name):
            self.fail(where, "device names are lower case letters, digits, - and _")
        kind = data.kind
        model = self.model(f"{where}.profile", kind, data.profile)
        url = self.url(f"{where}.url", kind, data.url, model)
        role = ""
        if kind == "camera":
            if data.role is None:
                self.fail(f"{where}.role", "missing (a camera needs a role: overhead, packing, ...)")
            role = self.text(f"{where}.role", data.role)
            if not ROLE_RE.match(role):
                self.fail(f"{where}.role", f"{role!r} is not a role name (lower case word, e.g. overhead)")
        elif data.role is not None:
            self.fail(f"{where}.role", f"only cameras have a role, not a {kind}")
        templates = ()
        if data.templates is not None:
            if kind != "printer":
                self.fail(f"{where}.templates", f"only printers take templates, not a {kind}")
            templates = self.templates(f"{where}.templates", data.templates, model)
        options = check_profile(OPTIONS[kind], data.options, str(self.path), at=f"{where}.options")
        return DeviceSpec(name, kind, model_name(model, data.profile), url, model, role, templates,
                          options.model_dump(exclude_unset=True))

    def model(self, key: str, kind: str, name: str):
        try:
            if kind == "scanner":
                from terminal.devices.scanners import load_profile
                return load_profile(name)[1]
            if kind == "scale":
                from terminal.devices.scales.profile import load
                return load(name)[1]
            if kind == "camera":
                from terminal.devices.camera import load_profile
                return load_profile(name)
            from printers.profiles import ProfileError as PrinterProfileError
            from printers.profiles import load_profile
            try:
                return load_profile(name)
            except PrinterProfileError as error:
                raise ProfileError(str(error)) from None
        except ProfileError as error:
            self.fail(key, f"unknown or bad {kind} model: {error}")

    def url(self, key: str, kind: str, url, model) -> str:
        if isinstance(url, int) and kind == "camera":
            url = str(url)
        url = self.text(key, url)
        if kind == "printer":
            from printers.transports import PrinterURLError, parse_url
            try:
                parse_url(url)
            except PrinterURLError as error:
                self.fail(key, str(error))
            return url
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if kind == "camera":
            if url.isdigit() or (not scheme and url.startswith("/")) or scheme in CAMERA_SCHEMES:
                return url
            self.fail(key, f"bad camera URL {url!r} (a device index such as 0, /dev/video0, a file path, "
                           f"or {', '.join(s + '://' for s in CAMERA_SCHEMES)})")
        if kind == "scanner" and url.startswith("evdev:/"):
            return url
        if kind == "scale" and model.get("protocol") == "hid-pos":
            if scheme or not url.startswith("/"):
                self.fail(key, f"a USB HID scale is a device path such as /dev/hidraw0, not {url!r}")
            return url
        if (not scheme and url.startswith("/")) or scheme in SERIAL_SCHEMES:
            return url
        self.fail(key, f"bad {kind} URL {url!r} (a device path such as /dev/ttyACM0, /dev/serial/by-id/..., "
                       + ("/dev/input/by-id/...-event-kbd, " if kind == "scanner" else "")
                       + f"or {', '.join(s + '://' for s in SERIAL_SCHEMES[:2])})")

    def templates(self, key: str, value, model) -> tuple[str, ...]:
        from printers.documents import LANGUAGE_NAMES, LANGUAGE_OF
        for template in value:
            if template not in LANGUAGE_OF:
                self.fail(key, f"unknown template {template!r} (known: {', '.join(LANGUAGE_OF)})")
            if LANGUAGE_OF[template] != model.language:
                self.fail(key, f"{template} prints on {LANGUAGE_NAMES[LANGUAGE_OF[template]]} printers; "
                               f"{model.name} speaks {LANGUAGE_NAMES[model.language]}")
        if len(set(value)) != len(value):
            self.fail(key, "a template is listed twice")
        return tuple(value)

    def across(self, devices: dict[str, DeviceSpec]) -> None:
        owner: dict[str, str] = {}
        for spec in devices.values():
            for template in spec.templates:
                if template in owner:
                    self.fail(f"devices.{spec.name}.templates",
                              f"{template} is already assigned to printer {owner[template]}; one printer per template")
                owner[template] = spec.name
        roles: dict[str, str] = {}
        for spec in devices.values():
            if spec.role and spec.role in roles:
                self.fail(f"devices.{spec.name}.role", f"role {spec.role!r} is already camera {roles[spec.role]}'s")
            roles[spec.role] = spec.name


def model_name(model, given: str) -> str:
    return getattr(model, "name", None) or Path(given).stem
