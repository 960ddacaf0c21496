"""Box types: the box to suggest for a parcel's units, and item weights learned from parcels.

`suggest_box`: the smallest active box type of the warehouse (by inner volume, then price) whose
inner volume holds the units' total volume and whose inner dimensions, sorted, hold each unit's
sorted dimensions (a unit may be turned any way). None when no box fits.

`weight_suggestions`: from accepted parcels (weighed, no supervisor override) holding units of one
SKU only, each parcel gives a unit weight (weight - box weight - the warehouse's filler) / units.
Per SKU the values outside median +- 3 MAD (median absolute deviation; at least 2 g or 2% of the
median) are dropped, and the median
of the rest is offered when at least `min_parcels` parcels back it and it differs from the SKU's
weight by more than the warehouse's tolerance (the larger of pack_tolerance_g and
pack_tolerance_pct of the SKU's weight). `apply_weight` writes one to the SKU, audited.

`audit_box_type` records a box type's creation or change in the audit log ("box_type.<action>",
target "<warehouse code>/<box code>"): its fields after a creation, the changed fields before and
after a change (nothing when nothing changed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from server.extensions import db
from server.models import BoxType, Order, Parcel, ParcelItem, Sku, User, Warehouse
from server.services import audit
from server.services.errors import DomainError

Unit = tuple[int, int, int, int]  # length_mm, width_mm, height_mm, quantity
AUDITED = ("code", "name", "inner_length_mm", "inner_width_mm", "inner_height_mm", "weight_g", "price", "active")


def box_type_facts(box: BoxType) -> dict:
    """The audited fields of a box type, as plain JSON values (the price as a string)."""
    return {name: str(value) if isinstance(value, Decimal) else value
            for name, value in ((name, getattr(box, name)) for name in AUDITED)}


def audit_box_type(actor: User | None, action: str, box: BoxType, before: dict | None = None, **detail):
    """Record `box_type.<action>` (see the module docstring); None when a change changed nothing."""
    warehouse = db.session.get(Warehouse, box.warehouse_id)
    target = f"{warehouse.code if warehouse else box.warehouse_id}/{box.code}"
    after = box_type_facts(box)
    if before is None:
        return audit.record(actor, f"box_type.{action}", target, after=after, **detail)
    changed = [name for name in AUDITED if before.get(name) != after[name]]
    if not changed:
        return None
    return audit.record(actor, f"box_type.{action}", target, before={name: before.get(name) for name in changed},
                        after={name: after[name] for name in changed}, **detail)


def units_of(skus_and_quantities) -> list[Unit]:
    """Units of (Sku, quantity) pairs, for `suggest_box`."""
    return [(sku.length_mm or 0, sku.width_mm or 0, sku.height_mm or 0, quantity)
            for sku, quantity in skus_and_quantities if quantity > 0]


def _inner_volume():
    return BoxType.inner_length_mm * BoxType.inner_width_mm * BoxType.inner_height_mm


def suggest_box(warehouse_id: int, units: list[Unit]) -> BoxType | None:
    """The smallest active box type that holds `units` (see the module docstring)."""
    volume = sum(length * width * height * quantity for length, width, height, quantity in units)
    shapes = {tuple(sorted((length, width, height))) for length, width, height, quantity in units if quantity > 0}
    boxes = db.session.execute(
        select(BoxType).where(BoxType.warehouse_id == warehouse_id, BoxType.active)
        .order_by(_inner_volume(), BoxType.price.is_(None), BoxType.price, BoxType.id)).scalars()
    for box in boxes:
        inner = sorted((box.inner_length_mm, box.inner_width_mm, box.inner_height_mm))
        if inner[0] * inner[1] * inner[2] < volume:
            continue
        if all(all(side <= room for side, room in zip(shape, inner, strict=True)) for shape in shapes):
            return box
    return None


@dataclass
class WeightSuggestion:
    sku_id: int
    sku_code: str
    sku_name: str
    weight_g: int  # the SKU's weight now
    learned_g: int  # the median of the parcels kept
    evidence: int  # parcels kept
    dropped: int  # parcels dropped as outliers


def _robust(values: list[float]) -> tuple[float, int]:
    """The median of the values within median +- 3 MAD (at least 2 g or 2% of the median, so equal
    weights with a stray gram are not outliers), and how many those are."""
    mid = median(values)
    spread = max(3 * median(abs(v - mid) for v in values), 2.0, abs(mid) / 50)
    kept = [v for v in values if abs(v - mid) <= spread]
    return median(kept), len(kept)


def unit_weights(warehouse_id: int) -> dict[int, list[float]]:
    """Per SKU, the unit weights of the warehouse's accepted one-SKU parcels."""
    warehouse = db.session.get(Warehouse, warehouse_id)
    filler = warehouse.pack_filler_g if warehouse else 0
    rows = db.session.execute(
        select(Parcel.id, Parcel.weight_g, func.coalesce(BoxType.weight_g, 0),
               func.min(ParcelItem.sku_id), func.count(func.distinct(ParcelItem.sku_id)),
               func.sum(ParcelItem.quantity))
        .join(Order, Order.id == Parcel.order_id)
        .join(ParcelItem, ParcelItem.parcel_id == Parcel.id)
        .outerjoin(BoxType, BoxType.id == Parcel.box_type_id)
        .where(Order.warehouse_id == warehouse_id, Parcel.weight_g.is_not(None), Parcel.override_user_id.is_(None))
        .group_by(Parcel.id, Parcel.weight_g, BoxType.weight_g)).all()
    weights: dict[int, list[float]] = defaultdict(list)
    for _, weight_g, box_g, sku_id, skus, units in rows:
        if skus == 1 and units and units > 0:
            weights[sku_id].append((weight_g - box_g - filler) / units)
    return weights


def weight_suggestions(warehouse_id: int, min_parcels: int = 5) -> list[WeightSuggestion]:
    """Learned unit weights that differ from the SKUs' own (see the module docstring), by SKU code."""
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        return []
    weights = unit_weights(warehouse_id)
    skus = {sku.id: sku for sku in db.session.execute(select(Sku).where(Sku.id.in_(weights))).scalars()}
    suggestions = []
    for sku_id, values in weights.items():
        sku = skus[sku_id]
        learned, kept = _robust(values)
        if kept < min_parcels:
            continue
        learned_g = max(int(round(learned)), 0)
        tolerance = max(warehouse.pack_tolerance_g, warehouse.pack_tolerance_pct / 100 * sku.weight_g)
        if abs(learned_g - sku.weight_g) > tolerance:
            suggestions.append(WeightSuggestion(sku.id, sku.code, sku.name, sku.weight_g, learned_g, kept,
                                                len(values) - kept))
    return sorted(suggestions, key=lambda s: s.sku_code)


def apply_weight(actor: User | None, warehouse_id: int, sku_id: int) -> WeightSuggestion:
    """Write the learned weight of one SKU to it (audited "sku.weight"); refused when there is no
    suggestion for it now."""
    sku = db.session.get(Sku, sku_id, with_for_update=True, populate_existing=True)
    found = next((s for s in weight_suggestions(warehouse_id) if s.sku_id == sku_id), None) if sku else None
    if found is None:
        raise DomainError(409, "no-weight-suggestion", _l("There is no learned weight to apply for this SKU now."))
    audit.record(actor, "sku.weight", sku.code, before=sku.weight_g, after=found.learned_g,
                 evidence=found.evidence)
    sku.weight_g = found.learned_g
    return found
