"""What the handheld flow pages share: a page's scan and keys as scenario inputs, and the
station whose devices the worker's handheld uses (kept in the handheld session)."""

from __future__ import annotations

import base64
import uuid

from flask import current_app, request
from flask_babel import gettext as _

from server.extensions import db
from server.models import HandheldSession, Role, Station
from server.problems import Problem
from server.services.scan import WEDGE_MAX_CHARS, Wedge

MAX_CODE = 512


# Who works the receiving and putaway pages.
WORKERS = (Role.receiver, Role.supervisor, Role.admin)


def whole(value, what: str) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isascii() and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 1_000_000:
        raise Problem(422, "bad-number", _("%(what)s: a whole number is needed.", what=what))
    return value


def scan_payload(raw, wedge=None) -> dict:
    """A page's scan as the scenarios take it: the scanner's CR/LF/TAB cut off and the handheld's
    scanner settings applied (`wedge` {prefix, suffix, gs}, by default the request body's; its gs
    by default the server's CELLWMS_WEDGE_GS)."""
    if not isinstance(raw, str) or not raw.strip("\r\n\t "):
        raise Problem(422, "empty-scan", _("Nothing was scanned."))
    raw = raw.strip("\r\n\t ")
    if len(raw) > MAX_CODE:
        raise Problem(422, "scan-too-long", _("The code is too long."))
    if wedge is None:
        body = request.get_json(silent=True)
        wedge = body.get("wedge") if isinstance(body, dict) else None
    try:
        settings = Wedge.from_json(wedge, current_app.config["CELLWMS_WEDGE_GS"])
    except ValueError:
        raise Problem(422, "bad-wedge", _("Scanner settings: prefix and suffix up to %(count)s characters, "
                                          "GS substitute one sign.", count=WEDGE_MAX_CHARS)) from None
    raw = settings.apply(raw)
    if not raw:
        raise Problem(422, "empty-scan", _("Nothing was scanned."))
    return {"raw_b64": base64.b64encode(raw.encode()).decode(), "symbology": ""}


# CLDR plural categories (the page script's Intl.PluralRules) and a count that takes each form
# in English and Russian; "other" is the fractional form (2's in both).
PLURAL_SAMPLES = (("one", 1), ("few", 2), ("many", 5), ("other", 2))


def plural_texts(text_of) -> dict:
    """A counted text for a page script: `text_of(n)` is an ngettext call with count="{count}";
    the script picks the form by Intl.PluralRules (cellwms.counted)."""
    return {category: text_of(n) for category, n in PLURAL_SAMPLES}


def event_id_of(body: dict) -> str | None:
    """The event_id a page made for its input (kept across its retries): a UUID, else 422.
    Without one the server makes it (a retry then counts again)."""
    value = body.get("event_id")
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 36:
            raise ValueError(value)
        return str(uuid.UUID(value))
    except ValueError:
        raise Problem(422, "bad-event-id", _("event_id: a UUID is needed.")) from None


def key_payload(body: dict, keys: dict) -> dict:
    """{"key", and the key's whole-number fields} from a page's JSON; `keys` maps key -> fields."""
    key = body.get("key")
    if key not in keys:
        raise Problem(422, "unknown-input", _("This key does nothing here."))
    payload = {"key": key}
    for name in keys[key]:
        if name in body and body[name] is not None and body[name] != "":
            payload[name] = whole(body[name], name)
    return payload


def chosen_station(user) -> Station | None:
    """The station whose devices this worker's handheld uses (kept in the handheld session)."""
    session = db.session.get(HandheldSession, user.id)
    if session is None or session.station_id is None:
        return None
    station = db.session.get(Station, session.station_id)
    return station if station is not None and station.active else None
