"""API: the scan path. Every device and page sends what it read here and learns what it is.

Each scan is recorded as a ScanEvent, garbage included. A station's retried scan (same
`event_id`) is stored once and gets the first answer again.
"""

import base64
import binascii
from datetime import UTC

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.api.bounds import Moment, Payload, Text
from server.api.docs import problems
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import Role, ScanEvent
from server.problems import Problem
from server.services.scan import Wedge, classify, record_scan

blp = Blueprint("scan", __name__, url_prefix="/api/v1", description="Scans: what a scanned code is")

SCANNERS = (Role.receiver, Role.picker, Role.packer, Role.dispatcher, Role.returns, Role.supervisor)
SOURCES = ("page", "agent", "camera", "api")
MAX_SCAN_TEXT = 1 << 20


class ScanInSchema(Schema):
    # Raw input: any character (NUL too) and long garbage are answered `unknown`; the service cuts
    # what it keeps at CELLWMS_SCAN_MAX_BYTES.
    code = Text(allow_nul=True, max_length=MAX_SCAN_TEXT, metadata={"description": "What was read, as text."})
    raw_b64 = Text(max_length=MAX_SCAN_TEXT * 2,
                   metadata={"description": "What was read, as base64 bytes (control bytes, GS)."})
    symbology = Text(
        validate=validate.Length(max=8), metadata={"description": "AIM symbology identifier, e.g. ]d2"}
    )
    event_id = fields.UUID(metadata={"description": "Sender's id: a retry with the same id is stored once."})
    scanned_at = Moment(default_timezone=UTC)
    source = Text(validate=validate.OneOf(SOURCES))
    wedge = Payload(metadata={"description": "A page scanner's settings {prefix, suffix, gs}: cut the "
                                                 "prefix and suffix, read gs as GS (up to 8 characters each)."})

    @validates_schema
    def one_payload(self, data, **_):
        if ("code" in data) == ("raw_b64" in data):
            raise ValidationError("Give exactly one of code and raw_b64.", "_schema")
        if "raw_b64" in data:
            try:
                data["raw"] = base64.b64decode(data["raw_b64"], validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError("Not valid base64.", "raw_b64") from None
        if "wedge" in data or data.get("source") == "page":
            try:
                data["wedge"] = Wedge.from_json(data.get("wedge"), current_app.config["CELLWMS_WEDGE_GS"])
            except ValueError as exc:
                raise ValidationError(str(exc), "wedge") from None


class ScanOutSchema(Schema):
    kind = Text(metadata={"description": "cell, sku, badge, tote, order, parcel or unknown"})
    message = Text()
    entity = fields.Dict(allow_none=True)
    gs1 = fields.Dict(allow_none=True)
    typed = Text(metadata={"description": "The code as typed, when it was re-read (Russian layout, Caps Lock)"})
    event_id = Text(allow_none=True)


@blp.route("/scan")
class ScanView(MethodView):
    @roles_required(*SCANNERS)
    @blp.arguments(ScanInSchema)
    @blp.response(200, ScanOutSchema)
    @problems(blp, {409: "This event_id belongs to another scan (event-id-taken)"})
    def post(self, data):
        """Classify a scan and record it."""
        principal = current_principal()
        station = principal.station
        user = principal.user
        event_id = str(data["event_id"]) if "event_id" in data else None
        if event_id is not None:
            earlier = _find_event(event_id)
            if earlier is not None:
                return _replay(earlier, station, user)

        raw = data["raw"] if "raw" in data else data["code"].encode("utf-8")
        max_bytes = current_app.config["CELLWMS_SCAN_MAX_BYTES"]
        warehouse_id = station.warehouse_id if station is not None else None
        result = classify(raw, warehouse_id, symbology=data.get("symbology"), max_bytes=max_bytes,
                          wedge=data.get("wedge"))
        answer = result.answer()
        try:
            # A savepoint: a concurrent twin of this event_id must not spoil the transaction.
            with db.session.begin_nested():
                record_scan(
                    result,
                    max_bytes=max_bytes,
                    station_id=station.id if station is not None else None,
                    user_id=user.id if user is not None else None,
                    warehouse_id=warehouse_id,
                    event_id=event_id,
                    scanned_at=data.get("scanned_at"),
                    source=data.get("source") or ("agent" if station is not None and user is None else "api"),
                    meaning=answer,
                )
        except IntegrityError:
            # The same event_id arrived concurrently and was stored first: answer as it did.
            earlier = _find_event(event_id) if event_id else None
            if earlier is None:
                raise
            return _replay(earlier, station, user)
        return {**answer, "event_id": event_id}


def _find_event(event_id: str) -> ScanEvent | None:
    return db.session.execute(select(ScanEvent).where(ScanEvent.event_id == event_id)).scalar_one_or_none()


def _replay(event: ScanEvent, station, user) -> dict:
    same_sender = event.station_id == (station.id if station else None) and event.user_id == (
        user.id if user else None
    )
    if not same_sender:
        raise Problem(409, "event-id-taken", "This event_id belongs to another sender's scan.")
    return {**(event.meaning or {}), "event_id": event.event_id}
