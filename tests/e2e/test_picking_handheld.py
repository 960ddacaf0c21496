"""The handheld picking page (/picking) in headless Chromium at 360x640: a picker signs in by badge,
opens Picking from the home tile, takes the batch, scans a tote per slot and picks every line by
typing codes into the focused scan field like a wedge scanner: one wrong cell (the error sound,
nothing recorded) and one short (the rest reserved from another cell, the route made again), the
quantity keypad, then the drop-off at the pack area. The one-row header, the big cell and the scan
field stay above the fold; the route map shows numbered stops. English and Russian. Runs on SQLite
and PostgreSQL (fixtures)."""

import os
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from server.models import Batch, CountRequest, Movement, Order
from server.services.stock import check_quants
from tests.picking_helpers import IRON, KETTLE, MILK, gs1, picking_site

pytestmark = pytest.mark.browser


@pytest.fixture
def site(db):
    s = picking_site()
    out = {"batch_id": s.batch.id, "o1": s.o1.id, "o2": s.o2.id}
    db.session.rollback()  # no open transaction of ours while the server writes
    return out


def fresh(page) -> None:
    """The next answer is waited for: the page marks each stored answer (data-last-status)."""
    page.evaluate("document.getElementById('handheld').dataset.lastStatus = ''")


def wedge(page, code: str) -> None:
    if page.locator("#handheld").count():
        fresh(page)
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def answered(page, sound: str) -> None:
    expect(page.locator("#handheld")).to_have_attribute("data-last-status", "stored")
    expect(page.locator("#prompt")).to_have_class(re.compile(rf"sound-{sound}"))


def above_the_fold(page) -> None:
    box = page.evaluate("""() => {
      const bar = document.querySelector("header.bar").getBoundingClientRect();
      const parts = Array.from(document.querySelectorAll("header.bar > *"))
        .map(e => e.getBoundingClientRect()).filter(r => r.width > 0);
      const field = document.getElementById("scan-input").getBoundingClientRect();
      const prompt = document.getElementById("prompt").getBoundingClientRect();
      return {header: bar.height, oneRow: parts.every(r => r.top >= bar.top - 0.5 && r.bottom <= bar.bottom + 0.5),
              field: field.bottom, prompt: prompt.top, focused: document.activeElement.id,
              wide: document.documentElement.scrollWidth > window.innerWidth};
    }""")
    assert box["header"] <= 56 and box["oneRow"], box
    assert box["field"] <= 640 and box["prompt"] < 640 and box["focused"] == "scan-input", box
    assert not box["wide"], box


def goods_code(line: dict) -> str:
    return {"KETTLE": KETTLE, "IRON": IRON}.get(line["sku"]) or gs1(MILK, line["lot"], line["expiry"])


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_batch_picked_with_one_wrong_scan_and_one_short_at_360x640(chromium, live_server, db, site, language):
    from datetime import date

    context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto("/sign-in")
    if language != "en":
        page.locator(f'.bar button[value="{language}"]').click()
        expect(page.locator("html")).to_have_attribute("lang", language)
    page.locator("#badge").focus()
    wedge(page, "B-7")
    page.wait_for_url(re.compile(r"/$"))
    page.locator('a[data-flow="picking"]').click()
    page.wait_for_url(re.compile(r"/picking$"))
    expect(page.locator("#handheld")).to_have_attribute("data-ready", "yes")
    above_the_fold(page)

    fresh(page)
    page.locator("button[data-key=take]").click()
    answered(page, "ok")
    expect(page.locator("#target-cell")).to_have_text("1")  # slot 1
    wedge(page, "TOTE-0001")
    answered(page, "ok")
    expect(page.locator("#target-cell")).to_have_text("2")
    wedge(page, "TOTE-0002")
    answered(page, "ok")
    expect(page.locator("#handheld")).to_have_attribute("data-state", "cell")
    above_the_fold(page)
    drawing = page.locator("#route-map svg.wh-map")
    expect(drawing).to_be_visible()
    numbers = drawing.locator("g.stop text").all_text_contents()
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)] and numbers
    if os.environ.get("CELLWMS_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["CELLWMS_SCREENSHOTS"], f"{language}-picking.png"), full_page=True)

    wrong_done = short_done = False
    for _ in range(12):
        state = page.locator("#handheld").get_attribute("data-state")
        if state != "cell":
            break
        cell = page.locator("#handheld").get_attribute("data-cell")
        more = page.locator("#target-more").inner_text() + " · " + page.locator("#target-tote").inner_text()
        sku = more.split(" · ")[0]
        lot = re.search(r"(?:Lot|Партия) (\S+)", more)
        expiry = re.search(r"(\d{4}-\d\d-\d\d)", more)
        quantity = int(re.match(r"\d+", page.locator("#target-qty").inner_text()).group())
        if not wrong_done:  # one wrong cell: the error sound, nothing recorded
            before = _movements(db)
            wedge(page, "W1-S-01-01" if cell != "W1-S-01-01" else "W1-S-01-03")
            answered(page, "error")
            expect(page.locator("body")).to_have_attribute("data-played", "error")
            assert _movements(db) == before
            wrong_done = True
        wedge(page, cell)
        answered(page, "ok")
        if not short_done and sku == "KETTLE" and quantity == 3:  # one short: 1 found of 3
            page.locator("button[data-open-pad=short]").click()
            page.locator("#keypad button[data-digit='1']").click()
            fresh(page)
            page.locator("#keypad button[data-pad=ok]").click()
            answered(page, "ok")
            short_done = True
            continue
        wedge(page, goods_code({"sku": sku, "lot": lot.group(1) if lot else "",
                                "expiry": date.fromisoformat(expiry.group(1)) if expiry else None}))
        answered(page, "ok")
        if quantity > 1:
            page.locator("button[data-open-pad=quantity]").click()
            page.locator(f"#keypad button[data-digit='{quantity}']").click()
            fresh(page)
            page.locator("#keypad button[data-pad=ok]").click()
            answered(page, "ok")
            expect(page.locator("#handheld")).to_have_attribute("data-state", "tote")
        tote = re.search(r"TOTE-\d+", more).group()
        wedge(page, tote)
        answered(page, "ok")
    assert wrong_done and short_done
    expect(page.locator("#handheld")).to_have_attribute("data-state", "drop")
    wedge(page, "W1-P-01")
    answered(page, "ok")
    expect(page.locator("#handheld")).to_have_attribute("data-state", "done")
    context.close()

    db.session.rollback()
    batch = db.session.get(Batch, site["batch_id"])
    assert batch.status == "dropped" and batch.walked_m > 0
    assert [db.session.get(Order, o).status for o in (site["o1"], site["o2"])] == ["picked", "picked"]
    assert db.session.execute(select(func.sum(Movement.quantity)).where(Movement.kind == "pick")).scalar() == 8
    assert db.session.execute(select(func.count(CountRequest.id))).scalar() == 1
    assert check_quants() == []
    db.session.rollback()


def _movements(db) -> int:
    db.session.rollback()
    count = db.session.execute(select(func.count(Movement.id))).scalar()
    db.session.rollback()
    return count
