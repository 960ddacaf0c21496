"""`cellwms-station --profile P --server URL --token T`: run a station agent until stopped."""

import logging
import os
import signal
import sys
from pathlib import Path

import click

from terminal.devices.profiles import ProfileError


def default_outbox(station: str) -> Path:
    """$STATE_DIRECTORY (systemd StateDirectory=) or ~/.local/state/cellwms, one file per station."""
    root = os.environ.get("STATE_DIRECTORY") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "cellwms")
    return Path(root) / f"station-{station}.outbox.db"


@click.command("station")
@click.option("--profile", "profile_path", required=True, help="station profile: a .toml path or a name in "
              "firmware_profiles/stations/")
@click.option("--server", "server_url", required=True, envvar="CELLWMS_SERVER", help="e.g. http://wms.local:8000")
@click.option("--token", required=True, envvar="CELLWMS_STATION_TOKEN",
              help="the station's token (`cellwms station create`); or CELLWMS_STATION_TOKEN")
@click.option("--outbox", "outbox_path", default=None, help="outbox file (default: $STATE_DIRECTORY or "
              "~/.local/state/cellwms/station-<name>.outbox.db)")
@click.option("--status-port", default=0, type=click.IntRange(0, 65535),
              help="serve GET /status on 127.0.0.1:N for the station page (0: off)")
@click.option("--heartbeat", "heartbeat_every", default=10.0, type=click.FloatRange(min=0.5), help="seconds")
@click.option("--media-dir", default=None, help="where cameras write stills and clips")
@click.option("--retry-max", default=5.0, type=click.FloatRange(min=0.05),
              help="longest wait in seconds between tries to reach the server")
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def command(profile_path, server_url, token, outbox_path, status_port, heartbeat_every, media_dir, retry_max,
            verbose):
    """Run the station agent: devices -> outbox -> server, and device jobs back."""
    from terminal.station.agent import Agent
    from terminal.station.profile import load_station_profile

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        profile = load_station_profile(profile_path)
    except ProfileError as error:
        click.echo(f"bad station profile: {error}", err=True)
        sys.exit(2)
    try:
        agent = Agent(profile, server_url, token, str(outbox_path or default_outbox(profile.name)),
                      media_dir=media_dir, status_port=status_port or None, heartbeat_every=heartbeat_every,
                      backoff=(min(0.2, retry_max), retry_max))
    except (ValueError, ProfileError) as error:
        click.echo(f"cannot start station {profile.name}: {error}", err=True)
        sys.exit(2)

    def on_signal(signum, frame):
        agent.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = agent.run()
    if agent.fatal:
        click.echo(f"station {profile.name} stopped: {agent.fatal}", err=True)
    sys.exit(code)


@click.group("outbox")
def outbox_group():
    """Look into a station agent's outbox (run it where the agent runs)."""


@outbox_group.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def outbox_show(path):
    """Events waiting, media waiting, the events set aside (held) and the media refused, with why."""
    from terminal.station.outbox import Outbox

    box = Outbox(path, recover=False)
    try:
        count, oldest = box.waiting()
        click.echo(f"waiting: {count} events" + (f" (oldest {oldest})" if oldest else ""))
        click.echo(f"media waiting: {box.media_waiting()}")
        held = box.held_events()
        click.echo(f"held: {len(held)}")
        for event in held:
            click.echo(f"  {event['event_id']} {event['kind']} {event['device'] or ''} {event['occurred_at']}: "
                       f"{event['reason']}")
        refused, files = box.media_refused(limit=1000)
        click.echo(f"media refused: {refused}")
        for media in files:
            click.echo(f"  {media['path']} {media['sha256'][:12]} {media['refused_at']}: {media['reason']}")
    finally:
        box.close()


@outbox_group.command("requeue")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.argument("event_ids", nargs=-1)
def outbox_requeue(path, event_ids):
    """Send held events again (all, or the given ids) once the bug that refused them is fixed.
    Safe while the agent runs: the outbox is shared through SQLite."""
    from terminal.station.outbox import Outbox

    box = Outbox(path, recover=False)
    try:
        moved = box.requeue_held(list(event_ids) or None)
    finally:
        box.close()
    click.echo(f"requeued: {moved} events")
