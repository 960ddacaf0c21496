"""Supervisor pages: waves (list, release form) and one wave's batches (progress, picker, metres)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from printers.profiles import load_profile
from printers.receipt_preview import preview_png
from server.auth import signed_in, signed_in_user
from server.extensions import db
from server.models import Batch, Role, Warehouse, Wave
from server.services import pick_list
from server.services import waves as service
from server.services.errors import DomainError

waves = Blueprint("waves", __name__, template_folder="templates")

SUPERVISORS = (Role.supervisor,)
PAGE = 50


def _warehouse() -> Warehouse | None:
    return db.session.execute(select(Warehouse).order_by(Warehouse.id)).scalars().first()


def _list(error: str | None = None, status: int = 200, form: dict | None = None):
    listed = db.session.execute(select(Wave).order_by(Wave.id.desc()).limit(PAGE)).scalars().all()
    warehouse = _warehouse()
    points = (warehouse.point_names or {}) if warehouse is not None and warehouse.plan_hash else {}
    return render_template("waves/index.html", waves=listed, error=error, sound="error" if error else None,
                           form=form or {}, progress=service.batch_progress, points=points), status


@waves.get("/waves")
@signed_in(*SUPERVISORS)
def index():
    return _list()


def _cutoff(text: str, warehouse: Warehouse) -> datetime | None:
    """A datetime-local value in the warehouse's time zone."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(422, "bad-cutoff", _("The cutoff is not a date and time.")) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(warehouse.timezone or "UTC"))
    return moment


def _max_orders(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 6:
        raise DomainError(422, "bad-max-orders", _("Max orders must be a whole number."))
    return int(text)


@waves.post("/waves")
@signed_in(*SUPERVISORS)
def release():
    form = {key: request.form.get(key, "")[:40].strip() for key in ("max_orders", "cutoff_before", "start", "drop")}
    warehouse = _warehouse()
    try:
        if warehouse is None:
            raise DomainError(409, "no-warehouse", _("There is no warehouse yet."))
        wave = service.release_wave(warehouse.id, user=signed_in_user(), max_orders=_max_orders(form["max_orders"]),
                                    cutoff_before=_cutoff(form["cutoff_before"], warehouse),
                                    start=form["start"] or None, drop=form["drop"] or None)
        orders = sum(len(b.orders) for b in wave.batches)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _list(str(error), error.status, form)
    flash(_("Wave %(id)s released: %(orders)s orders in %(batches)s batches.", id=wave.id, orders=orders,
            batches=len(wave.batches)), "ok")
    return redirect(url_for("waves.wave", wave_id=wave.id))


@waves.get("/waves/<int:wave_id>")
@signed_in(*SUPERVISORS)
def wave(wave_id: int):
    found = db.session.get(Wave, wave_id)
    if found is None:
        abort(404)
    return render_template("waves/wave.html", wave=found, progress=service.batch_progress)


def _batch(batch_id: int) -> Batch:
    batch = db.session.get(Batch, batch_id)
    if batch is None:
        abort(404)
    return batch


@waves.get("/waves/batches/<int:batch_id>/pick-list.pdf")
@signed_in(*SUPERVISORS)
def pick_list_pdf(batch_id: int):
    return Response(pick_list.pdf(_batch(batch_id)), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="pick-list-{batch_id}.pdf"'})


@waves.get("/waves/batches/<int:batch_id>/pick-list.png")
@signed_in(*SUPERVISORS)
def pick_list_receipt(batch_id: int):
    """What the receipt printer prints, as an image."""
    profile = load_profile(pick_list.RECEIPT_PROFILE)
    return Response(preview_png(pick_list.escpos(_batch(batch_id)), profile), mimetype="image/png")


@waves.context_processor
def wave_names():
    return {"status_names": {
        "released": _l("released"), "picking": _l("picking"), "picked": _l("picked"), "cancelled": _l("cancelled"),
        "ready": _l("ready"), "dropped": _l("dropped at packing")}}
