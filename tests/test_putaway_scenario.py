"""The putaway scenario on a handheld, driven through server.scenarios.handheld_input: scan the
SKU, see the cell and the route, scan the cell; another cell asks for a reason; wrong, full,
blocked cells and a SKU of another delivery sound an error and change nothing."""

import base64
from datetime import date

import pytest
from sqlalchemy import select

from server.models import Cell, Movement, PutawayTask
from server.scenarios import handheld_input
from server.scenarios.putaway import PUTAWAY
from server.services import flow_states
from server.services.putaway import create_putaway_tasks
from server.services.stock import apply_movement, check_quants
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse, received_delivery, snapshot


@pytest.fixture
def site(db):
    wh, receiving, cells, quarantine = putaway_warehouse(max_units=20)
    kettle = f.sku("KETTLE", "Чайник", barcode="4601234567893")
    iron = f.sku("IRON", "Утюг", barcode="4601234567800")
    ivan = f.user("ivan", roles=("receiver",))
    d1 = received_delivery(wh, receiving, [(kettle, 12, "", None)], number="D-1")
    d2 = received_delivery(wh, receiving, [(iron, 3, "", None)], number="D-2")
    create_putaway_tasks(d1)
    create_putaway_tasks(d2)
    db.session.commit()
    task = db.session.execute(select(PutawayTask).where(PutawayTask.delivery_id == d1.id)).scalar_one()
    return {"wh": wh, "receiving": receiving, "cells": cells, "quarantine": quarantine, "kettle": kettle,
            "iron": iron, "ivan": ivan, "d1": d1, "d2": d2, "task": task}


def send(db, user, kind, payload) -> dict:
    outcome = handheld_input(user, kind, payload, scenario=PUTAWAY)
    db.session.commit()
    assert outcome["status"] == "stored"
    return outcome["prompt"]


def scan(db, user, code: str) -> dict:
    return send(db, user, "scan", {"raw_b64": base64.b64encode(code.encode()).decode(), "symbology": ""})


def button(db, user, **payload) -> dict:
    return send(db, user, "button", payload)


def suggested(db, site) -> Cell:
    return db.session.get(Cell, site["task"].suggested_cell_id)


def state(db, user) -> dict:
    db.session.expire_all()
    return flow_states.find(flow_states.handheld_key(user.id), "putaway").data


def test_scan_sku_then_the_suggested_cell_puts_it_away(db, site):
    ivan, cell = site["ivan"], suggested(db, site)
    prompt = scan(db, ivan, "4601234567893")
    assert prompt["sound"] == "ok"
    assert prompt["message"] == f"Take 12 × Чайник to cell {cell.address}"
    screen = prompt["screen"]
    assert screen["task"]["id"] == site["task"].id and screen["task"]["suggested_cell"]["address"] == cell.address
    assert screen["route"]["polyline"] and screen["route"]["stops"][0]["task_ids"] == [site["task"].id]
    assert state(db, ivan)["task_id"] == site["task"].id

    prompt = scan(db, ivan, cell.barcode)
    assert prompt["sound"] == "ok", prompt
    db.session.expire_all()
    task = db.session.get(PutawayTask, site["task"].id)
    assert (task.status, task.done_cell_id, task.done_by_user_id) == ("done", cell.id, ivan.id)
    assert check_quants() == []
    move = db.session.execute(select(Movement).where(Movement.kind == "move")).scalar_one()
    assert (move.quantity, move.to_cell_id, move.user_id) == (12, cell.id, ivan.id)
    assert state(db, ivan)["task_id"] is None


def test_another_cell_asks_for_a_reason_and_records_it(db, site):
    ivan = site["ivan"]
    other = next(c for c in site["cells"].values() if c.id != site["task"].suggested_cell_id)
    scan(db, ivan, "4601234567893")
    prompt = scan(db, ivan, other.barcode)
    assert prompt["sound"] == "none"
    assert [r["value"] for r in prompt["screen"]["reasons"]] == [
        "suggested-full", "suggested-blocked", "consolidate", "closer", "other"]
    assert len(prompt["details"]) == 5
    assert state(db, ivan)["pending_cell_id"] == other.id
    assert db.session.get(PutawayTask, site["task"].id).status == "open"

    prompt = button(db, ivan, key="reason", value="consolidate")
    assert prompt["sound"] == "ok", prompt
    db.session.expire_all()
    task = db.session.get(PutawayTask, site["task"].id)
    assert (task.status, task.done_cell_id, task.override_reason) == ("done", other.id, "consolidate")
    assert check_quants() == []


@pytest.mark.parametrize("case", ["full", "blocked", "receiving", "quarantine", "wrong-warehouse"])
def test_invalid_cells_sound_an_error_and_change_nothing(db, site, case):
    ivan = site["ivan"]
    free = [c for c in site["cells"].values() if c.id != site["task"].suggested_cell_id]
    expected = {"full": "has no room", "blocked": "is blocked", "receiving": "is where the goods wait",
                "quarantine": "is not a storage cell", "wrong-warehouse": "is in another warehouse"}[case]
    if case == "full":
        cell = free[0]
        apply_movement("receive", site["kettle"].id, 10, to_cell_id=cell.id)  # 10 + 12 > 20
    elif case == "blocked":
        cell = free[0]
        cell.status = "blocked"
    elif case == "receiving":
        cell = site["receiving"]
    elif case == "quarantine":
        cell = site["quarantine"]
    else:
        _, _, other_cells, _ = putaway_warehouse(code="W2")
        cell = next(iter(other_cells.values()))
    db.session.commit()
    scan(db, ivan, "4601234567893")
    before, state_before = snapshot(), state(db, ivan)
    prompt = scan(db, ivan, cell.barcode)
    assert prompt["sound"] == "error" and expected in prompt["message"], prompt
    assert snapshot() == before and state(db, ivan) == state_before
    assert check_quants() == []


def test_a_sku_of_another_delivery_is_refused_and_changes_nothing(db, site):
    ivan = site["ivan"]
    prompt = button(db, ivan, key="delivery", delivery_id=site["d1"].id)
    assert prompt["sound"] == "ok" and [t["id"] for t in prompt["screen"]["tasks"]] == [site["task"].id]
    before, state_before = snapshot(), state(db, ivan)
    prompt = scan(db, ivan, "4601234567800")  # the iron waits for delivery D-2
    assert prompt["sound"] == "error"
    assert prompt["message"] == "Утюг has no open putaway task in delivery D-1."
    assert snapshot() == before and state(db, ivan) == state_before


def test_task_button_skip_and_a_cell_before_a_sku(db, site):
    ivan = site["ivan"]
    prompt = scan(db, ivan, suggested(db, site).barcode)
    assert prompt["sound"] == "error" and prompt["message"] == "Scan a SKU first, then its cell."
    iron_task = db.session.execute(select(PutawayTask).where(PutawayTask.delivery_id == site["d2"].id)).scalar_one()
    prompt = button(db, ivan, key="task", task_id=iron_task.id)
    assert prompt["sound"] == "ok" and prompt["screen"]["task"]["id"] == iron_task.id
    prompt = button(db, ivan, key="skip")
    assert prompt["sound"] == "ok" and state(db, ivan)["task_id"] is None
    assert db.session.get(PutawayTask, iron_task.id).status == "open"


def test_a_reason_without_a_pending_cell_is_refused(db, site):
    prompt = button(db, site["ivan"], key="reason", value="closer")
    assert prompt["sound"] == "error"


def test_the_same_day_expiry_lot_task_is_chosen_by_gs1(db):
    wh, receiving, cells, _ = putaway_warehouse()
    milk = f.sku("MILK", "Молоко", barcode="4601234567893", track_expiry=True)
    d = received_delivery(wh, receiving, [(milk, 2, "", date(2027, 1, 1)), (milk, 2, "", date(2026, 12, 1))])
    create_putaway_tasks(d)
    ivan = f.user("ivan", roles=("receiver",))
    db.session.commit()
    prompt = scan(db, ivan, "0104601234567893" + "17261201")
    assert prompt["sound"] == "ok"
    assert prompt["screen"]["task"]["expiry"] == "2026-12-01"
