"""Webhook notifications of order events: subscriptions, the outbox of deliveries, signing,
sending with retries, and replays.

An order's status change writes its OrderEvent and, in the same transaction, one
WebhookDelivery per matching active subscription (`enqueue_order_events`, a transactional outbox:
a change that rolls back sends nothing, one that commits is sent even if the server stops right
after). `cellwms
worker` sends them: `claim_due` takes due deliveries in a short transaction (FOR UPDATE SKIP
LOCKED on PostgreSQL, so several workers never take one delivery twice), `send` posts the body
signed outside any transaction, `record_result` writes what came back. A delivery that failed
waits base * 2^(attempts - 1) seconds (capped) and is failed after the last attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from server.extensions import db
from server.models import (
    Order,
    OrderEvent,
    OrderStatus,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
)
from server.models.base import utcnow
from server.services.errors import DomainError

ALL_EVENTS = "*"
EVENTS = ("order.created", *(f"order.{status}" for status in OrderStatus))
SIGNATURE_HEADER = "X-Cellwms-Signature"
EVENT_HEADER = "X-Cellwms-Event"
DELIVERY_HEADER = "X-Cellwms-Delivery"
SECRET_BYTES = 32
MAX_ERROR = 500
USER_AGENT = "cellwms-webhooks/1"


# --- subscriptions -----------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(SECRET_BYTES)


def check_events(events: list[str]) -> list[str]:
    """The events a subscription names, each once, in a stable order; unknown ones refused."""
    unknown = sorted({e for e in events if e != ALL_EVENTS and e not in EVENTS})
    if unknown:
        raise DomainError(422, "unknown-event", _l("Unknown event."), ", ".join(unknown),
                          errors={"events": [f"Unknown event(s): {', '.join(unknown)}. Use * or {', '.join(EVENTS)}."]})
    if not events:
        raise DomainError(422, "no-events", _l("Name at least one event."),
                          errors={"events": ["Name at least one event, or *."]})
    return [ALL_EVENTS] if ALL_EVENTS in events else sorted(set(events), key=EVENTS.index)



# --- the outbox ------------------------------------------------------------------------------


def event_body(event: OrderEvent, order: dict) -> str:
    """The exact JSON text a delivery sends (and signs)."""
    return json.dumps({"event": event.kind, "event_id": event.id, "occurred_at": event.created_at.isoformat(),
                       "order": order}, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def subscribed(subscription: WebhookSubscription, event_kind: str) -> bool:
    return "*" in subscription.events or event_kind in subscription.events


def enqueue_order_events(events: list[OrderEvent], payload_of) -> list[WebhookDelivery]:
    """A delivery per event and active subscription that wants it, in the caller's transaction.
    `payload_of(event)` is the order as the event carries it (only built where someone listens)."""
    subscriptions = db.session.execute(
        select(WebhookSubscription).where(WebhookSubscription.active.is_(True)).order_by(WebhookSubscription.id)
    ).scalars().all()
    deliveries = []
    for event in events:
        listening = [s for s in subscriptions if subscribed(s, event.kind)]
        if listening:
            body = event_body(event, payload_of(event))
            deliveries += [WebhookDelivery(subscription_id=s.id, event=event.kind, order_event_id=event.id, body=body)
                           for s in listening]
    db.session.add_all(deliveries)
    return deliveries


# --- signing ---------------------------------------------------------------------------------


def signature(secret: str, body: str | bytes, timestamp: int) -> str:
    """The `X-Cellwms-Signature` value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    raw = body if isinstance(body, bytes) else body.encode()
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver checks: the header's HMAC matches the body and its time is recent."""
    parts = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A delivery taken by one worker for one attempt (plain values: sent outside the session)."""

    id: int
    url: str
    secret: str
    event: str
    body: str
    attempt: int
    claimed_at: datetime


def _setting(name: str):
    return current_app.config[name]


def backoff(attempts: int) -> timedelta:
    """How long a delivery waits after its `attempts`-th failed attempt."""
    base = _setting("CELLWMS_WEBHOOK_BACKOFF_SECONDS")
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), _setting("CELLWMS_WEBHOOK_BACKOFF_MAX_SECONDS")))


def claim_due(limit: int, now: datetime | None = None) -> list[Claim]:
    """Take up to `limit` pending deliveries whose time has come, for one attempt each, and commit.

    The claim counts the attempt and moves next_attempt_at a claim period ahead, so no other worker
    takes the delivery while it is sent; one whose worker stopped mid-send is taken again after it.
    On PostgreSQL the rows are read FOR UPDATE SKIP LOCKED: workers claiming at the same moment
    take different deliveries and never wait for each other. SQLite serialises writers anyway."""
    now = now or utcnow()
    query = (select(WebhookDelivery)
             .where(WebhookDelivery.status == WebhookDeliveryStatus.pending, WebhookDelivery.next_attempt_at <= now)
             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    max_attempts = _setting("CELLWMS_WEBHOOK_MAX_ATTEMPTS")
    lease = timedelta(seconds=_setting("CELLWMS_WEBHOOK_CLAIM_SECONDS"))
    claims = []
    try:
        for delivery in db.session.execute(query).scalars().all():
            subscription = db.session.get(WebhookSubscription, delivery.subscription_id)
            if delivery.attempts >= max_attempts:  # its last attempt's worker stopped before recording it
                delivery.status = WebhookDeliveryStatus.failed
                delivery.last_error = delivery.last_error or "The worker stopped during the last attempt."
                continue
            if not subscription.active:
                delivery.status = WebhookDeliveryStatus.failed
                delivery.last_error = "The subscription is inactive."
                continue
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.next_attempt_at = now + lease
            claims.append(Claim(delivery.id, subscription.url, subscription.secret, delivery.event, delivery.body,
                                delivery.attempts, now))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return claims


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is an answer like any other non-2xx: not delivered


_opener = urllib.request.build_opener(_NoRedirects)


def send(claim: Claim, *, timeout: float | None = None, now: float | None = None) -> tuple[int | None, str]:
    """POST the signed body; (HTTP status or None, error text: "" when delivered)."""
    timeout = _setting("CELLWMS_WEBHOOK_TIMEOUT_SECONDS") if timeout is None else timeout
    body = claim.body.encode()
    timestamp = int(time.time() if now is None else now)
    request = urllib.request.Request(claim.url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(claim.secret, body, timestamp), EVENT_HEADER: claim.event,
        DELIVERY_HEADER: str(claim.id)})
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return None, f"{type(error).__name__}: {reason}"[:MAX_ERROR]
    if 200 <= status < 300:
        return status, ""
    return status, f"HTTP {status}"


def record_result(claim: Claim, status_code: int | None, error: str, now: datetime | None = None) -> str | None:
    """Write the attempt's outcome and commit: delivered, pending again later, or failed after the
    last attempt. Returns the delivery's status, None when the claim was no longer its (a replay,
    or a worker that took it after this one overran its claim period)."""
    now = now or utcnow()
    try:
        delivery = db.session.get(WebhookDelivery, claim.id, with_for_update=True, populate_existing=True)
        if (delivery is None or delivery.status != WebhookDeliveryStatus.pending
                or delivery.last_attempt_at != claim.claimed_at or delivery.attempts != claim.attempt):
            db.session.rollback()
            return None
        delivery.last_status_code = status_code
        delivery.last_error = error[:MAX_ERROR]
        if not error:
            delivery.status = WebhookDeliveryStatus.delivered
            delivery.delivered_at = now
        elif delivery.attempts >= _setting("CELLWMS_WEBHOOK_MAX_ATTEMPTS"):
            delivery.status = WebhookDeliveryStatus.failed
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        status = delivery.status
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return status


def deliver_due(limit: int | None = None, now: datetime | None = None) -> dict[str, int]:
    """One pass: claim what is due, send each, record each. Counts by outcome."""
    limit = limit or _setting("CELLWMS_WEBHOOK_BATCH")
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for claim in claim_due(limit, now):
        status_code, error = send(claim)
        status = record_result(claim, status_code, error, now)
        if status == WebhookDeliveryStatus.delivered:
            counts["delivered"] += 1
        elif status == WebhookDeliveryStatus.failed:
            counts["failed"] += 1
        elif status is not None:
            counts["retry"] += 1
    return counts


# --- replay ----------------------------------------------------------------------------------


def replay(delivery_id: int, now: datetime | None = None) -> WebhookDelivery:
    """Queue a delivered or failed delivery again (same body, a fresh series of attempts). The
    caller commits. A pending one is refused: it is queued already."""
    delivery = db.session.get(WebhookDelivery, delivery_id, with_for_update=True, populate_existing=True)
    if delivery is None:
        raise DomainError(404, "not-found", _l("No such webhook delivery."), resource="webhook delivery",
                          id=delivery_id)
    if delivery.status == WebhookDeliveryStatus.pending:
        raise DomainError(409, "delivery-pending", _l("This delivery is queued already."), status_now=delivery.status)
    delivery.status = WebhookDeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = now or utcnow()
    delivery.delivered_at = None
    return delivery


def deliveries_query(status: str | None = None, subscription_id: int | None = None):
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc())
    if status:
        query = query.where(WebhookDelivery.status == status)
    if subscription_id:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    return query


def order_number(order_event_id: int | None) -> str | None:
    if order_event_id is None:
        return None
    return db.session.execute(select(Order.number).join(OrderEvent, OrderEvent.order_id == Order.id)
                              .where(OrderEvent.id == order_event_id)).scalar_one_or_none()


def order_numbers(deliveries) -> dict[int, str]:
    """Order numbers of the deliveries' events, by order event id."""
    ids = {d.order_event_id for d in deliveries if d.order_event_id}
    if not ids:
        return {}
    rows = db.session.execute(select(OrderEvent.id, Order.number).join(Order, Order.id == OrderEvent.order_id)
                              .where(OrderEvent.id.in_(ids))).all()
    return dict(rows)
