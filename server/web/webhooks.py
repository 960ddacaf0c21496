"""Supervisor pages: webhook subscriptions and the delivery log (with Replay), and the demo's
emulated receiver (what `cellwms demo`'s local receiver got, and whether each signature held)."""

import json
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from server.auth import signed_in, signed_in_user
from server.core.bounds import INT64_MAX, parse_whole
from server.extensions import db
from server.models import Role, WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription
from server.services import audit
from server.services import webhooks as service
from server.services.errors import DomainError

webhook_pages = Blueprint("webhook_pages", __name__, template_folder="templates")

SUPERVISORS = (Role.supervisor,)
PAGE_SIZE = 50
RECEIVED_SHOWN = 200
STATUS_NAMES = {WebhookDeliveryStatus.pending: _l("pending"), WebhookDeliveryStatus.delivered: _l("delivered"),
                WebhookDeliveryStatus.failed: _l("failed")}


def demo_receiver_log(app=None) -> Path:
    """Where the demo's receiver appends what it got (one JSON object a line)."""
    return Path((app or current_app).instance_path) / "demo-webhooks" / "received.jsonl"


@webhook_pages.get("/webhooks")
@signed_in(*SUPERVISORS)
def index():
    status = request.args.get("status", "")
    if status not in STATUS_NAMES:
        status = ""
    page = min(parse_whole(request.args.get("page", "1"), INT64_MAX) or 1, 100_000)
    query = service.deliveries_query(status or None)
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    deliveries = db.session.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars().all()
    subscriptions = db.session.execute(select(WebhookSubscription).order_by(WebhookSubscription.id)).scalars().all()
    return render_template("webhooks/index.html", subscriptions=subscriptions, deliveries=deliveries,
                           numbers=service.order_numbers(deliveries), status=status, status_names=STATUS_NAMES,
                           page=page, pages=max(1, -(-total // PAGE_SIZE)), total=total,
                           demo=demo_receiver_log().exists())


@webhook_pages.post("/webhooks/deliveries/<int:delivery_id>/replay")
@signed_in(*SUPERVISORS)
def replay(delivery_id: int):
    try:
        delivery = service.replay(delivery_id)
    except DomainError as error:
        db.session.rollback()
        if error.status == 404:
            abort(404)
        flash(str(error.title), "error")
        return redirect(url_for("webhook_pages.index"))
    audit.record(signed_in_user(), "webhook.replay", str(delivery.id), event=delivery.event, via="page")
    db.session.commit()
    flash(_("Delivery %(id)s is queued to be sent again.", id=delivery_id), "ok")
    return redirect(url_for("webhook_pages.index"))


@webhook_pages.get("/webhooks/demo-receiver")
@signed_in(*SUPERVISORS)
def demo_receiver():
    path = demo_receiver_log()
    received = []
    if path.exists():
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    received.append(json.loads(line))
                except ValueError:
                    continue
    received = received[-RECEIVED_SHOWN:][::-1]
    return render_template("webhooks/demo_receiver.html", received=received, running=path.exists(),
                           path=str(path), delivery_count=db.session.execute(
                               select(func.count()).select_from(WebhookDelivery)).scalar_one())
