"""Applying a checked layout spec: the warehouse, zones and cells upserted by address."""

from dataclasses import dataclass, field

from sqlalchemy import String, cast, exists, insert, literal, or_, select, update

from server.extensions import db
from server.models import Cell, CellStatus, Movement, Quant, Warehouse, Zone
from server.services.layout.building_spec import describe
from server.services.layout.spec import CELL_FIELDS, LayoutError, LayoutSpec
from server.services.sql_lists import chunks


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class LayoutReport:
    warehouse: str = ""
    warehouse_action: str = "unchanged"
    zones: Counts = field(default_factory=Counts)
    cells: Counts = field(default_factory=Counts)
    not_in_spec: int = 0  # cells of the warehouse the spec does not name
    pruned: int = 0  # of those, removed (--prune): no stock, no ledger history
    kept: int = 0  # of those, kept although pruning: they hold stock or have ledger history
    dry_run: bool = False
    plan: list[str] = field(default_factory=list)  # what the building plan is (describe())

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else ""
        out = [
            f"warehouse {self.warehouse}: {verb + ' ' if verb else ''}{self.warehouse_action}",
            f"zones: {self.zones}",
            f"cells: {self.cells}",
            *self.plan,
        ]
        if self.not_in_spec:
            extra = f"{self.not_in_spec} cell(s) not in the spec"
            if self.pruned or self.kept:
                extra += f": {self.pruned} removed, {self.kept} kept (stock or ledger history)"
            else:
                extra += " (left as they are; --prune removes those without stock or history)"
            out.append(extra)
        if self.dry_run:
            out.append("dry run: nothing written")
        return out


def apply_layout(spec: LayoutSpec, *, dry_run: bool = False, prune: bool = False) -> LayoutReport:
    """Upsert warehouse, zones and cells; flush. Raises LayoutError on clashes with the database.

    With dry_run nothing is flushed (the caller rolls back anyway). Cells not named by the spec are
    left alone, or with prune removed when they hold no stock and have no ledger history.
    """
    report = LayoutReport(warehouse=spec.warehouse["code"], dry_run=dry_run,
                          plan=describe(spec.building) if spec.building is not None or dry_run else [])
    wh_fields = {k: v for k, v in spec.warehouse.items() if k != "code"} | spec.geometry
    warehouse = db.session.execute(
        select(Warehouse).filter_by(code=spec.warehouse["code"]).with_for_update()
    ).scalar_one_or_none()  # locked: the same layout applied twice at once goes one after the other
    if warehouse is None:
        report.warehouse_action = "created"
        warehouse = Warehouse(code=spec.warehouse["code"], **wh_fields)
        db.session.add(warehouse)
        existing_zones, existing = {}, {}
    else:
        # The stored plan is compared by its hash (its JSON is read only when it changes).
        if any(k != "plan_json" and getattr(warehouse, k) != v for k, v in wh_fields.items()):
            report.warehouse_action = "updated"
            for k, v in wh_fields.items():
                setattr(warehouse, k, v)
        existing_zones = {
            z.code: z for z in db.session.execute(select(Zone).filter_by(warehouse_id=warehouse.id)).scalars()
        }
        existing = _existing_cells(warehouse.id)

    zone_ids = {}
    for z in spec.zones:
        zone = existing_zones.get(z["code"])
        if zone is None:
            report.zones.created += 1
            zone = Zone(warehouse=warehouse, **z)
            db.session.add(zone)
        elif any(getattr(zone, k) != v for k, v in z.items()):
            report.zones.updated += 1
            for k, v in z.items():
                setattr(zone, k, v)
        else:
            report.zones.unchanged += 1
        zone_ids[z["code"]] = zone
    if not dry_run:
        db.session.flush()
    zone_ids = {code: (zone.id if zone.id is not None else -i - 1) for i, (code, zone) in enumerate(zone_ids.items())}

    new_rows, changed_rows = [], []
    in_spec = set()
    for plan in spec.cells:
        row = {
            "zone_id": zone_ids[plan.zone], "barcode": plan.barcode, "cell_type": plan.cell_type,
            "max_volume_cm3": plan.max_volume_cm3, "max_weight_g": plan.max_weight_g, "max_units": plan.max_units,
            "aisle": plan.aisle, "bay": plan.bay, "level": plan.level, "position": plan.position,
            "block": plan.block, "slot": plan.slot, "side": plan.side,
        }
        in_spec.add(plan.address)
        old = existing.get(plan.address)
        if old is None:
            new_rows.append(row | {"address": plan.address})
        elif any(old[k] != row[k] for k in CELL_FIELDS):
            changed_rows.append(row | {"id": old["id"]})
        else:
            report.cells.unchanged += 1
    report.cells.created, report.cells.updated = len(new_rows), len(changed_rows)

    extra = {addr: old for addr, old in existing.items() if addr not in in_spec}
    report.not_in_spec = len(extra)
    _check_barcode_clashes(new_rows, changed_rows, existing, extra)
    removable = set()
    if prune and extra:
        removable = _cells_without_stock_or_history([old["id"] for old in extra.values()])
        report.pruned, report.kept = len(removable), len(extra) - len(removable)
    if dry_run:
        return report

    if removable:
        ids = sorted(removable)
        for chunk in chunks(ids, 1000):
            db.session.execute(Quant.__table__.delete().where(Quant.cell_id.in_(chunk)))
            db.session.execute(Cell.__table__.delete().where(Cell.id.in_(chunk)))
    if changed_rows:
        # Barcodes may swap between cells: clear the changed ones first so no unique check trips.
        by_id = {old["id"]: old for old in existing.values()}
        moved = [r["id"] for r in changed_rows if by_id[r["id"]]["barcode"] != r["barcode"]]
        for chunk in chunks(moved, 1000):
            db.session.execute(
                Cell.__table__.update()
                .where(Cell.id.in_(chunk))
                .values(barcode=literal("~swap~") + cast(Cell.id, String))
            )
        db.session.execute(update(Cell), changed_rows)
    for chunk in chunks(new_rows, 5000):
        db.session.execute(
            insert(Cell), [r | {"warehouse_id": warehouse.id, "status": CellStatus.active} for r in chunk]
        )
    db.session.flush()
    return report


def _existing_cells(warehouse_id: int) -> dict[str, dict]:
    columns = [Cell.id, Cell.address, *(getattr(Cell, k) for k in CELL_FIELDS)]
    rows = db.session.execute(select(*columns).where(Cell.warehouse_id == warehouse_id)).all()
    return {r.address: r._asdict() for r in rows}


def _check_barcode_clashes(new_rows, changed_rows, existing, extra) -> None:
    """A new or changed barcode may not be taken by a cell that keeps its own."""
    changing_ids = {r["id"] for r in changed_rows}
    kept = {old["barcode"]: addr for addr, old in existing.items() if old["id"] not in changing_ids}
    errors = []
    for row in [*new_rows, *changed_rows]:
        holder = kept.get(row["barcode"])
        if holder is not None and holder in extra:
            errors.append(("cell barcode", f"barcode {row['barcode']!r} belongs to cell {holder!r}, which is not in the spec"))
        if len(errors) >= 20:
            break
    if errors:
        raise LayoutError(errors)


def _cells_without_stock_or_history(cell_ids: list[int]) -> set[int]:
    removable = set()
    for chunk in chunks(cell_ids, 1000):
        busy = select(Cell.id).where(
            Cell.id.in_(chunk),
            or_(
                exists().where(Quant.cell_id == Cell.id, Quant.quantity > 0),
                exists().where(or_(Movement.from_cell_id == Cell.id, Movement.to_cell_id == Cell.id)),
            ),
        )
        busy_ids = set(db.session.execute(busy).scalars())
        removable.update(i for i in chunk if i not in busy_ids)
    return removable
