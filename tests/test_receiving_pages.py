"""Receiving and putaway pages (handheld and dock station): who may open them, English and
Russian, inputs reaching the scenarios, CSRF. Runs on SQLite and PostgreSQL (fixtures)."""

import re
import uuid

import pytest
from sqlalchemy import select

from server.models import HandheldSession, PutawayStatus, PutawayTask, Quant
from server.services.dates import today_in
from server.services.putaway import create_putaway_tasks
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse, received_delivery
from tests.test_pages import csrf_token, post, sign_in_badge, sign_in_password


def send(client, url, body, token_from):
    return client.post(url, json=body, headers={"X-CSRFToken": csrf_token(client, token_from)})


# --- putaway --------------------------------------------------------------------------------------


@pytest.fixture
def putaway_site(db):
    wh, receiving, cells, _quarantine = putaway_warehouse(max_units=20)
    kettle = f.sku("KETTLE", "Чайник", barcode="4601234567893")
    f.user("ivan", ("receiver",), badge="B-1")
    f.user("petr", ("picker",), badge="B-2")
    delivery = received_delivery(wh, receiving, [(kettle, 12, "", None)], number="D-1")
    create_putaway_tasks(delivery)
    db.session.commit()
    task = db.session.execute(select(PutawayTask)).scalar_one()
    return {"wh": wh, "receiving": receiving, "cells": cells, "kettle": kettle, "delivery": delivery, "task": task}


def test_putaway_pages_need_a_receiver(client, putaway_site):
    assert client.get("/putaway").status_code == 302
    sign_in_badge(client, "B-2")
    assert client.get("/putaway").status_code == 403
    assert client.get("/putaway/task").status_code == 403
    assert send(client, "/putaway/input", {"kind": "scan", "code": "X"}, "/").status_code == 403


@pytest.mark.parametrize("language, words", [("en", ("Putaway", "Start along the route")),
                                             ("ru", ("Размещение", "Начать по маршруту"))])
def test_putaway_list_by_delivery(client, putaway_site, language, words):
    sign_in_badge(client, "B-1")
    post(client, "/language", {"language": language}, token_from="/")
    html = client.get("/putaway").get_data(as_text=True)
    for word in words:
        assert word in html
    task = putaway_site["task"]
    cell = putaway_site["cells"]
    address = next(c.address for c in cell.values() if c.id == task.suggested_cell_id)
    assert 'data-delivery="D-1"' in html and address in html and "Чайник" in html
    assert f'href="/putaway/task?task={task.id}"' in html
    assert f'href="/putaway/task?delivery={putaway_site["delivery"].id}"' in html


def test_putaway_task_page_and_inputs(client, db, putaway_site):
    sign_in_badge(client, "B-1")
    task = putaway_site["task"]
    html = client.get(f"/putaway/task?task={task.id}").get_data(as_text=True)
    assert re.search(r'<input id="scan-input"[^>]*autofocus', html, re.S)
    assert f'"task_id": {task.id}' in html  # the page takes the task on load
    assert "The suggested cell is full" in html  # the reason chooser

    taken = send(client, "/putaway/input", {"kind": "button", "key": "task", "task_id": task.id}, "/putaway/task")
    assert taken.status_code == 200, taken.get_data(as_text=True)
    prompt = taken.get_json()["prompt"]
    assert prompt["sound"] == "ok" and prompt["screen"]["task"]["id"] == task.id
    assert prompt["screen"]["route"]["polyline"]

    wrong = send(client, "/putaway/input", {"kind": "scan", "code": "NO-SUCH-CELL"}, "/putaway/task")
    assert wrong.get_json()["prompt"]["sound"] == "error"

    target = db.session.get(type(putaway_site["receiving"]), task.suggested_cell_id)
    done = send(client, "/putaway/input", {"kind": "scan", "code": target.barcode + "\r"}, "/putaway/task")
    assert done.get_json()["prompt"]["sound"] == "ok", done.get_json()
    db.session.expire_all()
    assert db.session.get(PutawayTask, task.id).status == PutawayStatus.done
    quant = db.session.execute(select(Quant).where(Quant.cell_id == target.id)).scalar_one()
    assert quant.quantity == 12

    # Back on the page without a task: nothing is taken again; the page says all is done.
    assert "All tasks are done." in client.get("/putaway/task").get_data(as_text=True)


def test_putaway_input_checks(client, putaway_site):
    sign_in_badge(client, "B-1")
    url = "/putaway/input"
    assert client.post(url, json={"kind": "scan", "code": "X"}).status_code == 400  # no CSRF token
    assert send(client, url, {"kind": "scan", "code": "  "}, "/").status_code == 422
    assert send(client, url, {"kind": "button", "key": "explode"}, "/").status_code == 422
    assert send(client, url, {"kind": "button", "key": "reason", "value": "because"}, "/").status_code == 422
    assert send(client, url, {"kind": "button", "key": "task", "task_id": "x"}, "/").status_code == 422
    assert send(client, url, {"kind": "weight"}, "/").status_code == 422


def test_putaway_scan_sent_twice_with_one_event_id_counts_once(client, db, putaway_site):
    """A handheld's retry after a lost answer: the same body with the same event_id."""
    sign_in_badge(client, "B-1")
    task = putaway_site["task"]
    send(client, "/putaway/input", {"kind": "button", "key": "task", "task_id": task.id}, "/putaway/task")
    target = db.session.get(type(putaway_site["receiving"]), task.suggested_cell_id)
    body = {"kind": "scan", "code": target.barcode, "event_id": str(uuid.uuid4())}
    first = send(client, "/putaway/input", body, "/putaway/task").get_json()
    again = send(client, "/putaway/input", body, "/putaway/task").get_json()
    assert first["status"] == "stored" and first["prompt"]["sound"] == "ok", first
    assert again["status"] == "duplicate" and again["prompt"] == first["prompt"]
    assert again["event_id"] == first["event_id"] == body["event_id"]
    db.session.expire_all()
    quant = db.session.execute(select(Quant).where(Quant.cell_id == target.id)).scalar_one()
    assert quant.quantity == 12


@pytest.mark.parametrize("event_id", ["x", "", 42, "12345678-1234-1234-1234-1234567890zz", "0" * 36])
def test_a_page_event_id_must_be_a_uuid(client, putaway_site, event_id):
    sign_in_badge(client, "B-1")
    for url in ("/putaway/input", "/receiving/input"):
        answer = send(client, url, {"kind": "scan", "code": "X", "event_id": event_id}, "/")
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
        assert answer.get_json()["type"].endswith("bad-event-id")


# --- receiving ------------------------------------------------------------------------------------


@pytest.fixture
def dock(db):
    from datetime import date

    from server.services.receiving import create_delivery

    wh, receiving_cell, cells, _quarantine = putaway_warehouse(max_units=50)
    kettle = f.sku("KETTLE", "Чайник", barcode="4601234567893")
    iron = f.sku("IRON", "Утюг", barcode="4601234567800")
    f.user("ivan", ("receiver",), badge="B-1")
    f.user("petr", ("picker",), badge="B-2")
    f.user("olga", ("supervisor",), password="boss-pass-1")
    delivery = create_delivery(wh.id, "ASN-100", "ООО Поставщик", today_in(wh),
                               lines=[{"sku_id": kettle.id, "quantity": 5}, {"sku_id": iron.id, "quantity": 2}])
    later = create_delivery(wh.id, "ASN-200", "Later Ltd", date(2999, 1, 1), lines=[{"sku_id": iron.id, "quantity": 1}])
    db.session.commit()
    station, _headers = f.station(wh, "DOCK-1", "dock")
    return {"wh": wh, "delivery": delivery, "later": later, "kettle": kettle, "iron": iron, "station": station,
            "cells": cells}


def key(client, name, token_from="/", url="/receiving/input", **fields):
    return send(client, url, {"kind": "button", "key": name, **fields}, token_from)


def scan_code(client, code, token_from="/", url="/receiving/input"):
    return send(client, url, {"kind": "scan", "code": code}, token_from)


def test_receiving_pages_need_a_receiver(client, dock):
    assert client.get("/receiving").status_code == 302
    sign_in_badge(client, "B-2")
    assert client.get("/receiving").status_code == 403
    assert client.get(f"/receiving/{dock['delivery'].id}").status_code == 403
    assert scan_code(client, "4601234567893").status_code == 403
    assert send(client, "/receiving/questions/1/link", {"sku_id": 1}, "/").status_code == 403


@pytest.mark.parametrize("language, words", [
    ("en", ("Receiving", "Today", "Later", "2 lines", "0 / 7", "expected")),
    ("ru", ("Приёмка", "Сегодня", "Позже", "2 строки", "0 / 7", "ожидается")),
])
def test_receiving_list(client, dock, language, words):
    sign_in_badge(client, "B-1")
    post(client, "/language", {"language": language}, token_from="/")
    html = client.get("/receiving").get_data(as_text=True)
    for word in words:
        assert word in html, word
    today = html.index('id="deliveries-today"')
    assert today < html.index('data-delivery="ASN-100"') < html.index('id="deliveries-later"') \
        < html.index('data-delivery="ASN-200"')
    assert f'href="/receiving/{dock["delivery"].id}"' in html and "ООО Поставщик" in html


@pytest.mark.parametrize("language, words", [
    ("en", ("Quantity", "Damaged", "Undo", "Add unexpected", "Close delivery", "Unknown barcodes", "Devices",
            "Start receiving", "Press Start receiving, or scan the goods.")),
    ("ru", ("Количество", "Брак", "Отменить", "Добавить незаявленное", "Закрыть поставку", "Неизвестные штрихкоды",
            "Устройства", "Начать приёмку", "Нажмите «Начать приёмку» или сканируйте товар.")),
])
def test_receiving_screen_renders(client, dock, language, words):
    sign_in_badge(client, "B-1")
    post(client, "/language", {"language": language}, token_from="/")
    html = client.get(f"/receiving/{dock['delivery'].id}").get_data(as_text=True)
    for word in words:
        assert word in html, word
    assert re.search(r'<input id="scan-input"[^>]*autofocus', html, re.S)
    assert 'data-open="no"' in html and re.search(r'<button type="button" id="start-receiving"[^>]*>', html)
    assert '"sku": "KETTLE"' in html and '"sku": "IRON"' in html  # the lines, for the panel's script
    assert f'<option value="{dock["station"].id}"' in html  # the dock station for the devices


def test_opening_a_deliverys_page_changes_nothing(client, db, dock):
    """Issue: the page sent `open` on load, so merely looking at a delivery opened it (and took the
    handheld off the delivery it was counting). Opening is the Start receiving key (or a scan)."""
    from server.models import Delivery
    from server.models import FlowState as FlowRow

    def snapshot():
        db.session.expire_all()
        deliveries = {d.number: (d.status, d.opened_at, d.opened_by_user_id)
                      for d in db.session.execute(select(Delivery)).scalars()}
        flows = [(r.session_key, r.flow, r.state, r.data) for r in db.session.execute(select(FlowRow)).scalars()]
        return deliveries, flows

    sign_in_badge(client, "B-1")
    later = dock["later"]
    assert key(client, "open", "/receiving", delivery_id=later.id).get_json()["prompt"]["state"] == "counting"
    before = snapshot()
    page = f"/receiving/{dock['delivery'].id}"
    for _ in range(2):
        html = client.get(page).get_data(as_text=True)
        assert 'data-open="no"' in html and 'id="start-receiving" class="primary hh-start">' in html
    assert snapshot() == before  # ASN-100 still expected, the handheld still counting ASN-200
    assert before[0]["ASN-100"][0] == "expected" and before[0]["ASN-200"][0] == "receiving"

    opened = key(client, "open", page, delivery_id=dock["delivery"].id).get_json()["prompt"]  # the key
    assert opened["state"] == "counting" and opened["screen"]["delivery"]["number"] == "ASN-100"
    html = client.get(page).get_data(as_text=True)
    assert 'data-open="yes"' in html and 'id="start-receiving" class="primary hh-start" hidden>' in html


def test_receiving_inputs_reach_the_scenario(client, db, dock):
    from server.models import Delivery, DeliveryLine, ReceivingQuestion

    sign_in_badge(client, "B-1")
    delivery = dock["delivery"]
    page = f"/receiving/{delivery.id}"
    opened = key(client, "open", page, delivery_id=delivery.id)
    assert opened.status_code == 200, opened.get_data(as_text=True)
    prompt = opened.get_json()["prompt"]
    assert prompt["sound"] == "ok" and prompt["screen"]["delivery"]["number"] == "ASN-100"
    assert 'data-open="yes"' in client.get(page).get_data(as_text=True)

    assert key(client, "quantity", page, value="3").get_json()["prompt"]["sound"] == "ok"
    counted = scan_code(client, "4601234567893\r", page).get_json()["prompt"]
    assert counted["sound"] == "ok", counted
    line = next(x for x in counted["screen"]["delivery"]["lines"] if x["sku"] == "KETTLE")
    assert line["received"] == 3
    undone = key(client, "undo", page).get_json()["prompt"]
    assert undone["sound"] == "ok", undone
    db.session.expire_all()
    kettle_line = db.session.execute(select(DeliveryLine).where(DeliveryLine.sku_id == dock["kettle"].id)).scalar_one()
    assert kettle_line.received_qty == 0
    assert key(client, "count", page, line_id=kettle_line.id, quantity=4).get_json()["prompt"]["sound"] == "ok"

    # An unknown barcode is held as a question; the page links it to a SKU found by name.
    held = scan_code(client, "2999999999991", page).get_json()["prompt"]
    assert held["sound"] == "error" and held["screen"]["delivery"]["questions"]
    question = db.session.execute(select(ReceivingQuestion)).scalar_one()
    found = client.get("/receiving/skus?q=утюг").get_json()["skus"]
    assert [s["code"] for s in found] == ["IRON"]
    assert client.get("/receiving/skus?q=4601234567800").get_json()["skus"][0]["code"] == "IRON"
    linked = send(client, f"/receiving/questions/{question.id}/link", {"sku_id": dock["iron"].id}, page)
    assert linked.status_code == 200, linked.get_data(as_text=True)
    assert linked.get_json()["status"] == "linked"
    iron = next(x for x in linked.get_json()["summary"]["lines"] if x["sku"] == "IRON")
    assert iron["received"] == 1
    again = send(client, f"/receiving/questions/{question.id}/link", {"sku_id": dock["iron"].id}, page)
    assert again.status_code == 409

    # Another unknown barcode becomes a new SKU.
    scan_code(client, "2999999999984", page)
    second = db.session.execute(select(ReceivingQuestion).where(ReceivingQuestion.status == "open")).scalar_one()
    made = send(client, f"/receiving/questions/{second.id}/create-sku", {"code": "MUG", "name": "Кружка"}, page)
    assert made.status_code == 200, made.get_data(as_text=True)
    assert any(x["sku"] == "MUG" for x in made.get_json()["summary"]["lines"])
    assert send(client, f"/receiving/questions/{second.id}/create-sku", {"code": "", "name": ""},
                page).status_code == 422

    closed = key(client, "close", page).get_json()["prompt"]
    assert closed["sound"] == "ok", closed
    db.session.expire_all()
    assert db.session.get(Delivery, delivery.id).status == "closed"


def test_devices_station_is_kept_in_the_handheld_session(client, db, dock):
    sign_in_badge(client, "B-1")
    page = f"/receiving/{dock['delivery'].id}"
    chosen = send(client, "/receiving/station", {"station_id": dock["station"].id}, page)
    assert chosen.get_json() == {"station_id": dock["station"].id, "station": "DOCK-1"}
    ivan = db.session.execute(select(HandheldSession)).scalar_one()
    assert ivan.station_id == dock["station"].id
    html = client.get(page).get_data(as_text=True)
    assert f'<option value="{dock["station"].id}" selected>' in html
    # Inputs keep it (device jobs go to that station).
    key(client, "open", page, delivery_id=dock["delivery"].id)
    db.session.expire_all()
    assert db.session.get(HandheldSession, ivan.user_id).station_id == dock["station"].id
    pack, _headers = f.station(dock["wh"], "PACK-1", "pack")
    assert send(client, "/receiving/station", {"station_id": pack.id}, page).status_code == 422
    assert send(client, "/receiving/station", {"station_id": None}, page).get_json()["station"] is None


def test_receiving_scan_sent_twice_with_one_event_id_counts_once(client, db, dock):
    from server.models.inbound import DeliveryLine

    sign_in_badge(client, "B-1")
    page = f"/receiving/{dock['delivery'].id}"
    key(client, "open", page, delivery_id=dock["delivery"].id)
    body = {"kind": "scan", "code": "4601234567893", "event_id": str(uuid.uuid4())}
    first = send(client, "/receiving/input", body, page).get_json()
    again = send(client, "/receiving/input", body, page).get_json()
    assert first["status"] == "stored" and again["status"] == "duplicate"
    assert again["prompt"] == first["prompt"]
    db.session.expire_all()
    line = db.session.execute(select(DeliveryLine).where(
        DeliveryLine.delivery_id == dock["delivery"].id, DeliveryLine.sku_id == dock["kettle"].id)).scalar_one()
    assert line.received_qty == 1
    # A new event_id is a new scan.
    send(client, "/receiving/input", {**body, "event_id": str(uuid.uuid4())}, page)
    db.session.expire_all()
    assert db.session.get(DeliveryLine, line.id).received_qty == 2


def test_receiving_input_checks(client, dock):
    sign_in_badge(client, "B-1")
    url = "/receiving/input"
    assert client.post(url, json={"kind": "scan", "code": "X"}).status_code == 400  # no CSRF token
    assert client.post(url, json={"kind": "scan", "code": "X"}, headers={"X-CSRFToken": "forged"}).status_code == 400
    assert scan_code(client, "").status_code == 422
    assert scan_code(client, "x" * 600).status_code == 422
    assert key(client, "explode").status_code == 422
    assert key(client, "count", line_id="one", quantity=1).status_code == 422
    assert send(client, url, {"kind": "photo"}, "/").status_code == 422


def test_discrepancies_and_accept(client, db, dock):
    from server.models import Delivery

    sign_in_badge(client, "B-1")
    page = f"/receiving/{dock['delivery'].id}"
    key(client, "open", page, delivery_id=dock["delivery"].id)
    key(client, "quantity", page, value="4")
    scan_code(client, "4601234567893", page)  # 4 of 5 kettles: short; no iron
    assert key(client, "close", page).get_json()["prompt"]["sound"] == "ok"
    delivery_id = dock["delivery"].id
    url = f"/receiving/{delivery_id}/discrepancies"
    html = client.get(url).get_data(as_text=True)
    assert 'data-kind="short"' in html and "KETTLE" in html and "IRON" in html
    assert 'id="accept"' not in html  # a receiver may not accept
    token = csrf_token(client, url)
    assert client.post(f"/receiving/{delivery_id}/accept", data={"csrf_token": token}).status_code == 403

    boss = client.application.test_client()
    sign_in_password(boss, "olga", "boss-pass-1")
    post(boss, "/language", {"language": "ru"}, token_from="/")
    html = boss.get("/receiving").get_data(as_text=True)
    assert 'id="deliveries-closed"' in html and "Закрытые, ждут принятия" in html
    # The week's KPIs for supervisors: the receiver's 4 units, one delivery closed with discrepancies.
    kpis = html[html.index('id="receiving-kpis"'):]
    assert "<td>ivan</td><td class=\"num\">4</td>" in kpis and "Закрыто поставок: 1" in kpis
    assert 'id="receiving-kpis"' not in client.get("/receiving").get_data(as_text=True)
    html = boss.get(url).get_data(as_text=True)
    assert "Недостача" in html or "недостача" in html
    assert boss.post(f"/receiving/{delivery_id}/accept").status_code in (302, 400)  # without the token: refused
    db.session.expire_all()
    assert db.session.get(Delivery, delivery_id).status == "closed"
    accepted = boss.post(f"/receiving/{delivery_id}/accept", data={"csrf_token": csrf_token(boss, url)})
    assert accepted.status_code == 302 and accepted.location == "/receiving"
    db.session.expire_all()
    assert db.session.get(Delivery, delivery_id).status == "accepted"
    assert "Поставка ASN-100 принята." in boss.get("/receiving").get_data(as_text=True)


def test_dock_station_screen_has_the_receiving_panel(client, db, dock):
    sign_in_badge(client, "B-1")
    html = client.get("/stations/DOCK-1").get_data(as_text=True)
    assert 'id="receiving-panel"' in html and "receiving.js" in html
    assert f'data-key="open" data-delivery-id="{dock["delivery"].id}"' in html
    url = "/stations/DOCK-1/input"
    # The worker at the station signs in by badge (scanned at the station), then keys and scans.
    assert scan_code(client, "B-1", "/stations/DOCK-1", url).get_json()["prompt"]["sound"] == "ok"
    opened = key(client, "open", "/stations/DOCK-1", url, delivery_id=dock["delivery"].id).get_json()
    assert opened["prompt"]["screen"]["delivery"]["number"] == "ASN-100", opened
    counted = scan_code(client, "4601234567893", "/stations/DOCK-1", url).get_json()["prompt"]
    assert counted["sound"] == "ok", counted
    assert key(client, "explode", "/stations/DOCK-1", url).status_code == 422
    # The screen opened again shows the open delivery.
    html = client.get("/stations/DOCK-1").get_data(as_text=True)
    assert 'data-summary=\'{"accepted_at"' in html or '"number": "ASN-100"' in html


def test_a_delivery_entered_by_hand(client, db, dock):
    from server.models import Delivery, DeliveryLine

    sign_in_badge(client, "B-1")
    assert 'id="new-delivery-link"' in client.get("/receiving").get_data(as_text=True)
    page = client.get("/receiving/new")
    assert page.status_code == 200 and 'name="lines"' in page.get_data(as_text=True)
    before = db.session.execute(select(Delivery.id)).scalars().all()
    # Errors: an unknown code and a date that is not one; nothing is saved, the form keeps its text.
    bad = post(client, "/receiving/new", {"number": "ASN-300", "supplier": "ООО Ромашка",
                                          "lines": "KETTLE; 4\nNO-SUCH; 2"}, token_from="/receiving/new")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "NO-SUCH" in html and 'data-error="lines"' in html
    bad = post(client, "/receiving/new", {"number": "ASN-300", "lines": "KETTLE; 4; L1; 31.02.2026"},
               token_from="/receiving/new")
    assert 'data-error="lines.0.expiry"' in bad.get_data(as_text=True)
    db.session.rollback()
    assert db.session.execute(select(Delivery.id)).scalars().all() == before
    # Codes or barcodes, ';' or tabs, dd.mm.yyyy dates; the same SKU twice is one line.
    good = post(client, "/receiving/new", {"number": "ASN-300", "supplier": "ООО Ромашка",
                                           "expected_date": "2026-11-24",
                                           "lines": "KETTLE; 4\n4601234567800\t3\tL7\t31.12.2027\nKETTLE; 2"},
                token_from="/receiving/new")
    assert good.status_code == 302, good.get_data(as_text=True)
    db.session.rollback()
    delivery = db.session.execute(select(Delivery).filter_by(number="ASN-300")).scalar_one()
    assert good.headers["Location"].endswith(f"/receiving/{delivery.id}")
    lines = db.session.execute(select(DeliveryLine).filter_by(delivery_id=delivery.id)
                               .order_by(DeliveryLine.line_no)).scalars().all()
    assert [(ln.sku_id, ln.expected_qty, ln.lot, str(ln.expiry)) for ln in lines] == [
        (dock["kettle"].id, 6, "", "None"), (dock["iron"].id, 3, "L7", "2027-12-31")]
    assert delivery.supplier == "ООО Ромашка" and str(delivery.expected_date) == "2026-11-24"
    # The same number again is refused on its field; a picker may not enter deliveries.
    again = post(client, "/receiving/new", {"number": "ASN-300", "lines": "KETTLE; 1"}, token_from="/receiving/new")
    assert 'data-error="number"' in again.get_data(as_text=True)
    blind = post(client, "/receiving/new", {"number": "ASN-301", "blind": "1"}, token_from="/receiving/new")
    assert blind.status_code == 302
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    sign_in_badge(client, "B-2")
    assert client.get("/receiving/new").status_code == 403
