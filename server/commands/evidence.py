"""`cellwms evidence verify FILE.zip`: check a parcel's evidence pack; `cellwms export marking-codes
--order N`: an order's marking codes for the shop's marking-system report."""

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from server.extensions import db
from server.models import Order
from server.services import evidence, marking_export
from server.services.errors import DomainError


@click.group("evidence")
def evidence_group():
    """Evidence packs of parcels (docs/evidence.md)."""


@evidence_group.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", "key_path", type=click.Path(exists=True, dir_okay=False),
              help="The PEM public key to check with (default: this installation's).")
@with_appcontext
def verify(path, key_path):
    """Check a pack: every file's sha256 and size, and the manifest's signature. Exit 1 if not valid."""
    try:
        key = evidence.load_public_key(Path(key_path).read_bytes()) if key_path else None
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    with open(path, "rb") as pack:
        problems = evidence.verify_pack(pack.read(), key)
    if problems:
        for problem in problems:
            click.echo(f"FAIL {problem}")
        sys.exit(1)
    click.echo(f"OK {path}: every hash matches, the signature is valid")


@evidence_group.command("public-key")
@with_appcontext
def public_key():
    """Print this installation's public key (PEM) and its fingerprint."""
    click.echo(evidence.public_key_pem(), nl=False)
    click.echo(f"fingerprint sha256:{evidence.fingerprint()}")


@click.group("export")
def export_group():
    """Exports for other systems."""


def _order_id(given: str) -> int:
    order_id = db.session.execute(select(Order.id).where(Order.number == given[:64])).scalar_one_or_none()
    if order_id is None and given.isdigit() and len(given) < 19:
        order_id = db.session.execute(select(Order.id).where(Order.id == int(given))).scalar_one_or_none()
    if order_id is None:
        raise click.ClickException(f"no order {given!r} (give its number or id)")
    return order_id


@export_group.command("marking-codes")
@click.option("--order", "order", required=True, help="The order's number (or id).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write here, not to stdout.")
@with_appcontext
def marking_codes(order, fmt, output):
    """An order's marking codes: CSV (UTF-8 with a BOM, `;`-separated) or JSON."""
    order_id = _order_id(order)
    if fmt == "csv":
        data = marking_export.marking_codes_csv(order_id).encode("utf-8")
    else:
        data = (json.dumps(marking_export.marking_codes(order_id), ensure_ascii=False, indent=2) + "\n").encode()
    if output:
        with open(output, "wb") as out:
            out.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


commands = [evidence_group, export_group]
