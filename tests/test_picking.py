"""Picking: the service and the handheld flow (on both databases). A batch picked along its route
into totes; every wrong scan refused with nothing recorded; short re-reserved from another cell
(the route made again from where the picker stands) or, with no stock, the order flagged; skip;
drop-off at the pack area and the tote's order found again; the ledger and the quants agree."""

import base64
from datetime import date

import pytest
from sqlalchemy import func

from server.models import (
    Batch,
    BatchOrder,
    CountRequest,
    Movement,
    Order,
    OrderEvent,
    OrderLine,
    OrderReservation,
    PickLine,
    Quant,
    Tote,
)
from server.scenarios import handheld_input
from server.scenarios.picking import PICKING
from server.services import pick_scans
from server.services import picking as service
from server.services.errors import DomainError
from server.services.stock import check_quants
from tests import factories as f
from tests.picking_helpers import IRON, KETTLE, L1_EXPIRY, L2_EXPIRY, MILK, gs1, picking_site


@pytest.fixture
def site(db):
    return picking_site()


def send(db, user, kind, payload) -> dict:
    outcome = handheld_input(user, kind, payload, scenario=PICKING)
    db.session.commit()
    assert outcome["status"] == "stored"
    return outcome["prompt"]


def scan(db, user, code: str) -> dict:
    return send(db, user, "scan", {"raw_b64": base64.b64encode(code.encode()).decode(), "symbology": ""})


def button(db, user, **payload) -> dict:
    return send(db, user, "button", payload)


def snapshot(db) -> tuple:
    """Everything a pick writes, comparable (nothing recorded == equal snapshots)."""
    db.session.expire_all()
    rows = lambda model, *cols: sorted(tuple(getattr(r, c) for c in cols) for r in db.session.query(model).all())  # noqa: E731
    return (rows(Quant, "id", "quantity", "reserved"), db.session.query(func.count(Movement.id)).scalar(),
            rows(PickLine, "id", "picked", "status", "seq"), rows(OrderLine, "id", "reserved", "picked"),
            rows(OrderReservation, "id", "quantity", "picked"), rows(Tote, "id", "status", "order_id", "cell_id"),
            rows(Batch, "id", "status", "walked_m"), db.session.query(func.count(OrderEvent.id)).scalar())


def route_cells(db, batch) -> list[str]:
    db.session.expire_all()
    return [line.cell.address for line in service.open_lines(db.session.get(Batch, batch.id))]


def start(db, site) -> dict:
    """Take the batch and put totes TOTE-0001 and TOTE-0002 on its slots."""
    prompt = button(db, site.picker, key="take")
    assert prompt["state"] == "totes" and prompt["screen"]["slot"]["slot"] == 1, prompt
    prompt = scan(db, site.picker, "TOTE-0001")
    assert prompt["state"] == "totes" and prompt["screen"]["slot"]["slot"] == 2, prompt
    prompt = scan(db, site.picker, "TOTE-0002")
    assert prompt["state"] == "cell", prompt
    return prompt


def skip_to(db, site, prompt, sku_code: str, order_number: str) -> dict:
    """Skip lines until the one of `sku_code` for `order_number` is next."""
    for _ in range(10):
        line = prompt["screen"]["line"]
        if (line["sku"]["code"], line["order"]["number"]) == (sku_code, order_number):
            return prompt
        prompt = button(db, site.picker, key="skip")
    raise AssertionError(f"no line of {sku_code} for {order_number}")


def expected_route(db, batch, start_cell) -> list[str]:
    """The open lines' cells along the core's shortest walk from the aisle of `start_cell`."""
    from server.core.routing import route
    from server.services.geometry import warehouse_geometry

    geometry = warehouse_geometry(batch.warehouse_id)
    layout = geometry.walked(geometry.points[start_cell.id]).layout
    lines = service.open_lines(db.session.get(Batch, batch.id))
    walk = route(layout, [geometry.points[pl.cell_id] for pl in lines])
    rank = {(p.x, p.y): i for i, p in enumerate(walk.stops)}
    return [pl.cell.address for pl in sorted(lines, key=lambda pl: (
        rank[(geometry.points[pl.cell_id].x, geometry.points[pl.cell_id].y)], pl.cell_id))]


def pick_line(db, site, prompt) -> dict:
    """Pick the line the prompt shows: cell, goods (GS1 for milk), quantity, tote."""
    line = prompt["screen"]["line"]
    assert scan(db, site.picker, line["cell"]["address"])["state"] == "item"
    code = {"KETTLE": KETTLE, "IRON": IRON}.get(line["sku"]["code"]) or gs1(MILK, line["lot"],
                                                                            date.fromisoformat(line["expiry"]))
    prompt = scan(db, site.picker, code)
    assert prompt["state"] == "quantity", prompt
    if line["quantity"] > 1:
        prompt = button(db, site.picker, key="quantity", quantity=line["quantity"])
        assert prompt["state"] == "tote", prompt
    return scan(db, site.picker, line["tote"])


# --- the flow ------------------------------------------------------------------------------------


def test_a_batch_is_picked_along_its_route_and_dropped_at_the_pack_area(db, site):
    planned = route_cells(db, site.batch)
    # The shortest tour from the depot (aisle 1), in one of its two directions.
    assert planned in (["W1-S-01-02", "W1-S-01-02", "W1-S-01-04", "W1-S-02-01"],
                       ["W1-S-02-01", "W1-S-01-04", "W1-S-01-02", "W1-S-01-02"])
    prompt = start(db, site)
    walked = []
    while prompt["state"] == "cell":
        walked.append(prompt["screen"]["line"]["cell"]["address"])
        assert prompt["screen"]["batch"]["route"]["stops"][0]["n"] == 1
        prompt = pick_line(db, site, prompt)
        assert prompt["sound"] == "ok", prompt
    assert walked == planned
    assert prompt["state"] == "drop", prompt
    prompt = scan(db, site.picker, "W1-P-01")
    assert prompt["state"] == "done" and prompt["sound"] == "ok", prompt
    assert prompt["message"] == "2 totes left at W1-P-01. Take the next batch."

    db.session.expire_all()
    batch = db.session.get(Batch, site.batch.id)
    assert (batch.status, batch.drop_cell_id, batch.picker_user_id) == ("dropped", site.pack.id, site.picker.id)
    assert batch.walked_m > 0
    assert [db.session.get(Order, o.id).status for o in (site.o1, site.o2)] == ["picked", "picked"]
    kinds = [e.kind for e in db.session.query(OrderEvent).filter_by(order_id=site.o1.id).order_by(OrderEvent.id)]
    assert kinds == ["order.picking", "order.picked"]
    picks = db.session.query(Movement).filter_by(kind="pick").order_by(Movement.id).all()
    assert sorted((m.quantity, m.sku_id, m.reference, m.user_id, m.scenario) for m in picks) == sorted([
        (3, site.kettle.id, f"batch {batch.id} cart C-03 tote TOTE-0001 order 1001", site.picker.id, "picking"),
        (2, site.milk.id, f"batch {batch.id} cart C-03 tote TOTE-0001 order 1001", site.picker.id, "picking"),
        (2, site.iron.id, f"batch {batch.id} cart C-03 tote TOTE-0002 order 1002", site.picker.id, "picking"),
        (1, site.kettle.id, f"batch {batch.id} cart C-03 tote TOTE-0002 order 1002", site.picker.id, "picking")])
    assert all(r.quantity == 0 and r.picked > 0 for r in db.session.query(OrderReservation))
    assert all((line.reserved, line.picked) == (0, line.quantity) for line in db.session.query(OrderLine))
    assert db.session.query(func.sum(Quant.reserved)).scalar() == 0
    assert check_quants() == []
    for code, o in (("TOTE-0001", site.o1), ("TOTE-0002", site.o2)):
        tote, found = service.tote_lookup(code)
        assert (tote.status, tote.cell_id, found.id) == ("at_pack", site.pack.id, o.id)


def test_wrong_cell_goods_lot_expiry_quantity_and_tote_are_refused_and_nothing_is_recorded(db, site):
    prompt = skip_to(db, site, start(db, site), "KETTLE", "1001")
    assert prompt["screen"]["line"]["cell"]["address"] == "W1-S-01-02"
    before = snapshot(db)

    def refused(code=None, **key):
        answer = scan(db, site.picker, code) if code else button(db, site.picker, **key)
        assert answer["sound"] == "error", answer
        assert snapshot(db) == before
        return answer

    assert refused("W1-S-01-03")["message"] == "Wrong cell: go to W1-S-01-02."
    assert scan(db, site.picker, "W1-S-01-02")["state"] == "item"
    assert refused(IRON)["message"] == "Wrong goods: take KETTLE Чайник."
    assert refused("TOTE-0001")["state"] == "item"
    assert scan(db, site.picker, KETTLE)["state"] == "quantity"
    assert refused(key="quantity", quantity=4)["message"] == "Too many: 3 to pick here."
    assert refused("TOTE-0002")["message"] == "Wrong tote: put it into tote TOTE-0001 (slot 1)."
    assert scan(db, site.picker, KETTLE)["screen"]["count"] == 2
    assert scan(db, site.picker, KETTLE)["screen"]["count"] == 3
    before = snapshot(db)
    assert refused(KETTLE)["message"] == "Too many: 3 to pick here."
    assert scan(db, site.picker, "TOTE-0001")["sound"] == "ok"

    # The milk line: lot and expiry from the GS1 code against the reservation's.
    prompt = skip_to(db, site, scan(db, site.picker, "W1-S-01-01"), "MILK", "1001")
    scan(db, site.picker, prompt["screen"]["line"]["cell"]["address"])
    before = snapshot(db)
    assert refused(gs1(MILK, "L2", L1_EXPIRY))["message"] == "Wrong lot L2: take lot L1."
    assert refused(gs1(MILK, "L1", L2_EXPIRY))["message"] == \
        "Wrong expiry 2027-06-30: take the goods expiring 2027-01-31."
    assert scan(db, site.picker, gs1(MILK, "L1", L1_EXPIRY))["state"] == "quantity"
    assert check_quants() == []


def test_the_service_refuses_a_pick_that_skipped_a_check(db, site):
    batch = service.take_next_batch(site.picker, site.wh.id)
    service.assign_tote(batch, 1, "TOTE-0001")
    service.assign_tote(batch, 2, "TOTE-0002")
    db.session.commit()
    line = db.session.query(PickLine).filter_by(order_id=site.o1.id, sku_id=site.kettle.id).one()
    tote = db.session.query(Tote).filter_by(code="TOTE-0001").one()
    other = db.session.query(Tote).filter_by(code="TOTE-0002").one()
    before = snapshot(db)
    for args, slug in (((site.cells["01-03"].id, site.kettle.id, 1, tote.id), "wrong-cell"),
                       ((line.cell_id, site.iron.id, 1, tote.id), "wrong-sku"),
                       ((line.cell_id, site.kettle.id, 0, tote.id), "bad-quantity"),
                       ((line.cell_id, site.kettle.id, 4, tote.id), "too-many"),
                       ((line.cell_id, site.kettle.id, 1, other.id), "wrong-tote")):
        with pytest.raises(DomainError) as caught:
            pick_scans.pick(line, *args, site.picker)
        db.session.rollback()
        assert caught.value.slug == slug
        assert snapshot(db) == before


def test_a_short_is_reserved_again_from_another_cell_and_the_route_made_again_from_here(db, site):
    prompt = skip_to(db, site, start(db, site), "KETTLE", "1001")
    line = prompt["screen"]["line"]
    assert (line["cell"]["address"], line["sku"]["code"], line["quantity"]) == ("W1-S-01-02", "KETTLE", 3)
    scan(db, site.picker, "W1-S-01-02")
    prompt = button(db, site.picker, key="short", found=1)
    assert prompt["sound"] == "ok", prompt
    assert prompt["message"].startswith("Short reported: 2 units reserved from other cells, route made again.")
    db.session.expire_all()
    first = db.session.get(PickLine, line["id"])
    assert (first.status, first.picked) == ("short", 1)
    again = db.session.query(PickLine).filter(PickLine.id != first.id, PickLine.order_line_id == first.order_line_id,
                                              PickLine.status == "open").one()
    assert (again.cell.address, again.quantity) == ("W1-S-03-04", 2)
    # The route made again from aisle 1 where the picker stands, the new stop in aisle 3 on it.
    assert sorted(route_cells(db, site.batch)) == ["W1-S-01-02", "W1-S-01-04", "W1-S-02-01", "W1-S-03-04"]
    assert route_cells(db, site.batch) == expected_route(db, site.batch, site.cells["01-02"])
    seqs = [pl.seq for pl in db.session.query(PickLine).filter_by(batch_id=site.batch.id).order_by(PickLine.seq)]
    assert seqs == sorted(set(seqs))
    count = db.session.query(CountRequest).one()
    assert (count.cell_id, count.status, count.reason) == (site.cells["01-02"].id, "open", "pick-short")
    kettle_line = db.session.get(OrderLine, first.order_line_id)
    assert (kettle_line.picked, kettle_line.reserved) == (1, 2)
    shelf = db.session.query(Quant).filter_by(cell_id=site.cells["01-02"].id).one()
    assert (shelf.quantity, shelf.reserved) == (4, 1)  # the other order's kettle still held here
    assert check_quants() == []
    while prompt["state"] == "cell":
        prompt = pick_line(db, site, prompt)
        assert prompt["sound"] == "ok", prompt
    assert prompt["state"] == "drop"
    db.session.expire_all()
    assert (kettle_line.picked, kettle_line.reserved) == (3, 0)
    assert check_quants() == []


def test_a_short_with_no_stock_elsewhere_flags_the_order(db, site):
    batch = service.take_next_batch(site.picker, site.wh.id)
    service.assign_tote(batch, 1, "TOTE-0001")
    service.assign_tote(batch, 2, "TOTE-0002")
    iron = db.session.query(PickLine).filter_by(sku_id=site.iron.id).one()
    outcome = pick_scans.short(iron, 0, site.picker)
    db.session.commit()
    assert outcome == {"picked": 0, "reserved_again": 0, "flagged": True, "new_line_ids": []}
    event = db.session.query(OrderEvent).filter_by(order_id=site.o2.id, kind="order.short").one()
    assert event.detail["short"] == 2 and event.detail["cell_id"] == site.cells["02-01"].id
    assert db.session.get(Order, site.o2.id).status == "picking"
    line = db.session.get(OrderLine, iron.order_line_id)
    assert (line.reserved, line.picked) == (0, 0)
    quant = db.session.query(Quant).filter_by(cell_id=site.cells["02-01"].id).one()
    assert (quant.quantity, quant.reserved) == (2, 0)  # released; the count will say what is there
    assert db.session.query(CountRequest).filter_by(cell_id=site.cells["02-01"].id).count() == 1
    assert check_quants() == []


def test_skip_moves_the_line_to_the_end_of_the_route(db, site):
    prompt = start(db, site)
    first = prompt["screen"]["line"]["id"]
    prompt = button(db, site.picker, key="skip")
    assert prompt["sound"] == "ok" and prompt["screen"]["line"]["id"] != first
    db.session.expire_all()
    lines = service.open_lines(db.session.get(Batch, site.batch.id))
    assert lines[-1].id == first and len(lines) == 4


def test_a_tote_of_another_order_or_a_code_that_is_no_tote_is_refused(db, site):
    other = Tote(warehouse_id=site.wh.id, code="TOTE-0099", status="at_pack", order_id=site.o2.id)
    db.session.add(other)
    db.session.commit()
    button(db, site.picker, key="take")
    before = snapshot(db)
    answer = scan(db, site.picker, "TOTE-0099")
    assert answer["sound"] == "error" and answer["message"] == \
        "Tote TOTE-0099 carries order 1002: take an empty tote."
    answer = scan(db, site.picker, "BOX-7")
    assert answer["sound"] == "error" and answer["message"] == "BOX-7 is not a tote label."
    assert scan(db, site.picker, "W1-S-01-02")["sound"] == "error"
    assert snapshot(db) == before and answer["state"] == "totes"


def test_a_picker_resumes_their_own_batch_and_two_pickers_never_share_one(db, site):
    anna = f.user("anna", roles=("picker",))
    db.session.commit()
    batch = service.take_next_batch(site.picker, site.wh.id)
    assert service.take_next_batch(site.picker, site.wh.id).id == batch.id
    with pytest.raises(DomainError) as caught:
        service.take_next_batch(anna, site.wh.id)
    assert caught.value.slug == "no-ready-batch"
    db.session.commit()
    assert button(db, site.picker, key="take")["screen"]["batch"]["id"] == batch.id
    assert button(db, anna, key="take")["sound"] == "error"


def test_drop_off_needs_a_picked_batch_and_a_pack_area_cell(db, site):
    prompt = start(db, site)
    while prompt["state"] == "cell":
        prompt = pick_line(db, site, prompt)
    answer = scan(db, site.picker, "W1-S-01-01")
    assert answer["sound"] == "error" and answer["message"] == "Scan a cell of the pack area."
    assert db.session.get(Batch, site.batch.id).status == "picked"
    assert scan(db, site.picker, "W1-P-01")["state"] == "done"


def test_the_tote_api_answers_its_order(app, db, site):
    batch = service.take_next_batch(site.picker, site.wh.id)
    service.assign_tote(batch, 1, "TOTE-0001")
    db.session.commit()
    packer = f.user("pack", roles=("packer",))
    client = app.test_client()
    answer = client.get("/api/v1/totes/TOTE-0001", headers=f.token_for(packer))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"code": "TOTE-0001", "status": "picking", "cell_id": None,
                                 "order": {"id": site.o1.id, "number": "1001", "status": "picking"}}
    missing = client.get("/api/v1/totes/TOTE-4040", headers=f.token_for(packer))
    assert missing.status_code == 404 and missing.get_json()["type"].endswith("unknown-tote")
    assert db.session.query(BatchOrder).filter(BatchOrder.tote_id.is_not(None)).count() == 1


def test_the_pick_scan_benchmark_runs_on_a_small_warehouse():
    from click.testing import CliRunner

    from server.commands.bench import bench_group

    result = CliRunner().invoke(bench_group, ["pick-scan", "--cells", "400", "--quants", "2000", "--skus", "200",
                                              "--samples", "5", "--backend", "sqlite"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| SQLite")]
    assert [row.split("|")[2].strip() for row in rows] == ["cell scan", "item (EAN-13) scan",
                                                           "tote: the pick recorded scan"]
    assert all(row.split("|")[3].strip() == "5" for row in rows)
