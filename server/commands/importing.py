"""`cellwms import skus|barcodes|stock|deliveries FILE`: master data and ASNs from CSV or JSON (docs/import.md)."""

import os

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import DatabaseError

from server.extensions import db
from server.services.importer import ImportFailed, import_barcodes, import_skus, import_stock, read_file
from server.services.inbound_import import import_deliveries
from server.services.order_import import import_orders

MAX_PRINTED_ERRORS = 200


@click.group("import")
def import_group():
    """Import SKUs, barcodes, opening stock and expected deliveries (all or nothing)."""


def _run(path: str, importer, once: bool = False, windows_1251: bool = False, **options) -> None:
    try:
        records, digest = read_file(path, windows_1251=windows_1251)
        if once:  # the file's digest marks its movements: the same file cannot be imported twice
            options["batch"] = digest[:32]
        report = importer(records, **options)
    except ImportFailed as e:
        db.session.rollback()
        for error in e.errors[:MAX_PRINTED_ERRORS]:
            click.echo(f"{os.path.basename(path)}: {error}", err=True)
        if len(e.errors) > MAX_PRINTED_ERRORS:
            click.echo(f"... and {len(e.errors) - MAX_PRINTED_ERRORS} more", err=True)
        raise click.ClickException(f"{len(e.errors)} problem(s) in {path}; nothing imported") from None
    except DatabaseError as e:
        db.session.rollback()
        raise click.ClickException(f"database error, nothing imported (is it migrated? cellwms db upgrade): {e.orig}") from None
    if report.dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for line in report.lines():
        click.echo(line)


file_argument = click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
dry_run_option = click.option("--dry-run", is_flag=True, help="Check the file; write nothing.")


@import_group.command("skus")
@file_argument
@dry_run_option
@with_appcontext
def skus(path, dry_run):
    """Create or update SKUs (by code), with their barcodes."""
    _run(path, import_skus, dry_run=dry_run)


@import_group.command("barcodes")
@file_argument
@dry_run_option
@with_appcontext
def barcodes(path, dry_run):
    """Add barcodes to existing SKUs."""
    _run(path, import_barcodes, dry_run=dry_run)


@import_group.command("stock")
@file_argument
@click.option("--warehouse", "warehouse_code", default=None, help="Warehouse code (default: the only one).")
@dry_run_option
@with_appcontext
def stock(path, warehouse_code, dry_run):
    """Receive opening stock into cells, through the ledger. A file is imported once."""
    reference = os.path.basename(path)[:128]
    _run(path, import_stock, once=True, warehouse_code=warehouse_code, dry_run=dry_run, reference=reference)


@import_group.command("deliveries")
@file_argument
@click.option("--warehouse", "warehouse_code", default=None, help="Warehouse code (default: the only one).")
@dry_run_option
@with_appcontext
def deliveries(path, warehouse_code, dry_run):
    """Expected deliveries (ASN): one row per line, rows of one number form one delivery."""
    _run(path, import_deliveries, warehouse_code=warehouse_code, dry_run=dry_run)


@import_group.command("orders")
@file_argument
@click.option("--warehouse", "warehouse_code", default=None, help="Warehouse code (default: the only one).")
@dry_run_option
@with_appcontext
def orders(path, warehouse_code, dry_run):
    """Customer orders: one row per line, rows of one number form one order (UTF-8 or Windows-1251)."""
    _run(path, import_orders, windows_1251=True, warehouse_code=warehouse_code, dry_run=dry_run)


commands = [import_group]
