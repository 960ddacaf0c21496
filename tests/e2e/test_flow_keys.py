"""The pages show only the keys the flow's state takes (headless Chromium, 360x640): a delivery
being received shows its editing keys (Undo once there is something to undo); once closed, and
when a closed delivery is opened from the list, none of them."""

import re

import pytest
from playwright.sync_api import expect

from server.services.dates import today_in
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse

pytestmark = pytest.mark.browser

KETTLE = "4601234567893"
EDITING = (".key-quantity", ".key-damaged", ".key-undo", ".key-unexpected", ".key-close")


@pytest.fixture
def deliveries(db):
    from server.services.receiving import close_delivery, create_delivery, open_delivery

    wh, _receiving, _cells, _quarantine = putaway_warehouse(max_units=50)
    kettle = f.sku("KETTLE", "Чайник", barcode=KETTLE)
    ivan = f.user("ivan", ("receiver",), badge="B-1001")
    today = create_delivery(wh.id, "ASN-1", "Supplier", today_in(wh), lines=[{"sku_id": kettle.id, "quantity": 2}])
    done = create_delivery(wh.id, "ASN-0", "Supplier", today_in(wh), lines=[{"sku_id": kettle.id, "quantity": 1}])
    close_delivery(open_delivery(done, ivan), ivan)
    db.session.commit()
    out = {"today": today.id, "done": done.id}
    db.session.rollback()
    return out


def wedge(page, code: str) -> None:
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_only_the_keys_of_the_state_are_shown(page, deliveries):
    page.set_viewport_size({"width": 360, "height": 640})
    page.goto("/sign-in")
    wedge(page, "B-1001")
    page.wait_for_url(re.compile(r"/$"))

    page.goto(f"/receiving/{deliveries['today']}")
    panel = page.locator("#receiving-panel")
    page.locator("#start-receiving").click()  # opening the page opens nothing: the key does
    expect(page.locator("#handheld")).to_have_attribute("data-last-status", "stored", timeout=15_000)
    for key in (".key-quantity", ".key-damaged", ".key-close", ".key-leave"):
        expect(panel.locator(key)).to_be_visible()
    expect(panel.locator(".key-undo")).to_be_hidden()  # nothing counted yet
    expect(panel.locator(".key-unexpected")).to_be_hidden()
    wedge(page, KETTLE)
    expect(page.locator("#prompt .prompt-message")).to_have_text("Чайник: 1 of 2", timeout=15_000)
    expect(panel.locator(".key-undo")).to_be_visible()
    expect(panel.locator(".rline .line-keys button").first).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    panel.locator(".key-close").click()
    expect(page.locator("#prompt .prompt-message")).to_contain_text("closed", timeout=15_000)
    for key in EDITING:
        expect(panel.locator(key)).to_be_hidden()
    expect(panel.locator(".rline .line-keys button:visible")).to_have_count(0)

    page.goto(f"/receiving/{deliveries['done']}")
    expect(page.locator("#handheld")).to_have_attribute("data-ready", "yes")
    for key in EDITING:
        expect(page.locator("#receiving-panel").locator(key)).to_be_hidden()
    expect(page.locator("#receiving-panel .rline")).to_have_count(1)
    expect(page.locator("#receiving-panel .rline .line-keys button:visible")).to_have_count(0)
