"""`cellwms emulate printer` (a printer emulator until stopped) and the `cellwms print` group.

The emulator lives in `terminal.emulators`; the server never imports `terminal`, so the command
runs it as a child process of the same Python.
"""

import subprocess
import sys

import click

from printers.profiles import ProfileError, load_profile


@click.group("emulate")
def emulate():
    """Run device emulators (for the demo and for trying a station without hardware)."""


@emulate.command("printer")
@click.option("--profile", required=True, help="Printer profile name (firmware_profiles/printers) or a .toml path.")
@click.option("--port", default=9100, show_default=True, type=click.IntRange(0, 65535), help="TCP port; 0: any free port.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--serial", is_flag=True, help="Also offer a pty serial port (its path is printed).")
@click.option("--out", type=click.Path(file_okay=False), help="Save each job (and a PNG for ZPL) in this folder.")
def printer(profile, port, host, serial, out):
    """Run a ZPL or ESC/POS printer emulator (by the profile's language) until stopped."""
    try:
        load_profile(profile)
    except ProfileError as error:
        raise click.ClickException(str(error)) from None
    argv = [sys.executable, "-m", "terminal.emulators.printer_cli", "--profile", profile, "--port", str(port),
            "--host", host]
    if serial:
        argv.append("--serial")
    if out:
        argv += ["--out", out]
    child = subprocess.Popen(argv)
    try:
        code = child.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C
        code = child.wait()
    if code:
        raise SystemExit(code)


@click.group("print")
def print_group():
    """Print test labels and receipts, and render previews."""


commands = (emulate, print_group)
