"""`cellwms server` (development server) and `cellwms demo` (seeded demo warehouse + server).

Production runs the same application under gunicorn: `gunicorn -k gthread -w 4 --threads 32 -b 0.0.0.0:8000 'server:create_app()'`.
"""

import logging
import os
import signal
import time
from pathlib import Path

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from server.commands.demo_stations import DemoStations, queue_first_jobs
from server.commands.demo_webhooks import DemoWebhooks
from server.commands.printing import print_every_template
from server.extensions import db
from server.web.stations import DEMO_SCALES


def _serve(app, host: str, port: int, banner) -> None:
    """Bind first, then print (so a printed URL always answers), then serve until interrupted."""
    try:
        httpd = make_server(host, port, app, threaded=True)
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    shown_host = f"[{host}]" if ":" in host else host
    banner(f"http://{shown_host}:{httpd.server_port}")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    click.echo("stopped")


@click.command("server")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to listen on every interface.")
@with_appcontext
def server(port, host):
    """Run the development server (threaded). Production: gunicorn 'server:create_app()'."""
    app = current_app._get_current_object()

    def banner(url):
        click.echo(f"cellwms server at {url}/  (database: {_shown_url(app)})")
        click.echo("development server; in production run: gunicorn -k gthread -w 4 --threads 32 -b 0.0.0.0:8000 'server:create_app()'")

    _serve(app, host, port, banner)


@click.command("demo")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-stations", is_flag=True, help="Start the server alone, without emulated stations.")
@with_appcontext
def demo(port, host, no_stations):
    """Seed the demo warehouse (once) in the instance database and serve it.

    The database is the one every other command uses (DATABASE_URL, or instance/cellwms.db), so
    `cellwms stock check` and the rest see the demo; a database that holds anything but the demo
    is never seeded.
    """
    from server import create_app
    from server.services.demo import DemoRefused, issue_shop_token, issue_station_tokens, seed_demo

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": current_app.instance_path})
    with app.app_context():
        click.echo(f"demo database: {_shown_url(app)}")
        flask_migrate.upgrade()
        started = time.perf_counter()
        try:
            info = seed_demo()
        except DemoRefused as e:
            db.session.rollback()
            raise click.ClickException(str(e)) from None
        tokens = issue_station_tokens()
        shop_token = issue_shop_token()
        db.session.commit()
        if info.created:
            click.echo(f"demo warehouse seeded in {time.perf_counter() - started:.1f} s")
        click.echo(
            f"{info.cells} cells, {info.skus} SKUs, stock in {info.stocked_cells} cells "
            f"({info.movements} ledger movements)"
        )
        users = info.users
        db.session.remove()

    def banner(base):
        click.echo("")
        click.echo(f"cellwms demo at {base}/")
        click.echo(f"  sign in:  {base}/sign-in")
        click.echo(f"  API:      {base}/api/v1/openapi.json")
        click.echo("")
        click.echo("sign-in details (scan or type the badge code; supervisors and admins: badge + PIN or password):")
        for u in users:
            secret = " ".join(part for part in (
                f"PIN {u.pin}" if u.pin else "", f"password {u.password}" if u.password else "") if part)
            click.echo(f"  {', '.join(u.roles):<11} {u.username:<11} badge {u.badge or '-':<9} {secret}".rstrip())
        click.echo(f"shop API token (orders: POST {base}/api/v1/orders; new at every start): {shop_token}")
        click.echo("station tokens (new at every start):")
        for code, token in tokens.items():
            click.echo(f"  {code:<9} {token}")
        if no_stations:
            click.echo("stations: not started (--no-stations)")
        else:
            click.echo(f"printed every template once on PACK-1's printers (jobs and PNGs in {prints_dir}):")
            for line in printed:
                click.echo(f"  printed {line}")
            click.echo(f"  previews: {base}/print")
            click.echo("emulated stations (scanner, scale, printers, camera -> station agent -> this server):")
            for line in described:
                click.echo(f"  {line}")
            stations.server_url = "http://127.0.0.1:" + base.rsplit(":", 1)[1]
            stations.start_agents()
            stations.sign_in_workers(app)
            with app.app_context():
                for line in queue_first_jobs():
                    click.echo(f"  first jobs {line}")
                db.session.remove()
            click.echo(f"  station screens: {base}/stations (agents' logs in {stations.root}/<code>/agent.log)")
        for line in webhook_lines:
            click.echo(line)
        click.echo(f"  received webhooks: {base}/webhooks/demo-receiver  (delivery log: {base}/webhooks)")
        click.echo("Ctrl+C stops the demo")

    # Four agents call every few seconds: the request log would drown the banner.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # A terminated demo stops its emulators and agents too (SIGTERM unwinds like Ctrl+C).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    prints_dir = os.path.join(app.instance_path, "demo-prints")
    stations = DemoStations(Path(app.instance_path) / "demo-stations", "", tokens)
    printed, described = [], []
    hooks = DemoWebhooks(app)
    try:
        webhook_lines = hooks.start()
        if not no_stations:
            with app.app_context():
                described = stations.start_devices()
                db.session.remove()
            app.extensions[DEMO_SCALES] = stations  # the pack stations' demo control puts loads on
            printed = print_every_template({p: stations.printers["PACK-1"][name] for name, p in
                                            (("label_printer", "zebra-zd421-203"),
                                             ("receipt_printer", "epson-tm-t20iii"))})
        _serve(app, host, port, banner)
    finally:
        hooks.stop()
        stations.stop()


def _exit_on_sigterm(_signum, _frame):
    raise SystemExit(0)


def _shown_url(app) -> str:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)


commands = [server, demo]
