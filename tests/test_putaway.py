"""Putaway service and API: suggestions (capacity, consolidation, velocity, expiry), confirming
moves stock once, other cells need a reason, invalid cells change nothing, the route."""

import threading
import time
from datetime import date

import pytest
from sqlalchemy import select

from server.extensions import db as _db
from server.models import Movement, PutawayStatus, PutawayTask
from server.services.errors import DomainError
from server.services.putaway import (
    NO_CELL_NOTE,
    OVERRIDE_REASONS,
    confirm_putaway,
    create_putaway_tasks,
    route_for,
    validate_target,
)
from server.services.slotting import build_slot_index
from server.services.stock import apply_movement, check_quants
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse, received_delivery, snapshot


@pytest.fixture
def site(db):
    wh, receiving, cells, quarantine = putaway_warehouse()
    kettle = f.sku("KETTLE", "Чайник", barcode="4601234567893", length_mm=100, width_mm=100, height_mm=100,
                   weight_g=1000)
    milk = f.sku("MILK", "Молоко", barcode="4601234567800", track_expiry=True)
    ivan = f.user("ivan", roles=("receiver",))
    db.session.commit()
    return {"wh": wh, "receiving": receiving, "cells": cells, "quarantine": quarantine, "kettle": kettle,
            "milk": milk, "ivan": ivan}


def cell_of(site, address):
    return site["cells"][f"W1-S-{address}"]


def test_one_task_per_sku_lot_expiry_with_a_suggested_cell(db, site):
    d = received_delivery(site["wh"], site["receiving"], [
        (site["kettle"], 6, "", None), (site["milk"], 4, "", date(2027, 1, 1)), (site["milk"], 3, "", date(2027, 2, 1)),
    ])
    tasks = create_putaway_tasks(d)
    db.session.commit()
    assert sorted((t.sku_id, t.expiry, t.quantity) for t in tasks) == sorted([
        (site["kettle"].id, None, 6), (site["milk"].id, date(2027, 1, 1), 4), (site["milk"].id, date(2027, 2, 1), 3)])
    assert all(t.suggested_cell_id is not None and t.from_cell_id == site["receiving"].id for t in tasks)
    # Planned stock counts: two tasks never share an empty one-SKU cell, and again adds nothing.
    assert len({t.suggested_cell_id for t in tasks if t.sku_id == site["kettle"].id}
               | {t.suggested_cell_id for t in tasks if t.sku_id == site["milk"].id}) >= 2
    assert create_putaway_tasks(d) == []


def test_same_sku_is_consolidated_and_capacity_splits(db, site):
    far = cell_of(site, "03-04")
    apply_movement("receive", site["kettle"].id, 2, to_cell_id=far.id)
    d = received_delivery(site["wh"], site["receiving"], [(site["kettle"], 20, "", None)])
    tasks = create_putaway_tasks(d)
    db.session.commit()
    # 8 top up the far cell holding the SKU (10 units max), the other 12 split over empty cells.
    assert tasks[0].suggested_cell_id == far.id and tasks[0].quantity == 8
    assert sum(t.quantity for t in tasks) == 20
    assert all(t.quantity <= 10 and t.suggested_cell_id for t in tasks)
    assert len({t.suggested_cell_id for t in tasks}) == len(tasks)


def test_volume_and_weight_limit_the_cells(db):
    wh, receiving, cells, _ = putaway_warehouse(max_units=None, max_volume_cm3=3000, max_weight_g=100000)
    box = f.sku("BOX", "Коробка", length_mm=100, width_mm=100, height_mm=100, weight_g=500)  # 1000 cm3
    d = received_delivery(wh, receiving, [(box, 7, "", None)])
    tasks = create_putaway_tasks(d)
    assert sorted(t.quantity for t in tasks) == [1, 3, 3]


def test_nothing_fits_gives_a_task_without_a_cell_and_a_note(db):
    wh, receiving, cells, _ = putaway_warehouse(aisles=1, slots=1)
    s = f.sku("BIG", "Шкаф")
    d = received_delivery(wh, receiving, [(s, 15, "", None)])
    tasks = create_putaway_tasks(d)
    assert [(t.quantity, t.suggested_cell_id is None) for t in tasks] == [(10, False), (5, True)]
    assert tasks[1].note == NO_CELL_NOTE


def test_velocity_class_a_goes_near_the_depot_c_far(db, site):
    fast, slow = site["kettle"], f.sku("SLOW", "Вентилятор")
    near = cell_of(site, "01-01")
    # The fast SKU was picked recently; the slow one never.
    apply_movement("receive", fast.id, 5, to_cell_id=near.id)
    apply_movement("reserve", fast.id, 5, from_cell_id=near.id)
    apply_movement("pick", fast.id, 5, from_cell_id=near.id)
    d = received_delivery(site["wh"], site["receiving"], [(fast, 3, "", None), (slow, 3, "", None)])
    tasks = {t.sku_id: t for t in create_putaway_tasks(d)}
    index, maps = build_slot_index(site["wh"].id)
    assert maps.velocity_of(fast.id) == "A" and maps.velocity_of(slow.id) == "C"
    assert index.zone(tasks[fast.id].suggested_cell_id) == "A"
    assert index.zone(tasks[slow.id].suggested_cell_id) == "C"


def test_an_earlier_expiry_is_not_put_behind_a_later_one(db, site):
    milk, cell = site["milk"], cell_of(site, "01-01")
    apply_movement("receive", milk.id, 2, to_cell_id=cell.id, expiry=date(2027, 1, 1))
    d = received_delivery(site["wh"], site["receiving"], [(milk, 2, "", date(2027, 3, 1)),
                                                          (milk, 2, "", date(2026, 12, 1))])
    tasks = {t.expiry: t for t in create_putaway_tasks(d)}
    assert tasks[date(2026, 12, 1)].suggested_cell_id == cell.id  # earlier goes in front: fine
    assert tasks[date(2027, 3, 1)].suggested_cell_id != cell.id


def tasks_for(db, site, goods):
    d = received_delivery(site["wh"], site["receiving"], goods)
    tasks = create_putaway_tasks(d)
    db.session.commit()
    return d, tasks


def test_confirm_into_the_suggested_cell_moves_stock(db, site):
    _, (task,) = tasks_for(db, site, [(site["kettle"], 6, "", None)])
    target = db.session.get(type(site["receiving"]), task.suggested_cell_id)
    confirm_putaway(task, target, site["ivan"])
    db.session.commit()
    assert task.status == PutawayStatus.done and task.done_cell_id == target.id and task.override_reason is None
    move = db.session.execute(select(Movement).where(Movement.idempotency_key == f"putaway-{task.id}")).scalar_one()
    assert (move.kind, move.quantity, move.from_cell_id, move.to_cell_id, move.scenario) == (
        "move", 6, site["receiving"].id, target.id, "putaway")
    assert check_quants() == []
    # The same confirmation again changes nothing.
    before = snapshot()
    confirm_putaway(task, target, site["ivan"])
    db.session.commit()
    assert snapshot() == before
    assert task.done_station_id is None  # on a handheld alone


def test_a_task_confirmed_at_a_station_records_the_station(db, site):
    station, _ = f.station(site["wh"], "DOCK-9")
    _, (task,) = tasks_for(db, site, [(site["kettle"], 2, "", None)])
    target = db.session.get(type(site["receiving"]), task.suggested_cell_id)
    confirm_putaway(task, target, site["ivan"], station=station)
    db.session.commit()
    assert task.done_station_id == station.id


def test_another_cell_needs_a_reason_and_records_it(db, site):
    _, (task,) = tasks_for(db, site, [(site["kettle"], 6, "", None)])
    other = next(c for c in site["cells"].values() if c.id != task.suggested_cell_id)
    before = snapshot()
    with pytest.raises(DomainError) as refused:
        confirm_putaway(task, other, site["ivan"])
    assert refused.value.slug == "reason-required"
    with pytest.raises(DomainError) as refused:
        confirm_putaway(task, other, site["ivan"], reason="because")
    assert refused.value.slug == "unknown-reason"
    db.session.rollback()
    assert snapshot() == before
    confirm_putaway(task, other, site["ivan"], reason="closer")
    db.session.commit()
    assert (task.done_cell_id, task.override_reason) == (other.id, "closer")
    assert "closer" in OVERRIDE_REASONS and check_quants() == []


def test_a_partial_quantity_leaves_the_rest_in_a_new_open_task(db, site):
    _, (task,) = tasks_for(db, site, [(site["kettle"], 6, "", None)])
    target = db.session.get(type(site["receiving"]), task.suggested_cell_id)
    confirm_putaway(task, target, site["ivan"], quantity=4)
    db.session.commit()
    rest = db.session.execute(select(PutawayTask).where(PutawayTask.status == "open")).scalar_one()
    assert (task.quantity, rest.quantity, rest.suggested_cell_id) == (4, 2, target.id)
    confirm_putaway(rest, target, site["ivan"])
    db.session.commit()
    assert check_quants() == []


@pytest.mark.parametrize("case,slug", [
    ("wrong-warehouse", "wrong-warehouse"), ("receiving", "same-as-source"), ("quarantine", "not-storage-cell"),
    ("blocked", "cell-blocked"), ("full", "cell-full"), ("mixed", "mixing-not-allowed"),
])
def test_invalid_cells_are_refused_and_change_nothing(db, site, case, slug):
    _, (task,) = tasks_for(db, site, [(site["kettle"], 6, "", None)])
    free = [c for c in site["cells"].values() if c.id != task.suggested_cell_id]
    if case == "wrong-warehouse":
        _, _, other_cells, _ = putaway_warehouse(code="W2")
        cell = next(iter(other_cells.values()))
    elif case == "receiving":
        cell = site["receiving"]
    elif case == "quarantine":
        cell = site["quarantine"]
    elif case == "blocked":
        cell = free[0]
        cell.status = "blocked"
    elif case == "full":
        cell = free[0]
        apply_movement("receive", site["kettle"].id, 5, to_cell_id=cell.id)  # 5 + 6 > 10 units
    else:
        cell = free[0]
        apply_movement("receive", site["milk"].id, 1, to_cell_id=cell.id, expiry=date(2027, 1, 1))
    db.session.commit()
    before = snapshot()
    with pytest.raises(DomainError) as refused:
        validate_target(task, cell)
    assert refused.value.slug == slug
    with pytest.raises(DomainError) as refused:
        confirm_putaway(task, cell, site["ivan"], reason="other")
    assert refused.value.slug == slug
    db.session.rollback()
    assert snapshot() == before


def test_two_workers_confirming_one_task_move_it_once(app, db, site):
    _, (task,) = tasks_for(db, site, [(site["kettle"], 6, "", None)])
    task_id, cell_id, user_id = task.id, task.suggested_cell_id, site["ivan"].id
    db.session.commit()
    db.session.close()  # SQLite: the main thread must not hold the write lock
    results, errors = [], []
    start = threading.Barrier(2)

    def worker():
        from server.models import Cell, User
        with app.app_context():
            try:
                start.wait(timeout=30)
                t = _db.session.get(PutawayTask, task_id)
                confirm_putaway(t, _db.session.get(Cell, cell_id), _db.session.get(User, user_id))
                time.sleep(0.05)  # hold the lock a little: the other worker really waits
                _db.session.commit()
                results.append("done")
            except DomainError as problem:
                _db.session.rollback()
                results.append(problem.slug)
            except BaseException as error:  # a deadlock or a duplicate key is a bug
                _db.session.rollback()
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and results == ["done", "done"]
    moves = db.session.execute(select(Movement).where(Movement.kind == "move")).scalars().all()
    assert [m.quantity for m in moves] == [6]
    assert check_quants() == []


def test_route_orders_tasks_along_the_walk(db, site):
    kettle = site["kettle"]
    goods = [(f.sku(f"G{i}", f"Товар {i}"), 1, "", None) for i in range(4)] + [(kettle, 1, "", None)]
    _, tasks = tasks_for(db, site, goods)
    walk = route_for(tasks, site["wh"].id)
    assert sorted(t.id for t in walk.tasks) == sorted(t.id for t in tasks)
    assert walk.polyline[0] == walk.polyline[-1] and len(walk.stops) >= 1 and walk.length > 0
    assert [i for stop in walk.stops for i in stop["task_ids"]] == [t.id for t in walk.tasks]


# --- API ---------------------------------------------------------------------------------------


def test_api_lists_confirms_assigns_and_routes(client, db, site):
    d, tasks = tasks_for(db, site, [(site["kettle"], 6, "", None), (f.sku("IRON", "Утюг"), 2, "", None)])
    rita = f.token_for(f.user("rita", ("receiver",)))
    pete = f.token_for(f.user("pete", ("picker",)))
    listed = client.get(f"/api/v1/putaway/tasks?delivery_id={d.id}&status=open", headers=rita)
    assert listed.status_code == 200 and "X-Pagination" in listed.headers
    assert sorted(t["id"] for t in listed.json) == sorted(t.id for t in tasks)
    task = tasks[0]
    one = client.get(f"/api/v1/putaway/tasks/{task.id}", headers=rita).json
    assert one["suggested_cell"]["id"] == task.suggested_cell_id and one["sku_code"] in ("KETTLE", "IRON")

    assert client.post(f"/api/v1/putaway/tasks/{task.id}/assign", json={}, headers=rita).json["assigned_user_id"]
    mine = client.get("/api/v1/putaway/tasks?assigned=me", headers=rita).json
    assert [t["id"] for t in mine] == [task.id]

    walk = client.get(f"/api/v1/putaway/route?delivery_id={d.id}", headers=rita).json
    assert sorted(t["id"] for t in walk["tasks"]) == sorted(t.id for t in tasks) and walk["polyline"]

    refused = client.post(f"/api/v1/putaway/tasks/{task.id}/confirm", json={"cell_id": task.from_cell_id},
                          headers=rita)
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert refused.json["type"] == "urn:cellwms:problem:same-as-source"
    forbidden = client.post(f"/api/v1/putaway/tasks/{task.id}/confirm", json={"cell_id": task.suggested_cell_id},
                            headers=pete)
    assert forbidden.status_code == 403
    barcode = db.session.get(type(site["receiving"]), task.suggested_cell_id).barcode
    done = client.post(f"/api/v1/putaway/tasks/{task.id}/confirm", json={"cell_barcode": barcode}, headers=rita)
    assert done.status_code == 200 and done.json["status"] == "done", done.json
    again = client.post(f"/api/v1/putaway/tasks/{task.id}/confirm", json={"cell_barcode": barcode}, headers=rita)
    assert again.status_code == 200
    db.session.expire_all()
    assert check_quants() == [] and len(db.session.execute(select(Movement).where(
        Movement.kind == "move")).scalars().all()) == 1
    other = next(c for c in site["cells"].values() if c.id != tasks[1].suggested_cell_id)
    needs = client.post(f"/api/v1/putaway/tasks/{tasks[1].id}/confirm", json={"cell_id": other.id}, headers=rita)
    assert needs.status_code == 422 and needs.json["type"] == "urn:cellwms:problem:reason-required"
    bad = client.post(f"/api/v1/putaway/tasks/{tasks[1].id}/confirm", json={"cell_id": other.id, "reason": "x"},
                      headers=rita)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    ok = client.post(f"/api/v1/putaway/tasks/{tasks[1].id}/confirm", json={"cell_id": other.id, "reason": "other"},
                     headers=rita)
    assert ok.status_code == 200 and ok.json["override_reason"] == "other"
    missing = client.get("/api/v1/putaway/tasks/99999", headers=rita)
    assert missing.status_code == 404 and missing.json["type"] == "urn:cellwms:problem:unknown-putaway-task"


def test_slot_index_of_a_generated_warehouse(db):
    """The warehouse `python -m bench slot_index` times (bench/slot_index.py), small: every storage
    cell is in the index, and a suggestion for a stocked SKU consolidates into its own cell."""
    from bench.slot_index import fill_warehouse
    from server.models import Quant

    warehouse_id, cell_ids, sku_ids = fill_warehouse(db, aisles=2, slots=60, levels=2, skus=20, quants=40)
    assert len(cell_ids) == 240
    index, _maps = build_slot_index(warehouse_id)
    assert len(index) == 240
    stocked = db.session.execute(select(Quant.cell_id).where(Quant.sku_id == sku_ids[0])).scalars().all()
    best = index.suggest(sku_ids[0], 3, velocity="B", limit=1)
    assert best and best[0].cell_id in stocked and best[0].reason == "same lot"
