"""The handheld picking page (/picking) in headless Chromium at 360x640: a picker signs in by badge,
opens Picking from the home tile, takes the batch, scans a tote per slot and picks every line by
typing codes into the focused scan field like a wedge scanner: one wrong cell (the error sound,
nothing recorded) and one short (the rest reserved from another cell, the route made again), the
quantity keypad, then the drop-off at the pack area. The one-row header, the big cell and the scan
field stay above the fold; the route map shows numbered stops. English and Russian. Runs on SQLite
and PostgreSQL (fixtures)."""

import os

import pytest
from sqlalchemy import func, select

from server.models import Batch, CountRequest, Movement, Order
from server.services.stock import check_quants
from tests.e2e.picking_steps import (
    drop_off,
    pick_every_line,
    sign_in_and_open_picking,
    take_batch_and_scan_totes,
)
from tests.picking_helpers import picking_site

pytestmark = pytest.mark.browser


@pytest.fixture
def site(db):
    s = picking_site()
    out = {"batch_id": s.batch.id, "o1": s.o1.id, "o2": s.o2.id}
    db.session.rollback()  # no open transaction of ours while the server writes
    return out


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_batch_picked_with_one_wrong_scan_and_one_short_at_360x640(chromium, live_server, db, site, language):
    context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 360, "height": 640})
    page = context.new_page()
    sign_in_and_open_picking(page, language)
    take_batch_and_scan_totes(page, ["TOTE-0001", "TOTE-0002"])
    if os.environ.get("CELLWMS_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["CELLWMS_SCREENSHOTS"], f"{language}-picking.png"), full_page=True)
    pick_every_line(page, db)
    drop_off(page)
    context.close()

    db.session.rollback()
    batch = db.session.get(Batch, site["batch_id"])
    assert batch.status == "dropped" and batch.walked_m > 0
    assert [db.session.get(Order, o).status for o in (site["o1"], site["o2"])] == ["picked", "picked"]
    assert db.session.execute(select(func.sum(Movement.quantity)).where(Movement.kind == "pick")).scalar() == 8
    assert db.session.execute(select(func.count(CountRequest.id))).scalar() == 1
    assert check_quants() == []
    db.session.rollback()
