"""The handheld and station shell in headless Chromium at 360x640, English and Russian: a one-row
header of at most 56 px, the instruction and the focused scan field above the fold, a long cell
code on one line, placeholders that fit; the styled 403 and 404 pages; plural forms in the page
script; and a scan whose first answer is lost (503) sent again by the page and stored once.
Runs on SQLite and PostgreSQL (fixtures)."""

import json
import os
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.services.dates import today_in
from server.services.putaway import create_putaway_tasks
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse, received_delivery

pytestmark = pytest.mark.browser

KETTLE = "4601234567893"


@pytest.fixture
def site(db):
    from server.services.receiving import create_delivery

    wh, receiving_cell, _cells, _quarantine = putaway_warehouse(code="MSK-CENTRAL", max_units=50)
    kettle = f.sku("KETTLE", "Чайник электрический 1,7 л", barcode=KETTLE)
    f.user("ivan", ("receiver",), badge="B-1001").full_name = "Иван Константинопольский"
    f.user("petr", ("picker",), badge="B-2002")
    delivery = create_delivery(wh.id, "ASN-100", "ООО «Посуда»", today_in(wh), lines=[
        {"sku_id": kettle.id, "quantity": 5}])
    received = received_delivery(wh, receiving_cell, [(kettle, 12, "", None)], number="D-1")
    create_putaway_tasks(received)
    db.session.commit()
    f.station(wh, "DOCK-1", "dock")
    from server.models import PutawayTask

    out = {"delivery_id": delivery.id, "task_id": db.session.execute(select(PutawayTask.id)).scalar_one()}
    db.session.rollback()
    return out


def sign_in(page, badge: str, language: str) -> None:
    page.set_viewport_size({"width": 360, "height": 640})
    page.goto("/sign-in")
    if language != "en":
        page.locator(f'.bar button[value="{language}"]').click()
        expect(page.locator("html")).to_have_attribute("lang", language)
    page.locator("#badge").focus()
    page.keyboard.type(badge)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))


def header_box(page) -> dict:
    """The header's height and whether all its parts sit in one row."""
    return page.evaluate("""() => {
      const bar = document.querySelector("header.bar").getBoundingClientRect();
      const parts = Array.from(document.querySelectorAll("header.bar > *"))
        .map(e => e.getBoundingClientRect()).filter(r => r.width > 0);
      return {height: bar.height, oneRow: parts.every(r => r.top >= bar.top - 0.5 && r.bottom <= bar.bottom + 0.5)};
    }""")


def fits(page, selector: str) -> dict:
    return page.locator(selector).evaluate("""e => {
      const r = e.getBoundingClientRect();
      const ph = getComputedStyle(e, "::placeholder");
      const ctx = document.createElement("canvas").getContext("2d");
      ctx.font = ph.fontWeight + " " + ph.fontSize + " " + ph.fontFamily;
      const inner = e.clientWidth - parseFloat(getComputedStyle(e).paddingLeft) - parseFloat(getComputedStyle(e).paddingRight);
      return {bottom: r.bottom, top: r.top, focused: document.activeElement === e,
              placeholder: e.placeholder ? ctx.measureText(e.placeholder).width <= inner : true};
    }""")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_handheld_page_fits_a_360x640_screen(page, site, language):
    sign_in(page, "B-1001", language)
    pages = {
        "/putaway": None,
        f"/putaway/task?task={site['task_id']}": "#scan-input",
        "/receiving": None,
        f"/receiving/{site['delivery_id']}": "#scan-input",
        "/stations/DOCK-1": "#station-input",
    }
    for path, field in pages.items():
        page.goto(path)
        box = header_box(page)
        print(f"header {language} {path}: {box['height']:.1f} px")  # pytest -s shows the figures
        assert box["height"] <= 56 and box["oneRow"], (path, box)
        wide = page.evaluate("""() => Array.from(document.querySelectorAll("body *"))
          .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5 && e.getClientRects().length)
          .map(e => e.outerHTML.slice(0, 100))""")
        assert not wide, (path, wide)
        if field is None:
            h1 = page.locator("main h1").bounding_box()
            assert h1["y"] + h1["height"] <= 640, path
            continue
        if "putaway" in path:
            expect(page.locator("#target")).to_be_visible()
            cell = page.locator("#target-cell")
            expect(cell).to_have_text(re.compile(r"^MSK-CENTRAL-S-"))
            one_line = cell.evaluate("e => e.scrollWidth <= e.clientWidth && e.getBoundingClientRect().height"
                                     " < 1.6 * parseFloat(getComputedStyle(e).fontSize)")
            assert one_line, path
        page.wait_for_function(f"() => document.activeElement === document.querySelector('{field}')")
        if os.environ.get("CELLWMS_SCREENSHOTS"):
            name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
            page.screenshot(path=os.path.join(os.environ["CELLWMS_SCREENSHOTS"], f"{language}-{name}.png"))
        shown = fits(page, field)
        assert shown["focused"] and shown["bottom"] <= 640, (path, shown)
        assert shown["placeholder"], (path, "placeholder cut")
        prompt = page.locator("#prompt").bounding_box()
        assert prompt["y"] < 640 and prompt["y"] >= 0, path


def test_header_menu_has_language_and_sign_out(page, site):
    page.set_viewport_size({"width": 360, "height": 640})
    page.goto("/sign-in")  # signed out: the language keys are in the bar itself
    box = header_box(page)
    assert box["height"] <= 56 and box["oneRow"], box
    sign_in(page, "B-1001", "en")
    expect(page.locator(".who")).to_contain_text("Иван")
    page.locator(".bar .menu summary").click()
    expect(page.locator(".bar .roles")).to_have_text("receiver")
    page.get_by_role("button", name="Русский").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.locator(".bar .menu summary").click()
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url(re.compile(r"/sign-in$"))
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert page.request.get(icon).headers["content-type"].startswith("image/svg+xml")


def test_a_picker_on_a_supervisor_page_gets_the_styled_403_in_russian(page, site):
    sign_in(page, "B-2002", "ru")
    for path in (f"/receiving/{site['delivery_id']}/discrepancies", "/receiving", "/putaway/task"):
        response = page.goto(path)
        assert response.status == 403 and response.headers["content-type"].startswith("text/html"), path
        expect(page.locator(".error-page h1")).to_have_text("Не для вашей роли")
        expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.locator(".error-page a.button").click()
    page.wait_for_url(re.compile(r"/$"))


def test_an_unknown_address_gets_the_styled_404(page, site):
    response = page.goto("/no-such-page")
    assert response.status == 404
    expect(page.locator(".error-page h1")).to_have_text("Page not found")
    expect(page.locator(".error-page a.button")).to_have_attribute("href", re.compile(r"^/sign-in"))
    sign_in(page, "B-1001", "ru")
    assert page.goto("/putaway/nothing-here").status == 404
    expect(page.locator(".error-page h1")).to_have_text("Страница не найдена")
    expect(page.locator(".error-page a.button")).to_have_text("Главная")


def test_plural_forms_in_the_page_script(page, site):
    sign_in(page, "B-1001", "ru")
    page.goto(f"/putaway/task?task={site['task_id']}")
    expect(page.locator("#target-qty")).to_have_text("12 единиц")
    words = page.evaluate("n => n.map(k => cellwms.counted(cellwmsHandheld.texts.units, k))", [1, 2, 5, 21])
    assert words == ["1 единица", "2 единицы", "5 единиц", "21 единица"]
    page.locator(".bar .menu summary").click()
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.wait_for_function("() => window.cellwmsHandheld !== undefined")  # the page's scripts ran
    words = page.evaluate("n => n.map(k => cellwms.counted(cellwmsHandheld.texts.units, k))", [1, 2, 21])
    assert words == ["1 unit", "2 units", "21 units"]


def test_a_scan_whose_answer_was_lost_is_sent_again_and_stored_once(page, db, site):
    from server.models.inbound import DeliveryLine

    sign_in(page, "B-1001", "en")
    page.goto(f"/receiving/{site['delivery_id']}")
    page.locator("#start-receiving").click()
    expect(page.locator("#handheld")).to_have_attribute("data-last-status", "stored")  # the delivery opened
    bodies = []

    def flaky(route):
        bodies.append(json.loads(route.request.post_data))
        if len(bodies) == 1:
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    page.route("**/receiving/input", flaky)
    page.locator("#scan-input").focus()
    for _ in range(2):  # the second scan waits behind the first
        page.keyboard.type(KETTLE)
        page.keyboard.press("Enter")
    expect(page.locator("#prompt")).to_have_class(re.compile("sound-ok"))
    page.wait_for_function("() => document.getElementById('handheld').dataset.waiting === 'no'")
    expect(page.locator("#send-state")).to_be_hidden()
    page.wait_for_function("() => document.querySelector('.rline[data-received=\"2\"]') !== null")
    assert len(bodies) == 3, bodies
    assert bodies[0] == bodies[1] and bodies[0]["event_id"]  # the same input, the same event_id
    assert bodies[2]["event_id"] != bodies[0]["event_id"]  # the next scan, after it
    db.session.rollback()
    received = db.session.execute(select(DeliveryLine.received_qty).where(
        DeliveryLine.delivery_id == site["delivery_id"])).scalar_one()
    assert received == 2


def test_event_ids_without_crypto_random_uuid(page, site):
    """Plain-HTTP LAN pages have no crypto.randomUUID: the ids come from getRandomValues."""
    page.goto("/sign-in")
    ids = page.evaluate("""() => {
      Object.defineProperty(crypto, "randomUUID", {value: undefined});
      return [cellwms.uuid4(), cellwms.uuid4()];
    }""")
    v4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(v4.match(i) for i in ids) and ids[0] != ids[1]
