"""Orders from shop platforms: the signed intake webhook and `cellwms order-source`."""

import json
import time

from sqlalchemy import select

from server.api.intake import signature
from server.models import Order, OrderEvent, OrderSource
from server.services.stock import apply_movement
from tests import factories as f
from tests.assertions import assert_problem, count

ORDER = {"number": "SHOP-77", "lines": [{"sku": "KET-1", "quantity": 1}], "customer": {"name": "Ирина", "phone": "+79005550011"}}


def _source(db, **settings):
    wh = f.warehouse()
    cell = f.cell(f.zone(wh, "A"), "A-01-01-1")
    kettle = f.sku("KET-1", "Чайник")
    apply_movement("receive", kettle.id, 3, to_cell_id=cell.id)
    db.session.add(OrderSource(code="myshop", name="Мой магазин", warehouse_id=wh.id, secret="s3cret", **settings))
    db.session.commit()


def _post(client, body: bytes, *, secret="s3cret", timestamp=None, source="myshop", signed=True):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", "X-Cellwms-Timestamp": timestamp}
    if signed:
        headers["X-Cellwms-Signature"] = signature(secret, timestamp, body)
    return client.post(f"/api/v1/intake/orders/{source}", data=body, headers=headers)


def test_a_signed_order_is_taken_once(client, db):
    _source(db)
    body = json.dumps(ORDER, ensure_ascii=False).encode()
    first, again = _post(client, body), _post(client, body)
    assert (first.status_code, again.status_code) == (201, 200), first.json
    assert first.json["status"] == "reserved" and first.json["source"] == "myshop"
    assert again.json["id"] == first.json["id"] and count(db, Order) == 1


def test_the_source_asks_for_confirmation(client, db):
    _source(db, needs_confirmation=True)
    r = _post(client, json.dumps(ORDER).encode())
    assert r.json["status"] == "new" and r.json["needs_confirmation"] is True


def test_unsigned_wrongly_signed_stale_and_malformed_requests_change_nothing(client, db):
    _source(db)
    body = json.dumps(ORDER).encode()
    assert_problem(_post(client, body, signed=False), 401, "bad-signature")
    assert_problem(_post(client, body, secret="guess"), 401, "bad-signature")
    assert_problem(_post(client, body, timestamp=int(time.time()) - 3600), 401, "bad-signature")
    assert_problem(_post(client, body, timestamp="soon"), 401, "bad-signature")
    tampered = body.replace(b'"quantity": 1', b'"quantity": 3')
    timestamp = str(int(time.time()))
    r = client.post("/api/v1/intake/orders/myshop", data=tampered, headers={
        "Content-Type": "application/json", "X-Cellwms-Timestamp": timestamp,
        "X-Cellwms-Signature": signature("s3cret", timestamp, body)})
    assert_problem(r, 401, "bad-signature")
    assert_problem(_post(client, body, source="nobody"), 404, "unknown-order-source")
    assert _post(client, b'{"number": "X", "lines": [', signed=True).status_code in (400, 422)
    assert _post(client, json.dumps({"number": "X", "lines": [{"sku": "KET-1", "quantity": 0}]}).encode()).status_code == 422
    assert_problem(_post(client, json.dumps({**ORDER, "lines": [{"sku": "NOPE", "quantity": 1}]}).encode()), 422,
                   "unknown-sku")
    assert count(db, Order) == 0 and count(db, OrderEvent) == 0


def test_order_source_commands(app, db):
    f.warehouse()
    db.session.commit()
    runner = app.test_cli_runner()
    added = runner.invoke(args=["order-source", "add", "ozon-shop", "--name", "Магазин", "--confirm"])
    assert added.exit_code == 0, added.output
    secret = added.output.split("shown once): ")[1].strip()
    source = db.session.execute(select(OrderSource)).scalar_one()
    assert (source.secret, source.needs_confirmation) == (secret, True)
    assert runner.invoke(args=["order-source", "add", "ozon-shop"]).exit_code == 1
    assert "ozon-shop" in runner.invoke(args=["order-source", "list"]).output
    assert runner.invoke(args=["order-source", "disable", "ozon-shop"]).exit_code == 0
    db.session.expire_all()
    assert db.session.execute(select(OrderSource.active)).scalar_one() is False
