"""The handheld receiving page (/receiving/<id>) driven in headless Chromium on a 360x640 screen:
a receiver signs in by badge, picks today's delivery from the list, counts by typing EANs into the
focused scan field like a wedge scanner, uses the quantity keypad, Damaged (with and without a dock
station for the camera), Undo, and links an unknown barcode to a SKU. The database's line totals
match what the page showed. Runs on SQLite and PostgreSQL (fixtures)."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.services.dates import today_in
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse
from tests.station_harness import read

pytestmark = pytest.mark.browser

WAIT = 15_000  # ms a page answer may take
KETTLE, IRON, UNKNOWN = "4601234567893", "4601234567800", "2999999999991"


@pytest.fixture
def dock(db):
    from server.services.receiving import create_delivery

    wh, _receiving_cell, _cells, _quarantine = putaway_warehouse(max_units=50)
    kettle = f.sku("KETTLE", "Чайник 1,7 л", barcode=KETTLE)
    iron = f.sku("IRON", "Утюг", barcode=IRON)
    f.sku("MUG", "Кружка керамическая")  # the unknown barcode is linked to it
    f.user("ivan", ("receiver",), badge="B-1001")
    delivery = create_delivery(wh.id, "ASN-100", "ООО «Посуда»", today_in(wh), lines=[
        {"sku_id": kettle.id, "quantity": 5}, {"sku_id": iron.id, "quantity": 2}])
    later = create_delivery(wh.id, "ASN-200", "Later Ltd", date(2999, 1, 1), lines=[{"sku_id": iron.id, "quantity": 1}])
    db.session.commit()
    station, _headers = f.station(wh, "DOCK-1", "dock")
    out = {"delivery_id": delivery.id, "later_id": later.id, "station_id": station.id}
    db.session.rollback()
    return out


def wedge(page, code: str) -> None:
    """A keyboard-wedge scanner: the code typed into the focused field, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def line(panel, sku: str):
    return panel.locator(".rline").filter(has_text=f" {sku}").first


def assert_fits(page) -> None:
    """No horizontal overflow, and every visible touch target at least 44 px high."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    sizes = page.locator(
        "#handheld button:visible, #handheld input:visible, #handheld select:visible, #handheld a.button:visible"
    ).evaluate_all("els => els.map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect().height])")
    small = [(html, height) for html, height in sizes if height < 44]
    assert sizes and not small, small


def test_receive_on_the_handheld_page(page, live_server, db, dock):
    from server.models import Delivery, Sku, StationJob, User
    from server.models.inbound import DeliveryLine
    from server.services import flow_states

    page.set_viewport_size({"width": 360, "height": 640})
    page.goto("/sign-in")
    wedge(page, "B-1001")
    page.wait_for_url(re.compile(r"/$"))

    # Home -> Receiving: today's delivery listed (the later one not among today's), "New delivery".
    page.locator('a[data-flow="receiving"]').click()
    page.wait_for_url(re.compile(r"/receiving$"))
    expect(page.locator("#new-delivery-link")).to_be_visible()
    assert page.locator("#new-delivery-link").get_attribute("href") == "/receiving/new"
    today = page.locator("#deliveries-today")
    expect(today.locator('[data-delivery="ASN-100"]')).to_be_visible()
    expect(today.locator('[data-delivery="ASN-200"]')).to_have_count(0)
    expect(page.locator('#deliveries-later [data-delivery="ASN-200"]')).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Picked from the list: the page shows the delivery and changes nothing until Start receiving.
    today.locator('[data-delivery="ASN-100"]').click()
    page.wait_for_url(re.compile(rf"/receiving/{dock['delivery_id']}$"))
    root = page.locator("#handheld")
    panel = page.locator("#receiving-panel")
    message = page.locator("#prompt .prompt-message")
    scan_input = page.locator("#scan-input")
    start = page.locator("#start-receiving")
    expect(root).to_have_attribute("data-ready", "yes")
    expect(panel.locator(".delivery-number")).to_have_text("ASN-100")
    expect(panel.locator(".rline")).to_have_count(2)
    expect(message).to_have_text("Press Start receiving, or scan the goods.")
    expect(start).to_be_visible()
    expect(start).to_have_text("Start receiving")
    box = start.bounding_box()
    assert box["y"] + box["height"] <= 640  # above the fold, with the scan field
    expect(scan_input).to_be_focused()
    assert_fits(page)
    ivan_id = read(db, lambda: db.session.execute(select(User.id).where(User.username == "ivan")).scalar_one())
    flow = lambda: read(db, lambda: flow_states.find(flow_states.handheld_key(ivan_id), "receiving"))  # noqa: E731
    status = lambda: read(db, lambda: db.session.get(Delivery, dock["delivery_id"]).status)  # noqa: E731
    assert root.get_attribute("data-last-status") is None  # nothing was sent
    assert flow() is None and status() == "expected"

    # Start receiving: opened in the worker's handheld session, the key gone, counting keys shown.
    start.click()
    expect(panel.locator(".delivery-status")).to_have_text("receiving", timeout=WAIT)
    expect(message).to_have_text("Delivery ASN-100 open. Scan the goods.")
    expect(start).to_be_hidden()
    expect(panel.locator(".key-quantity")).to_be_visible()
    expect(scan_input).to_be_focused()
    assert flow().data["delivery_id"] == dock["delivery_id"] and status() == "receiving"
    assert_fits(page)

    # One kettle scanned: the prompt says the count, the line's received number follows.
    wedge(page, KETTLE)
    expect(message).to_have_text("Чайник 1,7 л: 1 of 5", timeout=WAIT)
    expect(line(panel, "KETTLE")).to_have_attribute("data-received", "1")
    expect(line(panel, "KETTLE").locator(".received b")).to_have_text("1")
    expect(page.locator("body")).to_have_attribute("data-played", "ok")
    expect(scan_input).to_be_focused()

    # The quantity keypad: 3, OK; the next scan counts 3.
    panel.locator(".key-quantity").click()
    keypad = panel.locator(".keypad")
    expect(keypad).to_be_visible()
    expect(scan_input).to_be_focused()
    assert_fits(page)
    keypad.locator('button[data-digit="3"]').click()
    expect(keypad.locator("output")).to_have_text("3")
    keypad.locator('button[data-pad="ok"]').click()
    expect(keypad).to_be_hidden()
    expect(message).to_have_text("The next scan counts 3 units.", timeout=WAIT)
    expect(panel.locator(".key-quantity")).to_have_class(re.compile(r"\bon\b"))
    expect(panel.locator(".key-quantity .n")).to_have_text(" ×3")
    expect(scan_input).to_be_focused()
    wedge(page, KETTLE)
    expect(message).to_have_text("Чайник 1,7 л: 4 of 5", timeout=WAIT)
    expect(line(panel, "KETTLE")).to_have_attribute("data-received", "4")
    expect(panel.locator(".key-quantity")).not_to_have_class(re.compile(r"\bon\b"))
    expect(panel.locator(".totals")).to_have_text("4 / 7")

    # Devices: the page says none is chosen. Damaged, then a scan: counted as damaged, no photo job.
    expect(page.locator("#device-station")).to_have_value("")
    expect(page.locator("#device-station option:checked")).to_have_text("No station: no printer, no camera")
    expect(page.locator("#device-note")).to_have_text("")
    panel.locator(".key-damaged").click()
    expect(message).to_have_text("The next unit is counted as damaged.", timeout=WAIT)
    expect(scan_input).to_be_focused()
    wedge(page, IRON)
    expect(message).to_have_text("Утюг: 1 damaged (1 in all).", timeout=WAIT)
    expect(page.locator("#prompt .prompt-details li")).to_have_count(0)
    expect(line(panel, "IRON")).to_have_attribute("data-damaged", "1")
    expect(line(panel, "IRON").locator(".damaged b")).to_have_text("1")
    assert read(db, lambda: db.session.execute(select(StationJob.id)).all()) == []

    # The chooser offers the dock station: its camera takes the next damage photo.
    page.locator("#device-station").select_option(label="DOCK-1")
    page.locator("#devices-form button[type=submit]").click()
    expect(page.locator("#device-note")).to_have_text("Devices of DOCK-1.", timeout=WAIT)
    expect(scan_input).to_be_focused()

    # Damaged, then a scan: counted as damaged, a photo job queued at the chosen station.
    panel.locator(".key-damaged").click()
    expect(message).to_have_text("The next unit is counted as damaged.", timeout=WAIT)
    expect(panel.locator(".key-damaged")).to_have_class(re.compile(r"\bon\b"))
    expect(panel.locator(".key-damaged")).to_have_attribute("aria-pressed", "true")
    expect(scan_input).to_be_focused()
    wedge(page, KETTLE)
    expect(message).to_have_text("Чайник 1,7 л: 1 damaged (1 in all).", timeout=WAIT)
    expect(page.locator("#prompt .prompt-details")).to_have_text("Taking a photo of the damage.")
    expect(line(panel, "KETTLE")).to_have_attribute("data-damaged", "1")
    expect(panel.locator(".key-damaged")).not_to_have_class(re.compile(r"\bon\b"))
    jobs = read(db, lambda: [(j.kind, j.station_id) for j in db.session.execute(select(StationJob)).scalars()])
    assert jobs == [("photo", dock["station_id"])]

    # Undo takes the damaged unit back.
    panel.locator(".key-undo").click()
    expect(message).to_have_text(re.compile(r"^Undone: 1 of Чайник 1,7 л\."), timeout=WAIT)
    expect(line(panel, "KETTLE")).to_have_attribute("data-damaged", "0")
    expect(line(panel, "KETTLE")).to_have_attribute("data-received", "4")
    expect(scan_input).to_be_focused()

    # An unknown barcode: an error sound, held as a question, linked to a SKU found by name.
    wedge(page, UNKNOWN)
    expect(page.locator("#prompt")).to_have_class(re.compile(r"\bsound-error\b"), timeout=WAIT)
    expect(page.locator("body")).to_have_attribute("data-played", "error")
    question = panel.locator(".rquestion").filter(has_text=UNKNOWN)
    expect(question).to_be_visible()
    expect(question).to_contain_text("1 unit")
    expect(question).to_contain_text("Link to SKU")
    expect(scan_input).to_be_focused()
    assert_fits(page)
    question.locator('input[name="q"]').fill("Кружка")
    question.get_by_role("button", name="Find").click()
    pick = question.locator(".pick-sku").filter(has_text="MUG")
    expect(pick).to_be_visible(timeout=WAIT)
    pick.click()
    expect(line(panel, "MUG")).to_have_attribute("data-received", "1", timeout=WAIT)
    expect(panel.locator(".rquestion")).to_have_count(0)
    expect(page.locator("body")).to_have_attribute("data-played", "ok")
    expect(scan_input).to_be_focused()
    expect(panel.locator(".totals")).to_have_text("6 / 7")
    assert_fits(page)

    # What the page shows is what the database holds.
    shown = {}
    for li in panel.locator(".rline").all():
        code = li.locator(".code").inner_text().split()[1]
        shown[code] = (int(li.get_attribute("data-received")), int(li.get_attribute("data-damaged")),
                       int(li.get_attribute("data-expected")))
    stored = read(db, lambda: {code: (received, damaged, expected) for code, received, damaged, expected in
                               db.session.execute(
                                   select(Sku.code, DeliveryLine.received_qty, DeliveryLine.damaged_qty,
                                          DeliveryLine.expected_qty)
                                   .join(Sku, Sku.id == DeliveryLine.sku_id)
                                   .where(DeliveryLine.delivery_id == dock["delivery_id"]))})
    assert shown == stored == {"KETTLE": (4, 0, 5), "IRON": (0, 1, 2), "MUG": (1, 0, 0)}


def test_a_first_scan_starts_receiving_and_counts_into_this_delivery(page, live_server, db, dock):
    """A receiver on a delivery's page who scans the goods without pressing the key means this
    delivery: the page starts receiving it first, then the scan counts."""
    from server.models import Delivery

    page.set_viewport_size({"width": 360, "height": 640})
    page.goto("/sign-in")
    wedge(page, "B-1001")
    page.wait_for_url(re.compile(r"/$"))
    page.goto(f"/receiving/{dock['later_id']}")
    expect(page.locator("#handheld")).to_have_attribute("data-ready", "yes")
    expect(page.locator("#start-receiving")).to_be_visible()
    assert read(db, lambda: db.session.get(Delivery, dock["later_id"]).status) == "expected"
    wedge(page, IRON)
    expect(page.locator("#prompt .prompt-message")).to_have_text("Утюг: 1 of 1", timeout=WAIT)
    expect(page.locator("#start-receiving")).to_be_hidden()
    expect(line(page.locator("#receiving-panel"), "IRON")).to_have_attribute("data-received", "1")
    assert read(db, lambda: db.session.get(Delivery, dock["later_id"]).status) == "receiving"
