"""One placement rule set: the cells the slotting index suggests are exactly the cells a putaway
confirmation or a move accepts (mixing rule, one lot with its expiry, FEFO, capacity, planned tasks)."""

import random
from datetime import date

import pytest
from sqlalchemy import select

from server.core.slotting import (
    EARLIER_EXPIRY,
    MIXED,
    ONE_LOT,
    ONE_SKU,
    OTHER_LOT,
    OTHER_SKU,
    NothingFitsError,
    capacity_refusal,
    mixing_refusal,
)
from server.extensions import db as _db
from server.models import Cell, PutawayStatus, PutawayTask, Quant
from server.models.base import utcnow
from server.services.errors import DomainError
from server.services.placement import check_placement
from server.services.putaway import confirm_putaway, validate_target
from server.services.slotting import build_slot_index, ensure_sku
from server.services.stock import apply_movement, check_quants
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse, received_delivery, snapshot
from tests.test_concurrent_writes import at_once

JAN, MAR, JUN = date(2027, 1, 1), date(2027, 3, 1), date(2027, 6, 1)


@pytest.mark.parametrize("rule, held, goods, refusal", [
    (ONE_LOT, [], ("A", "L1", JAN), None),
    (ONE_LOT, [("A", "L1", JAN)], ("A", "L1", JAN), None),
    (ONE_LOT, [("A", "L1", JAN)], ("A", "L2", JAN), OTHER_LOT),
    (ONE_LOT, [("A", "L1", JAN)], ("A", "L1", MAR), OTHER_LOT),  # the expiry is part of the lot
    (ONE_LOT, [("B", "", None)], ("A", "", None), OTHER_SKU),
    (ONE_SKU, [("A", "L1", JAN)], ("A", "L2", JAN), None),
    (ONE_SKU, [("A", "", JAN)], ("A", "", MAR), EARLIER_EXPIRY),  # later goods in front of earlier ones
    (ONE_SKU, [("A", "", MAR)], ("A", "", JAN), None),
    (ONE_SKU, [("A", "", JAN)], ("A", "", None), None),
    (ONE_SKU, [("B", "", None)], ("A", "", None), OTHER_SKU),
    (MIXED, [("B", "", None), ("A", "", JAN)], ("A", "", MAR), EARLIER_EXPIRY),
    (MIXED, [("B", "", JAN)], ("A", "", MAR), None),
])
def test_mixing_rule(rule, held, goods, refusal):
    assert mixing_refusal(rule, held, *goods) == refusal


def test_capacity_counts_what_the_cell_holds_and_what_comes():
    assert capacity_refusal((None, None, 10), [(6, 1.0, 1.0)], 4, 1.0, 1.0) == ()
    assert capacity_refusal((None, None, 10), [(6, 1.0, 1.0)], 5, 1.0, 1.0) == ("units",)
    assert capacity_refusal((1000, 500, None), [(2, 300.0, 100.0)], 2, 200.0, 200.0) == ("weight",)
    assert capacity_refusal((1000, 500, None), [(2, 300.0, 100.0)], 3, 200.0, 100.0) == ("volume",)


# --- the index and the confirmation agree -----------------------------------------------------------


def _random_site(rng: random.Random):
    """A warehouse of 12 cells of the three mixing rules, random capacities and contents (some of
    them already against the rules), and open putaway tasks planned into random cells."""
    wh = f.warehouse()
    receiving = f.cell(f.zone(wh, "R", "receiving"), "R-01")
    storage = f.zone(wh, "S", "storage")
    cells = []
    for n in range(12):
        cells.append(f.cell(storage, f"S-{n:02d}", aisle=1 + n // 6, bay=n % 6 + 1, level=1, position=1, block=1,
                            slot=n % 6 + 1, cell_type=("pallet", "shelf", "bin")[n % 3],
                            max_units=rng.choice((None, 8, 20)), max_volume_cm3=rng.choice((None, 6000, 20000)),
                            max_weight_g=rng.choice((None, 5000, 15000))))
    skus = [f.sku(f"SKU-{k}", f"Товар {k}", length_mm=rng.choice((50, 100, 150)), width_mm=100, height_mm=100,
                  weight_g=rng.choice((200, 700, 1500))) for k in range(4)]
    lots = [("", None), ("L1", JAN), ("L1", MAR), ("L2", JUN)]
    for cell in cells:
        for _ in range(rng.choice((0, 0, 1, 2))):
            lot, expiry = rng.choice(lots)
            apply_movement("receive", rng.choice(skus).id, rng.randint(1, 6), to_cell_id=cell.id, lot=lot,
                           expiry=expiry)
    delivery = received_delivery(wh, receiving, [(sku, 50, "", None) for sku in skus])
    for _ in range(rng.randint(0, 3)):
        lot, expiry = rng.choice(lots)
        _db.session.add(PutawayTask(
            warehouse_id=wh.id, delivery_id=delivery.id, sku_id=rng.choice(skus).id, lot=lot, expiry=expiry,
            quantity=rng.randint(1, 5), from_cell_id=receiving.id, suggested_cell_id=rng.choice(cells).id,
            status=PutawayStatus.open, created_at=utcnow()))
    _db.session.flush()
    return wh, cells, skus, lots


def test_the_cells_the_index_suggests_are_the_cells_a_confirmation_accepts(db):
    disagreements, asked = [], 0
    for seed in range(12):
        rng = random.Random(seed)
        wh, cells, skus, lots = _random_site(rng)
        index, maps = build_slot_index(wh.id)
        for _ in range(6):
            sku, (lot, expiry), quantity = rng.choice(skus), rng.choice(lots), rng.randint(1, 6)
            ensure_sku(index, maps, sku)
            try:
                suggested = {c.cell_id for c in index.suggest(sku.id, quantity, lot=lot, expiry=expiry, limit=100)}
            except NothingFitsError:
                suggested = set()
            accepted = set()
            for cell in cells:
                try:
                    check_placement(cell, sku, quantity, lot, expiry)
                except DomainError:
                    continue
                accepted.add(cell.id)
            asked += 1
            if suggested != accepted:
                disagreements.append((seed, sku.code, lot, expiry, quantity, sorted(suggested ^ accepted)))
        db.session.rollback()
    assert asked == 72 and disagreements == []


# --- putaway confirmation -----------------------------------------------------------------------------


@pytest.fixture
def site(db):
    wh, receiving, cells, _quarantine = putaway_warehouse(slots=3)  # shelves: one SKU, max 10 units
    milk = f.sku("MILK", "Молоко", track_expiry=True)
    kettle, iron = f.sku("KETTLE", "Чайник"), f.sku("IRON", "Утюг")
    ivan = f.user("ivan", roles=("receiver",))
    db.session.commit()
    return {"wh": wh, "receiving": receiving, "cells": list(cells.values()), "milk": milk, "kettle": kettle,
            "iron": iron, "ivan": ivan}


def _task(site, sku, quantity, expiry=None, cell=None):
    delivery = received_delivery(site["wh"], site["receiving"], [(sku, quantity, "", expiry)],
                                 number=f"D-{_db.session.query(PutawayTask).count() + 1}")
    task = PutawayTask(warehouse_id=site["wh"].id, delivery_id=delivery.id, sku_id=sku.id, lot="", expiry=expiry,
                       quantity=quantity, from_cell_id=site["receiving"].id,
                       suggested_cell_id=cell.id if cell else None, status=PutawayStatus.open, created_at=utcnow())
    _db.session.add(task)
    _db.session.commit()
    return task


def test_later_expiry_is_not_put_in_front_of_earlier(db, site):
    shelf = site["cells"][0]
    apply_movement("receive", site["milk"].id, 2, to_cell_id=shelf.id, expiry=JAN)
    later, earlier = _task(site, site["milk"], 3, MAR), _task(site, site["milk"], 3, date(2026, 12, 20))
    before = snapshot()
    with pytest.raises(DomainError) as refused:
        confirm_putaway(later, shelf, site["ivan"])
    assert refused.value.slug == "expiry-order" and "2027-01-01" in str(refused.value.title)
    db.session.rollback()
    assert snapshot() == before
    confirm_putaway(earlier, shelf, site["ivan"])  # earlier goods may go in front
    db.session.commit()
    assert check_quants() == []


def test_an_override_may_not_take_a_cell_planned_for_another_task(db, site):
    shelf = site["cells"][0]
    planned = _task(site, site["kettle"], 4, cell=shelf)
    other = _task(site, site["iron"], 2, cell=site["cells"][1])
    with pytest.raises(DomainError) as refused:
        validate_target(other, shelf)
    assert refused.value.slug == "mixing-not-allowed" and refused.value.extra["planned_task_id"] == planned.id
    # The planned task itself goes in, and then the shelf holds what it planned.
    confirm_putaway(planned, shelf, site["ivan"])
    db.session.commit()
    assert db.session.scalar(select(Quant.quantity).where(Quant.cell_id == shelf.id)) == 4


def test_planned_units_count_against_capacity(db, site):
    shelf = site["cells"][0]
    planned = _task(site, site["kettle"], 7, cell=shelf)
    more = _task(site, site["kettle"], 4, cell=site["cells"][1])
    with pytest.raises(DomainError) as refused:
        confirm_putaway(more, shelf, site["ivan"], reason="consolidate")  # 0 held + 7 planned + 4 > 10
    assert refused.value.slug == "cell-full" and refused.value.extra["planned_task_id"] == planned.id
    db.session.rollback()
    confirm_putaway(db.session.get(PutawayTask, more.id), shelf, site["ivan"], reason="consolidate", quantity=3)
    db.session.commit()


# --- moves -----------------------------------------------------------------------------------------


def test_a_move_into_a_storage_cell_follows_the_same_rules(db, site):
    shelf, source = site["cells"][0], site["receiving"]
    apply_movement("receive", site["iron"].id, 1, to_cell_id=shelf.id)
    apply_movement("receive", site["kettle"].id, 20, to_cell_id=source.id)
    db.session.commit()
    before = snapshot()
    with pytest.raises(DomainError) as refused:
        apply_movement("move", site["kettle"].id, 1, from_cell_id=source.id, to_cell_id=shelf.id)
    assert refused.value.slug == "mixing-not-allowed"
    db.session.rollback()
    with pytest.raises(DomainError) as refused:
        apply_movement("move", site["kettle"].id, 11, from_cell_id=source.id, to_cell_id=site["cells"][1].id)
    assert refused.value.slug == "cell-full"
    db.session.rollback()
    assert snapshot() == before
    pack = f.cell(f.zone(site["wh"], "P", "packing"), "P-01", max_units=1)  # not storage: no placement rules
    apply_movement("move", site["kettle"].id, 5, from_cell_id=source.id, to_cell_id=pack.id)
    apply_movement("move", site["kettle"].id, 10, from_cell_id=source.id, to_cell_id=site["cells"][1].id)
    db.session.commit()
    assert check_quants() == []


def test_a_move_is_refused_with_a_problem_on_the_api(app, db, site, client):
    shelf = site["cells"][0]
    apply_movement("receive", site["iron"].id, 1, to_cell_id=shelf.id)
    apply_movement("receive", site["kettle"].id, 3, to_cell_id=site["receiving"].id)
    headers = f.token_for(f.user("petr", roles=("supervisor",)))
    answer = client.post("/api/v1/movements", headers=headers, json={
        "kind": "move", "sku_id": site["kettle"].id, "quantity": 1, "from_cell_id": site["receiving"].id,
        "to_cell_id": shelf.id})
    assert answer.status_code == 409 and answer.mimetype == "application/problem+json"
    assert answer.json["type"].endswith("mixing-not-allowed") and answer.json["cell_id"] == shelf.id


def test_two_moves_of_two_skus_into_one_one_sku_shelf_at_once_one_is_refused(app, db, site):
    shelf_id, source_id = site["cells"][0].id, site["receiving"].id
    for sku in (site["kettle"], site["iron"]):
        apply_movement("receive", sku.id, 5, to_cell_id=source_id)
    db.session.commit()
    sku_ids = [site["kettle"].id, site["iron"].id]
    db.session.rollback()

    def move(k):
        apply_movement("move", sku_ids[k], 5, from_cell_id=source_id, to_cell_id=shelf_id)

    results = at_once(app, [move, move])
    errors = [error for _value, error in results if error is not None]
    assert len(errors) == 1 and errors[0].slug == "mixing-not-allowed", errors
    db.session.expire_all()
    held = db.session.execute(select(Quant.sku_id).where(Quant.cell_id == shelf_id, Quant.quantity > 0)).all()
    assert len(held) == 1 and check_quants() == []
    assert db.session.get(Cell, shelf_id).max_units == 10
