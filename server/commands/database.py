"""`cellwms db`: create and migrate the database (Alembic through Flask-Migrate)."""

import click
import flask_migrate
from flask.cli import with_appcontext


@click.group("db")
def db_group():
    """Create and migrate the database."""


@db_group.command("init")
@with_appcontext
def init():
    """Create the schema in an empty database (same as upgrade to the newest revision)."""
    flask_migrate.upgrade()
    click.echo("database ready")


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade(revision):
    """Migrate the database to REVISION (default: the newest)."""
    flask_migrate.upgrade(revision=revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def downgrade(revision):
    """Migrate the database back to REVISION."""
    flask_migrate.downgrade(revision=revision)


@db_group.command("current")
@with_appcontext
def current():
    """Show the database's revision."""
    flask_migrate.current()


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def revision(message):
    """(developers) Write a new migration from the models' changes."""
    flask_migrate.revision(message=message, autogenerate=True)


commands = [db_group]
