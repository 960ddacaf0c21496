"""API: webhook subscriptions (URL, events, secret) and their delivery log with replays.

Supervisors and admins only. The secret is shown once, in the answer that creates the
subscription (a replayed Idempotency-Key answer shows `secret: null`); see docs/webhooks.md.
"""

from urllib.parse import urlsplit

from flask import g, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from server.api.bounds import Id, Int, Name, Text
from server.api.docs import problems
from server.api.pagination import SelectPage
from server.api.schemas import UtcDateTime
from server.auth import current_principal, roles_required
from server.extensions import db
from server.models import Role, WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription
from server.problems import Problem
from server.services import audit
from server.services import webhooks as service

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="Webhook subscriptions and deliveries")

SUPERVISORS = (Role.supervisor,)
SECRET_KEYS = ("secret",)


def _http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Must be an http:// or https:// URL with a host.")
    if any(ord(ch) <= 32 for ch in value):
        raise ValidationError("No spaces or control characters in a URL.")


class SubscriptionSchema(Schema):
    id = Id(dump_only=True)
    url = Text(required=True, validate=[validate.Length(min=1, max=2000), _http_url])
    events = fields.List(Text(validate=validate.Length(max=64)), required=True, validate=validate.Length(min=1, max=50),
                         metadata={"description": f"* or some of: {', '.join(service.EVENTS)}"})
    active = fields.Boolean(load_default=True)
    description = Name(load_default="", validate=validate.Length(max=200))
    created_at = UtcDateTime(dump_only=True)


class SubscriptionInSchema(SubscriptionSchema):
    secret = Text(validate=validate.Length(min=16, max=128), load_only=True,
                  metadata={"description": "omitted: generated (shown once in the answer)"})


class SubscriptionCreatedSchema(SubscriptionSchema):
    secret = Text(allow_none=True, metadata={"description": "the HMAC-SHA256 key: shown in this answer only"})


class SubscriptionPatchSchema(Schema):
    url = Text(validate=[validate.Length(min=1, max=2000), _http_url])
    events = fields.List(Text(validate=validate.Length(max=64)), validate=validate.Length(min=1, max=50))
    active = fields.Boolean()
    description = Name(validate=validate.Length(max=200))


class DeliverySchema(Schema):
    id = Id()
    subscription_id = Id()
    event = Text()
    order_event_id = Id(allow_none=True)
    order_number = fields.Function(lambda d: service.order_number(d.order_event_id), allow_none=True)
    status = Text()
    attempts = Int()
    next_attempt_at = UtcDateTime()
    last_attempt_at = UtcDateTime(allow_none=True)
    last_status_code = Int(allow_none=True)
    last_error = Text()
    delivered_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()
    body = Text(metadata={"description": "the exact JSON text sent and signed"})


class DeliveryQuerySchema(Schema):
    status = Text(validate=validate.OneOf([s.value for s in WebhookDeliveryStatus]))
    subscription_id = Id()


def _subscription(subscription_id: int, lock: bool = False) -> WebhookSubscription:
    row = db.session.get(WebhookSubscription, subscription_id, with_for_update=lock or None,
                         populate_existing=lock)
    if row is None:
        raise Problem(404, "not-found", f"No webhook subscription with id {subscription_id}.",
                      resource="webhook subscription", id=subscription_id)
    return row


def _actor():
    principal = current_principal()
    return principal.user if principal else None


def _events(events: list[str]) -> list[str]:
    return service.check_events(events)


@blp.route("/webhooks")
class Subscriptions(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.response(200, SubscriptionSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self):
        """Webhook subscriptions (the secret is never shown again)."""
        return db.select(WebhookSubscription).order_by(WebhookSubscription.id)

    @roles_required(*SUPERVISORS)
    @blp.arguments(SubscriptionInSchema)
    @blp.response(201, SubscriptionCreatedSchema)
    def post(self, data):
        """Subscribe a URL to order events; the answer shows the signing secret once."""
        data["events"] = _events(data["events"])
        data["secret"] = data.get("secret") or service.new_secret()
        user = _actor()
        subscription = WebhookSubscription(**data, created_by_user_id=user.id if user else None)
        db.session.add(subscription)
        db.session.flush()
        audit.record(user, "webhook.create", subscription.url, events=subscription.events, via="api")
        g.idempotency_redact = SECRET_KEYS
        return subscription, 201, {"Location": url_for("webhooks.Subscription", subscription_id=subscription.id)}


@blp.route("/webhooks/<int:subscription_id>", endpoint="Subscription")
class SubscriptionView(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.response(200, SubscriptionSchema)
    def get(self, subscription_id):
        """One webhook subscription."""
        return _subscription(subscription_id)

    @roles_required(*SUPERVISORS)
    @blp.arguments(SubscriptionPatchSchema)
    @blp.response(200, SubscriptionSchema)
    def patch(self, data, subscription_id):
        """Change a subscription's URL, events, description, or pause it (active: false)."""
        subscription = _subscription(subscription_id, lock=True)
        if "events" in data:
            data["events"] = _events(data["events"])
        for name, value in data.items():
            setattr(subscription, name, value)
        db.session.flush()
        audit.record(_actor(), "webhook.change", subscription.url, fields=sorted(data), via="api")
        return subscription

    @roles_required(*SUPERVISORS)
    @blp.response(204)
    def delete(self, subscription_id):
        """Delete a subscription and its delivery log."""
        subscription = _subscription(subscription_id, lock=True)
        db.session.execute(db.delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id))
        db.session.delete(subscription)
        db.session.flush()
        audit.record(_actor(), "webhook.delete", subscription.url, via="api")


@blp.route("/webhooks/deliveries")
class Deliveries(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliverySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query):
        """The delivery log, newest first: filter by status and subscription."""
        return service.deliveries_query(query.get("status"), query.get("subscription_id"))


@blp.route("/webhooks/deliveries/<int:delivery_id>/replay")
class DeliveryReplay(MethodView):
    @roles_required(*SUPERVISORS)
    @blp.response(200, DeliverySchema)
    @problems(blp, {409: "The delivery is queued already (delivery-pending)"})
    def post(self, delivery_id):
        """Send a delivered or failed delivery again: the same body, a fresh series of attempts."""
        delivery = service.replay(delivery_id)
        db.session.flush()
        audit.record(_actor(), "webhook.replay", str(delivery.id), event=delivery.event, via="api")
        return delivery
