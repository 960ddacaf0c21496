"""Admin pages of the catalog: the SKU list (search by code or name) and a SKU's page with its
barcodes and picture; supervisors (and admins) upload, replace and remove the picture. Changes
are audited in the same transaction; a refused file re-shows the page with the message and a 4xx."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from server.auth import signed_in, signed_in_user
from server.extensions import db
from server.models import Role, Sku
from server.services import sku_pictures
from server.services.barcodes import printed_form
from server.services.errors import DomainError
from server.web.admin import ACTION_NAMES, READERS, admin

WRITERS = (Role.supervisor,)  # and admins, always
LIST_LIMIT = 200
ACTION_NAMES.update({"sku.picture": _l("SKU picture set"), "sku.picture.remove": _l("SKU picture removed")})


@admin.get("/skus")
@signed_in(*READERS)
def skus():
    q = request.args.get("q", "")[:300].strip()
    stmt = select(Sku).options(selectinload(Sku.picture)).order_by(Sku.code).limit(LIST_LIMIT + 1)
    if q:
        stmt = stmt.where(or_(Sku.code.icontains(q, autoescape=True), Sku.name.icontains(q, autoescape=True)))
    rows = db.session.execute(stmt).scalars().all()
    return render_template("admin/skus.html", skus=rows[:LIST_LIMIT], more=len(rows) > LIST_LIMIT, q=q,
                           limit=LIST_LIMIT, picture_url=sku_pictures.picture_url)


def _sku_page(sku: Sku, error: str | None = None, status: int = 200):
    barcodes = [printed_form(b.barcode, b.kind) for b in sku.barcodes]
    return render_template("admin/sku.html", sku=sku, barcodes=barcodes, picture=sku.picture,
                           picture_url=sku_pictures.picture_url(sku), error=error,
                           sound="error" if error else None, may_edit=current_user.has_any_role(WRITERS),
                           max_mb=sku_pictures.MAX_BYTES // (1024 * 1024)), status


@admin.get("/skus/<int:sku_id>")
@signed_in(*READERS)
def sku(sku_id: int):
    return _sku_page(db.get_or_404(Sku, sku_id))


@admin.post("/skus/<int:sku_id>/picture")
@signed_in(*WRITERS)
def upload_sku_picture(sku_id: int):
    found = db.get_or_404(Sku, sku_id)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise DomainError(422, "picture-file-missing", _("Choose a picture file."))
        sku_pictures.set_picture(signed_in_user(), sku_id, upload.stream.read(sku_pictures.MAX_BYTES + 1),
                                 upload.filename, via="page")
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _sku_page(db.session.get(Sku, found.id), str(error), error.status)
    flash(_("The picture of %(code)s is saved.", code=found.code), "ok")
    return redirect(url_for("admin.sku", sku_id=sku_id))


@admin.post("/skus/<int:sku_id>/picture/remove")
@signed_in(*WRITERS)
def remove_sku_picture(sku_id: int):
    found = db.get_or_404(Sku, sku_id)
    try:
        sku_pictures.remove_picture(signed_in_user(), sku_id, via="page")
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _sku_page(db.session.get(Sku, found.id), str(error), error.status)
    flash(_("The picture of %(code)s is removed.", code=found.code), "ok")
    return redirect(url_for("admin.sku", sku_id=sku_id))
