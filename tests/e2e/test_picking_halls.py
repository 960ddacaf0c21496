"""One batch of the two-hall warehouse (examples/layout-halls.toml) picked on the 360x640 handheld
along its route: the map draws the building plan (halls, the walkable graph with its one-way
arrows, the start and drop points) with the route's numbered stops, the cells come in route order
from the cart park to the pack area, and the totes are dropped there. Both databases."""

import os
import re

import pytest
from playwright.sync_api import expect

from server.extensions import db as _db
from server.models import Batch, PickLine
from tests.e2e.picking_steps import answered, sign_in_and_open_picking, take_batch_and_scan_totes, wedge
from tests.halls_helpers import barcode_of, halls_site

pytestmark = pytest.mark.browser


@pytest.fixture
def site(db):
    s = halls_site()
    lines = _db.session.query(PickLine).filter_by(batch_id=s.batch.id).order_by(PickLine.seq).all()
    out = {"batch_id": s.batch.id, "route": [line.cell.address for line in lines], "orders": len(s.orders)}
    db.session.rollback()  # no open transaction of ours while the server writes
    return out


def test_a_batch_of_two_halls_is_picked_along_its_route_with_the_plan_drawn(chromium, live_server, db, site):
    context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 360, "height": 640})
    page = context.new_page()
    sign_in_and_open_picking(page, "en", badge="B-9")
    take_batch_and_scan_totes(page, [f"TOTE-{n:04d}" for n in range(1, site["orders"] + 1)])

    drawing = page.locator("#route-map svg.wh-plan")
    expect(drawing).to_be_visible()
    if os.environ.get("CELLWMS_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["CELLWMS_SCREENSHOTS"], "halls-picking.png"), full_page=True)
    assert drawing.locator("line.edge").count() > 0 and drawing.locator("polygon.oneway-arrow").count() > 0
    assert drawing.locator("polyline.path").count() == 1
    box = drawing.bounding_box()
    assert box["width"] <= 360 and box["x"] >= 0

    visited = []
    for _ in range(len(site["route"]) + 2):
        if page.locator("#handheld").get_attribute("data-state") != "cell":
            break
        expect(drawing.locator("g.stop.current")).to_have_count(1)
        cell = page.locator("#handheld").get_attribute("data-cell")
        more = page.locator("#target-more").inner_text() + " · " + page.locator("#target-tote").inner_text()
        quantity = int(re.match(r"\d+", page.locator("#target-qty").inner_text()).group())
        wedge(page, cell)
        answered(page, "ok")
        visited.append(cell)
        wedge(page, barcode_of(more.split(" · ")[0]))
        answered(page, "ok")
        if quantity > 1:
            page.locator("button[data-open-pad=quantity]").click()
            page.locator(f"#keypad button[data-digit='{quantity}']").click()
            page.locator("#handheld").evaluate("e => e.dataset.lastStatus = ''")
            page.locator("#keypad button[data-pad=ok]").click()
            answered(page, "ok")
        wedge(page, re.search(r"TOTE-\d+", more).group())
        answered(page, "ok")
        drawing = page.locator("#route-map svg.wh-plan")
    expect(page.locator("#handheld")).to_have_attribute("data-state", "drop")
    wedge(page, "PCK-01")
    answered(page, "ok")
    expect(page.locator("#handheld")).to_have_attribute("data-state", "done")
    context.close()

    assert visited == site["route"]
    db.session.rollback()
    batch = db.session.get(Batch, site["batch_id"])
    assert batch.status == "dropped" and batch.walked_m > 0
    db.session.rollback()
