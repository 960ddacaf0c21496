"""Orders: intake, the card (confirm, no answer, cancel), reservation (FEFO/FIFO, reservable cells
only, whole or postponed), retries when stock arrives, and the rush of many orders for the last
units (on PostgreSQL the requests really race)."""

import threading
from datetime import date, timedelta

import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from server.extensions import db as _db
from server.models import (
    Movement,
    Order,
    OrderEvent,
    OrderLine,
    OrderReservation,
    OrderStatus,
    Quant,
    WebhookDelivery,
    WebhookSubscription,
)
from server.models.base import utcnow
from server.services import orders as service
from server.services import reservation
from server.services.stock import apply_movement, check_quants
from tests import factories as f
from tests.assertions import assert_problem, count


def shop(db):
    """A warehouse with storage, receiving and quarantine cells, two SKUs, a shop's token."""
    wh = f.warehouse()
    storage, receiving, quarantine = f.zone(wh, "A"), f.zone(wh, "R", "receiving"), f.zone(wh, "Q", "quarantine")
    cells = [f.cell(storage, f"A-01-{n:02d}-1-1") for n in range(1, 5)]
    dock, hold = f.cell(receiving, "R-01"), f.cell(quarantine, "Q-01")
    kettle = f.sku("KET-1", "Чайник электрический")
    milk = f.sku("MILK-1", "Молоко 3,2%", track_expiry=True)
    user = f.user("shop", roles=("integration",), password="pass-word-1")
    boss = f.user("boss", roles=("supervisor",), password="pass-word-1")
    db.session.commit()
    return {"wh": wh, "cells": cells, "dock": dock, "hold": hold, "kettle": kettle, "milk": milk,
            "auth": f.token_for(user), "boss": f.token_for(boss), "boss_user": boss}


def order_body(number="1001", lines=(("KET-1", 2),), **extra):
    return {"number": number, "lines": [{"sku": s, "quantity": q} for s, q in lines], **extra}


def test_an_order_is_reserved_at_once_and_read_back(client, db):
    s = shop(db)
    apply_movement("receive", s["kettle"].id, 5, to_cell_id=s["cells"][0].id)
    db.session.commit()
    r = client.post("/api/v1/orders", json=order_body(customer={"name": "Анна", "phone": "+79001234567"},
                                                      carrier="CDEK", cod_amount="1500.50"), headers=s["auth"])
    assert r.status_code == 201, r.json
    order = r.json
    assert (order["status"], order["postponed_reason"]) == ("reserved", None)
    assert order["lines"] == [{"line_no": 1, "sku": "KET-1", "name": "Чайник электрический", "quantity": 2,
                               "reserved": 2, "picked": 0}]
    assert order["customer"] == {"name": "Анна", "phone": "+79001234567"} and order["cod_amount"] == "1500.50"
    again = client.get(f"/api/v1/orders/{order['id']}", headers=s["auth"]).json
    assert again["lines"][0]["reserved"] == 2 and again["status"] == "reserved"
    quant = db.session.execute(select(Quant)).scalar_one()
    assert (quant.quantity, quant.reserved) == (5, 2)
    reserve = db.session.execute(select(Movement).where(Movement.kind == "reserve")).scalar_one()
    assert (reserve.quantity, reserve.reference) == (2, "order 1001")
    kinds = [e["kind"] for e in client.get(f"/api/v1/orders/{order['id']}/events", headers=s["auth"]).json]
    assert kinds == ["order.created", "order.reserved"]
    assert check_quants() == []


def test_the_same_order_sent_again_is_that_order_and_another_with_its_number_is_refused(client, db):
    s = shop(db)
    first = client.post("/api/v1/orders", json=order_body(), headers=s["auth"])
    again = client.post("/api/v1/orders", json=order_body(), headers=s["auth"])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]
    other = client.post("/api/v1/orders", json=order_body(lines=(("KET-1", 3),)), headers=s["auth"])
    assert_problem(other, 409, "order-number-taken")
    assert count(db, Order) == 1 and count(db, OrderLine) == 1


def test_bad_orders_are_refused_and_change_nothing(client, db):
    s = shop(db)
    apply_movement("receive", s["kettle"].id, 5, to_cell_id=s["cells"][0].id)
    db.session.commit()
    bad = [
        (order_body(lines=(("NOPE", 1),)), "unknown-sku"),
        (order_body(lines=(("KET-1", 0),)), None),
        (order_body(lines=(("KET-1", -3),)), None),
        (order_body(lines=(("KET-1", 2**31),)), None),
        (order_body(lines=(("KET-1", 100_001),)), None),
        (order_body(lines=()), None),
        (order_body(number=""), None),
        (order_body(number="N" * 65), None),
        ({"number": "1001", "lines": [{"sku": "KET-1", "quantity": True}]}, None),
        ({"number": "1001", "lines": [{"sku": "KET-1", "quantity": "2"}]}, None),
        (order_body(cod_amount="-1"), None),
        (order_body(cod_amount="NaN"), None),
        (order_body(priority=10**12), None),
        (order_body(comment="a\x00b"), None),
        (order_body(cutoff_at="2026-12-03T10:00:00"), None),  # no zone
    ]
    for body, slug in bad:
        r = client.post("/api/v1/orders", json=body, headers=s["auth"])
        assert r.status_code in (400, 422), (body, r.status_code, r.get_data(as_text=True))
        assert r.headers["Content-Type"].startswith("application/problem+json")
        if slug:
            assert r.json["type"].endswith(slug)
    assert count(db, Order) == 0 and count(db, OrderEvent) == 0
    assert db.session.execute(select(Quant.reserved)).scalar_one() == 0


def test_only_shops_and_supervisors_send_orders(client, db):
    s = shop(db)
    picker = f.token_for(f.user("pia", roles=("picker",)))
    assert_problem(client.post("/api/v1/orders", json=order_body(), headers=picker), 403)
    assert_problem(client.post("/api/v1/orders", json=order_body()), 401)
    assert client.post("/api/v1/orders", json=order_body(), headers=s["boss"]).status_code == 201


def test_fefo_takes_the_first_expiring_and_never_blocked_quarantine_or_receiving_cells(client, db):
    s = shop(db)
    late, soon, blocked = s["cells"][0], s["cells"][1], s["cells"][2]
    apply_movement("receive", s["milk"].id, 3, to_cell_id=late.id, expiry=date(2027, 3, 1))
    apply_movement("receive", s["milk"].id, 2, to_cell_id=soon.id, expiry=date(2027, 1, 10))
    apply_movement("receive", s["milk"].id, 9, to_cell_id=blocked.id, expiry=date(2026, 12, 20))
    apply_movement("receive", s["milk"].id, 9, to_cell_id=s["hold"].id, expiry=date(2026, 12, 10))
    apply_movement("receive", s["milk"].id, 9, to_cell_id=s["dock"].id, expiry=date(2026, 12, 11))
    blocked.status = "blocked"
    db.session.commit()
    r = client.post("/api/v1/orders", json=order_body(lines=(("MILK-1", 4),)), headers=s["auth"])
    assert r.json["status"] == "reserved"
    held = {(x.cell_id, x.quantity) for x in db.session.execute(select(OrderReservation)).scalars()}
    assert held == {(soon.id, 2), (late.id, 2)}
    r = client.post("/api/v1/orders", json=order_body("1002", lines=(("MILK-1", 2),)), headers=s["auth"])
    assert (r.json["status"], r.json["postponed_reason"]) == ("postponed", "awaiting_stock")


def test_fifo_warehouses_take_the_first_received(client, db):
    s = shop(db)
    s["wh"].reservation_rule = "fifo"
    first, second = s["cells"][0], s["cells"][1]
    apply_movement("receive", s["milk"].id, 2, to_cell_id=first.id, expiry=date(2027, 5, 1))
    apply_movement("receive", s["milk"].id, 2, to_cell_id=second.id, expiry=date(2027, 1, 1))
    db.session.commit()
    client.post("/api/v1/orders", json=order_body(lines=(("MILK-1", 2),)), headers=s["auth"])
    assert db.session.execute(select(OrderReservation.cell_id)).scalar_one() == first.id


def test_a_short_order_holds_nothing_unless_partial_is_allowed(client, db):
    s = shop(db)
    apply_movement("receive", s["kettle"].id, 3, to_cell_id=s["cells"][0].id)
    db.session.commit()
    r = client.post("/api/v1/orders", json=order_body(lines=(("KET-1", 2), ("KET-1", 2))), headers=s["auth"])
    assert (r.json["status"], r.json["postponed_reason"]) == ("postponed", "awaiting_stock")
    assert r.json["retry_at"] is not None
    assert db.session.execute(select(Quant.reserved)).scalar_one() == 0
    r = client.post("/api/v1/orders", json=order_body("1002", lines=(("KET-1", 2), ("KET-1", 2)), partial_allowed=True),
                    headers=s["auth"])
    assert r.json["status"] == "reserved"
    assert [line["reserved"] for line in r.json["lines"]] == [2, 1]


def test_stock_arriving_reserves_the_oldest_postponed_orders(client, db):
    s = shop(db)
    numbers = [f"20{n:02d}" for n in range(5)]
    for number in numbers:
        assert client.post("/api/v1/orders", json=order_body(number, lines=(("KET-1", 2),)),
                           headers=s["auth"]).json["status"] == "postponed"
    r = client.post("/api/v1/movements", headers=s["boss"], json={
        "kind": "adjust_in", "sku_id": s["kettle"].id, "quantity": 5, "to_cell_id": s["cells"][0].id,
        "reason": "found in count"})
    assert r.status_code == 201, r.json
    statuses = {o.number: o.status for o in db.session.execute(select(Order)).scalars()}
    assert statuses == {"2000": "reserved", "2001": "reserved", "2002": "postponed", "2003": "postponed",
                        "2004": "postponed"}
    assert db.session.execute(select(Quant.reserved)).scalar_one() == 4
    assert check_quants() == []


def test_confirmation_by_phone_no_answer_then_back_on_the_list(client, db):
    s = shop(db)
    apply_movement("receive", s["kettle"].id, 5, to_cell_id=s["cells"][0].id)
    db.session.commit()
    call = client.post("/api/v1/orders", json=order_body("3001", needs_confirmation=True), headers=s["auth"]).json
    wait = client.post("/api/v1/orders", json=order_body("3002", needs_confirmation=True), headers=s["auth"]).json
    assert call["status"] == wait["status"] == "new"
    assert [o.number for o in service.to_confirm()] == ["3001", "3002"]
    r = client.post(f"/api/v1/orders/{call['id']}/confirm", headers=s["boss"])
    assert r.json["status"] == "reserved"
    later = (utcnow() + timedelta(hours=3)).isoformat()
    r = client.post(f"/api/v1/orders/{wait['id']}/no-answer", json={"retry_at": later}, headers=s["boss"])
    assert (r.json["status"], r.json["postponed_reason"]) == ("postponed", "awaiting_customer")
    assert_problem(client.post(f"/api/v1/orders/{wait['id']}/reserve", headers=s["boss"]), 409)
    assert reservation.retry_due(utcnow()) == [] and _status(db, wait["id"]) == "postponed"
    reservation.retry_due(utcnow() + timedelta(hours=4))
    db.session.commit()
    assert _status(db, wait["id"]) == "new" and [o.number for o in service.to_confirm()] == ["3002"]
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    assert_problem(client.post(f"/api/v1/orders/{wait['id']}/no-answer", json={"retry_at": past},
                               headers=s["boss"]), 422, "retry-in-the-past")
    assert_problem(client.post(f"/api/v1/orders/{call['id']}/confirm", headers=s["boss"]), 409)


def _status(db, order_id):
    db.session.expire_all()
    return db.session.get(Order, order_id).status


def test_cancel_releases_the_reservation_to_waiting_orders(client, db):
    s = shop(db)
    apply_movement("receive", s["kettle"].id, 2, to_cell_id=s["cells"][0].id)
    db.session.commit()
    first = client.post("/api/v1/orders", json=order_body("4001"), headers=s["auth"]).json
    second = client.post("/api/v1/orders", json=order_body("4002"), headers=s["auth"]).json
    assert (first["status"], second["status"]) == ("reserved", "postponed")
    assert_problem(client.post(f"/api/v1/orders/{first['id']}/cancel", json={"reason": ""}, headers=s["auth"]), 422)
    r = client.post(f"/api/v1/orders/{first['id']}/cancel", json={"reason": "Покупатель передумал"}, headers=s["auth"])
    assert r.json["status"] == "cancelled" and r.json["lines"][0]["reserved"] == 0
    assert _status(db, second["id"]) == "reserved"
    assert db.session.execute(select(Quant.reserved)).scalar_one() == 2
    assert_problem(client.post(f"/api/v1/orders/{first['id']}/cancel", json={"reason": "again"},
                               headers=s["auth"]), 409, "order-status")
    again = client.post(f"/api/v1/orders/{first['id']}/cancel", json={"reason": "again"},
                        headers={**s["auth"], "Accept-Language": "ru"}).json
    assert "отменён" in again["title"] + again.get("detail", "") and "cancelled" not in again.get("detail", "")
    assert check_quants() == []


def test_a_raw_release_may_not_take_what_an_order_holds(client, db):
    s = shop(db)
    apply_movement("receive", s["kettle"].id, 3, to_cell_id=s["cells"][0].id)
    db.session.commit()
    client.post("/api/v1/orders", json=order_body(), headers=s["auth"])
    r = client.post("/api/v1/movements", headers=s["boss"], json={
        "kind": "release", "sku_id": s["kettle"].id, "quantity": 1, "from_cell_id": s["cells"][0].id})
    assert_problem(r, 409, "reserved-for-orders")
    assert db.session.execute(select(Quant.reserved)).scalar_one() == 2


def test_order_list_filters(client, db):
    s = shop(db)
    soon = utcnow() + timedelta(hours=1)
    client.post("/api/v1/orders", json=order_body("5001", carrier="CDEK", cutoff_at=soon.isoformat(),
                                                  customer={"name": "Пётр Иванов"}), headers=s["auth"])
    client.post("/api/v1/orders", json=order_body("5002", carrier="Почта России"), headers=s["auth"])
    listed = lambda query: [o["number"] for o in client.get(f"/api/v1/orders?{query}", headers=s["auth"]).json]  # noqa: E731
    assert listed("carrier=CDEK") == ["5001"]
    assert listed("q=пётр") == ["5001"] and listed("q=ket-1") == ["5002", "5001"]
    later = (soon + timedelta(minutes=5)).isoformat().replace("+", "%2B")
    assert listed(f"cutoff_before={later}") == ["5001"]
    assert listed("status=postponed") == ["5002", "5001"]
    assert_problem(client.get("/api/v1/orders?status=lost", headers=s["auth"]), 422)


def test_status_changes_are_queued_for_webhook_subscribers(client, db):
    s = shop(db)
    db.session.add(WebhookSubscription(url="http://127.0.0.1:9/hook", events=["order.reserved"], secret="k"))
    db.session.add(WebhookSubscription(url="http://127.0.0.1:9/all", events=["*"], secret="k"))
    apply_movement("receive", s["kettle"].id, 5, to_cell_id=s["cells"][0].id)
    db.session.commit()
    client.post("/api/v1/orders", json=order_body(), headers=s["auth"])
    events = sorted(d.event for d in db.session.execute(select(WebhookDelivery)).scalars())
    assert events == ["order.created", "order.reserved", "order.reserved"]


RUSH_ORDERS, RUSH_UNITS, RUSH_ARRIVING, RUSH_CONNECTIONS = 500, 100, 40, 16


def test_reserve_many_serves_the_orders_in_turn_each_whole_or_postponed(client, db):
    s = shop(db)
    apply_movement("receive", s["kettle"].id, 4, to_cell_id=s["cells"][0].id)
    db.session.commit()
    made = [service.create_order(s["wh"].id, number, [{"sku": "KET-1", "quantity": units}],
                                 needs_confirmation=True)[0]
            for number, units in (("3101", 3), ("3102", 3), ("3103", 1))]
    reserved = reservation.reserve_many([o.id for o in made])
    db.session.commit()
    assert [o.number for o in reserved] == ["3101", "3103"]
    assert [(o.status, o.postponed_reason) for o in made] == [
        ("reserved", None), ("postponed", "awaiting_stock"), ("reserved", None)]
    assert db.session.execute(select(Quant.reserved)).scalar_one() == 4
    kinds = db.session.execute(select(Order.number, OrderEvent.kind).join(Order, Order.id == OrderEvent.order_id)
                               .order_by(OrderEvent.id)).all()
    assert [k for n, k in kinds if n == "3102"] == ["order.created", "order.postponed"]
    assert db.session.scalar(select(func.count()).where(Movement.kind == "reserve")) == 2
    assert count(db, OrderReservation) == 2
    assert check_quants() == []


def test_two_bulk_reservations_at_once_never_oversell(app, db):
    """Two `reserve_many` at the same moment (two imports, or a retry and an import; on PostgreSQL
    they really race) over different orders for the same 10 units: exactly 10 are reserved."""
    s = shop(db)
    ids = [service.create_order(s["wh"].id, f"W-{n:02d}", [{"sku": "KET-1", "quantity": 1}],
                                needs_confirmation=True)[0].id for n in range(30)]
    apply_movement("receive", s["kettle"].id, 10, to_cell_id=s["cells"][0].id)
    db.session.commit()
    db.session.remove()
    start, got, failures = threading.Barrier(2), [], []

    def worker(order_ids):
        try:
            with app.app_context():
                start.wait(timeout=30)
                got.append([o.number for o in reservation.reserve_many(order_ids)])
                _db.session.commit()
                _db.session.remove()
        except Exception as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    workers = [threading.Thread(target=worker, args=(half,)) for half in (ids[:15], ids[15:])]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)
    assert failures == []
    assert sum(len(numbers) for numbers in got) == 10
    with app.app_context():
        assert _db.session.scalar(select(func.sum(Quant.reserved))) == 10
        assert _db.session.scalar(select(func.sum(OrderReservation.quantity))) == 10
        assert _db.session.scalar(select(func.count()).where(Order.status == OrderStatus.reserved)) == 10
        assert check_quants() == []
        _db.session.remove()


def test_500_orders_for_the_last_100_units_at_once(app, db):
    """Over real HTTP, 16 connections at a time: exactly 100 units reserved, never more; 40 arriving
    reserve the 40 oldest of the postponed."""
    s = shop(db)
    cells = s["cells"]
    for cell, units in zip(cells, (40, 35, 25), strict=False):
        apply_movement("receive", s["kettle"].id, units, to_cell_id=cell.id)
    db.session.commit()
    auth, kettle_id, wh_id, last_cell_id = s["auth"], s["kettle"].id, s["wh"].id, cells[3].id
    db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    base = f"http://127.0.0.1:{server.server_port}"
    answers, lock = [], threading.Lock()
    numbers = iter(range(RUSH_ORDERS))
    start = threading.Barrier(RUSH_CONNECTIONS)

    def send():
        session = requests.Session()
        start.wait(timeout=30)
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            r = session.post(f"{base}/api/v1/orders", json=order_body(f"R-{n:04d}", lines=(("KET-1", 1),)),
                             headers=auth, timeout=60)
            with lock:
                answers.append((r.status_code, r.json().get("status")))

    try:
        senders = [threading.Thread(target=send) for _ in range(RUSH_CONNECTIONS)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(120)
        assert len(answers) == RUSH_ORDERS
        assert {code for code, _ in answers} == {201}
        assert sum(status == "reserved" for _, status in answers) == RUSH_UNITS
        assert sum(status == "postponed" for _, status in answers) == RUSH_ORDERS - RUSH_UNITS
        with app.app_context():
            assert _db.session.scalar(select(func.sum(Quant.reserved))) == RUSH_UNITS
            assert _db.session.scalar(select(func.min(Quant.quantity - Quant.reserved))) >= 0
            assert _db.session.scalar(select(func.sum(OrderReservation.quantity))) == RUSH_UNITS
            postponed = _db.session.execute(
                select(Order.number).where(Order.status == OrderStatus.postponed).order_by(Order.created_at, Order.id)
            ).scalars().all()
            apply_movement("receive", kettle_id, RUSH_ARRIVING, to_cell_id=last_cell_id)
            reserved = reservation.retry_awaiting_stock(wh_id)
            _db.session.commit()
            assert [o.number for o in reserved] == postponed[:RUSH_ARRIVING]
            assert _db.session.scalar(select(func.sum(Quant.reserved))) == RUSH_UNITS + RUSH_ARRIVING
            assert check_quants() == []
            _db.session.remove()
    finally:
        server.shutdown()
