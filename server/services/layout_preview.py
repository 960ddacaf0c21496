"""A layout file's changes before they are applied: zones and cells added, changed and removed,
and the removed cells that hold stock (then the file is refused). Applying reuses
server.services.layout (the CLI's `cellwms layout apply --prune`); cells with ledger history but
no stock are kept, as the CLI keeps them.
"""

import tomllib
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, select

from server.extensions import db
from server.models import Cell, Quant, Warehouse, Zone
from server.services import audit
from server.services.db_locks import hold_advisory_lock
from server.services.errors import DomainError
from server.services.layout import LayoutError, LayoutReport, LayoutSpec, apply_layout, parse_spec

MAX_TEXT = 1_000_000  # characters of a layout file
SHOWN = 30  # addresses listed per kind of change


@dataclass
class LayoutPreview:
    spec: LayoutSpec
    report: LayoutReport
    zones_added: list[str] = field(default_factory=list)
    zones_not_in_file: list[str] = field(default_factory=list)  # never removed
    cells_added: list[str] = field(default_factory=list)  # the first SHOWN addresses
    cells_not_in_file: list[str] = field(default_factory=list)  # without stock: removed, or kept for history
    kept_for_history: int = 0  # of those, kept: they have ledger history
    stocked_removed: list[tuple[str, int]] = field(default_factory=list)  # (address, units): refused
    stocked_count: int = 0

    @property
    def refused(self) -> bool:
        return bool(self.stocked_removed)

    @property
    def changes(self) -> bool:
        r = self.report
        return bool(r.warehouse_action != "unchanged" or r.zones.created or r.zones.updated or r.cells.created
                    or r.cells.updated or r.pruned)


def parse_text(text: str) -> LayoutSpec:
    """A layout file's text (TOML, docs/layout.md) as a checked spec; LayoutError names every fault."""
    if len(text) > MAX_TEXT or "\x00" in text:
        raise LayoutError([("(file)", f"longer than {MAX_TEXT} characters or not text")])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LayoutError([("(file)", f"not valid TOML: {error}")]) from None
    return parse_spec(data)


def preview(spec: LayoutSpec) -> LayoutPreview:
    """What applying `spec` (with removal of cells it no longer names) would change. Writes nothing:
    the dry run's session changes are rolled back (to a savepoint)."""
    code = spec.warehouse["code"]
    warehouse_id = db.session.execute(select(Warehouse.id).filter_by(code=code)).scalar_one_or_none()
    in_file = {c.address for c in spec.cells}
    zone_codes = [z["code"] for z in spec.zones]
    existing_zones, existing = set(), {}
    stock: dict[int, int] = {}
    if warehouse_id is not None:
        existing_zones = set(db.session.execute(select(Zone.code).filter_by(warehouse_id=warehouse_id)).scalars())
        existing = dict(db.session.execute(select(Cell.address, Cell.id).filter_by(warehouse_id=warehouse_id)).all())
        gone = [cell_id for address, cell_id in existing.items() if address not in in_file]
        for chunk in range(0, len(gone), 1000):
            stock.update(db.session.execute(
                select(Quant.cell_id, func.sum(Quant.quantity)).where(Quant.cell_id.in_(gone[chunk:chunk + 1000]),
                                                                      Quant.quantity > 0)
                .group_by(Quant.cell_id)).all())
    # A savepoint, not the transaction: apply_file's lock on the layout is held through the preview.
    dry_run = db.session.begin_nested()
    try:
        report = apply_layout(spec, dry_run=True, prune=True)
    finally:
        dry_run.rollback()
    removed = sorted(address for address in existing if address not in in_file)
    with_stock = [(address, int(stock[existing[address]])) for address in removed if existing[address] in stock]
    stocked = {address for address, _units in with_stock}
    return LayoutPreview(
        spec, report,
        zones_added=[z for z in zone_codes if z not in existing_zones],
        zones_not_in_file=sorted(existing_zones - set(zone_codes)),
        cells_added=[a for a in (c.address for c in spec.cells) if a not in existing][:SHOWN],
        cells_not_in_file=[a for a in removed if a not in stocked][:SHOWN],
        # apply_layout keeps cells with stock or history: those of them without stock have history.
        kept_for_history=report.kept - len(with_stock),
        stocked_removed=with_stock[:SHOWN],
        stocked_count=len(with_stock),
    )


def apply_file(text: str, actor) -> LayoutReport:
    """Apply a layout file's text after the same checks as its preview; audited. The caller commits.
    Refused (DomainError 409) when a cell it removes holds stock; LayoutError for a bad file."""
    spec = parse_text(text)
    # One layout change per warehouse code at a time, also before the warehouse exists: a twin
    # applied at the same moment waits, then previews and applies against what the first one made.
    hold_advisory_lock("cellwms-layout", spec.warehouse["code"])
    checked = preview(spec)
    if checked.refused:
        raise DomainError(409, "removed-cell-holds-stock",
                          _("Cells the file removes hold stock (%(cells)s): move the stock first.",
                            cells=", ".join(a for a, _units in checked.stocked_removed[:5])))
    report = apply_layout(spec, prune=True)
    audit.record(actor, "layout.apply", spec.warehouse["code"], warehouse=report.warehouse_action,
                 zones_created=report.zones.created, zones_updated=report.zones.updated,
                 cells_created=report.cells.created, cells_updated=report.cells.updated,
                 cells_removed=report.pruned, cells_kept=report.kept)
    return report
