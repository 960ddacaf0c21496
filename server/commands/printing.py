"""`cellwms emulate printer` (a printer emulator until stopped) and the `cellwms print` group.

The emulator lives in `terminal.emulators`; the server never imports `terminal`, so the command
runs it as a child process of the same Python.
"""

import json
import subprocess
import sys

import click

from printers import documents
from printers.errors import TemplateError
from printers.profiles import ProfileError, load_profile
from printers.spool import SpoolError, print_job
from printers.transports import PrinterURLError, TransportError


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


def print_every_template(urls: dict[str, str]) -> list[str]:
    """Print each template once on the first printer (profile -> URL) that speaks its language."""
    report = []
    for name, url in urls.items():
        profile = load_profile(name)
        for template in documents.templates_for(profile):
            job = documents.render(template, documents.sample(template), profile)
            result = print_job(url, profile, job, timeout=30)
            report.append(f"{template} -> {profile.vendor} {profile.model} ({len(job)} bytes, "
                          f"{result.attempts} attempt(s))")
    return report


@click.group("print")
def print_group():
    """Print test labels and receipts, and render previews."""


def _document(template: str, profile_name: str, data_file: str | None) -> tuple[bytes, dict]:
    """The template's data (a JSON file, or its sample) for a profile; click errors on bad input."""
    try:
        profile = load_profile(profile_name)
        data = documents.sample(template)
        if data_file:
            with open(data_file, encoding="utf-8") as stream:
                data = json.load(stream)
        return profile, data
    except (ProfileError, TemplateError) as error:
        raise click.ClickException(str(error)) from None
    except (OSError, json.JSONDecodeError) as error:
        raise click.ClickException(f"{data_file}: {error}") from None


@print_group.command("preview")
@click.argument("template", type=click.Choice(documents.TEMPLATE_NAMES))
@click.option("--profile", "profile_name", required=True, help="Printer profile name or a .toml path.")
@click.option("--data", "data_file", type=click.Path(dir_okay=False), help="JSON data (default: sample data).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
def preview(template, profile_name, data_file, out):
    """Render TEMPLATE as the printer would print it, to a PNG."""
    profile, data = _document(template, profile_name, data_file)
    try:
        png = documents.preview_png(template, data, profile)
    except TemplateError as error:
        raise click.ClickException(str(error)) from None
    with open(out, "wb") as stream:
        stream.write(png)
    click.echo(f"{template} for {profile.vendor} {profile.model}: {out}")


@print_group.command("test")
@click.option("--profile", "profile_name", required=True, help="Printer profile name or a .toml path.")
@click.option("--to", "url", required=True, help="Printer URL: tcp://host:9100, cups://queue, usb://04b8:0202, "
              "serial:///dev/ttyUSB0?baud=9600, file:///path.")
@click.option("--template", default=None, type=click.Choice(documents.TEMPLATE_NAMES),
              help="Default: a cell label on label printers, a packing slip on receipt printers.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for a printer that is not ready.")
def test(profile_name, url, template, timeout):
    """Print a test label or receipt, waiting out paper out or an open head."""
    try:
        profile = load_profile(profile_name)
    except ProfileError as error:
        raise click.ClickException(str(error)) from None
    template = template or documents.templates_for(profile)[0]
    try:
        job = documents.render(template, documents.sample(template), profile)
        result = print_job(url, profile, job, timeout=timeout)
    except (TemplateError, PrinterURLError, TransportError, SpoolError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"printed {template} on {url} ({len(job)} bytes, {result.attempts} attempt(s), "
               f"waited {result.waited_s:.1f} s)")


commands = (emulate, print_group)
