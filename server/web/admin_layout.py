"""Admin: the warehouse layout page (the map with cells filled by stock, filtered by zone) and
applying a layout file (uploaded or pasted): a preview of what changes, then confirm."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from server.auth import signed_in, signed_in_user
from server.extensions import db
from server.models import Role, Warehouse
from server.services import layout_preview
from server.services.errors import DomainError
from server.services.layout import LayoutError
from server.services.layout_map import map_data
from server.web.admin import READERS, admin
from server.web.map_svg import FILL
from server.web.warehouse_map import render


def _warehouses() -> list[Warehouse]:
    return list(db.session.execute(select(Warehouse).order_by(Warehouse.code)).scalars())


def _layout_page(error: str | None = None, errors=(), status: int = 200, text: str = ""):
    warehouses = _warehouses()
    chosen = request.args.get("warehouse", "")
    warehouse = next((w for w in warehouses if str(w.id) == chosen), warehouses[0] if warehouses else None)
    zone = request.args.get("zone", "")[:32] or None
    svg, data, no_map = None, None, None
    if warehouse is not None:
        try:
            data = map_data(warehouse.id, with_stock=True)
        except DomainError as problem:
            no_map = str(problem)
        if data is not None:
            zone = zone if zone in data.zones else None
            svg = Markup(render(data, zone=zone, fill=True))  # noqa: S704 - our own SVG, text escaped
    faces = [f for f in (data.faces if data else ()) if zone is None or f.zone == zone]
    totals = {"cells": sum(f.cells for f in faces), "stocked": sum(f.stocked for f in faces),
              "units": sum(f.units for f in faces)}
    return render_template("admin/layout.html", warehouses=warehouses, warehouse=warehouse, data=data, svg=svg,
                           zone=zone, no_map=no_map, totals=totals, fill=FILL, error=error, errors=errors,
                           sound="error" if error else None, text=text,
                           may_edit=current_user.has_any_role((Role.admin,))), status


@admin.get("/layout")
@signed_in(*READERS)
def layout():
    return _layout_page()


def _file_text() -> str:
    """The layout file from the upload, else from the text box; a DomainError when neither."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw = upload.read(layout_preview.MAX_TEXT + 1)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DomainError(422, "not-utf8", _("The file is not UTF-8 text.")) from None
    text = request.form.get("text", "")
    if not text.strip():
        raise DomainError(422, "no-file", _("Choose a layout file or paste its text."))
    return text


def _spec_errors(error: LayoutError) -> list[str]:
    return [f"{key}: {message}" for key, message in error.errors[:20]]


@admin.post("/layout/preview")
@signed_in(Role.admin)
def layout_preview_page():
    try:
        text = _file_text()
        spec = layout_preview.parse_text(text)
        checked = layout_preview.preview(spec)
    except LayoutError as error:
        db.session.rollback()
        return _layout_page(_("The layout file has errors; nothing was changed."), _spec_errors(error), 422,
                            text=request.form.get("text", "")[: layout_preview.MAX_TEXT])
    except DomainError as error:
        db.session.rollback()
        return _layout_page(str(error), status=error.status)
    status = 409 if checked.refused else 200
    return render_template("admin/layout_preview.html", preview=checked, text=text,
                           error=_("Cells the file removes hold stock: move the stock first.") if checked.refused
                           else None, sound="error" if checked.refused else None), status


@admin.post("/layout/apply")
@signed_in(Role.admin)
def layout_apply():
    actor = signed_in_user()
    text = request.form.get("text", "")
    try:
        report = layout_preview.apply_file(text, actor)
        db.session.commit()
    except LayoutError as error:
        db.session.rollback()
        return _layout_page(_("The layout file has errors; nothing was changed."), _spec_errors(error), 422)
    except DomainError as error:
        db.session.rollback()
        return _layout_page(str(error), status=error.status)
    warehouse = db.session.execute(select(Warehouse).filter_by(code=report.warehouse)).scalar_one()
    flash(_("Layout of %(code)s applied. Cells added: %(created)s, changed: %(updated)s, removed: %(removed)s.",
            code=report.warehouse, created=report.cells.created, updated=report.cells.updated,
            removed=report.pruned), "ok")
    return redirect(url_for("admin.layout", warehouse=warehouse.id))
