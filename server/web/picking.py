"""Picking pages: the handheld screen (the cell to go to in large type, the goods and quantity, the
order's slot and tote, the warehouse map with the route and numbered stops, one scan field, the
quantity and short keypads). Scans and keys go through the picking scenario (`handheld_input`)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf.csrf import CSRFError

from server import scenarios
from server.auth import signed_in, signed_in_user
from server.extensions import db
from server.models import Role
from server.problems import Problem, problem_response
from server.scenarios.picking import PICKING
from server.web.handheld import chosen_station, event_id_of, key_payload, plural_texts, scan_payload

picking = Blueprint("picking", __name__, template_folder="templates")

PICKERS = (Role.picker, Role.supervisor, Role.admin)
KEYS = PICKING.flow.key_params()  # what the page may send: the flow's declared keys


@picking.errorhandler(CSRFError)
def _on_csrf(error):
    db.session.rollback()
    return problem_response(Problem(400, "csrf", _("The page is out of date: reload it.")))


@picking.get("/picking")
@signed_in(*PICKERS)
def index():
    """The handheld picking screen: where the picker's flow is (a batch resumes on load)."""
    user = signed_in_user()
    flow = PICKING.view(user=user, station=None)
    texts = {
        "units": plural_texts(lambda n: ngettext("%(count)s unit", "%(count)s units", n, count="{count}")),
        "lines_left": plural_texts(lambda n: ngettext("%(count)s line left", "%(count)s lines left", n,
                                                      count="{count}")),
        "counted": _("counted %(count)s", count="{count}"),
        "lot": _("Lot"), "expiry": _("Expiry"), "order": _("Order"), "slot": _("Slot"), "tote_slot": _("Tote %(tote)s, slot %(slot)s", tote="{tote}", slot="{slot}"),
        "walked": _("Walked %(m)s m", m="{m}"), "no_answer": _("The server did not answer."),
        "go": _("Go to cell"), "slot_scan": _("Scan a tote for slot"), "drop": _("Pack area"),
    }
    return render_template("picking/index.html", texts=texts, keys=flow["keys"], state=flow["state"],
                           screen=flow["screen"], instruction=flow["instruction"])


@picking.post("/picking/input")
@signed_in(*PICKERS, json=True)
def page_input():
    user = signed_in_user()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "bad-request", _("Send JSON."))
    event_id = event_id_of(body)
    kind = body.get("kind")
    if kind == "scan":
        payload = scan_payload(body.get("code"))
    elif kind == "button":
        payload = key_payload(body, KEYS)
    else:
        raise Problem(422, "unknown-input", _("This input does nothing here."))
    outcome = scenarios.handheld_input(user, kind, payload, scenario=PICKING, station=chosen_station(user),
                                       event_id=event_id)
    db.session.commit()
    return {**outcome, "status": outcome.get("status") or "stored"}
