"""What a picker does on the 360x640 handheld, step by step, shared by the picking tests: scans
typed into the focused field like a wedge scanner, waiting for each stored answer and its sound."""

import re
from datetime import date

from playwright.sync_api import expect
from sqlalchemy import func, select

from server.models import Movement
from tests.picking_helpers import IRON, KETTLE, MILK, gs1


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


def goods_code(sku: str, lot: str, expiry: date | None) -> str:
    return {"KETTLE": KETTLE, "IRON": IRON}.get(sku) or gs1(MILK, lot, expiry)


def movements(db) -> int:
    db.session.rollback()
    count = db.session.execute(select(func.count(Movement.id))).scalar()
    db.session.rollback()
    return count


def sign_in_and_open_picking(page, language: str, badge: str = "B-7") -> None:
    page.goto("/sign-in")
    if language != "en":
        page.locator(f'.bar button[value="{language}"]').click()
        expect(page.locator("html")).to_have_attribute("lang", language)
    page.locator("#badge").focus()
    wedge(page, badge)
    page.wait_for_url(re.compile(r"/$"))
    page.locator('a[data-flow="picking"]').click()
    page.wait_for_url(re.compile(r"/picking$"))
    expect(page.locator("#handheld")).to_have_attribute("data-ready", "yes")
    above_the_fold(page)


def take_batch_and_scan_totes(page, totes: list[str]) -> None:
    """Take the next batch, then a tote label per order slot; the first cell is shown with the map."""
    fresh(page)
    page.locator("button[data-key=take]").click()
    answered(page, "ok")
    for slot, tote in enumerate(totes, start=1):
        expect(page.locator("#target-cell")).to_have_text(str(slot))
        wedge(page, tote)
        answered(page, "ok")
    expect(page.locator("#handheld")).to_have_attribute("data-state", "cell")
    above_the_fold(page)
    drawing = page.locator("#route-map svg.wh-map")
    expect(drawing).to_be_visible()
    numbers = drawing.locator("g.stop text").all_text_contents()
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)] and numbers


def pick_every_line(page, db, *, short_sku: str = "KETTLE", short_quantity: int = 3) -> list[str]:
    """Pick the batch's lines in the order the handheld shows them: one wrong cell first (the error
    sound, nothing recorded), and one short on the first `short_sku` line of `short_quantity` (1
    found). Returns the cells visited, in order; ends at the drop-off prompt."""
    wrong_done = short_done = False
    visited = []
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
        if not wrong_done:
            before = movements(db)
            wedge(page, "W1-S-01-01" if cell != "W1-S-01-01" else "W1-S-01-03")
            answered(page, "error")
            expect(page.locator("body")).to_have_attribute("data-played", "error")
            assert movements(db) == before
            wrong_done = True
        wedge(page, cell)
        answered(page, "ok")
        visited.append(cell)
        if not short_done and sku == short_sku and quantity == short_quantity:
            page.locator("button[data-open-pad=short]").click()
            page.locator("#keypad button[data-digit='1']").click()
            fresh(page)
            page.locator("#keypad button[data-pad=ok]").click()
            answered(page, "ok")
            short_done = True
            continue
        wedge(page, goods_code(sku, lot.group(1) if lot else "",
                               date.fromisoformat(expiry.group(1)) if expiry else None))
        answered(page, "ok")
        if quantity > 1:
            page.locator("button[data-open-pad=quantity]").click()
            page.locator(f"#keypad button[data-digit='{quantity}']").click()
            fresh(page)
            page.locator("#keypad button[data-pad=ok]").click()
            answered(page, "ok")
            expect(page.locator("#handheld")).to_have_attribute("data-state", "tote")
        wedge(page, re.search(r"TOTE-\d+", more).group())
        answered(page, "ok")
    assert wrong_done and short_done
    expect(page.locator("#handheld")).to_have_attribute("data-state", "drop")
    return visited


def drop_off(page, cell: str = "W1-P-01") -> None:
    wedge(page, cell)
    answered(page, "ok")
    expect(page.locator("#handheld")).to_have_attribute("data-state", "done")
