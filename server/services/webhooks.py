"""Webhooks: subscriptions to order events, and the outbox of their deliveries.

`enqueue_order_event` writes one delivery per matching active subscription in the transaction of the
change it tells about (a transactional outbox: a change that rolls back sends nothing, one that
commits is sent even if the server stops right after)."""

import json

from sqlalchemy import select

from server.extensions import db
from server.models import OrderEvent, WebhookDelivery, WebhookSubscription


def event_body(event: OrderEvent, order: dict) -> str:
    """The exact JSON text a delivery sends (and signs)."""
    return json.dumps({"event": event.kind, "event_id": event.id, "occurred_at": event.created_at.isoformat(),
                       "order": order}, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def subscribed(subscription: WebhookSubscription, event_kind: str) -> bool:
    return "*" in subscription.events or event_kind in subscription.events


def enqueue_order_event(event: OrderEvent, order: dict) -> list[WebhookDelivery]:
    subscriptions = [s for s in db.session.execute(
        select(WebhookSubscription).where(WebhookSubscription.active.is_(True)).order_by(WebhookSubscription.id)
    ).scalars() if subscribed(s, event.kind)]
    if not subscriptions:
        return []
    body = event_body(event, order)
    deliveries = [WebhookDelivery(subscription_id=s.id, event=event.kind, order_event_id=event.id, body=body)
                  for s in subscriptions]
    db.session.add_all(deliveries)
    return deliveries
