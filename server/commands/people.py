"""`cellwms user ...` and `cellwms station ...`."""

import click
from flask.cli import with_appcontext

from server.auth import new_token
from server.extensions import db
from server.models import ApiToken, Role, StationKind, User
from server.services import accounts, audit
from server.services.errors import DomainError


@click.group("user")
def user_group():
    """Users and their sign-in."""


@user_group.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", "full_name", default="")
@click.option("--password", default=None, help="For supervisors and admins (signs in by password).")
@click.option("--badge", default=None, help="Badge code workers scan to sign in.")
@click.option("--pin", default=None, help="Optional PIN asked after the badge scan.")
@with_appcontext
def create_user(username, roles, full_name, password, badge, pin):
    """Create a user."""
    try:
        user = accounts.create_user(username, roles, full_name=full_name, password=password, badge=badge, pin=pin)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    audit.record(None, "user.create", user.username, roles=sorted(user.roles), via="cli")
    db.session.commit()
    click.echo(f"user {user.username} created ({', '.join(sorted(user.roles))})")


@user_group.command("token")
@click.argument("username")
@click.option("--name", default="cli")
@with_appcontext
def user_token(username, name):
    """Issue an API token for USERNAME (printed once)."""
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    token, digest = new_token()
    db.session.add(ApiToken(user_id=user.id, name=name, token_hash=digest))
    db.session.commit()
    click.echo(token)


@click.group("station")
def station_group():
    """Stations (dock, pick, pack, handoff, returns desks)."""


@station_group.command("create")
@click.argument("code")
@click.option("--kind", required=True, type=click.Choice([k.value for k in StationKind]))
@click.option("--warehouse", "warehouse_code", default=None, help="Warehouse code (default: the only one).")
@click.option("--name", default="")
@with_appcontext
def create_station(code, kind, warehouse_code, name):
    """Register a station and print its token (shown once)."""
    try:
        station, token = accounts.create_station(code, kind, accounts.find_warehouse(warehouse_code), name)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    audit.record(None, "station.create", station.code, kind=station.kind, via="cli")
    db.session.commit()
    click.echo(token)


commands = [user_group, station_group]
