"""Headless Chromium against the real server: the pack station's packing panel. A packer scans a
picked order's tote and its units like a wedge scanner (one wrong item: error sound and message),
the agent posts stable weights with the station's token (out of tolerance: the mismatch panel shows
both weights and the tolerance; re-check; in tolerance: the parcel packed with its tracking
number), and the label's job result (paper out) shows as "waits for paper". English at 1280x800,
Russian at 1024x600."""

import json
import os
import re
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.extensions import db as _db
from server.models import Order, OrderLine, Tote
from server.models.shipping import Parcel
from tests import factories as f
from tests.e2e.conftest import PAGE_WAIT_MS
from tests.picking_helpers import IRON, KETTLE, MILK, picking_warehouse, ready_to_pack

pytestmark = pytest.mark.browser


@pytest.fixture
def pack_site(app, db):
    s = picking_warehouse()
    ready_to_pack(s)
    packer = f.user("anna", roles=("packer",), badge="B-P1")
    packer.full_name = "Anna Petrova"
    f.user("boss", roles=("supervisor",), badge="B-S1", pin="4321")
    o = Order(warehouse_id=s.wh.id, number="2001", status="picked", customer_name="Пётр",
              delivery_address="Невский пр., 28", carrier="local")
    _db.session.add(o)
    _db.session.flush()
    for n, (sku, qty) in enumerate(((s.kettle, 2), (s.iron, 1)), start=1):
        _db.session.add(OrderLine(order_id=o.id, line_no=n, sku_id=sku.id, quantity=qty, reserved=0, picked=qty))
    _db.session.add(Tote(warehouse_id=s.wh.id, code="TOTE-1", status="at_pack", order_id=o.id, cell_id=s.pack.id))
    _db.session.commit()
    s.packer, s.order_id = packer, o.id
    s.station, s.auth = f.station(s.wh, code="PACK-1", kind="pack")
    return s


def agent(live_server: str, auth: dict, kind: str, payload: dict, device: str) -> dict:
    """What the station agent does: POST an event to the server with the station's token."""
    event = {"event_id": str(uuid.uuid4()), "kind": kind, "device": device,
             "occurred_at": datetime.now(UTC).isoformat(), "payload": payload}
    request = urllib.request.Request(
        f"{live_server}/api/v1/stations/me/events", data=json.dumps({"events": [event]}).encode(), method="POST",
        headers={**auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        (outcome,) = json.load(response)["outcomes"]
    assert outcome["status"] == "stored", outcome
    return outcome


def agent_jobs(live_server: str, auth: dict) -> list[dict]:
    request = urllib.request.Request(f"{live_server}/api/v1/stations/me/jobs?wait=0", headers=auth)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["jobs"]


def weigh(live_server, auth, grams: int) -> dict:
    return agent(live_server, auth, "weight", {"value": grams / 1000, "unit": "kg", "stable": True}, "scale")


def scan(page, code: str) -> None:
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def open_station(chromium, live_server, viewport):
    context = chromium.new_context(base_url=live_server, locale="en-US",
                                   viewport={"width": viewport[0], "height": viewport[1]})
    context.set_default_timeout(PAGE_WAIT_MS)
    page = context.new_page()
    page.goto("/sign-in")
    scan(page, "B-P1")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/stations/PACK-1")
    expect(page.locator("#station")).to_have_attribute("data-live", "yes")
    page.locator("#sign-in-station").click()
    expect(page.locator("#worker")).to_have_text("Anna Petrova")
    return context, page


TEXTS = {
    "en": {"order": "Order 2001", "box": "Box: Box M", "wrong": "not on this order"},
    "ru": {"order": "Заказ 2001", "box": "Box M", "wrong": ""},
}


@pytest.mark.parametrize(("lang", "viewport"), [("en", (1280, 800)), ("ru", (1024, 600))])
def test_pack_station_panel_verifies_weighs_and_packs(chromium, live_server, pack_site, lang, viewport):
    s = pack_site
    s.packer.locale = lang
    _db.session.commit()
    words = TEXTS[lang]
    context, page = open_station(chromium, live_server, viewport)
    try:
        expect(page.locator("html")).to_have_attribute("lang", lang)
        panel = page.locator("#packing-panel")
        expect(panel).to_have_attribute("data-state", "idle")
        expect(page.locator("#station-input")).to_be_focused()

        # The tote opens the order: its lines with verified/expected counts, the suggested box.
        scan(page, "TOTE-1")
        expect(panel).to_have_attribute("data-state", "verify")
        expect(panel.locator(".pack-order")).to_have_text(words["order"])
        expect(panel.locator(".pack-box")).to_contain_text(words["box"])
        rows = panel.locator(".pack-lines tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0).locator(".verified")).to_have_text("0 / 2")
        expect(rows.nth(1).locator(".verified")).to_have_text("0 / 1")
        expect(panel.locator(".pack-left")).to_contain_text("3")
        expect(panel.locator('.pack-keys button[data-key="new_parcel"]')).to_be_visible()
        expect(panel.locator('.pack-keys button[data-key="missing"]')).to_be_visible()

        # A wrong item: the error sound and message; nothing counted.
        scan(page, MILK)
        prompt = page.locator("#prompt")
        expect(prompt).to_have_class(re.compile(r"\bsound-error\b"))
        expect(page.locator("body")).to_have_attribute("data-played", "error")
        if words["wrong"]:
            expect(prompt.locator(".prompt-message")).to_contain_text(words["wrong"])
        expect(rows.nth(0).locator(".verified")).to_have_text("0 / 2")
        assert page.evaluate("document.activeElement.id") == "station-input"

        # The missing key shows its line and quantity choice; pressed again it hides.
        panel.locator('.pack-keys button[data-key="missing"]').click()
        expect(panel.locator(".pack-missing select option")).to_have_count(2)
        expect(panel.locator('.pack-missing [name="quantity"]')).to_have_value("2")
        panel.locator('.pack-keys button[data-key="missing"]').click()
        expect(panel.locator(".pack-missing")).to_be_hidden()
        expect(page.locator("#station-input")).to_be_focused()

        # The right units: the counts go up, then the parcel waits for the scale.
        scan(page, KETTLE)
        expect(rows.nth(0).locator(".verified")).to_have_text("1 / 2")
        expect(page.locator("body")).to_have_attribute("data-played", "ok")
        scan(page, KETTLE)
        expect(rows.nth(0).locator(".left")).to_have_text("0")
        scan(page, IRON)
        expect(panel).to_have_attribute("data-state", "weighing")

        # A stable weight out of tolerance, as the agent posts it: both weights and the tolerance.
        weigh(live_server, s.auth, 9000)
        expect(panel).to_have_attribute("data-state", "mismatch")
        expected = _db.session.execute(select(Parcel.expected_weight_g).where(Parcel.order_id == s.order_id)).scalar()
        _db.session.rollback()  # no read transaction left open: the server writes next
        assert expected == 2 * 1000 + 1200 + 300 + 20
        weights = panel.locator(".pack-weights")
        expect(weights.locator(".measured dd")).to_contain_text("9000")
        expect(weights.locator(".expected dd")).to_contain_text(str(expected))
        expect(weights.locator(".pack-tolerance")).to_contain_text("176")  # 5 % of 3520 g
        expect(page.locator("#pack-weight")).to_have_text("9 kg")
        expect(page.locator("body")).to_have_attribute("data-played", "error")
        expect(panel.locator('.pack-keys button[data-key="override"]')).to_have_count(0)  # no supervisor badge yet
        expect(panel.locator(".pack-note")).to_be_visible()
        shots = os.environ.get("CELLWMS_SCREENSHOTS")
        if shots:
            page.screenshot(path=os.path.join(shots, f"station-pack-mismatch-{lang}.png"))

        # Re-check, the contents done again, then a weight within tolerance: packed, labelled.
        panel.locator('.pack-keys button[data-key="recheck"]').click()
        expect(panel).to_have_attribute("data-state", "verify")
        expect(page.locator("#station-input")).to_be_focused()
        panel.locator('.pack-keys button[data-key="new_parcel"]').click()
        expect(panel).to_have_attribute("data-state", "weighing")
        weigh(live_server, s.auth, expected + 40)
        expect(panel).to_have_attribute("data-state", "done")
        _db.session.expire_all()
        parcel = _db.session.execute(select(Parcel).where(Parcel.order_id == s.order_id)).scalar_one()
        tracking = parcel.tracking_number
        assert parcel.status == "packed" and tracking
        _db.session.rollback()
        expect(panel.locator(".pack-packed .tracking")).to_have_text(tracking)
        expect(panel.locator(".pack-keys button")).to_have_count(0)

        # The agent takes the label and slip jobs; the label printer is out of paper.
        docs = {j["payload"].get("template"): j for j in agent_jobs(live_server, s.auth) if j["kind"] == "print"}
        agent(live_server, s.auth, "job_result", {"job_id": docs["shipping-label"]["id"], "result": "paper_out",
                                                  "detail": "paper out"}, "label_printer")
        agent(live_server, s.auth, "job_result", {"job_id": docs["packing-slip"]["id"], "result": "printed",
                                                  "detail": ""}, "receipt_printer")
        label = panel.locator('.pack-document[data-template="shipping-label"]')
        expect(label).to_have_class(re.compile(r"\bresult-paper_out\b"))
        expect(panel.locator('.pack-document[data-template="packing-slip"]')).to_have_class(
            re.compile(r"\bresult-printed\b"))
        if lang == "en":
            expect(label).to_contain_text("waits for paper")

        # "Print again" queues the label once more with the same data, for the same printer.
        label.locator("button.reprint").click()
        expect(label).to_have_class(re.compile(r"\bresult-queued\b"))
        expect(label.locator("button.reprint")).to_have_count(0)
        [again] = [j for j in agent_jobs(live_server, s.auth) if j["kind"] == "print"]
        assert (again["payload"], again["device"]) == (docs["shipping-label"]["payload"], "label_printer")
        agent(live_server, s.auth, "job_result", {"job_id": again["id"], "result": "printed", "detail": ""},
              "label_printer")
        expect(label).to_have_class(re.compile(r"\bresult-printed\b"))

        # A reload draws the same panel from the flow's view and the station's jobs.
        page.reload()
        expect(panel).to_have_attribute("data-state", "done")
        expect(page.locator("#pack-weight")).to_have_text(f"{(expected + 40) / 1000} kg")
        expect(panel.locator(".pack-packed .tracking")).to_have_text(tracking)
        expect(label).to_have_class(re.compile(r"\bresult-printed\b"))
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        if shots:
            page.screenshot(path=os.path.join(shots, f"station-pack-{lang}.png"), full_page=True)
    finally:
        context.close()


def test_pack_station_panel_supervisor_override_with_pin(chromium, live_server, pack_site):
    s = pack_site
    context, page = open_station(chromium, live_server, (1280, 800))
    try:
        panel = page.locator("#packing-panel")
        for code in ("TOTE-1", KETTLE, KETTLE, IRON):
            scan(page, code)
        expect(panel).to_have_attribute("data-state", "weighing")
        weigh(live_server, s.auth, 4200)
        expect(panel).to_have_attribute("data-state", "mismatch")
        override = panel.locator('.pack-keys button[data-key="override"]')
        expect(override).to_have_count(0)

        # The supervisor's badge, scanned at the station, offers the override: PIN and reason.
        scan(page, "B-S1")
        expect(override).to_be_visible()
        expect(panel.locator(".pack-note")).to_be_hidden()
        override.click()
        pin = panel.locator('.pack-override [name="pin"]')
        expect(pin).to_be_focused()
        assert (pin.get_attribute("type"), pin.get_attribute("inputmode")) == ("password", "numeric")
        pin.fill("1111")
        panel.locator('.pack-override [name="reason"]').fill("Heavier box")
        panel.locator(".pack-override button[type=submit]").click()
        expect(page.locator("#prompt")).to_have_class(re.compile(r"\bsound-error\b"))  # wrong PIN
        expect(panel).to_have_attribute("data-state", "mismatch")
        expect(page.locator("#station-input")).to_be_focused()
        override.click()
        pin.fill("4321")
        panel.locator(".pack-override button[type=submit]").click()
        expect(panel).to_have_attribute("data-state", "done")
        expect(panel.locator(".pack-packed .tracking")).to_have_count(1)
        assert "4321" not in page.content()
    finally:
        context.close()


def test_pack_station_panel_reports_a_missing_unit(chromium, live_server, pack_site):
    context, page = open_station(chromium, live_server, (1024, 600))
    try:
        panel = page.locator("#packing-panel")
        scan(page, "TOTE-1")
        scan(page, KETTLE)
        expect(panel.locator(".pack-lines tbody tr").nth(0).locator(".verified")).to_have_text("1 / 2")
        panel.locator('.pack-keys button[data-key="missing"]').click()
        form = panel.locator(".pack-missing")
        expect(form.locator("select")).to_be_focused()
        form.locator("select").select_option(index=0)
        expect(form.locator('[name="quantity"]')).to_have_value("1")  # the kettle line's one unit left
        form.locator("button[type=submit]").click()
        expect(panel).to_have_attribute("data-state", "held")
        expect(panel.locator(".pack-note")).to_be_visible()
        expect(panel.locator(".pack-keys button")).to_have_count(0)
        expect(page.locator("#station-input")).to_be_focused()
    finally:
        context.close()


def test_pack_station_lines_show_the_sku_pictures(chromium, live_server, pack_site):
    """A SKU with a picture shows it as a thumbnail on its line (alt: the SKU's name), loaded by the
    signed-in packer's screen; a SKU without one shows its initial. On a 360-wide screen."""
    import io

    from PIL import Image

    from server.services import sku_pictures

    s = pack_site
    out = io.BytesIO()
    Image.new("RGB", (120, 120), (40, 110, 180)).save(out, "JPEG")
    sku_pictures.set_picture(None, s.kettle.id, out.getvalue(), "kettle.jpg")
    _db.session.commit()
    context, page = open_station(chromium, live_server, (360, 740))
    try:
        scan(page, "TOTE-1")
        panel = page.locator("#packing-panel")
        expect(panel).to_have_attribute("data-state", "verify")
        thumb = panel.locator(f'tr.pack-line:has(.sku-code:text-is("{s.kettle.code}")) img.pack-picture')
        expect(thumb).to_have_attribute("alt", s.kettle.name)
        expect(thumb).to_have_attribute("src", sku_pictures.picture_url(s.kettle))
        page.wait_for_function("img => img.complete && img.naturalWidth === 120", arg=thumb.element_handle())
        # The panel may be drawn again from the stream meanwhile: measure whichever img is there now
        # (bounding_box() answers None for an element being replaced).
        box = thumb.evaluate("img => { const r = img.getBoundingClientRect(); "
                             "return {x: r.x, width: r.width, height: r.height}; }")
        assert 0 < box["width"] <= 60 and 0 < box["height"] <= 60 and box["x"] + box["width"] <= 360
        other = panel.locator(f'tr.pack-line:has(.sku-code:text-is("{s.iron.code}")) .pack-picture')
        expect(other).to_have_class(re.compile(r"\bnone\b"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()
