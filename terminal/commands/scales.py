"""CLI commands for scales, and the shared `devices list` / `devices probe` (see terminal/cli.py).

`devices probe` takes the kind from a profile path's folder (firmware_profiles/scanners/x.toml is
a scanner), else finds the name among scales, scanners and cameras, in that order, and hands
scanners and cameras to their own probe functions.
"""

import glob
import json
import math
import signal
import sys
import threading
from pathlib import Path

import click

from terminal.devices.profiles import ProfileError, read_profile


@click.command("list")
def list_devices():
    """Serial ports, input devices and cameras on this machine."""
    from serial.tools import list_ports

    click.echo("serial ports:")
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        click.echo(f"  {port.device}  {port.description}  {port.hwid}")
    click.echo("input devices (/dev/input/by-id):")
    for path in sorted(glob.glob("/dev/input/by-id/*")):
        click.echo(f"  {path}")
    click.echo("hid devices (/dev/hidraw*):")
    for path in sorted(glob.glob("/dev/hidraw*")):
        click.echo(f"  {path}")
    click.echo("cameras (/dev/video*):")
    for path in sorted(glob.glob("/dev/video*")):
        click.echo(f"  {path}")


@click.command("probe")
@click.option("--profile", "profile_name", required=True, help="scale, scanner or camera profile (name or .toml path)")
@click.option("--port", "url", required=True,
              help="/dev/ttyUSB0, a pty, socket://host:port, rfc2217://, /dev/hidrawN, /dev/input/eventN, "
                   "a camera index, /dev/videoN, rtsp://... or a clip file")
@click.option("--count", default=5, show_default=True, help="readings to print")
@click.option("--timeout", default=5.0, show_default=True, help="seconds to wait for each reading")
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line")
def probe(profile_name, url, count, timeout, as_json):
    """Print live weights (scales), decoded scans (scanners) or scans seen by a camera."""
    kind = _profile_kind(profile_name)
    if kind == "scales":
        probe_scale(profile_name, url, count, as_json, timeout)
        return
    if kind == "scanners":
        from terminal.devices.scanners import probe as probe_scanner

        code = probe_scanner(profile_name, url, count, as_json, timeout=timeout)
    else:
        from terminal.devices.camera import probe as probe_camera

        code = 0 if probe_camera(profile_name, url, count, as_json) else 1
    raise SystemExit(code)


PROBE_KINDS = ("scales", "scanners", "cameras")


def _profile_kind(profile_name: str) -> str:
    """The kind of a profile: a .toml path's folder names it (scales/, scanners/, cameras/); a path
    elsewhere is the kind whose schema it passes; a name is looked up in each kind's folder."""
    path = Path(profile_name)
    if path.suffix == ".toml" and path.exists():
        if path.resolve().parent.name in PROBE_KINDS:
            return path.resolve().parent.name
        for kind in PROBE_KINDS:
            try:
                _check(kind, profile_name)
                return kind
            except ProfileError:
                continue
        raise click.ClickException(f"{profile_name}: not a scale, scanner or camera profile "
                                   "(put it in a scales/, scanners/ or cameras/ folder to say which)")
    for kind in PROBE_KINDS:
        try:
            read_profile(kind, profile_name)
            return kind
        except ProfileError:
            continue
    raise click.ClickException(f"{profile_name}: no scale, scanner or camera profile of that name")


def _check(kind: str, profile_name: str) -> None:
    """Load `profile_name` with the kind's own schema (ProfileError when it does not fit)."""
    if kind == "scales":
        from terminal.devices.scales.profile import load
    elif kind == "scanners":
        from terminal.devices.scanners import load_profile as load
    else:
        from terminal.devices.camera import load_profile as load
    load(profile_name)


def probe_scale(profile_name, url, count, as_json, timeout=5.0):
    from terminal.devices.scales.driver import ScaleDriver
    from terminal.devices.scales.profile import load

    try:
        name, profile = load(profile_name)
    except ProfileError as error:
        raise click.ClickException(str(error)) from None

    def say(text):
        click.echo(text, err=True)

    driver = ScaleDriver(profile, url, say=say)
    try:
        # Opened once: a second open of the same port (a 7E1 Toledo 8217 on some adapters) fails.
        driver.open()
    except Exception as error:  # noqa: BLE001 - any open failure is the installer's answer
        raise click.ClickException(f"cannot open {url}: {error}") from None
    seen = 0
    try:
        for reading in driver.readings(count=count, timeout=timeout):
            seen += 1
            if as_json:
                click.echo(json.dumps({"profile": name, "port": url, **reading.as_dict()}))
            else:
                value = "-" if reading.value is None else f"{reading.value:g}"
                mark = "stable" if reading.stable else reading.status
                click.echo(f"{value} {reading.unit} {'net' if reading.net else 'gross'} {mark}")
    finally:
        driver.close()
    if seen < count:
        raise click.ClickException(f"{name}: {seen} of {count} readings from {url} within {timeout:g} s")


@click.command("scale")
@click.option("--profile", "profile_name", required=True, help="scale profile (serial protocols)")
@click.option("--link", default=None, help="path of the symlink to the pty (default: a temp dir)")
@click.option("--load", "load_kg", default=1.0, show_default=True, help="load on the platform, kg")
@click.option("--loads", default="", help="comma-separated loads in kg to put on in turn, e.g. 0,1.25,0,2.4")
@click.option("--every", type=float, default=5.0, show_default=True, help="seconds between --loads")
@click.option("--once", is_flag=True, help="put the --loads on once, in order, then keep the last")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="also take loads from stdin, one a line in kg (1.234 puts 1.234 kg on, 0 empties the "
                   "platform); the first ends the --loads script")
def scale(profile_name, link, load_kg, loads, every, once, from_stdin):
    """Run a scale emulator on a new pty; prints its path and runs until stopped."""
    from terminal.devices.scales.profile import load
    from terminal.emulators.scale import ScaleEmulator

    try:
        _, profile = load(profile_name)
        emu = ScaleEmulator(profile, link=link)
    except (ProfileError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    stop, taken_over = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        cycle = [float(kg) for kg in loads.split(",") if kg.strip()]
    except ValueError:
        raise click.BadParameter(f"not a list of numbers: {loads!r}", param_hint="--loads") from None

    def from_lines():
        for line in sys.stdin:
            kg = stdin_load(line)
            if kg is None:
                if line.strip():
                    click.echo(f"not a load in kg (a number from 0): {line.strip()[:40]!r}", err=True)
                continue
            taken_over.set()
            emu.put(kg)

    with emu:
        emu.put(load_kg)
        click.echo(emu.port, nl=True)
        if from_stdin:
            threading.Thread(target=from_lines, daemon=True, name="scale-stdin").start()
        turn = 0
        try:
            while not stop.wait(every if cycle else 0.2):
                if cycle and not taken_over.is_set() and not (once and turn >= len(cycle)):
                    emu.put(cycle[turn % len(cycle)])
                    turn += 1
        except KeyboardInterrupt:
            pass


MAX_STDIN_KG = 100_000.0


def stdin_load(line: str) -> float | None:
    """A load typed on the emulator's stdin ("1.234", "1,234", "0"), None when it is not one."""
    try:
        kg = float(line.strip().replace(",", "."))
    except ValueError:
        return None
    return kg if math.isfinite(kg) and 0 <= kg <= MAX_STDIN_KG else None


commands = [("devices", list_devices), ("devices", probe), ("emulate", scale)]
