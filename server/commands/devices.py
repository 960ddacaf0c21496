"""`cellwms devices ...` and `cellwms emulate scale|scanner|camera ...`: station-side tools.

They live in `terminal` (the station agent's package), which the server never imports: these
commands replace this process with `python -m terminal.cli ...`, same arguments, same terminal.
"""

import os
import sys

import click

from server.commands.printing import emulate

FORWARD = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _forward(*words: str):
    argv = [sys.executable, "-m", "terminal.cli", *words]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


@click.command("devices", context_settings=FORWARD, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def devices(args):
    """Find and check a station's devices: list, probe (see `cellwms devices --help`)."""
    _forward("devices", *args)


EMULATORS = {
    "scale": "Run a serial scale emulator on a new pty until stopped",
    "scanner": "Run a serial barcode scanner emulator on a new pty until stopped",
    "camera": "Run a synthetic camera (frames with barcodes) until stopped",
}


def _emulator(kind: str):
    @click.command(kind, context_settings=FORWARD, add_help_option=False)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run(args):
        _forward("emulate", kind, *args)

    run.help = f"{EMULATORS[kind]} (see `cellwms emulate {kind} --help`)."
    return run


for kind in EMULATORS:
    emulate.add_command(_emulator(kind))

commands = [devices]
