"""Headless Chromium against the real server: sign in like a scanner, by password, switch language."""

import os
import re

import pytest
from playwright.sync_api import expect

from tests import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def people(db):
    worker = factories.user("ivan", ("picker",), badge="B-1001")
    worker.full_name = "Ivan Petrov"
    factories.user("pavel", ("packer",), badge="B-2002", pin="4321")
    boss = factories.user("olga", ("supervisor", "receiver"), password="s3cret-pass")
    boss.full_name = "Olga Smirnova"
    factories.user("root", ("admin",), password="admin-pass")
    db.session.commit()


def scan(page, code: str) -> None:
    """What a keyboard-wedge scanner does: type into the focused field, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_sign_in_by_badge(page, people):
    page.goto("/sign-in")
    assert focused_id(page) == "badge"
    scan(page, "B-1001")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator(".msg-ok")).to_have_text("Signed in as Ivan Petrov.")
    expect(page.locator('a[data-flow="picking"]')).to_have_attribute("href", "/picking")
    expect(page.locator("body")).to_have_attribute("data-played", "ok")


def test_sign_in_by_badge_and_pin(page, people):
    page.goto("/sign-in")
    scan(page, "B-2002")
    page.wait_for_url(re.compile(r"/sign-in/pin$"))
    assert focused_id(page) == "pin"
    page.keyboard.type("1111")
    page.keyboard.press("Enter")
    expect(page.locator(".msg-error")).to_have_text("Wrong PIN. Try again.")
    expect(page.locator("body")).to_have_attribute("data-played", "error")
    page.keyboard.type("4321")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator('[data-flow="packing"]')).to_be_visible()


def test_unknown_badge_is_refused_with_the_error_sound(page, people):
    page.goto("/sign-in")
    scan(page, "NOT-A-BADGE")
    expect(page.locator(".msg-error")).to_contain_text("This badge is not recognised")
    expect(page.locator("body")).to_have_attribute("data-played", "error")
    assert focused_id(page) == "badge"  # ready for the next scan


def test_sign_in_by_password_and_sign_out(page, people):
    page.goto("/")
    page.wait_for_url(re.compile(r"/sign-in\?next=%2F$"))
    page.fill("#username", "olga")
    page.fill("#password", "s3cret-pass")
    page.get_by_role("button", name="Sign in with password").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator(".who")).to_contain_text("Olga Smirnova")
    flows = page.locator("[data-flow]")
    keys = sorted(flows.evaluate_all("els => els.map(e => e.dataset.flow)"))
    assert keys == ["counting", "orders", "orders-confirm", "putaway", "receiving", "scan", "stations", "supervision",
                    "waves", "webhooks"]
    page.locator(".bar .menu summary").click()  # roles, language and sign-out are in the header's menu
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/sign-in$"))
    expect(page.locator(".msg-ok")).to_have_text("Signed out.")


def test_switch_language(page, people):
    page.goto("/sign-in")
    scan(page, "B-1001")
    page.wait_for_url(re.compile(r"/$"))
    page.locator(".bar .menu summary").click()
    page.get_by_role("button", name="Русский").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator('[data-flow="picking"] .title')).to_have_text("Сборка")
    page.locator(".bar .menu summary").click()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url(re.compile(r"/sign-in$"))
    expect(page.locator("label[for=badge]")).to_have_text("Отсканируйте бейдж")
    page.get_by_role("button", name="English").click()
    expect(page.locator("label[for=badge]")).to_have_text("Scan your badge")


def test_scan_check_page(page, people):
    page.goto("/sign-in")
    scan(page, "B-1001")
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_role("link", name=re.compile("Scan check")).click()
    page.wait_for_url(re.compile(r"/scan$"))
    assert focused_id(page) == "scan-input"
    scan(page, "B-2002")
    expect(page.locator("#scan-result .kind")).to_have_text("badge")
    expect(page.locator("body")).to_have_attribute("data-played", "ok")
    assert focused_id(page) == "scan-input"
    scan(page, "NO-SUCH-CODE-42")
    expect(page.locator("#scan-result .kind")).to_have_text("unknown")
    expect(page.locator("body")).to_have_attribute("data-played", "error")


def test_admin_home_on_handheld_and_desktop(page, people):
    page.goto("/sign-in")
    page.fill("#username", "root")
    page.fill("#password", "admin-pass")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("[data-flow]")).to_have_count(19)  # with Devices, Audit log, Orders (two), Waves, Webhooks
    # Touch targets are big enough on a handheld, and nothing overflows sideways.
    heights = page.locator(".tile, .bar summary").evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
    assert min(heights) >= 44
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shots = os.environ.get("CELLWMS_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "home-handheld.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if shots:
        page.screenshot(path=os.path.join(shots, "home-desktop.png"), full_page=True)
