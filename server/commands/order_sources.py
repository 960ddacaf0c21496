"""`cellwms order-source add|list|disable`: shop platforms that send orders to the signed intake."""

import secrets

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from server.extensions import db
from server.models import OrderSource
from server.services.importer.records import ImportFailed
from server.services.importer.values import _warehouse


@click.group("order-source")
def order_source():
    """Shop platforms sending orders to POST /api/v1/intake/orders/CODE (signed)."""


@order_source.command("add")
@click.argument("code")
@click.option("--name", default="", help="The shop's name.")
@click.option("--warehouse", "warehouse_code", default=None, help="Warehouse code (default: the only one).")
@click.option("--confirm/--no-confirm", default=False, help="Confirm its orders with the customer first.")
@click.option("--partial/--no-partial", default=False, help="Reserve what there is when stock is short.")
@with_appcontext
def add(code, name, warehouse_code, confirm, partial):
    """Add a source and print its signing secret (shown once)."""
    if not code or len(code) > 64 or not code.replace("-", "").replace("_", "").isalnum():
        raise click.ClickException("CODE: 1 to 64 letters, digits, - or _.")
    if db.session.execute(select(OrderSource).filter_by(code=code)).scalar_one_or_none():
        raise click.ClickException(f"order source {code} exists")
    try:
        warehouse = _warehouse(warehouse_code)
    except ImportFailed as e:
        raise click.ClickException(str(e.errors[0])) from None
    secret = secrets.token_hex(32)
    db.session.add(OrderSource(code=code, name=name, warehouse_id=warehouse.id, secret=secret,
                               needs_confirmation=confirm, partial_allowed=partial))
    db.session.commit()
    click.echo(f"order source {code}: POST /api/v1/intake/orders/{code}")
    click.echo(f"secret (sign with HMAC-SHA256; shown once): {secret}")


@order_source.command("list")
@with_appcontext
def list_sources():
    """The sources and their settings."""
    for source in db.session.execute(select(OrderSource).order_by(OrderSource.code)).scalars():
        flags = ", ".join(f for f, on in (("confirm", source.needs_confirmation), ("partial", source.partial_allowed),
                                          ("disabled", not source.active)) if on)
        click.echo(f"{source.code:<20} {source.name} {flags}".rstrip())


@order_source.command("disable")
@click.argument("code")
@with_appcontext
def disable(code):
    """Refuse the source's orders from now on."""
    source = db.session.execute(select(OrderSource).filter_by(code=code)).scalar_one_or_none()
    if source is None:
        raise click.ClickException(f"no order source {code}")
    source.active = False
    db.session.commit()
    click.echo(f"order source {code} disabled")


commands = [order_source]
