"""Station-side commands: `cellwms station ...` (the agent), `cellwms devices ...`, `cellwms emulate ...`.

The server's `cellwms` command hands these to `python -m terminal.cli` (the server never
imports `terminal`). Each device family adds its commands in terminal/commands/<family>.py.
"""

import click

from terminal.commands import cameras, scales, scanners, station


@click.group()
def main():
    """cellwms station-side tools."""


@main.group("devices")
def devices():
    """Find and check the devices of a station."""


@main.group("emulate")
def emulate():
    """Run device emulators until stopped."""


for family in (scales, scanners, cameras):
    for group_name, command in family.commands:
        {"devices": devices, "emulate": emulate}[group_name].add_command(command)

main.add_command(station.command)
main.add_command(station.outbox_group)

if __name__ == "__main__":
    main()
