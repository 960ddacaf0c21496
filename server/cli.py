"""The `cellwms` command: database, users, stations, layout, import, server, demo."""

import click
from flask.cli import FlaskGroup


def _create_app():
    from server import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, load_dotenv=False)
def main():
    """cellwms warehouse server."""


def register_commands(app) -> None:
    """Commands are attached to the app so `flask --app server` and `cellwms` offer the same."""
    from server.commands import register

    register(app)
