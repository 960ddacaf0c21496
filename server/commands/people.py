"""`cellwms user ...` and `cellwms station ...`."""

import click
from flask.cli import with_appcontext

from server.auth import new_token
from server.extensions import db
from server.models import ApiToken, Role, Station, StationKind, User, Warehouse


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
    if db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none():
        raise click.ClickException(f"user {username!r} exists")
    if not password and not badge:
        raise click.ClickException("give --password, --badge or both")
    if badge and db.session.execute(db.select(User).filter_by(badge_code=badge)).scalar_one_or_none():
        raise click.ClickException(f"badge {badge!r} belongs to another user")
    user = User(username=username, full_name=full_name, badge_code=badge or None)
    user.roles = roles
    if password:
        user.set_password(password)
    user.set_pin(pin)
    db.session.add(user)
    db.session.commit()
    click.echo(f"user {username} created ({', '.join(sorted(user.roles))})")


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
    warehouse = _warehouse(warehouse_code)
    if db.session.execute(db.select(Station).filter_by(code=code)).scalar_one_or_none():
        raise click.ClickException(f"station {code!r} exists")
    token, digest = new_token()
    db.session.add(Station(code=code, kind=kind, name=name or code, warehouse_id=warehouse.id, token_hash=digest))
    db.session.commit()
    click.echo(token)


def _warehouse(code: str | None) -> Warehouse:
    if code:
        warehouse = db.session.execute(db.select(Warehouse).filter_by(code=code)).scalar_one_or_none()
        if warehouse is None:
            raise click.ClickException(f"no warehouse {code!r}")
        return warehouse
    warehouses = db.session.execute(db.select(Warehouse)).scalars().all()
    if len(warehouses) != 1:
        raise click.ClickException(f"give --warehouse (there are {len(warehouses)} warehouses)")
    return warehouses[0]


commands = [user_group, station_group]
