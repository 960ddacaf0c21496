"""Receiving pages: the deliveries of the day, the handheld receiving screen (scan field, keys,
lines, questions for unknown barcodes), the devices the handheld uses (a dock station's label
printer and camera), and the discrepancies a supervisor accepts.

Every scan and key goes through the receiving scenario (`handheld_input`), like a station's."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, or_, select

from server import scenarios
from server.auth import signed_in, signed_in_user
from server.core.bounds import parse_whole
from server.extensions import db
from server.models import Role, Sku, SkuBarcode, Station, StationKind, Warehouse
from server.models.inbound import Delivery, DeliveryLine, DeliveryStatus, Discrepancy, ReceivingQuestion
from server.problems import Problem, problem_response
from server.scenarios.receiving import RECEIVING
from server.services import dates, kpi, station_events
from server.services import receiving as service
from server.services.barcodes import barcode_candidates
from server.services.catalog import find_sku
from server.services.errors import DomainError
from server.web.handheld import (
    WORKERS,
    chosen_station,
    event_id_of,
    key_payload,
    plural_texts,
    scan_payload,
    whole,
)

receiving = Blueprint("receiving", __name__, template_folder="templates")

ACCEPTERS = (Role.supervisor, Role.admin)
# Keys the page may send, and the fields each takes (whole numbers).
KEYS = RECEIVING.flow.key_params()  # what the page may send: the flow's declared keys
STATUS_NAMES = service.DELIVERY_STATUS_NAMES
KIND_NAMES = {"short": _l("short"), "over": _l("over"), "damaged": _l("damaged"),
              "unexpected": _l("unexpected"), "unknown": _l("unknown barcode")}


@receiving.errorhandler(CSRFError)
def _on_csrf(error):
    db.session.rollback()
    if request.is_json:
        return problem_response(Problem(400, "csrf", _("The page is out of date: reload it.")))
    flash(_("The page is out of date: reload it."), "error")
    return redirect(request.referrer or url_for("receiving.index"))


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "bad-request", _("Send JSON."))
    return body


# --- deliveries --------------------------------------------------------------------------------


def _delivery(delivery_id: int) -> Delivery:
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None:
        abort(404)
    return delivery


def _progress(delivery_ids: list[int]) -> dict[int, dict]:
    """delivery id -> {lines, expected, counted} in one query."""
    if not delivery_ids:
        return {}
    rows = db.session.execute(
        select(DeliveryLine.delivery_id, func.count(DeliveryLine.id), func.sum(DeliveryLine.expected_qty),
               func.sum(DeliveryLine.received_qty + DeliveryLine.damaged_qty))
        .where(DeliveryLine.delivery_id.in_(delivery_ids)).group_by(DeliveryLine.delivery_id))
    out = {i: {"lines": 0, "expected": 0, "counted": 0, "percent": 0} for i in delivery_ids}
    for delivery_id, lines, expected, counted in rows:
        expected, counted = int(expected or 0), int(counted or 0)
        percent = min(100, round(100 * counted / expected)) if expected else (100 if counted else 0)
        out[delivery_id] = {"lines": lines, "expected": expected, "counted": counted, "percent": percent}
    return out


def _open_questions(delivery_ids: list[int]) -> dict[int, int]:
    if not delivery_ids:
        return {}
    return dict(db.session.execute(
        select(ReceivingQuestion.delivery_id, func.count(ReceivingQuestion.id))
        .where(ReceivingQuestion.delivery_id.in_(delivery_ids), ReceivingQuestion.status == "open")
        .group_by(ReceivingQuestion.delivery_id)).all())


@receiving.get("/receiving")
@signed_in(*WORKERS)
def index():
    todays = {w.id: dates.today_in(w) for w in db.session.execute(select(Warehouse)).scalars()}
    active = list(db.session.execute(
        select(Delivery).where(
            or_(Delivery.status == DeliveryStatus.receiving,
                Delivery.status == DeliveryStatus.expected)
        ).order_by(Delivery.status.desc(), Delivery.expected_date.is_(None), Delivery.expected_date,
                   Delivery.number).limit(200)).scalars())
    # Today's work first: receiving, then expected today or overdue; later ones below.
    current = [d for d in active if d.status == DeliveryStatus.receiving or not d.expected_date
               or d.expected_date <= todays.get(d.warehouse_id, d.expected_date)]
    later = [d for d in active if d not in current]
    closed = []
    if current_user.has_any_role(ACCEPTERS):
        closed = list(db.session.execute(
            select(Delivery).where(Delivery.status == DeliveryStatus.closed)
            .order_by(Delivery.closed_at.desc()).limit(100)).scalars())
    ids = [d.id for d in active + closed]
    kpis = _week_kpis() if current_user.has_any_role(ACCEPTERS) else None
    return render_template("receiving/index.html", current=current, later=later, closed=closed,
                           progress=_progress(ids), questions=_open_questions(ids), status_names=STATUS_NAMES,
                           kpis=kpis, error_kinds=PACKING_ERROR_NAMES)


PACKING_ERROR_NAMES = {
    "wrong_item": _l("wrong item"), "extra_unit": _l("extra unit"), "other_order": _l("item of another order"),
    "marking_repeat": _l("marking code repeated"), "bad_marking": _l("bad marking code"),
    "unknown_code": _l("unknown code"), "weight_mismatch": _l("weight mismatch"), "missing": _l("missing item"),
}


def _week_kpis() -> list[dict]:
    """Receiving and packing KPIs of the last 7 local days (today among them) per warehouse, for
    supervisors (the API has the details)."""
    return [{"warehouse": w, **kpi.receiving_kpis(w.id, *kpi.recent_days(w.id)),
             "packing": kpi.packing_kpis(w.id, *kpi.recent_days(w.id))}
            for w in db.session.execute(select(Warehouse).order_by(Warehouse.code)).scalars()]


# --- an expected delivery entered by hand ---------------------------------------------------------


def _form_lines(text: str, errors: dict) -> list[dict]:
    """'SKU code or barcode; quantity; lot; expiry' a line (';' or tabs, pasted from a spreadsheet)."""
    lines = []
    for number, row in enumerate((text or "").splitlines(), start=1):
        if not row.strip():
            continue
        fields = [f.strip() for f in (row.split(";") if ";" in row else row.split("\t") if "\t" in row else row.split())]
        code, quantity, lot, expiry = (fields + ["", "", "", ""])[:4]
        if parse_whole(quantity) is None:
            errors.setdefault("lines", []).append(_("Line %(n)s: the quantity must be a whole number.", n=number))
            continue
        sku = find_sku(code)
        if sku is None:
            errors.setdefault("lines", []).append(_("Line %(n)s: no SKU with the code or barcode %(code)s.",
                                                    n=number, code=code))
            continue
        lines.append({"sku_id": sku.id, "quantity": int(quantity), "lot": lot, "expiry": expiry or None})
    return lines


@receiving.route("/receiving/new", methods=["GET", "POST"])
@signed_in(*WORKERS)
def new_delivery():
    """An expected delivery (ASN) entered by hand: number, supplier, date, lines pasted or typed."""
    warehouses = list(db.session.execute(select(Warehouse).order_by(Warehouse.code)).scalars())
    form, errors = request.form, {}
    if request.method == "POST":
        lines = _form_lines(form.get("lines", ""), errors)
        pallets = [p for p in form.get("pallets", "").split() if p]
        warehouse_id = whole(form.get("warehouse_id") or (warehouses[0].id if len(warehouses) == 1 else 0),
                             "warehouse_id") if warehouses else 0
        if not errors:
            try:
                delivery = service.create_delivery(
                    warehouse_id, form.get("number", ""), supplier=form.get("supplier", ""),
                    expected_date=form.get("expected_date", "").strip() or None, lines=lines, pallets=pallets,
                    blind=form.get("blind") == "1", notes=form.get("notes", ""))
            except DomainError as problem:
                db.session.rollback()
                errors = {key: [str(m) for m in messages] for key, messages in
                          (problem.extra.get("errors") or {"": [problem.title]}).items()}
            else:
                db.session.commit()
                flash(_("Delivery %(number)s created.", number=delivery.number), "ok")
                return redirect(url_for("receiving.screen", delivery_id=delivery.id))
        db.session.rollback()
    return render_template("receiving/new.html", form=form, errors=errors, warehouses=warehouses)


def deliveries_to_open(warehouse_id: int, limit: int = 12) -> list[Delivery]:
    """Deliveries a dock may open now: receiving, then expected today or earlier."""
    return list(db.session.execute(
        select(Delivery).where(Delivery.warehouse_id == warehouse_id,
                               or_(Delivery.status == DeliveryStatus.receiving,
                                   (Delivery.status == DeliveryStatus.expected)
                                   & or_(Delivery.expected_date.is_(None), Delivery.expected_date <= dates.today_in(warehouse_id))))
        .order_by(Delivery.status.desc(), Delivery.expected_date, Delivery.number).limit(limit)).scalars())


def _dock_stations(warehouse_id: int) -> list[Station]:
    return list(db.session.execute(
        select(Station).where(Station.warehouse_id == warehouse_id, Station.kind == StationKind.dock,
                              Station.active.is_(True)).order_by(Station.code)).scalars())


def page_texts() -> dict:
    """Words the receiving panel's script shows (the panel is drawn from the scenario's screen data)."""
    return {
        "sku": _("SKU"), "expected": _("Expected"), "received": _("Received"), "damaged": _("Damaged"),
        "unexpected": _("unexpected"), "sticker": _("Sticker"), "count_one": _("+1"),
        "no_lines": _("No lines yet: scan the goods."), "questions": _("Unknown barcodes"),
        "units": plural_texts(lambda n: ngettext("%(count)s unit", "%(count)s units", n, count="{count}")), "link": _("Link to SKU"), "search": _("Code, name or barcode"),
        "find": _("Find"), "create": _("Create SKU"), "code": _("SKU code"), "name": _("Name"),
        "nothing_found": _("Nothing found."), "no_answer": _("The server did not answer. Try again."),
        "linked": _("Linked"), "lot": _("Lot"), "expiry": _("Expiry"), "pallets": _("Pallets"),
        "discrepancies": _("Discrepancies"), "no_questions": _("No unknown barcodes."),
        "statuses": {str(k): str(v) for k, v in STATUS_NAMES.items()},
        "kinds": {k: str(v) for k, v in KIND_NAMES.items()},
    }


@receiving.get("/receiving/<int:delivery_id>")
@signed_in(*WORKERS)
def screen(delivery_id: int):
    delivery = _delivery(delivery_id)
    flow = RECEIVING.view(user=current_user._get_current_object())
    here = flow["data"].delivery_id == delivery.id
    return render_template(
        "receiving/screen.html", delivery=delivery, summary=service.delivery_summary(delivery),
        is_open=here and flow["state"] == "counting", keys=flow["keys"] if here else [], stations=_dock_stations(delivery.warehouse_id),
        station=chosen_station(current_user), status_names=STATUS_NAMES, texts=page_texts(),
        may_accept=current_user.has_any_role(ACCEPTERS))


@receiving.get("/receiving/<int:delivery_id>/summary")
@signed_in(*WORKERS, json=True)
def summary(delivery_id: int):
    return service.delivery_summary(_delivery(delivery_id))


@receiving.post("/receiving/input")
@signed_in(*WORKERS, json=True)
def page_input():
    user = signed_in_user()
    body = _body()
    event_id = event_id_of(body)
    kind = body.get("kind")
    if kind == "scan":
        payload = scan_payload(body.get("code"))
    elif kind == "button":
        payload = key_payload(body, KEYS)
    else:
        raise Problem(422, "unknown-input", _("This input does nothing here."))
    outcome = scenarios.handheld_input(user, kind, payload, scenario=RECEIVING, station=chosen_station(user),
                                       event_id=event_id)
    db.session.commit()
    return {**outcome, "status": outcome.get("status") or "stored"}


@receiving.post("/receiving/station")
@signed_in(*WORKERS, json=True)
def choose_station():
    """The dock station whose label printer and camera this handheld uses (none: no devices)."""
    user = signed_in_user()
    value = _body().get("station_id")
    station = None
    if value not in (None, "", 0):
        station = db.session.get(Station, whole(value, "station_id"))
        if station is None or not station.active or station.kind != StationKind.dock:
            raise Problem(422, "not-a-dock", _("Choose a dock station."))
    session = station_events.handheld_session(user, lock=True)
    session.station_id = station.id if station is not None else None
    db.session.commit()
    return {"station_id": session.station_id, "station": station.code if station else None}


# --- questions (unknown barcodes) -----------------------------------------------------------------


def _question(question_id: int) -> ReceivingQuestion:
    question = db.session.get(ReceivingQuestion, question_id)
    if question is None:
        raise Problem(404, "not-found", _("No such question."))
    return question


@receiving.get("/receiving/skus")
@signed_in(*WORKERS, json=True)
def find_skus():
    """SKUs by code, name or barcode, for linking an unknown barcode."""
    text = (request.args.get("q") or "").strip()[:100]
    if len(text) < 2:
        return {"skus": []}
    by_barcode = select(SkuBarcode.sku_id).where(SkuBarcode.barcode.in_(barcode_candidates(text)))
    if db.engine.dialect.name == "postgresql":
        by_text = or_(Sku.code.ilike(f"%{text}%"), Sku.name.ilike(f"%{text}%"))
    else:  # SQLite folds the case of ASCII only: try the usual spellings of Cyrillic words
        spellings = {text, text.lower(), text.upper(), text.capitalize()}
        by_text = or_(*(column.like(f"%{word}%") for word in spellings for column in (Sku.code, Sku.name)))
    rows = db.session.execute(
        select(Sku).where(Sku.active.is_(True), or_(by_text, Sku.id.in_(by_barcode)))
        .order_by(Sku.code).limit(20)).scalars()
    return {"skus": [{"id": s.id, "code": s.code, "name": s.name} for s in rows]}


def _answering(action) -> None:
    """Run a question's answer and commit; a refusal changes nothing."""
    try:
        action()
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()


def _answer_question(question: ReceivingQuestion) -> dict:
    delivery = db.session.get(Delivery, question.delivery_id)
    return {"question_id": question.id, "status": question.status, "sku_id": question.sku_id,
            "summary": service.delivery_summary(delivery)}


@receiving.post("/receiving/questions/<int:question_id>/link")
@signed_in(*WORKERS, json=True)
def link(question_id: int):
    user = signed_in_user()
    question = _question(question_id)
    sku = db.session.get(Sku, whole(_body().get("sku_id"), "sku_id"))
    if sku is None:
        raise Problem(422, "unknown-sku", _("No such SKU."))
    _answering(lambda: service.link_question(question, sku, user=user, station=chosen_station(user)))
    return _answer_question(question)


@receiving.post("/receiving/questions/<int:question_id>/create-sku")
@signed_in(*WORKERS, json=True)
def create_sku(question_id: int):
    user = signed_in_user()
    question = _question(question_id)
    body = _body()
    code, name = str(body.get("code") or "").strip(), str(body.get("name") or "").strip()
    if not code or not name:
        raise Problem(422, "sku-fields", _("Give the new SKU a code and a name."))
    _answering(lambda: service.create_sku_for_question(question, code=code, name=name, user=user,
                                                       station=chosen_station(user)))
    return _answer_question(question)


# --- discrepancies ---------------------------------------------------------------------------------


@receiving.get("/receiving/<int:delivery_id>/discrepancies")
@signed_in(*WORKERS)
def discrepancies(delivery_id: int):
    delivery = _delivery(delivery_id)
    rows = list(db.session.execute(
        select(Discrepancy).where(Discrepancy.delivery_id == delivery.id).order_by(Discrepancy.id)).scalars())
    skus = {s.id: s for s in db.session.execute(
        select(Sku).where(Sku.id.in_({r.sku_id for r in rows if r.sku_id}))).scalars()}
    questions = {q.id: q for q in db.session.execute(
        select(ReceivingQuestion).where(ReceivingQuestion.delivery_id == delivery.id)).scalars()}
    return render_template("receiving/discrepancies.html", delivery=delivery, rows=rows, skus=skus,
                           questions=questions, kind_names=KIND_NAMES, status_names=STATUS_NAMES,
                           may_accept=current_user.has_any_role(ACCEPTERS))


@receiving.post("/receiving/<int:delivery_id>/accept")
@signed_in(*ACCEPTERS)
def accept(delivery_id: int):
    delivery = _delivery(delivery_id)
    if delivery.status != DeliveryStatus.closed:
        flash(_("Only a closed delivery can be accepted."), "error")
        return redirect(url_for("receiving.discrepancies", delivery_id=delivery.id))
    try:  # the service checks again on the locked row: a twin accept at the same moment lands here
        service.accept_discrepancies(delivery, user=current_user._get_current_object())
    except DomainError:
        db.session.rollback()
        flash(_("Only a closed delivery can be accepted."), "error")
        return redirect(url_for("receiving.discrepancies", delivery_id=delivery_id))
    db.session.commit()
    flash(_("Delivery %(number)s accepted.", number=delivery.number), "ok")
    return redirect(url_for("receiving.index"))
