"""CLI commands for scales, and the shared `devices list` / `devices probe` (see terminal/cli.py).

`devices probe` finds the profile among scales, scanners and cameras, in that order, and hands
scanners and cameras to their own probe functions.
"""

import glob
import json
import signal
import threading

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


def _profile_kind(profile_name: str) -> str:
    for kind in ("scales", "scanners", "cameras"):
        try:
            read_profile(kind, profile_name)
            return kind
        except ProfileError:
            continue
    raise click.ClickException(f"{profile_name}: no scale, scanner or camera profile of that name")


def probe_scale(profile_name, url, count, as_json, timeout=5.0):
    from terminal.devices.scales.driver import ScaleDriver
    from terminal.devices.scales.profile import load

    try:
        name, profile = load(profile_name)
    except ProfileError as error:
        raise click.ClickException(str(error)) from None

    def say(text):
        click.echo(text, err=True)

    try:
        driver = ScaleDriver(profile, url, say=say).open()
    except Exception as error:  # noqa: BLE001 - any open failure is the installer's answer
        raise click.ClickException(f"cannot open {url}: {error}") from None
    seen = 0
    with driver:
        for reading in driver.readings(count=count, timeout=timeout):
            seen += 1
            if as_json:
                click.echo(json.dumps({"profile": name, "port": url, **reading.as_dict()}))
            else:
                value = "-" if reading.value is None else f"{reading.value:g}"
                mark = "stable" if reading.stable else reading.status
                click.echo(f"{value} {reading.unit} {'net' if reading.net else 'gross'} {mark}")
    if seen < count:
        raise click.ClickException(f"{name}: {seen} of {count} readings from {url} within {timeout:g} s")


@click.command("scale")
@click.option("--profile", "profile_name", required=True, help="scale profile (serial protocols)")
@click.option("--link", default=None, help="path of the symlink to the pty (default: a temp dir)")
@click.option("--load", "load_kg", default=1.0, show_default=True, help="load on the platform, kg")
@click.option("--loads", default="", help="comma-separated loads in kg to put on in turn, e.g. 0,1.25,0,2.4")
@click.option("--every", type=float, default=5.0, show_default=True, help="seconds between --loads")
def scale(profile_name, link, load_kg, loads, every):
    """Run a scale emulator on a new pty; prints its path and runs until stopped."""
    from terminal.devices.scales.profile import load
    from terminal.emulators.scale import ScaleEmulator

    try:
        _, profile = load(profile_name)
        emu = ScaleEmulator(profile, link=link)
    except (ProfileError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        cycle = [float(kg) for kg in loads.split(",") if kg.strip()]
    except ValueError:
        raise click.BadParameter(f"not a list of numbers: {loads!r}", param_hint="--loads") from None
    with emu:
        emu.put(load_kg)
        click.echo(emu.port, nl=True)
        turn = 0
        try:
            while not stop.wait(every if cycle else 0.2):
                if cycle:
                    emu.put(cycle[turn % len(cycle)])
                    turn += 1
        except KeyboardInterrupt:
            pass


commands = [("devices", list_devices), ("devices", probe), ("emulate", scale)]
