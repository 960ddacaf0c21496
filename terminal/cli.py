"""`cellwms-station`: the station agent's own program, and its device tools.

    cellwms-station --profile firmware_profiles/stations/pack-1.toml --server URL --token T
    cellwms-station devices list | devices probe --profile P --port PORT
    cellwms-station emulate scale|scanner|camera ...
    cellwms-station outbox show|requeue FILE

It never imports Flask, SQLAlchemy or `server` (tests/test_station_cli.py runs it with those
unimportable, from cwd=/), so it installs on a station PC with `pip install 'cellwms[station]'`
alone. The server's `cellwms devices|emulate|outbox|station --profile ...` hand their arguments
to this program (`python -m terminal.cli`); each device family adds its commands in
terminal/commands/<family>.py.
"""

import click

from terminal.commands import cameras, scales, scanners, station

PROG = "cellwms-station"


class AgentGroup(click.Group):
    """`cellwms-station --profile P --server URL --token T` runs the agent (the `run` command);
    a first word that names a command runs that command."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=AgentGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """cellwms station agent: scanners, scales, printers and cameras -> outbox -> server.

    \b
    Run a station (options: `cellwms-station run --help`):
      cellwms-station --profile firmware_profiles/stations/NAME.toml --server URL --token T
    Check its devices:
      cellwms-station devices list
      cellwms-station devices probe --profile firmware_profiles/scales/MODEL.toml --port /dev/ttyUSB0
    """


@main.group("devices")
def devices():
    """Find and check the devices of a station."""


@main.group("emulate")
def emulate():
    """Run device emulators until stopped."""


for family in (scales, scanners, cameras):
    for group_name, command in family.commands:
        {"devices": devices, "emulate": emulate}[group_name].add_command(command)

main.add_command(station.command, "run")
# `cellwms station --profile ...` on the server forwards here as `station ...`: the same command.
main.add_command(click.Command("station", callback=station.command.callback, params=station.command.params,
                               help=station.command.help, hidden=True))
main.add_command(station.outbox_group)


def run() -> None:
    main(prog_name=PROG)


if __name__ == "__main__":
    run()
