"""`cellwms layout apply SPEC.toml`: zones and cells from a layout spec (docs/layout.md)."""

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import DatabaseError

from server.extensions import db
from server.services import audit
from server.services.layout import LayoutError, apply_layout, load_spec


@click.group("layout")
def layout_group():
    """Warehouse layout: zones and cells."""


@layout_group.command("apply")
@click.argument("spec_path", metavar="SPEC.toml", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option("--prune", is_flag=True, help="Remove cells the spec no longer names (never those with stock or history).")
@with_appcontext
def apply(spec_path, dry_run, prune):
    """Create or update the warehouse, zones and cells of SPEC.toml (safe to re-apply)."""
    try:
        spec = load_spec(spec_path)
        report = apply_layout(spec, dry_run=dry_run, prune=prune)
    except LayoutError as e:
        db.session.rollback()
        for key, message in e.errors:
            click.echo(f"spec error: {key}: {message}", err=True)
        raise click.ClickException(f"{spec_path}: bad layout spec, nothing written") from None
    except DatabaseError as e:
        db.session.rollback()
        raise click.ClickException(f"database error, nothing written (is it migrated? cellwms db upgrade): {e.orig}") from None
    if dry_run:
        db.session.rollback()
    else:
        audit.record(None, "layout.apply", report.warehouse, cells_created=report.cells.created,
                     cells_updated=report.cells.updated, cells_removed=report.pruned, via="cli")
        db.session.commit()
    for line in report.lines():
        click.echo(line)


commands = [layout_group]
