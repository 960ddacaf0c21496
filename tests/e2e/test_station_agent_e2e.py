"""End to end: the server, a real station agent process with emulated devices (pty scanner and
scale, TCP ZPL and ESC/POS printers, MJPEG camera) and the station page in headless Chromium.
What the agent's devices do shows on the page live (Server-Sent Events); the page's buttons
reach the devices through the agent."""

import io
import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.station_harness import AgentProcess, emulated_devices, read, tail, wait_for, write_profile

pytestmark = pytest.mark.browser

RED = "rgb(176, 0, 0)"
GREEN = "rgb(10, 107, 31)"
LIVE = 30_000  # ms a live prompt may take (agent -> server -> stream -> page)
FAST = {"backoff_min": 0.02, "backoff_max": 0.3}


@pytest.fixture
def pack_station(db):
    wh = factories.warehouse()
    z = factories.zone(wh, "P", "pick")
    factories.cell(z, "P-01-01-1", barcode="CELL-P-0101")
    factories.sku("SKU-KETTLE", "Kettle 1.7 l", barcode="4601234567893")
    packer = factories.user("pavel", ("packer",), badge="B-2002")
    packer.full_name = "Pavel Orlov"
    station, headers = factories.station(wh, "PACK-1", "pack")
    station_id = station.id
    db.session.commit()
    db.session.rollback()
    return station_id, headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def devices(tmp_path):
    """Every emulator of the station, started; stopped at the end."""
    with emulated_devices(tmp_path) as made:
        yield made


def station_health(db, station_id: int) -> dict:
    from server.models import Station
    from server.services.stations import station_health as health

    return read(db, lambda: health(db.session.get(Station, station_id)))


def test_agent_devices_drive_the_station_page(page, live_server, db, pack_station, devices, tmp_path):
    import zxingcpp
    from PIL import Image

    station_id, token = pack_station
    profile = write_profile(tmp_path / "pack-1.toml", "pack-1", "pack", {
        "scanner": {"kind": "scanner", "profile": "honeywell-voyager-1450g", "url": devices["scanner"].port,
                    "options": FAST},
        "scale": {"kind": "scale", "profile": "mettler-toledo-ics425", "url": devices["scale"].port,
                  "options": FAST},
        "label_printer": {"kind": "printer", "profile": "zebra-zd421-203", "url": devices["zpl"].url,
                          "templates": ["shipping-label", "sku-sticker"], "options": {**FAST, "status_interval": 2.0}},
        "receipt_printer": {"kind": "printer", "profile": "epson-tm-t20iii", "url": devices["escpos"].url,
                            "templates": ["packing-slip"], "options": {**FAST, "status_interval": 2.0}},
        "overhead": {"kind": "camera", "profile": "generic-uvc", "url": devices["camera"].url, "role": "overhead",
                     "options": FAST},
    })
    agent = AgentProcess(profile, live_server, token, tmp_path)
    try:
        agent.start()
        diagnose = lambda: f"{station_health(db, station_id)}\n{tail(agent.log)}"  # noqa: E731
        wait_for(lambda: (h := station_health(db, station_id))["state"] == "ok" and len(h["devices"]) == 5,
                 "every device of the agent up on the server", on_fail=diagnose)

        # The packer signs in by badge and opens the station screen.
        page.goto("/sign-in")
        page.keyboard.type("B-2002")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/$"))
        page.goto("/stations/PACK-1")
        expect(page.locator("#station")).to_have_attribute("data-live", "yes")
        prompt = page.locator("#prompt")
        message = prompt.locator(".prompt-message")

        # Scans typed into the emulated scanner reach the page through agent, server and stream.
        scanner = devices["scanner"]
        scanner.scan("B-2002", "]C0")
        expect(message).to_contain_text("Pavel Orlov", timeout=LIVE)
        expect(prompt).to_have_class(re.compile(r"\bsound-ok\b"))
        expect(page.locator("#worker")).to_have_text("Pavel Orlov")

        scanner.scan("4601234567893", "]E0")
        expect(message).to_contain_text("Kettle 1.7 l", timeout=LIVE)
        expect(prompt).to_have_class(re.compile(r"\bsound-ok\b"))

        scanner.scan("CELL-P-0101", "]C0")
        expect(message).to_contain_text("P-01-01-1", timeout=LIVE)
        assert prompt.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN

        scanner.scan("NO-SUCH-CODE-7", "]C0")
        expect(message).to_contain_text("NO-SUCH-CODE-7", timeout=LIVE)
        expect(prompt).to_have_class(re.compile(r"\bsound-error\b"))
        assert prompt.evaluate("e => getComputedStyle(e).backgroundColor") == RED

        # A load on the scale: its stable weight shows.
        devices["scale"].put(1.25)
        expect(page.locator("#weight")).to_have_text(re.compile(r"^1\.25\d* kg$"), timeout=LIVE)
        expect(message).to_contain_text("1.25", timeout=LIVE)

        # "Print test label" prints the pack station's shipping label on the emulated Zebra.
        zpl = devices["zpl"]
        page.get_by_role("button", name="Print test label").click()
        wait_for(lambda: zpl.complete_jobs(), "the label on the ZPL printer emulator", on_fail=diagnose)
        expect(page.locator("#jobs li").first).to_contain_text("print", timeout=LIVE)
        expect(page.locator("#jobs li").first).to_contain_text("done", timeout=LIVE)
        [label] = zpl.complete_jobs()
        png = zpl.png(label)
        assert png is not None, "the ZPL emulator renders no PNG"
        texts = {symbol.text for symbol in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))}
        assert "1234567890123" in texts or any("1234567890123" in t for t in texts), texts
        assert devices["escpos"].jobs == []  # the label went to the label printer only

        # "Take photo": the overhead camera's photo comes back as a prompt.
        page.get_by_role("button", name="Take photo").click()
        expect(message).to_contain_text("Photo saved", timeout=LIVE)
        expect(prompt).to_have_class(re.compile(r"\bsound-ok\b"))
    finally:
        agent.stop()
