"""Waves: release (due soonest first, locked orders, capacity, route order), the API and pages,
pick lists on paper, progress, two releases at once, and the `cellwms bench wave` command."""

import json
import threading
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from printers.escpos_decode import decode
from server.core.routing import route
from server.extensions import db as _db
from server.models import (
    Batch,
    BatchOrder,
    BatchStatus,
    Order,
    OrderEvent,
    OrderStatus,
    PickLine,
    PickLineStatus,
    Wave,
    WaveStatus,
)
from server.models.base import utcnow
from server.services import orders, pick_list, waves
from server.services.errors import DomainError
from server.services.geometry import warehouse_geometry
from server.services.stock import apply_movement
from tests import factories as f
from tests.assertions import assert_problem, count
from tests.putaway_helpers import putaway_warehouse
from tests.test_pages import sign_in_password

PASSWORD = "pass-word-1"


def shop(db, *, aisles=4, slots=6, totes_per_cart=3):
    """Four aisles of six placed shelves, three SKUs stocked in several cells, a supervisor."""
    wh, _receiving, cells, _quarantine = putaway_warehouse(aisles=aisles, slots=slots, max_units=500)
    wh.totes_per_cart = totes_per_cart
    skus = [f.sku("KET-1", "Чайник электрический", length_mm=200, width_mm=200, height_mm=250, weight_g=1200),
            f.sku("MUG-1", "Кружка «Утро»", length_mm=100, width_mm=100, height_mm=100, weight_g=300),
            f.sku("IRON-1", "Гиря чугунная 16 кг", length_mm=200, width_mm=200, height_mm=300, weight_g=16000)]
    addresses = sorted(cells)
    for n, address in enumerate(addresses):
        apply_movement("receive", skus[n % 3].id, 50, to_cell_id=cells[address].id)
    boss = f.user("boss", ("supervisor",), password=PASSWORD)
    picker = f.user("pete", ("picker",), badge="B-7")
    db.session.commit()
    return {"wh": wh, "cells": cells, "skus": skus, "boss": boss, "auth": f.token_for(boss),
            "picker_auth": f.token_for(picker)}


def make(s, number, lines=(("MUG-1", 1),), **card):
    """A reserved order."""
    made, _created = orders.create_order(s["wh"].id, number, [{"sku": c, "quantity": q} for c, q in lines], **card)
    _db.session.commit()
    assert made.status == OrderStatus.reserved
    return made


def test_a_release_takes_due_soonest_first_and_moves_them_to_picking(db):
    s = shop(db)
    now = utcnow()
    late = make(s, "A-late", cutoff_at=now + timedelta(hours=8))
    none = make(s, "A-none", priority=5)
    soon = make(s, "A-soon", cutoff_at=now + timedelta(hours=1))
    urgent_low = make(s, "A-soon-low", cutoff_at=now + timedelta(hours=1), priority=-1)
    high = make(s, "A-soon-high", cutoff_at=now + timedelta(hours=1), priority=3)
    assert waves.take_reserved(s["wh"].id) == [high, soon, urgent_low, late, none]

    wave = waves.release_wave(s["wh"].id, max_orders=4, now=now)
    db.session.commit()
    assert sorted(bo.order.number for b in wave.batches for bo in b.orders) == sorted(
        ["A-soon-high", "A-soon", "A-soon-low", "A-late"])
    assert db.session.get(Order, none.id).status == OrderStatus.reserved
    # Three urgent orders fill the first cart of three; the later one goes next.
    assert [sorted(bo.order.number for bo in b.orders) for b in wave.batches] == [
        ["A-soon", "A-soon-high", "A-soon-low"], ["A-late"]]
    assert [b.seq for b in wave.batches] == [1, 2]
    event = db.session.execute(select(OrderEvent).where(OrderEvent.order_id == late.id, OrderEvent.kind ==
                                                         "order.picking")).scalar_one()
    assert event.detail == {"wave_id": wave.id, "batch_id": wave.batches[1].id}
    assert db.session.get(Order, late.id).status == OrderStatus.picking
    assert wave.seconds > 0 and wave.planned_walk_m == round(sum(b.planned_walk_m for b in wave.batches), 2)

    assert waves.take_reserved(s["wh"].id, cutoff_before=now + timedelta(hours=2)) == []  # A-none: no cutoff


def test_a_release_with_a_cutoff_filter_and_an_empty_release(db, client):
    s = shop(db)
    now = utcnow()
    make(s, "B-none")
    try:
        waves.release_wave(s["wh"].id, cutoff_before=now + timedelta(hours=2))
        raise AssertionError("released orders without a cutoff")
    except DomainError as error:
        assert (error.status, error.slug) == (409, "nothing-to-release")
    db.session.rollback()
    r = client.post("/api/v1/waves", json={"cutoff_before": (now + timedelta(hours=2)).isoformat()}, headers=s["auth"])
    assert_problem(r, 409, "nothing-to-release")
    assert count(db, Wave) == count(db, Batch) == count(db, PickLine) == 0
    r = client.post("/api/v1/waves", json={}, headers=s["auth"])
    assert r.status_code == 201, r.json
    assert_problem(client.post("/api/v1/waves", json={}, headers=s["auth"]), 409, "nothing-to-release")
    assert count(db, Wave) == 1


def test_the_cart_capacity_is_never_exceeded(db):
    s = shop(db, totes_per_cart=3)
    # 12 one-tote orders, one that fills two totes by volume (8 kettles of 10 l), one heavier than a cart
    # (4 x 16 kg > 3 totes x 15 kg): alone on a cart of its own.
    for n in range(12):
        make(s, f"C-{n:02d}", [("MUG-1", 1 + n % 3), ("KET-1", 1)] if n % 2 else [("MUG-1", 2)])
    two = make(s, "C-two", [("KET-1", 5)])
    heavy = make(s, "C-heavy", [("IRON-1", 4)])
    wave = waves.release_wave(s["wh"].id)
    db.session.commit()
    slots = {}
    for batch in wave.batches:
        taken = sorted(bo.slot for bo in batch.orders)
        assert len(batch.orders) <= 3 and taken[0] == 1
        slots[batch.id] = taken
        totes = {bo.order_id: waves.totes_needed(*_load(bo.order), s["wh"]) for bo in batch.orders}
        assert sum(min(t, 3) for t in totes.values()) <= 3, totes
        if heavy.id in totes:
            assert list(totes) == [heavy.id]
        if two.id in totes:
            assert totes[two.id] == 2
    assert sum(len(b.orders) for b in wave.batches) == 14


def _load(order):
    volume = sum(line.sku.volume_cm3 / 1000 * line.quantity for line in order.lines)
    weight = sum(line.sku.weight_g / 1000 * line.quantity for line in order.lines)
    return volume, weight


def test_pick_lines_follow_the_cores_route(db):
    s = shop(db, totes_per_cart=4)
    for n in range(10):
        make(s, f"R-{n}", [("MUG-1", 1), ("KET-1", 1), ("IRON-1", 1)][: 1 + n % 3])
    wave = waves.release_wave(s["wh"].id)
    db.session.commit()
    geometry = warehouse_geometry(s["wh"].id)
    for batch in wave.batches:
        lines = batch.lines
        assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
        cells = [line.cell_id for line in lines]
        points = [geometry.points[c] for c in dict.fromkeys(cells)]
        walk = route(geometry.layout, points)
        visited = list(dict.fromkeys((geometry.points[c].x, geometry.points[c].y) for c in cells))
        assert visited == [(p.x, p.y) for p in walk.stops]
        # Lines at one cell are consecutive.
        firsts = {}
        for i, c in enumerate(cells):
            firsts.setdefault(c, i)
            assert cells[firsts[c]: i + 1] == [c] * (i + 1 - firsts[c])
        assert abs(batch.planned_walk_m - round(walk.length, 2)) < 1e-6
        assert abs(waves.walk_length(geometry, cells) - walk.length) < 1e-6
        by_name = [c.id for c in waves.address_order([line.cell for line in lines])]
        assert waves.walk_length(geometry, by_name) >= walk.length - 1e-6
        reservations = {line.reservation_id for line in lines}
        assert len(reservations) == len(lines)


def test_address_order_is_natural():
    cells = [(1, "A-10-01"), (2, "A-2-05"), (3, "A-2-10"), (4, "A-2-9")]
    assert [c for c, _a in waves.address_order(cells)] == [2, 4, 3, 1]


def test_progress_and_the_wave_picked_when_every_batch_is(db):
    s = shop(db, totes_per_cart=2)
    for n in range(4):
        make(s, f"P-{n}")
    wave = waves.release_wave(s["wh"].id)
    db.session.commit()
    first, second = wave.batches
    assert waves.batch_progress(first).share == 0
    first.lines[0].status = PickLineStatus.picked
    first.status = BatchStatus.picking
    waves.refresh_wave(wave)
    assert wave.status == WaveStatus.picking
    assert waves.batch_progress(first).done == 1
    first.status, second.status = BatchStatus.picked, BatchStatus.dropped
    waves.refresh_wave(wave)
    assert wave.status == WaveStatus.picked


def test_the_api_answers_waves_and_batches_in_route_order(db, client):
    s = shop(db)
    for n in range(5):
        make(s, f"API-{n}", [("MUG-1", 1), ("KET-1", 2)])
    assert_problem(client.post("/api/v1/waves", json={}, headers=s["picker_auth"]), 403)
    assert_problem(client.post("/api/v1/waves", json={"method": "magic"}, headers=s["auth"]), 422)
    r = client.post("/api/v1/waves", json={"max_orders": 4, "method": "savings"}, headers=s["auth"])
    assert r.status_code == 201, r.json
    wave = r.json
    assert (wave["status"], wave["method"], wave["orders"], wave["totes_per_cart"]) == ("released", "savings", 4, 3)
    assert [b["seq"] for b in wave["batches"]] == [1, 2]
    assert all(b["progress"] == 0 and b["picker"] is None and b["planned_walk_m"] > 0 for b in wave["batches"])
    listed = client.get("/api/v1/waves", headers=s["picker_auth"])
    assert listed.status_code == 200 and [w["id"] for w in listed.json] == [wave["id"]]
    assert "X-Pagination" in listed.headers
    assert client.get(f"/api/v1/waves/{wave['id']}", headers=s["auth"]).json == wave
    batch = client.get(f"/api/v1/batches/{wave['batches'][0]['id']}", headers=s["picker_auth"]).json
    assert [line["seq"] for line in batch["lines"]] == list(range(1, len(batch["lines"]) + 1))
    assert {line["sku"] for line in batch["lines"]} == {"MUG-1", "KET-1"}
    assert batch["lines"][0]["address"].startswith("W1-S-") and batch["lines"][0]["picked"] == 0
    assert [o["slot"] for o in batch["orders"]] == list(range(1, len(batch["orders"]) + 1))
    assert all(o["totes"] == 1 for o in batch["orders"]) and sum(b["orders"] for b in wave["batches"]) == 4
    assert all(o["status"] == "picking" for o in batch["orders"])
    assert_problem(client.get("/api/v1/batches/999999", headers=s["auth"]), 404, "unknown-batch")
    assert_problem(client.get("/api/v1/waves/999999", headers=s["auth"]), 404, "unknown-wave")


def test_the_pick_list_prints_in_route_order_with_cyrillic(db, client):
    s = shop(db)
    for n in range(3):
        make(s, f"PL-{n}", [("MUG-1", 1), ("KET-1", 1)])
    wave = waves.release_wave(s["wh"].id)
    db.session.commit()
    batch = wave.batches[0]
    r = client.get(f"/api/v1/batches/{batch.id}/pick-list.escpos", headers=s["auth"])
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    text = decode(r.data).lines
    assert "Лист подбора" in text
    addresses = [line.cell.address for line in batch.lines]
    printed = [line.split(". ", 1)[1].split()[0] for line in text if line[:1].isdigit() and ". W1-S-" in line]
    assert printed == addresses
    assert any("Кружка \"Утро\"" in line for line in text)  # « » as the code page has them
    assert any("Чайник электрический" in line for line in text)
    assert any("-> тележка 1, заказ PL-0" in line for line in text)

    pdf = client.get(f"/api/v1/batches/{batch.id}/pick-list.pdf", headers=s["auth"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF-") and pdf.data.rstrip().endswith(b"%%EOF")
    assert any(Path(p).exists() for p in pick_list.PDF_FONTS)


def test_two_releases_at_once_never_share_an_order(db, app, backend):
    s = shop(db, aisles=4, slots=6, totes_per_cart=2)
    for n in range(16):
        make(s, f"T-{n:02d}")
    warehouse_id = s["wh"].id
    db.session.remove()
    barrier, results = threading.Barrier(2), {}

    def release(name):
        with app.app_context():
            barrier.wait()
            try:
                wave = waves.release_wave(warehouse_id, max_orders=10)
                _db.session.commit()
                results[name] = wave.id
            except DomainError as error:
                _db.session.rollback()
                results[name] = error.slug
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=release, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2 and all(isinstance(v, int) for v in results.values()), results
    assert results["a"] != results["b"]
    taken = db.session.execute(select(BatchOrder.order_id, Batch.wave_id).join(Batch)).all()
    order_ids = [o for o, _w in taken]
    assert len(order_ids) == len(set(order_ids)) == 16  # 10 + 6: every order once
    assert {w for _o, w in taken} == set(results.values())
    assert count(db, PickLine) == 16


def test_the_pages_release_a_wave_and_show_its_batches(db, client):
    s = shop(db)
    for n in range(4):
        make(s, f"PG-{n}")
    assert sign_in_password(client, "boss", PASSWORD).status_code == 302
    page = client.get("/waves")
    assert page.status_code == 200 and "Release a wave" in page.get_data(as_text=True)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/waves"' in home
    from tests.test_pages import csrf_token

    r = client.post("/waves", data={"csrf_token": csrf_token(client, "/waves"), "max_orders": "3"})
    assert r.status_code == 302, r.get_data(as_text=True)
    shown = client.get(r.headers["Location"]).get_data(as_text=True)
    wave = db.session.execute(select(Wave)).scalar_one()
    for batch in wave.batches:
        assert f'data-batch="{batch.id}"' in shown
        assert f"/waves/batches/{batch.id}/pick-list.pdf" in shown
    assert "PG-0" in shown and "0/" in shown
    again = client.post("/waves", data={"csrf_token": csrf_token(client, "/waves"), "max_orders": "x"})
    assert again.status_code == 422
    receipt = client.get(f"/waves/batches/{wave.batches[0].id}/pick-list.png")
    assert receipt.status_code == 200 and receipt.data.startswith(b"\x89PNG")
    with client.session_transaction() as session:
        session["locale"] = "ru"
    ru = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Волна" in ru and "Лист подбора" in ru


def test_the_bench_command_prints_its_keys():
    from server.commands.bench import bench_group

    result = CliRunner().invoke(bench_group, ["wave", "--orders", "30", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    for key in ("orders", "seconds", "batches", "walk_m", "walk_m_name_order", "walk_m_fcfs_name_order"):
        assert key in data
    assert data["orders"] == 30 and data["batches"] >= 1
    assert 0 < data["walk_m"] <= data["walk_m_name_order"]
