"""Headless Chromium: the pages keep their Content-Security-Policy (no violation reported while
signing in, on the home page and on a live station screen that reads its agent's /status)."""

import re

import pytest
from playwright.sync_api import expect

from tests import factories

pytestmark = pytest.mark.browser


def test_pages_raise_no_csp_violations(page, live_server, app, db):
    app.config.update(CELLWMS_STREAM_SECONDS=3, CELLWMS_STREAM_KEEPALIVE_SECONDS=1)
    wh = factories.warehouse()
    factories.station(wh, "PACK-1", "pack")
    factories.user("pavel", ("packer",), badge="B-2002")
    db.session.commit()
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto("/sign-in")
    page.keyboard.type("B-2002")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/stations/PACK-1?agent=http://127.0.0.1:9")
    expect(page.locator("#station")).to_have_attribute("data-live", "yes")
    expect(page.locator("#agent-status")).to_be_visible()  # the fetch ran (nothing answers on port 9)
    page.goto("/scan")
    assert violations == []
