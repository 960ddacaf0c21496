"""`cellwms server` (development server) and `cellwms demo` (seeded demo warehouse + server).

Production runs the same application under gunicorn: `gunicorn -w 4 -b 0.0.0.0:8000 'server:create_app()'`.
"""

import os
import signal
import time

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from server.commands.printing import DEMO_PRINTERS, print_every_template, start_emulator
from server.extensions import db


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
        click.echo("development server; in production run: gunicorn -w 4 -b 0.0.0.0:8000 'server:create_app()'")

    _serve(app, host, port, banner)


@click.command("demo")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-stations", is_flag=True, help="Start the server alone, without emulated stations.")
@with_appcontext
def demo(port, host, no_stations):
    """Seed the demo warehouse (once) in its own database and serve it.

    The database is instance/demo.db, or DATABASE_URL if set; a database that holds anything but
    the demo is never seeded.
    """
    from server import create_app
    from server.services.demo import DemoRefused, issue_station_tokens, seed_demo

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{os.path.join(current_app.instance_path, 'demo.db')}"
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
        click.echo("sign-in details (scan or type the badge code; supervisors and admins may use a password):")
        for u in users:
            secret = f"password {u.password}" if u.password else ""
            click.echo(f"  {', '.join(u.roles):<11} {u.username:<11} badge {u.badge:<9} {secret}".rstrip())
        click.echo("station tokens (new at every start):")
        for code, token in tokens.items():
            click.echo(f"  {code:<7} {token}")
        if no_stations:
            click.echo("stations: not started (--no-stations)")
        else:
            click.echo("printer emulators (every template printed once; jobs and PNGs in "
                       f"{prints_dir}):")
            for name, url in printer_urls.items():
                click.echo(f"  {name:<16} {url}")
            for line in printed:
                click.echo(f"  printed {line}")
            click.echo(f"  previews: {base}/print")
            click.echo("stations: emulated station agents arrive with the station agent")
        click.echo("Ctrl+C stops the demo")

    # A terminated demo stops its printer emulators too (SIGTERM unwinds like Ctrl+C).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    prints_dir = os.path.join(app.instance_path, "demo-prints")
    printer_urls, printed, emulators = {}, [], []
    if not no_stations:
        for name in DEMO_PRINTERS:
            child, url = start_emulator(name, os.path.join(prints_dir, name))
            emulators.append(child)
            printer_urls[name] = url
        printed = print_every_template(printer_urls)
    try:
        _serve(app, host, port, banner)
    finally:
        for child in emulators:
            child.terminate()
            child.wait(timeout=10)


def _exit_on_sigterm(_signum, _frame):
    raise SystemExit(0)


def _shown_url(app) -> str:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)


commands = [server, demo]
