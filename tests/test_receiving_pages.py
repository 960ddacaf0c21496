"""Receiving and putaway pages (handheld and dock station): who may open them, English and
Russian, inputs reaching the scenarios, CSRF. Runs on SQLite and PostgreSQL (fixtures)."""

import re

import pytest
from sqlalchemy import select

from server.models import PutawayStatus, PutawayTask, Quant
from server.services.putaway import create_putaway_tasks
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse, received_delivery
from tests.test_pages import csrf_token, post, sign_in_badge


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
