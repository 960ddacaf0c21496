"""API: orders from shop platforms, sent to a signed webhook (no bearer token: the signature is the
credential). Each platform is an order source with its own secret and settings (docs/orders.md).

The platform signs `<timestamp>.<raw body>` with HMAC-SHA256 under the source's secret and sends
`X-Cellwms-Timestamp: <unix seconds>` and `X-Cellwms-Signature: sha256=<hex>`. A signature that does not
match, or a timestamp more than five minutes away from the server's clock (a replayed request), is
refused with 401 before the body is read as an order."""

import hashlib
import hmac
import time

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from server.api.docs import problems
from server.api.orders import OrderInSchema, OrderOutSchema, create_from
from server.auth import public
from server.extensions import db
from server.models import OrderSource
from server.problems import Problem
from server.services import orders as service

blp = Blueprint("intake", __name__, url_prefix="/api/v1", description="Orders from shop platforms (signed)")

TIMESTAMP_HEADER = "X-Cellwms-Timestamp"
SIGNATURE_HEADER = "X-Cellwms-Signature"
MAX_SKEW_S = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a platform sends for `body` at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _check_signature(source: OrderSource) -> None:
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise Problem(401, "bad-signature", f"{TIMESTAMP_HEADER} must be the time in unix seconds.")
    if abs(time.time() - int(timestamp)) > MAX_SKEW_S:
        raise Problem(401, "bad-signature", "The request's timestamp is more than five minutes away from ours.")
    if not hmac.compare_digest(given.encode(errors="replace"),
                               signature(source.secret, timestamp, request.get_data()).encode()):
        raise Problem(401, "bad-signature", "The signature does not match the body and the source's secret.")


@blp.route("/intake/orders/<source_code>")
class OrderIntake(MethodView):
    @public
    @blp.arguments(OrderInSchema)
    @blp.response(201, OrderOutSchema)
    @blp.alt_response(200, schema=OrderOutSchema, description="This order number exists with the same lines")
    @problems(blp, {401: "Missing or wrong signature", 404: "No such order source", 409: "The number exists with other lines"})
    def post(self, body, source_code):
        """An order from a shop platform, signed with the source's secret. The source's settings decide
        whether it is confirmed with the customer first and whether partial reservation is allowed."""
        source = db.session.execute(select(OrderSource).where(OrderSource.code == source_code[:64])).scalar_one_or_none()
        if source is None or not source.active:
            raise Problem(404, "unknown-order-source", f"No active order source {source_code[:64]!r}.")
        _check_signature(source)
        body["warehouse_id"] = source.warehouse_id
        order, created = create_from(body, source=source.code,
                                     needs_confirmation=source.needs_confirmation or body["needs_confirmation"],
                                     partial_allowed=source.partial_allowed)
        return service.order_payload(order), 201 if created else 200
