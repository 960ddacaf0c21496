"""CLI commands for scanners (see terminal/cli.py): `cellwms emulate scanner`."""

import signal
import sys
import threading

import click

from terminal.devices.profiles import ProfileError


@click.command("scanner")
@click.option("--profile", "profile_name", required=True, help="Scanner profile name or TOML path.")
@click.option("--link", default=None, help="Path of the symlink to the pty (default: a new temp dir).")
@click.option("--rate", type=float, default=None, help="Bytes per second (default: baudrate / 10).")
@click.option("--every", type=float, default=0.0, help="Scan the sample codes every N seconds (0: off).")
@click.option("--codes", "codes_file", type=click.File(encoding="utf-8"), default=None,
              help="Codes for --every, one a line (same notation as stdin), instead of the samples.")
def scanner_command(profile_name, link, rate, every, codes_file):
    """Serial scanner emulator on a new pty: prints its path, then scans each line read from stdin
    ({GS} or \\x1d for the group separator; "]d2 0104..." to give an AIM identifier) until stopped."""
    from terminal.devices.scanners import load_profile
    from terminal.emulators.scanner import SAMPLES, ScannerEmulator

    try:
        name, profile = load_profile(profile_name)
    except ProfileError as error:
        raise click.ClickException(str(error)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ScannerEmulator(profile, link=link, byte_rate=rate) as emulator:
        click.echo(emulator.port, nl=True)
        click.echo(f"{profile['vendor']} {profile['model']} ({name}) on {emulator.port} "
                   f"-> {emulator.pty.link.resolve()}; type codes to scan, Ctrl+C stops", err=True)
        sys.stdout.flush()

        def from_stdin():
            for line in sys.stdin:
                scan = _parse_line(line)
                if scan:
                    emulator.scan(scan[1], scan[0])

        threading.Thread(target=from_stdin, daemon=True).start()
        codes = [scan for scan in map(_parse_line, codes_file) if scan] if codes_file else SAMPLES
        i = 0
        try:
            while not stop.wait(every or 3600):
                if every and codes:
                    aim, text = codes[i % len(codes)]
                    emulator.scan(text, aim)
                    i += 1
        except KeyboardInterrupt:
            pass


def _parse_line(line: str) -> tuple[str, str] | None:
    """'0104...{GS}91..' or ']d2 0104...' -> (AIM identifier or "", text); None for a blank line."""
    text = line.rstrip("\r\n").replace("{GS}", "\x1d").replace("\\x1d", "\x1d")
    aim, _, rest = text.partition(" ")
    if len(aim) == 3 and aim.startswith("]") and rest:
        return aim, rest
    return ("", text) if text else None


commands = [("emulate", scanner_command)]
