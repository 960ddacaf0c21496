"""Barcode scanners: serial/USB-CDC (pyserial) and HID keyboard wedge (evdev, grabbed).

Codecs are pure (framing.py: bytes -> scans, wedge.py: key events -> scans) and shared with the
emulator. `probe()` backs `cellwms devices probe` for scanner profiles.
"""

from __future__ import annotations

import json
import sys
from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveInt

from terminal.devices.profiles import ProfileError, Table, check_profile, read_profile

from .framing import GS, Framer, Scan, ScanFormat
from .wedge import WedgeDecoder

__all__ = ["GS", "Framer", "Scan", "ScanFormat", "WedgeDecoder", "load_profile", "open_scanner", "probe"]

class ScannerProfileFile(Table):
    vendor: str
    model: str
    interface: Literal["serial", "usb-cdc", "hid"] = Field(title="interface")
    baudrate: PositiveInt = 9600
    bytesize: int = 8
    parity: Literal["N", "E", "O"] = Field("N", title="parity")
    stopbits: float = 1
    usb_id: str = ""
    commands: dict[str, str] = {}  # setup barcodes / menu commands by what they do
    quirks: list[str] = []
    notes: str = ""
    # the scan format: a key left out takes ScanFormat's default (framing.py), which checks the suffix
    suffix: str
    prefix: str | None = None
    aim: bool | None = None
    gs_substitute: str | None = None
    gap: NonNegativeFloat | None = None
    stale: NonNegativeFloat | None = None
    encoding: str | None = None
    keyboard_layout: str | None = None


def load_profile(name: str) -> tuple[str, dict]:
    name, data = read_profile("scanners", name)
    check_profile(ScannerProfileFile, data, f"scanners/{name}")
    try:
        fmt = ScanFormat.from_profile(data)
        WedgeDecoder(fmt)
    except ValueError as error:
        raise ProfileError(f"scanners/{name}: {error}") from None
    return name, data


def open_scanner(profile: dict, url: str, say=None):
    """The driver for a URL: /dev/input/... or a recording (*.bin) -> evdev wedge; else serial."""
    if url.startswith("/dev/input/") or url.endswith(".bin") or url.startswith("evdev:"):
        from .evdev import EvdevScanner
        return EvdevScanner(profile, url.removeprefix("evdev:"), say=say).open()
    from .serial import SerialScanner
    return SerialScanner(profile, url, say=say).open()


def _line(scan: Scan) -> str:
    fields = " ".join(f"({f['ai']}){f['value'].replace(GS, '<GS>')}" for f in scan.fields())
    text = scan.text.replace(GS, "<GS>")
    return f"{scan.aim or '-':4} {scan.symbology or '?':12} {text}" + (f"  {fields}" if fields else "")


def probe(profile_name: str, url: str, count: int, as_json: bool, timeout: float | None = None) -> int:
    """Print each decoded scan (text, AIM symbology, GS1 fields; as_json: one JSON object a line).
    Stops after `count` scans (0/None: until interrupted), or after `timeout` s without a scan.
    Exit code: 0 ok, 1 port/device not usable or fewer scans than asked, 2 bad profile."""
    def say(message):
        print(message, file=sys.stderr, flush=True)

    try:
        name, profile = load_profile(profile_name)
    except ProfileError as error:
        say(f"error: {error}")
        return 2
    try:
        scanner = open_scanner(profile, url, say=say)
    except Exception as error:  # serial.SerialException is an OSError subclass; both say why
        say(f"error: cannot open {url}: {error}")
        return 1
    say(f"{profile.get('vendor')} {profile.get('model')} ({name}) on {url}: scan a barcode (Ctrl+C stops)")
    n = 0
    try:
        while not count or n < count:
            batch = scanner.read(timeout)
            if not batch:
                break
            for scan in batch[: (count - n) if count else None]:
                n += 1
                if as_json:
                    print(json.dumps(scan.as_dict(), ensure_ascii=False), flush=True)
                else:
                    print(_line(scan), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        scanner.close()
    if count and n < count:
        say(f"{n} of {count} scans")
        return 1
    return 0
