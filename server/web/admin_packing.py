"""Admin pages of packing: box types (supervisors and admins add and deactivate, readers list) and
the item weights learned from parcels (supervisors apply one to the SKU). Changes are audited in
the same transaction; bad input re-shows the page with the message and a 4xx."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from server.auth import signed_in, signed_in_user
from server.core.bounds import parse_whole
from server.extensions import db
from server.models import BoxType, Role, Sku, Warehouse
from server.services.boxes import apply_weight, audit_box_type, box_type_facts, weight_suggestions
from server.services.errors import DomainError
from server.web.admin import ACTION_NAMES, READERS, admin, form_text

WRITERS = (Role.supervisor,)  # and admins, always
ACTION_NAMES.update({
    "box_type.create": _l("box type created"), "box_type.activate": _l("box type activated"),
    "box_type.deactivate": _l("box type deactivated"), "box_type.change": _l("box type changed"),
    "sku.weight": _l("SKU weight corrected"), "parcel.cancel": _l("parcel cancelled at the carrier"),
})
DIMENSION_MM = (1, 5000)
WEIGHT_G = (0, 100_000)
PRICE_MAX = Decimal(10 ** 9)


def _warehouses():
    return db.session.execute(select(Warehouse).order_by(Warehouse.code)).scalars().all()


def _warehouse(warehouses) -> Warehouse | None:
    wanted = parse_whole(request.values.get("warehouse"))
    return next((w for w in warehouses if w.id == wanted), warehouses[0] if warehouses else None)


def _whole(name: str, label, low: int, high: int) -> int:
    value = parse_whole(request.form.get(name))
    if value is None or not low <= value <= high:
        raise DomainError(422, "bad-value", _("%(field)s must be a whole number from %(low)d to %(high)d.",
                                              field=label, low=low, high=high))
    return value


def _price() -> Decimal | None:
    text = form_text("price", 32).replace(",", ".")
    if not text:
        return None
    try:
        price = Decimal(text)
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite() or not 0 <= price <= PRICE_MAX:
        raise DomainError(422, "bad-value", _("The price must be a number from 0 to 1000000000."))
    return price.quantize(Decimal("0.01"))


def _box_types_page(error: str | None = None, status: int = 200, form: dict | None = None):
    warehouses = _warehouses()
    warehouse = _warehouse(warehouses)
    boxes = db.session.execute(select(BoxType).where(BoxType.warehouse_id == (warehouse.id if warehouse else None))
                               .order_by(BoxType.active.desc(), BoxType.code)).scalars().all()
    return render_template("admin/box_types.html", boxes=boxes, warehouses=warehouses, warehouse=warehouse,
                           error=error, sound="error" if error else None, form=form or {},
                           may_edit=current_user.has_any_role(WRITERS)), status


@admin.get("/box-types")
@signed_in(*READERS)
def box_types():
    return _box_types_page()


@admin.post("/box-types")
@signed_in(*WRITERS)
def create_box_type():
    form = {key: request.form.get(key, "")[:200] for key in
            ("code", "name", "length", "width", "height", "weight", "price", "warehouse")}
    try:
        warehouse = db.session.get(Warehouse, parse_whole(request.form.get("warehouse")) or 0)
        if warehouse is None:
            raise DomainError(422, "choose-warehouse", _("Choose a warehouse."))
        code = form_text("code", 32)
        if not code:
            raise DomainError(422, "bad-value", _("Enter the box type's code."))
        if db.session.scalar(select(BoxType.id).where(BoxType.warehouse_id == warehouse.id, BoxType.code == code)):
            raise DomainError(409, "duplicate", _("Box type %(code)s already exists in this warehouse.", code=code))
        box = BoxType(warehouse_id=warehouse.id, code=code, name=form_text("name"),
                      inner_length_mm=_whole("length", _("Length"), *DIMENSION_MM),
                      inner_width_mm=_whole("width", _("Width"), *DIMENSION_MM),
                      inner_height_mm=_whole("height", _("Height"), *DIMENSION_MM),
                      weight_g=_whole("weight", _("Weight"), *WEIGHT_G) if form["weight"].strip() else 0,
                      price=_price())
        db.session.add(box)
        db.session.flush()
        audit_box_type(signed_in_user(), "create", box)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _box_types_page(str(error), error.status, form)
    flash(_("Box type %(code)s added.", code=box.code), "ok")
    return redirect(url_for("admin.box_types", warehouse=warehouse.id))


@admin.post("/box-types/<int:box_type_id>/active")
@signed_in(*WRITERS)
def box_type_active(box_type_id: int):
    db.get_or_404(BoxType, box_type_id)
    box = db.session.get(BoxType, box_type_id, with_for_update=True, populate_existing=True)
    before = box_type_facts(box)
    box.active = request.form.get("active") == "1"
    audit_box_type(signed_in_user(), "activate" if box.active else "deactivate", box, before)
    db.session.commit()
    flash(_("Box type %(code)s activated.", code=box.code) if box.active
          else _("Box type %(code)s deactivated: it is no longer suggested.", code=box.code), "ok")
    return redirect(url_for("admin.box_types", warehouse=box.warehouse_id))


# --- learned item weights ----------------------------------------------------------------------


def _weights_page(error: str | None = None, status: int = 200):
    warehouses = _warehouses()
    warehouse = _warehouse(warehouses)
    suggestions = weight_suggestions(warehouse.id) if warehouse else []
    return render_template("admin/item_weights.html", suggestions=suggestions, warehouses=warehouses,
                           warehouse=warehouse, error=error, sound="error" if error else None), status


@admin.get("/item-weights")
@signed_in(*WRITERS)
def item_weights():
    return _weights_page()


@admin.post("/item-weights/<int:sku_id>")
@signed_in(*WRITERS)
def apply_item_weight(sku_id: int):
    db.get_or_404(Sku, sku_id)
    warehouses = _warehouses()
    warehouse = _warehouse(warehouses)
    try:
        if warehouse is None:
            raise DomainError(422, "choose-warehouse", _("Choose a warehouse."))
        applied = apply_weight(signed_in_user(), warehouse.id, sku_id)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _weights_page(str(error), error.status)
    flash(_("The weight of %(sku)s is now %(grams)d g.", sku=applied.sku_code, grams=applied.learned_g), "ok")
    return redirect(url_for("admin.item_weights", warehouse=warehouse.id))
