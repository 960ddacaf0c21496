"""Webhooks of order events: subscriptions over the API, the outbox sent by the worker to a real
HTTP receiver on 127.0.0.1, signatures, retries with backoff, failure after the last attempt,
replays, several workers at once, the supervisor pages and the demo's receiver."""

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text

from server.commands.demo_webhooks import DEMO_DESCRIPTION, DemoWebhooks
from server.commands.worker import worker as worker_command
from server.extensions import db as _db
from server.models import WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription
from server.models.base import utcnow
from server.services import orders, webhooks
from tests import factories as f
from tests.assertions import assert_problem, count
from tests.test_pages import csrf_token, sign_in_password
from tests.webhook_receiver import Receiver

PASSWORD = "super-pass-1"
SECRET = "whsec_test-secret-of-the-shop-0001"


@pytest.fixture
def receiver():
    made = []

    def make(answers=()):
        made.append(Receiver(answers))
        return made[-1]

    yield make
    for r in made:
        r.close()


def shop(db):
    wh = f.warehouse()
    f.zone(wh, "A")
    kettle = f.sku("KET-1", "Чайник")
    boss = f.user("olga", ("supervisor",), password=PASSWORD)
    picker = f.user("petr", ("picker",), badge="B-2")
    db.session.commit()
    return {"wh": wh, "kettle": kettle, "boss": f.token_for(boss), "picker": f.token_for(picker), "boss_user": boss}


def subscribe(db, url, events=("*",), secret=SECRET) -> WebhookSubscription:
    subscription = WebhookSubscription(url=url, events=list(events), secret=secret)
    db.session.add(subscription)
    db.session.commit()
    return subscription


def new_order(s, number="1001"):
    """An order waiting for the customer's confirmation: one event, order.created."""
    order, _created = orders.create_order(s["wh"].id, number, [{"sku": "KET-1", "quantity": 1}],
                                          needs_confirmation=True)
    _db.session.commit()
    return order


def deliveries(db):
    db.session.expire_all()
    return db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()


def test_subscribe_over_the_api_and_receive_signed_order_events(client, db, receiver):
    s = shop(db)
    r = receiver()
    answer = client.post("/api/v1/webhooks", json={"url": r.url, "events": ["order.cancelled", "order.created"],
                                                   "description": "shop"}, headers=s["boss"])
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["events"] == ["order.created", "order.cancelled"]
    assert "secret" not in client.get(f"/api/v1/webhooks/{created['id']}", headers=s["boss"]).get_json()
    assert "secret" not in client.get("/api/v1/webhooks", headers=s["boss"]).get_json()[0]
    subscribe(db, r.url, ["order.reserved"])  # wants none of these

    order = new_order(s)
    orders.cancel(order, "customer changed their mind")
    db.session.commit()
    assert webhooks.deliver_due() == {"delivered": 2, "retry": 0, "failed": 0}

    assert [h["X-Cellwms-Event"] for h, _b in r.got] == ["order.created", "order.cancelled"]
    for (headers, body), delivery in zip(r.got, deliveries(db), strict=True):
        assert webhooks.verify(secret, body, headers["X-Cellwms-Signature"])
        assert not webhooks.verify(secret, body + b" ", headers["X-Cellwms-Signature"])
        assert not webhooks.verify("another secret", body, headers["X-Cellwms-Signature"])
        assert headers["X-Cellwms-Delivery"] == str(delivery.id) and body.decode() == delivery.body
        document = json.loads(body)
        assert document["event"] == delivery.event and document["order"]["number"] == "1001"
        assert document["event_id"] == delivery.order_event_id and document["occurred_at"]
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert json.loads(r.got[1][1])["order"]["status"] == "cancelled"
    assert webhooks.deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}  # nothing sent twice
    log = client.get("/api/v1/webhooks/deliveries?status=delivered", headers=s["boss"]).get_json()
    assert [d["order_number"] for d in log] == ["1001", "1001"] and log[0]["event"] == "order.cancelled"


def test_the_signature_a_receiver_checks(app):
    header = webhooks.signature("k", b'{"a":1}', 1_700_000_000)
    import hashlib
    import hmac
    assert header == "t=1700000000,v1=" + hmac.new(b"k", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert webhooks.verify("k", b'{"a":1}', header, now=1_700_000_100)
    assert not webhooks.verify("k", b'{"a":1}', header, now=1_700_000_000 + 301)  # too old: a replayed request
    assert not webhooks.verify("k", b'{"a":1}', "v1=abc") and not webhooks.verify("k", b"", "")


def test_an_answer_of_500_is_retried_after_the_backoff_then_delivered(app, db, receiver):
    app.config.update(CELLWMS_WEBHOOK_BACKOFF_SECONDS=60)
    s = shop(db)
    r = receiver([500])
    subscribe(db, r.url)
    new_order(s)
    t0 = utcnow() + timedelta(seconds=1)
    assert webhooks.deliver_due(now=t0) == {"delivered": 0, "retry": 1, "failed": 0}
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "pending", 1, 500, "HTTP 500")
    assert delivery.next_attempt_at == t0 + timedelta(seconds=60)
    assert webhooks.deliver_due(now=t0 + timedelta(seconds=59)) == {"delivered": 0, "retry": 0, "failed": 0}
    assert len(r.got) == 1
    assert webhooks.deliver_due(now=t0 + timedelta(seconds=60)) == {"delivered": 1, "retry": 0, "failed": 0}
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered", 2, 200, "")
    assert r.got[0][1] == r.got[1][1]  # the same body each time


def test_failed_after_the_last_attempt_and_replayed(client, app, db, receiver):
    app.config.update(CELLWMS_WEBHOOK_BACKOFF_SECONDS=10, CELLWMS_WEBHOOK_BACKOFF_MAX_SECONDS=15,
                      CELLWMS_WEBHOOK_MAX_ATTEMPTS=4)
    s = shop(db)
    r = receiver([503] * 4)
    subscribe(db, r.url)
    new_order(s)
    now = utcnow() + timedelta(seconds=1)
    waits = []
    for _attempt in range(4):
        result = webhooks.deliver_due(now=now)
        (delivery,) = deliveries(db)
        if delivery.status == "pending":
            waits.append((delivery.next_attempt_at - now).total_seconds())
            now = delivery.next_attempt_at
    assert result == {"delivered": 0, "retry": 0, "failed": 1}
    assert waits == [10, 15, 15]  # 10 * 2^(n-1), capped at 15
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 4, 503)
    assert webhooks.deliver_due(now=now + timedelta(days=1)) == {"delivered": 0, "retry": 0, "failed": 0}

    answer = client.post(f"/api/v1/webhooks/deliveries/{delivery.id}/replay", headers=s["boss"])
    assert answer.status_code == 200 and answer.get_json()["status"] == "pending"
    assert_problem(client.post(f"/api/v1/webhooks/deliveries/{delivery.id}/replay", headers=s["boss"]), 409,
                   "delivery-pending")
    assert_problem(client.post("/api/v1/webhooks/deliveries/999999/replay", headers=s["boss"]), 404)
    assert webhooks.deliver_due() == {"delivered": 1, "retry": 0, "failed": 0}
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert len(r.got) == 5 and len({body for _h, body in r.got}) == 1
    # A delivered one may be sent again too.
    assert client.post(f"/api/v1/webhooks/deliveries/{delivery.id}/replay", headers=s["boss"]).status_code == 200


def test_an_unreachable_receiver_is_an_error_kept_on_the_delivery(app, db, receiver):
    s = shop(db)
    r = receiver()
    url = r.url
    r.close()  # nobody listens there now
    subscribe(db, url)
    new_order(s)
    assert webhooks.deliver_due() == {"delivered": 0, "retry": 1, "failed": 0}
    (delivery,) = deliveries(db)
    assert delivery.last_status_code is None and delivery.last_error and delivery.status == "pending"


def test_two_workers_at_once_never_send_one_delivery_twice(app, db, backend, receiver):
    s = shop(db)
    r = receiver()
    subscribe(db, r.url)
    subscribe(db, r.url, ["order.created"])
    for n in range(15):
        new_order(s, f"N-{n}")
    assert count(db, WebhookDelivery) == 30
    _db.session.remove()
    start = threading.Barrier(2)
    claimed = [[], []]
    errors = []

    def work(n):
        try:
            with app.app_context():
                start.wait(timeout=60)
                while True:
                    claims = webhooks.claim_due(3)
                    if not claims:
                        break
                    claimed[n].extend(c.id for c in claims)
                    for claim in claims:
                        webhooks.record_result(claim, *webhooks.send(claim))
                _db.session.remove()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert not set(claimed[0]) & set(claimed[1])
    sent = sorted(int(h["X-Cellwms-Delivery"]) for h, _b in r.got)
    assert sent == sorted(claimed[0] + claimed[1]) and len(sent) == len(set(sent)) == 30
    assert {d.status for d in deliveries(db)} == {"delivered"}


def test_a_claim_skips_deliveries_another_worker_holds(app, db, backend, receiver):
    if backend != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    s = shop(db)
    subscribe(db, receiver().url)
    for n in range(4):
        new_order(s, f"N-{n}")
    ids = [d.id for d in deliveries(db)]
    _db.session.commit()
    other = create_engine(_db.engine.url)
    with other.connect() as conn:  # another worker, in the middle of its claim
        conn.execute(text("SELECT id FROM webhook_deliveries WHERE id IN (:a, :b) FOR UPDATE"),
                     {"a": ids[0], "b": ids[1]})
        _db.session.execute(text("SET lock_timeout = '5s'"))  # fail instead of waiting if it would block
        claims = webhooks.claim_due(10)
        assert sorted(c.id for c in claims) == ids[2:]
        conn.rollback()
    other.dispose()
    assert sorted(c.id for c in webhooks.claim_due(10)) == ids[:2]


def test_bad_subscriptions_are_problems_and_store_nothing(client, db):
    s = shop(db)
    for body, field in [
        ({"url": "ftp://shop.example/hook", "events": ["*"]}, "url"),
        ({"url": "not a url", "events": ["*"]}, "url"),
        ({"url": "http://", "events": ["*"]}, "url"),
        ({"url": "https://shop.example/hook", "events": ["order.shipped"]}, "events"),
        ({"url": "https://shop.example/hook", "events": []}, "events"),
        ({"url": "https://shop.example/hook"}, "events"),
        ({"url": "https://shop.example/hook", "events": ["*"], "secret": "short"}, "secret"),
        ({"url": "https://shop.example/" + "x" * 2000, "events": ["*"]}, "url"),
    ]:
        problem = assert_problem(client.post("/api/v1/webhooks", json=body, headers=s["boss"]), 422)
        assert field in problem["errors"], (body, problem)
    assert count(db, WebhookSubscription) == 0
    created = client.post("/api/v1/webhooks", json={"url": "https://shop.example/hook", "events": ["*"]},
                          headers=s["boss"]).get_json()
    assert_problem(client.patch(f"/api/v1/webhooks/{created['id']}", json={"events": ["order.nope"]},
                                headers=s["boss"]), 422, "unknown-event")
    assert_problem(client.patch(f"/api/v1/webhooks/{created['id']}", json={"url": "javascript:alert(1)"},
                                headers=s["boss"]), 422)
    assert_problem(client.get("/api/v1/webhooks/deliveries?status=lost", headers=s["boss"]), 422)
    assert_problem(client.get("/api/v1/webhooks", headers=s["picker"]), 403)
    assert_problem(client.post("/api/v1/webhooks", json={"url": "https://x.example/", "events": ["*"]},
                               headers=s["picker"]), 403)
    assert count(db, WebhookSubscription) == 1


def test_change_pause_and_delete_a_subscription(client, db, receiver):
    s = shop(db)
    r = receiver()
    created = client.post("/api/v1/webhooks", json={"url": r.url, "events": ["order.created"], "secret": SECRET},
                          headers=s["boss"]).get_json()
    assert created["secret"] == SECRET
    path = f"/api/v1/webhooks/{created['id']}"
    changed = client.patch(path, json={"active": False, "events": ["*", "order.created"]}, headers=s["boss"])
    assert changed.status_code == 200 and changed.get_json()["events"] == ["*"] and not changed.get_json()["active"]
    new_order(s)
    assert count(db, WebhookDelivery) == 0  # paused: nothing queued
    client.patch(path, json={"active": True}, headers=s["boss"])
    new_order(s, "1002")
    assert count(db, WebhookDelivery) == 1
    assert client.delete(path, headers=s["boss"]).status_code == 204
    assert count(db, WebhookDelivery) == 0 and count(db, WebhookSubscription) == 0
    assert_problem(client.delete(path, headers=s["boss"]), 404)


def test_an_idempotent_create_is_answered_again_without_the_secret(client, db):
    s = shop(db)
    headers = {**s["boss"], "Idempotency-Key": "sub-1"}
    body = {"url": "https://shop.example/hook", "events": ["*"]}
    first = client.post("/api/v1/webhooks", json=body, headers=headers)
    again = client.post("/api/v1/webhooks", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["secret"] and again.get_json()["secret"] is None
    assert again.headers["X-Idempotent-Replay"] == "true" and count(db, WebhookSubscription) == 1


def test_the_worker_command_runs_one_pass(app, db, receiver):
    s = shop(db)
    r = receiver()
    subscribe(db, r.url)
    new_order(s)
    _db.session.remove()
    result = app.test_cli_runner().invoke(worker_command, ["--once"])
    assert result.exit_code == 0, result.output
    assert "delivered=1" in result.output and len(r.got) == 1


def test_the_supervisor_page_shows_the_log_and_replays(client, app, db, receiver):
    s = shop(db)
    r = receiver([500])
    subscribe(db, r.url)
    new_order(s, "A-77")
    app.config.update(CELLWMS_WEBHOOK_MAX_ATTEMPTS=1)
    webhooks.deliver_due()
    (delivery,) = deliveries(db)
    assert delivery.status == "failed"
    assert sign_in_password(client, "olga", PASSWORD).status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert 'href="/webhooks"' in home
    page = client.get("/webhooks").get_data(as_text=True)
    assert "A-77" in page and "order.created" in page and "HTTP 500" in page and "Replay" in page
    answer = client.post(f"/webhooks/deliveries/{delivery.id}/replay", data={"csrf_token": csrf_token(client, "/webhooks")})
    assert answer.status_code == 302
    assert deliveries(db)[0].status == "pending"
    again = client.post(f"/webhooks/deliveries/{delivery.id}/replay",
                        data={"csrf_token": csrf_token(client, "/webhooks")}, follow_redirects=True)
    assert "queued already" in again.get_data(as_text=True)
    assert client.post(f"/webhooks/deliveries/{delivery.id}/replay", data={}).status_code == 400  # no CSRF token
    client.post("/language", data={"language": "ru", "csrf_token": csrf_token(client, "/webhooks"), "next": "/"})
    russian = client.get("/webhooks").get_data(as_text=True)
    assert "Журнал отправок" in russian and "ожидает" in russian


def test_the_page_is_for_supervisors_only(client, db):
    shop(db)
    f.user("ivan", ("receiver",), password="pass-word-2")
    db.session.commit()
    assert sign_in_password(client, "ivan", "pass-word-2").status_code == 302
    assert client.get("/webhooks").status_code == 403
    assert client.get("/webhooks/demo-receiver").status_code == 403


def test_the_demo_receiver_gets_and_verifies_the_demos_webhooks(client, app, db):
    s = shop(db)
    app.config.update(CELLWMS_WORKER_POLL_SECONDS=0.05)
    hooks = DemoWebhooks(app)
    try:
        lines = hooks.start()
        assert "127.0.0.1" in lines[0]
        (subscription,) = db.session.execute(select(WebhookSubscription)).scalars().all()
        assert subscription.description == DEMO_DESCRIPTION and subscription.events == ["*"]
        new_order(s, "D-1")
        _db.session.remove()
        log = hooks.receiver.log_path
        for _wait in range(1200):  # the worker thread sends it; a failure shows below, not as a hang
            if log.read_text():
                break
            time.sleep(0.05)
    finally:
        hooks.stop()
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["signature_ok"] and entry["event"] == "order.created" and entry["order_number"] == "D-1"
    assert deliveries(db)[0].status == WebhookDeliveryStatus.delivered
    assert sign_in_password(client, "olga", PASSWORD).status_code == 302
    page = client.get("/webhooks/demo-receiver").get_data(as_text=True)
    assert "signature ok" in page and "D-1" in page and "emulated" in page
