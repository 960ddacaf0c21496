"""Headless Chromium against the real server: a station screen shows the prompts of scans typed into
the page and of scans an agent posts over HTTP, live through Server-Sent Events."""

import base64
import json
import os
import re
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests import factories

pytestmark = pytest.mark.browser

RED = "rgb(176, 0, 0)"
GREEN = "rgb(10, 107, 31)"


@pytest.fixture
def pack_station(app, db):
    # Short streams: the page must reconnect (with Last-Event-ID) and still miss nothing.
    app.config.update(CELLWMS_STREAM_SECONDS=3, CELLWMS_STREAM_KEEPALIVE_SECONDS=1)
    wh = factories.warehouse()
    z = factories.zone(wh, "P", "pick")
    factories.cell(z, "P-01-01-1", barcode="CELL-P-0101")
    packer = factories.user("pavel", ("packer",), badge="B-2002")
    packer.full_name = "Pavel Orlov"
    station, headers = factories.station(wh, "PACK-1", "pack")
    db.session.commit()
    return headers


def agent_scan(live_server: str, headers: dict, code: str, seq: int) -> dict:
    """What the station agent does with a scan: POST it to the server with the station's token."""
    event = {"event_id": str(uuid.uuid4()), "seq": seq, "kind": "scan", "device": "scanner",
             "occurred_at": datetime.now(UTC).isoformat(),
             "payload": {"raw_b64": base64.b64encode(code.encode()).decode(), "symbology": ""}}
    request = urllib.request.Request(
        f"{live_server}/api/v1/stations/me/events", data=json.dumps({"events": [event]}).encode(), method="POST",
        headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["outcomes"][0]


def scan(page, code: str) -> None:
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_station_screen_shows_page_and_agent_scans_live(page, live_server, pack_station):
    page.goto("/sign-in")
    scan(page, "B-2002")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/stations/PACK-1")
    assert page.evaluate("document.activeElement.id") == "station-input"
    expect(page.locator("#station")).to_have_attribute("data-live", "yes")

    # Nobody works here yet: the page user's scan is refused until they sign in here explicitly.
    scan(page, "NO-SUCH-CODE-6")
    expect(page.locator("#prompt .prompt-message")).to_contain_text("Sign in here")
    expect(page.locator("#sign-out-station")).to_be_hidden()
    page.locator("#sign-in-station").click()
    expect(page.locator("#worker")).to_have_text("Pavel Orlov")
    expect(page.locator("#sign-in-station")).to_be_hidden()
    expect(page.locator("#sign-out-station")).to_be_visible()
    expect(page.locator("#station-input")).to_be_focused()

    # A wedge scanner types into the focused input: the prompt answers at once, in red for an unknown code.
    scan(page, "NO-SUCH-CODE-7")
    prompt = page.locator("#prompt")
    expect(prompt.locator(".prompt-message")).to_contain_text("NO-SUCH-CODE-7")
    expect(prompt).to_have_class(re.compile(r"\bsound-error\b"))
    assert prompt.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    expect(page.locator("body")).to_have_attribute("data-played", "error")
    expect(page.locator("#worker")).to_have_text("Pavel Orlov")
    assert page.evaluate("document.activeElement.id") == "station-input"  # ready for the next scan

    # The agent's scan arrives over HTTP; the page shows it without reload, through the stream.
    outcome = agent_scan(live_server, pack_station, "CELL-P-0101", 1)
    assert outcome["status"] == "stored"
    expect(prompt.locator(".prompt-message")).to_contain_text("P-01-01-1")
    expect(prompt).to_have_class(re.compile(r"\bsound-ok\b"))
    assert prompt.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    expect(page.locator("body")).to_have_attribute("data-played", "ok")
    expect(page.locator("#events li").first).to_contain_text("P-01-01-1")

    # After the stream's planned end the browser reconnects and still gets the next one.
    page.wait_for_timeout(3500)
    outcome = agent_scan(live_server, pack_station, "ALSO-UNKNOWN-8", 2)
    expect(prompt.locator(".prompt-message")).to_contain_text("ALSO-UNKNOWN-8")
    expect(prompt).to_have_class(re.compile(r"\bsound-error\b"))
    # the refused scan, the sign-in key, the page scan, two agent scans: each once
    expect(page.locator("#events li")).to_have_count(5)
    expect(page.locator("#offline")).to_be_hidden()

    # A job button queues a job and the list shows it; the focus goes back to the scan input.
    page.get_by_role("button", name="Beep").click()
    expect(page.locator("#jobs li").first).to_contain_text("Beep")
    expect(page.locator("#jobs li").first).to_contain_text("queued")
    assert page.evaluate("document.activeElement.id") == "station-input"

    # Mobile first: big targets for gloved hands, nothing overflows sideways.
    heights = page.locator("#station button:visible, #station-input").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)")
    assert min(heights) >= 44
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shots = os.environ.get("CELLWMS_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "station-pack-handheld.png"), full_page=True)
