"""Orders to totes, end to end in headless Chromium against the real server: a shop posts an
order over the API and imports two from a CSV with Russian headers; an operator confirms one on
the confirmation page and marks the other "no answer"; a supervisor releases a wave; a picker at
360x640 picks the batch in route order with one wrong scan and one short (the rest re-reserved
from another cell, the route made again) and drops the totes at the pack area. Then stock,
reservations and the ledger agree, each tote finds its order, and every order event reached a
shop's webhook receiver on 127.0.0.1, signed. SQLite and PostgreSQL (fixtures)."""

import json
import re
import threading
import time

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import func, select

from server.commands.worker import Worker
from server.models import (
    Batch,
    Movement,
    Order,
    OrderEvent,
    OrderLine,
    OrderReservation,
    PickLine,
    Quant,
    Wave,
)
from server.services import webhooks
from server.services.stock import check_quants
from tests import factories as f
from tests.e2e.picking_steps import (
    drop_off,
    pick_every_line,
    sign_in_and_open_picking,
    take_batch_and_scan_totes,
)
from tests.picking_helpers import picking_warehouse
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.browser

CSV = ("Номер заказа;Артикул;Количество;Клиент;Телефон;Подтвердить\n"
       "E-1002;IRON;2;Пётр Иванов;+79161112233;да\n"
       "E-1002;KETTLE;1;;;\n"
       "E-1003;KETTLE;1;Анна Смирнова;+79001234567;да\n")


@pytest.fixture
def shop(db, app, tmp_path):
    picking_warehouse()
    f.user("olga", ("supervisor",), password="s3cret-pass")
    boss = f.token_for(f.user("boss", ("supervisor",), password="boss-pass-1"))
    shop_token = f.token_for(f.user("shop", ("integration",), password="shop-pass-1"))
    db.session.commit()
    csv = tmp_path / "orders.csv"
    csv.write_bytes(CSV.encode("cp1251"))
    app.config["CELLWMS_WORKER_POLL_SECONDS"] = 0.2
    db.session.rollback()  # no open transaction of ours while the server writes
    return {"boss": boss, "shop": shop_token, "csv": str(csv)}


def test_orders_from_api_and_csv_to_totes_at_the_pack_area(app, chromium, live_server, db, shop):
    receiver = Receiver()
    worker = Worker(app)
    sending = threading.Thread(target=worker.run, name="webhook-worker", daemon=True)
    try:
        hook = requests.post(f"{live_server}/api/v1/webhooks", json={"url": receiver.url, "events": ["*"]},
                             headers=shop["boss"], timeout=30)
        assert hook.status_code == 201, hook.text
        secret = hook.json()["secret"]
        sending.start()

        # The shop's API and its CSV file.
        r = requests.post(f"{live_server}/api/v1/orders", headers=shop["shop"], timeout=30, json={
            "number": "E-1001", "lines": [{"sku": "KETTLE", "quantity": 3}, {"sku": "MILK", "quantity": 2}],
            "customer": {"name": "Ирина", "phone": "+79035550101"}, "carrier": "CDEK"})
        assert (r.status_code, r.json()["status"]) == (201, "reserved"), r.text
        imported = app.test_cli_runner().invoke(args=["import", "orders", shop["csv"]])
        assert imported.exit_code == 0, imported.output
        assert _statuses(db) == {"E-1001": "reserved", "E-1002": "new", "E-1003": "new"}

        # The operator calls the customers: one confirms, one does not answer.
        context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 1280, "height": 900})
        office = context.new_page()
        office.goto("/sign-in")
        office.fill("#username", "olga")
        office.fill("#password", "s3cret-pass")
        office.get_by_role("button", name="Sign in with password").click()
        office.wait_for_url(re.compile(r"/$"))
        office.goto("/orders/confirm")
        expect(office.locator("section.confirm")).to_have_count(2)
        expect(office.locator('section[data-order="E-1002"]')).to_contain_text("+79161112233")
        office.locator('section[data-order="E-1002"]').get_by_role("button", name="Confirmed").click()
        expect(office.locator("section.confirm")).to_have_count(1)
        office.locator('section[data-order="E-1003"]').get_by_role("button", name="No answer").click()
        expect(office.locator("section.confirm")).to_have_count(0)
        assert _statuses(db) == {"E-1001": "reserved", "E-1002": "reserved", "E-1003": "postponed"}

        # The supervisor releases a wave: both reserved orders on one cart.
        office.goto("/waves")
        office.get_by_role("button", name="Release a wave").click()
        office.wait_for_url(re.compile(r"/waves/\d+$"))
        context.close()
        db.session.rollback()
        wave = db.session.execute(select(Wave)).scalar_one()
        assert [b.status for b in wave.batches] == ["ready"]
        assert _statuses(db)["E-1001"] == _statuses(db)["E-1002"] == "picking"

        # The picker, on a 360x640 handheld.
        context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 360, "height": 640})
        handheld = context.new_page()
        sign_in_and_open_picking(handheld, "en")
        take_batch_and_scan_totes(handheld, ["TOTE-0001", "TOTE-0002"])
        visited = pick_every_line(handheld, db)
        drop_off(handheld)
        context.close()

        # The short at W1-S-01-02 was re-reserved from W1-S-03-04 and walked after it.
        assert "W1-S-03-04" in visited and visited.index("W1-S-03-04") > visited.index("W1-S-01-02")
        db.session.rollback()
        batch = db.session.execute(select(Batch)).scalar_one()
        assert batch.status == "dropped" and batch.walked_m > 0
        assert _statuses(db) == {"E-1001": "picked", "E-1002": "picked", "E-1003": "postponed"}
        again = db.session.execute(select(PickLine).where(PickLine.batch_id == batch.id,
                                                          PickLine.cell_id == _cell_id(db, "W1-S-03-04"))).scalar_one()
        assert (again.quantity, again.picked) == (2, 2)

        # Stock, reservations and the ledger agree; each tote finds its order.
        assert check_quants() == []
        on_hand = dict(db.session.execute(
            select(Quant.sku_id, func.sum(Quant.quantity)).group_by(Quant.sku_id)).all())
        assert _by_code(db, on_hand) == {"KETTLE": 10 - 4, "IRON": 2 - 2, "MILK": 12 - 2}
        assert db.session.scalar(select(func.sum(Quant.reserved))) == 0
        assert db.session.scalar(select(func.sum(OrderReservation.quantity))) == 0
        lines = db.session.execute(select(OrderLine.quantity, OrderLine.picked).join(Order)
                                   .where(Order.number.in_(["E-1001", "E-1002"]))).all()
        assert all(picked == quantity for quantity, picked in lines) and len(lines) == 4
        assert db.session.scalar(select(func.sum(Movement.quantity)).where(Movement.kind == "pick")) == 8
        db.session.rollback()
        for tote in ("TOTE-0001", "TOTE-0002"):
            found = requests.get(f"{live_server}/api/v1/totes/{tote}", headers=shop["boss"], timeout=30).json()
            assert found["order"]["number"] in ("E-1001", "E-1002") and found["order"]["status"] == "picked"

        # Every order event reached the receiver, signed with the subscription's secret.
        events = {event_id: (number, kind) for event_id, number, kind in db.session.execute(
            select(OrderEvent.id, Order.number, OrderEvent.kind).join(Order, Order.id == OrderEvent.order_id))}
        db.session.rollback()
        got = _wait_for(receiver, len(events))
        assert all(webhooks.verify(secret, body, headers["X-Cellwms-Signature"]) for headers, body in got)
        sent = {json.loads(body)["event_id"]: json.loads(body) for _headers, body in got}
        assert set(sent) == set(events)
        assert {(b["order"]["number"], b["event"]) for b in sent.values()} == set(events.values())
        kinds = {number: [kind for _id, (n, kind) in sorted(events.items()) if n == number]
                 for number in ("E-1001", "E-1002", "E-1003")}
        assert [k for k in kinds["E-1001"] if k != "order.reserved_again"] == [
            "order.created", "order.reserved", "order.picking", "order.picked"]
        assert "order.reserved_again" in kinds["E-1001"]
        assert kinds["E-1002"] == ["order.created", "order.confirmed", "order.reserved", "order.picking",
                                   "order.picked"]
        assert kinds["E-1003"] == ["order.created", "order.postponed"]
    finally:
        worker.stop.set()
        if sending.is_alive():
            sending.join(30)
        receiver.close()
        db.session.rollback()


def _statuses(db) -> dict[str, str]:
    db.session.rollback()
    found = {number: str(status) for number, status in db.session.execute(select(Order.number, Order.status))}
    db.session.rollback()
    return found


def _cell_id(db, address: str) -> int:
    from server.models import Cell

    return db.session.execute(select(Cell.id).where(Cell.address == address)).scalar_one()


def _by_code(db, by_sku_id: dict) -> dict:
    from server.models import Sku

    codes = dict(db.session.execute(select(Sku.id, Sku.code)).all())
    return {codes[sku_id]: units for sku_id, units in by_sku_id.items()}


def _wait_for(receiver: Receiver, deliveries: int, limit_s: float = 60.0) -> list:
    """What the receiver got, once it has `deliveries` requests (or the bound has passed)."""
    until = time.monotonic() + limit_s
    while time.monotonic() < until:
        with receiver.lock:
            if len(receiver.got) >= deliveries:
                return list(receiver.got)
        time.sleep(0.1)
    with receiver.lock:
        return list(receiver.got)
