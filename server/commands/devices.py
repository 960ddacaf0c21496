"""`cellwms devices ...`, `cellwms emulate ...` and `cellwms station --profile ...`: station-side tools.

They live in `terminal` (the station agent's own program, `cellwms-station`), which the server
never imports: these commands replace this process with the station program (`python -m
terminal.cli`, the module behind `cellwms-station`), same arguments, same terminal.
"""

import os
import sys

import click

from server.commands.people import station_group
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


@click.command("outbox", context_settings=FORWARD, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def outbox(args):
    """Look into a station agent's outbox: show, requeue (see `cellwms outbox --help`)."""
    _forward("outbox", *args)


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

class StationGroup(click.Group):
    """`cellwms station create ...` and the other server-side station commands run here; anything
    else is the station agent: `cellwms station --profile P --server URL --token T` runs
    `cellwms-station --profile P ...` (see `cellwms-station --help`)."""

    def list_commands(self, ctx):
        return station_group.list_commands(ctx)

    def get_command(self, ctx, name):
        return station_group.get_command(ctx, name)

    def parse_args(self, ctx, args):
        if (args and args[0] in self.list_commands(ctx)) or args == ["--help"]:
            return super().parse_args(ctx, args)
        _forward("station", *args)


station = StationGroup("station", help=StationGroup.__doc__)

commands = [devices, outbox, station]
