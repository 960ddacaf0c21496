"""`cellwms stock check`: rebuild quants from the movement ledger and compare."""

import click
from flask.cli import with_appcontext

from server.extensions import db
from server.services.stock import check_quants


@click.group("stock")
def stock_group():
    """Stock ledger tools."""


@stock_group.command("check")
@click.option("--repair", is_flag=True, help="Rewrite the quants that differ from the ledger.")
@with_appcontext
def check(repair):
    """Rebuild every quant from the ledger and report differences (exit 1 if any)."""
    differences = check_quants(repair=repair)
    for d in differences:
        click.echo(
            f"cell {d.cell_id} sku {d.sku_id} lot {d.lot or '-'} expiry {d.expiry or '-'}: "
            f"ledger {d.ledger_quantity}/{d.ledger_reserved}, quants {d.quant_quantity}/{d.quant_reserved}"
        )
    if repair:
        db.session.commit()
        click.echo(f"{len(differences)} quant(s) repaired")
        return
    db.session.rollback()
    if differences:
        click.echo(f"{len(differences)} quant(s) differ from the ledger (quantity/reserved)")
        raise SystemExit(1)
    click.echo("quants equal the ledger")


commands = [stock_group]
