"""The demo's emulated stations: device emulators and a station agent per station, as child processes.

Each station gets a serial scanner on a pty that runs a finite demo script: once the agent has the
scanner up, a worker's badge, then the station's demo codes once each, typed into the emulator's
stdin every SCAN_EVERY_S seconds (codes.txt; the dock receives ASN-DEMO-0001 once, and only while
it is still expected, so a restarted demo does not receive it again and the receiving KPIs hold
one delivery's worth of the demo receiver's work, not an endless bot's),
scales on ptys where the station weighs (a finite script of loads that ends empty, then only the
loads the station screen's demo control writes to the emulator's stdin: `put_on_scale`), ZPL and
ESC/POS printers on TCP, and one MJPEG network
camera shared by the stations that take photos. A station profile (TOML) naming those devices is
written under instance/demo-stations/, then `python -m terminal.cli station` runs the agent, which
talks to the demo server over HTTP like a real station. The server never imports `terminal`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
from sqlalchemy import select

from server.extensions import db
from server.models import Cell, Delivery, DeliveryLine, Sku, SkuBarcode, Station
from server.models.inbound import DeliveryStatus
from server.services.demo import DEMO_USERS
from server.services.demo_flows import DEMO_ASN_SHORT
from server.services.stations import create_job


@dataclass(frozen=True)
class DemoStation:
    code: str
    kind: str
    role: str  # the worker whose badge the scanner scans first
    scanner: str
    scale: str | None = None
    label_printer: str | None = None
    receipt_printer: str | None = None
    cameras: tuple[str, ...] = ()  # camera roles
    first_jobs: tuple[tuple[str, dict], ...] = field(default=())


DEMO_STATIONS = (
    DemoStation("DOCK-1", "dock", "receiver", "honeywell-voyager-1450g", label_printer="zebra-zd421-203",
                receipt_printer="xprinter-xp-58iih", cameras=("overhead",)),
    DemoStation("PACK-1", "pack", "packer", "honeywell-voyager-1450g", scale="mettler-toledo-ics425",
                label_printer="zebra-zd421-203", receipt_printer="epson-tm-t20iii", cameras=("overhead", "packing")),
    DemoStation("PACK-2", "pack", "packer", "honeywell-voyager-1450g", scale="cas-pdii",
                label_printer="xprinter-xp-420b", receipt_printer="xprinter-xp-58iih", cameras=("overhead",)),
    DemoStation("HANDOFF-1", "handoff", "dispatcher", "honeywell-voyager-1450g", receipt_printer="epson-tm-t20iii"),
)
SCAN_EVERY_S = 4.0
SCALE_LOADS = "0,1.25,0,2.4,0,0.85,0"  # ends empty: the packer's parcel goes on from the screen
SCALE_EVERY_S = 7.0


def start_child(argv: list[str], ready, what: str, wait_s: float = 30.0, stdin: bool = False):
    """Start a child process and read its stdout until `ready(line)` returns a value: (process, value).
    The rest of its output is drained in the background."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE if stdin else None, text=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        value = ready(line.strip())
        if value:
            threading.Thread(target=child.stdout.read, daemon=True).start()
            return child, value
    child.terminate()
    raise click.ClickException(f"{what} did not start")


def _terminal(*words: str) -> list[str]:
    return [sys.executable, "-u", "-m", "terminal.cli", *words]


# What each kind's receipt printer takes.
RECEIPT_TEMPLATES = {"dock": ["receiving-act"]}
DEFAULT_RECEIPT_TEMPLATES = ["packing-slip", "handoff-act"]


def _printed_form(barcode: str) -> str:
    return barcode[1:] if len(barcode) == 14 and barcode.startswith("0") else barcode


def dock_codes() -> list[str]:
    """The dock scans an ASN's number, then its goods: the first line twice (short of its 4), the
    others once each. Empty if the demo has no such ASN or it is no longer expected (received by
    an earlier demo run, or by a person)."""
    delivery = db.session.execute(select(Delivery).filter_by(number=DEMO_ASN_SHORT)).scalar_one_or_none()
    if delivery is None or delivery.status != DeliveryStatus.expected:
        return []
    codes = [delivery.number]
    for n, line in enumerate(db.session.execute(
            select(DeliveryLine).filter_by(delivery_id=delivery.id).order_by(DeliveryLine.line_no)).scalars()):
        barcode = db.session.execute(select(SkuBarcode.barcode).filter_by(sku_id=line.sku_id)
                                     .order_by(SkuBarcode.id).limit(1)).scalar_one_or_none()
        if barcode:
            codes += [_printed_form(barcode)] * (2 if n == 0 else 1)
    return codes


def demo_codes(station: DemoStation) -> list[str]:
    """The station's demo script, scanned once: at the dock an ASN and its goods, then a code
    nobody knows and cells (nothing if the ASN was received already); elsewhere SKUs, cells, a code
    nobody knows."""
    if station.kind == "dock":
        first = dock_codes()
        if not first:
            return []
    barcodes = db.session.execute(
        select(SkuBarcode.barcode).join(Sku).order_by(Sku.id).limit(4)).scalars().all()
    cells = db.session.execute(select(Cell.barcode).order_by(Cell.id).limit(2)).scalars().all()
    eans = [_printed_form(b) for b in barcodes]
    if station.kind == "dock":
        return [*first, "2999999999999", *cells]
    return [*eans[:2], cells[0], *eans[2:], "2999999999999", *cells[1:]]


def demo_badge(station: DemoStation) -> str:
    """The badge the station's scanner scans once at the start: a worker signs in there."""
    return next(u.badge for u in DEMO_USERS if station.role in u.roles)


class DemoStations:
    """Starts and stops every child process of the demo stations."""

    def __init__(self, root: Path, server_url: str, tokens: dict[str, str]):
        self.root, self.server_url, self.tokens = root, server_url, tokens
        self.children: list[subprocess.Popen] = []
        self.printers: dict[str, dict[str, str]] = {}  # station -> device name -> URL
        self.camera_url: str | None = None
        self.scanners: dict[str, subprocess.Popen] = {}  # station -> scanner emulator (codes go to its stdin)
        self.scripts: dict[str, list[str]] = {}  # station -> its demo script (scanned once after the badge)
        self.scales: dict[str, subprocess.Popen] = {}  # station -> scale emulator (loads go to its stdin)
        self._scale_lock = threading.Lock()

    def _spawn(self, argv, ready, what, stdin: bool = False):
        child, value = start_child(argv, ready, what, stdin=stdin)
        self.children.append(child)
        return value

    def _printer(self, profile: str, out_dir: Path) -> str:
        return self._spawn([sys.executable, "-u", "-m", "terminal.emulators.printer_cli", "--profile", profile,
                            "--port", "0", "--out", str(out_dir)],
                           lambda line: line.rsplit(" at ", 1)[1] if " at " in line else None,
                           f"the {profile} printer emulator")

    def start_devices(self) -> list[str]:
        """Start the emulators and write the station profiles; returns lines that describe them."""
        self.root.mkdir(parents=True, exist_ok=True)
        report = []
        if any(s.cameras for s in DEMO_STATIONS):
            self.camera_url = self._spawn(
                _terminal("emulate", "camera", "--profile", "generic-uvc", "--mjpeg", "0", "--size", "640x360",
                          "--fps", "10"),
                lambda line: line.split(": ", 1)[1].split(" ", 1)[0] if "MJPEG camera" in line else None,
                "the MJPEG camera emulator")
            report.append(f"camera (MJPEG over HTTP) {self.camera_url}")
        for station in DEMO_STATIONS:
            report.append(self._start_station(station))
        return report

    def _start_station(self, station: DemoStation) -> str:
        home = self.root / station.code
        home.mkdir(parents=True, exist_ok=True)
        codes = home / "codes.txt"
        script = demo_codes(station)
        codes.write_text("".join(f"{code}\n" for code in script), encoding="utf-8")
        devices = {}
        scanner = self._spawn(
            _terminal("emulate", "scanner", "--profile", station.scanner, "--link", str(home / "scanner")),
            lambda line: line or None, f"the {station.code} scanner emulator", stdin=True)
        self.scanners[station.code] = self.children[-1]
        self.scripts[station.code] = script
        devices["scanner"] = {"kind": "scanner", "profile": station.scanner, "url": scanner}
        if station.scale:
            scale = self._spawn(
                _terminal("emulate", "scale", "--profile", station.scale, "--link", str(home / "scale"),
                          "--load", "0", "--loads", SCALE_LOADS, "--every", str(SCALE_EVERY_S), "--once",
                          "--stdin"),
                lambda line: line or None, f"the {station.code} scale emulator", stdin=True)
            self.scales[station.code] = self.children[-1]
            devices["scale"] = {"kind": "scale", "profile": station.scale, "url": scale}
        prints = self.root.parent / "demo-prints" / station.code
        for name, profile in (("label_printer", station.label_printer), ("receipt_printer", station.receipt_printer)):
            if profile:
                devices[name] = {"kind": "printer", "profile": profile, "url": self._printer(profile, prints / name)}
        for role in station.cameras:
            devices[f"{role}_camera"] = {"kind": "camera", "profile": "generic-uvc", "url": self.camera_url,
                                         "role": role}
        (home / "station.toml").write_text(_station_toml(station, devices), encoding="utf-8")
        self.printers[station.code] = {n: d["url"] for n, d in devices.items() if d["kind"] == "printer"}
        names = ", ".join(f"{n} {d['url']}" for n, d in devices.items())
        return f"{station.code:<9} {station.kind:<7} {names}; demo script: {len(script)} scans once (codes.txt)"

    def start_agents(self) -> None:
        """A station agent per station (its log in instance/demo-stations/<code>/agent.log)."""
        for station in DEMO_STATIONS:
            home = self.root / station.code
            with open(home / "agent.log", "ab") as log:
                self.children.append(subprocess.Popen(
                    _terminal("station", "--profile", str(home / "station.toml"), "--server", self.server_url,
                              "--outbox", str(home / "outbox.sqlite"), "--media-dir", str(home / "media"),
                              "--heartbeat", "5"),
                    env={**os.environ, "CELLWMS_STATION_TOKEN": self.tokens[station.code]},
                    stdout=log, stderr=subprocess.STDOUT))

    def sign_in_workers(self, app, wait_s: float = 120.0, every_s: float = SCAN_EVERY_S) -> None:
        """In the background: once a station's agent has its scanner up, scan a worker's badge there,
        then the station's demo script once, one code every `every_s` seconds; then nothing more."""

        def play(code: str, badge: str) -> None:
            self._type(code, badge)
            for text in self.scripts.get(code, []):
                time.sleep(every_s)
                self._type(code, text)

        def run():
            waiting, deadline = {s.code: s for s in DEMO_STATIONS}, time.monotonic() + wait_s
            while waiting and time.monotonic() < deadline:
                time.sleep(1.0)
                with app.app_context():
                    for code in list(waiting):
                        station = db.session.execute(select(Station).filter_by(code=code)).scalar_one_or_none()
                        scanner = ((station.health or {}).get("devices") or {}).get("scanner") if station else None
                        if scanner and scanner.get("state") == "up":
                            threading.Thread(target=play, args=(code, demo_badge(waiting.pop(code))), daemon=True,
                                             name=f"demo-script-{code}").start()
                    db.session.remove()

        threading.Thread(target=run, daemon=True, name="demo-sign-in").start()

    def _type(self, code: str, text: str) -> None:
        scanner = self.scanners.get(code)
        if scanner is not None and scanner.poll() is None:
            scanner.stdin.write(text + "\n")
            scanner.stdin.flush()

    def has_scale(self, code: str) -> bool:
        """Whether station `code` has an emulated scale that is running."""
        scale = self.scales.get(code)
        return scale is not None and scale.poll() is None

    def put_on_scale(self, code: str, kg: float) -> bool:
        """Put `kg` on station `code`'s emulated scale (0 empties it); False when it is not running."""
        scale = self.scales.get(code)
        with self._scale_lock:
            if scale is None or scale.poll() is not None:
                return False
            try:
                scale.stdin.write(f"{kg:.3f}\n")
                scale.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return False
        return True

    def stop(self) -> None:
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _station_toml(station: DemoStation, devices: dict[str, dict]) -> str:
    lines = ["# Written by `cellwms demo`: this station's emulated devices.", "[station]",
             f'name = "{station.code.lower()}"', f'kind = "{station.kind}"', ""]
    templates = {"label_printer": ["sku-sticker", "cell-label", "tote-label", "shipping-label", "badge"],
                 "receipt_printer": RECEIPT_TEMPLATES.get(station.kind, DEFAULT_RECEIPT_TEMPLATES)}
    for name, device in devices.items():
        lines.append(f"[devices.{name}]")
        for key, value in device.items():
            lines.append(f'{key} = "{value}"')
        if name in templates:
            lines.append("templates = [" + ", ".join(f'"{t}"' for t in templates[name]) + "]")
        lines.append("")
    return "\n".join(lines)


def queue_first_jobs() -> list[str]:
    """A print and a photo per station, so the demo shows jobs flowing before anyone clicks."""
    from printers.documents import sample

    report = []
    for demo in DEMO_STATIONS:
        station = db.session.execute(select(Station).filter_by(code=demo.code)).scalar_one_or_none()
        if station is None:
            continue
        jobs = []
        if demo.label_printer:
            jobs.append(("print", {"template": "sku-sticker", "data": sample("sku-sticker"), "copies": 1}))
        if demo.receipt_printer:
            template = {"handoff": "handoff-act", "dock": "receiving-act"}.get(demo.kind, "packing-slip")
            jobs.append(("print", {"template": template, "data": sample(template), "copies": 1}))
        if "overhead" in demo.cameras:
            jobs.append(("photo", {"role": "overhead"}))
        for kind, payload in jobs:
            create_job(station, kind, payload)
        report.append(f"{demo.code}: {', '.join(k if k != 'print' else p['template'] for k, p in jobs)}")
    db.session.commit()
    return report
