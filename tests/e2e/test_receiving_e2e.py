"""Issue 7 end to end: an ASN delivery received at an emulated dock station (a real agent process
with a pty scanner, a ZPL label printer, an ESC/POS receipt printer and an MJPEG camera) on the
station screen in headless Chromium, then put away on the handheld putaway page by typing cell
codes into its scan field like a wedge scanner. Stock and ledger match at the end."""

import io
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.services.dates import today_in
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse
from tests.station_harness import AgentProcess, emulated_devices, read, tail, wait_for, write_profile

pytestmark = pytest.mark.browser

LIVE = 30_000  # ms a live prompt may take (agent -> server -> stream -> page)
FAST = {"backoff_min": 0.02, "backoff_max": 0.3}
KETTLE, IRON, UNKNOWN = "4601234567893", "4601234567800", "2999999999991"


@pytest.fixture
def dock(db):
    from server.services.receiving import create_delivery

    wh, receiving_cell, cells, quarantine = putaway_warehouse(max_units=50)
    kettle = f.sku("KETTLE", "Чайник 1,7 л", barcode=KETTLE)
    iron = f.sku("IRON", "Утюг", barcode=IRON)
    towel = f.sku("TOWEL", "Полотенце вафельное")  # no barcode: gets a sticker
    f.sku("MUG", "Кружка керамическая")  # the unknown barcode is linked to it
    ivan = f.user("ivan", ("receiver",), badge="B-1001")
    ivan.full_name = "Иван Петров"
    delivery = create_delivery(wh.id, "ASN-100", "ООО «Посуда»", today_in(wh), lines=[
        {"sku_id": kettle.id, "quantity": 5}, {"sku_id": iron.id, "quantity": 2},
        {"sku_id": towel.id, "quantity": 2}])
    db.session.commit()
    station, headers = f.station(wh, "DOCK-1", "dock")
    out = {"delivery_id": delivery.id, "station_id": station.id, "receiving_cell": receiving_cell.address,
           "quarantine_id": quarantine.id, "token": headers["Authorization"].removeprefix("Bearer ")}
    db.session.rollback()
    return out


@pytest.fixture
def devices(tmp_path):
    """Every emulator of the station, started; stopped at the end."""
    with emulated_devices(tmp_path, scale=None) as made:
        yield made


def wedge(page, code: str) -> None:
    """A keyboard-wedge scanner: the code typed into the focused field, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def line(panel, sku: str):
    return panel.locator(".rline").filter(has_text=f" {sku}").first


def test_receive_an_asn_at_the_dock_and_put_it_away(page, live_server, db, dock, devices, tmp_path):
    import zxingcpp
    from PIL import Image

    from server.models import Delivery, Discrepancy, PutawayStatus, PutawayTask, Quant, ReceiptCount, Station
    from server.services.stations import station_health
    from server.services.stock import check_quants

    profile = write_profile(tmp_path / "dock-1.toml", "dock-1", "dock", {
        "scanner": {"kind": "scanner", "profile": "honeywell-voyager-1450g", "url": devices["scanner"].port,
                    "options": FAST},
        "label_printer": {"kind": "printer", "profile": "zebra-zd421-203", "url": devices["zpl"].url,
                          "templates": ["sku-sticker"], "options": {**FAST, "status_interval": 2.0}},
        "receipt_printer": {"kind": "printer", "profile": "epson-tm-t20iii", "url": devices["escpos"].url,
                            "templates": ["receiving-act"], "options": {**FAST, "status_interval": 2.0}},
        "overhead": {"kind": "camera", "profile": "generic-uvc", "url": devices["camera"].url, "role": "overhead",
                     "options": FAST},
    })
    agent = AgentProcess(profile, live_server, dock["token"], tmp_path)
    scanner = devices["scanner"]
    try:
        agent.start()
        def events():
            from server.models import StationEvent

            rows = read(db, lambda: db.session.execute(select(StationEvent).order_by(StationEvent.id)).scalars().all())
            return "\n".join(f"{e.kind} {e.status} {(e.outcome or {}).get('message')}" for e in rows)

        health = lambda: read(db, lambda: station_health(db.session.get(Station, dock["station_id"])))  # noqa: E731
        diagnose = lambda: f"{health()}\n{events()}\n{tail(agent.log)}"  # noqa: E731
        wait_for(lambda: (h := health())["state"] == "ok" and len(h["devices"]) == 4,
                 "every device of the dock agent up on the server", on_fail=diagnose)

        # The receiver signs in (badge typed by a wedge scanner) and opens the dock's screen.
        page.goto("/sign-in")
        wedge(page, "B-1001")
        page.wait_for_url(re.compile(r"/$"))
        page.goto("/stations/DOCK-1")
        expect(page.locator("#station")).to_have_attribute("data-live", "yes")
        message = page.locator("#prompt .prompt-message")
        panel = page.locator("#receiving-panel")

        # At the dock: the badge on the station's scanner, then the ASN's document barcode.
        scanner.scan("B-1001", "]C0")
        expect(page.locator("#worker")).to_have_text("Иван Петров", timeout=LIVE)
        scanner.scan("ASN-100", "]C0")
        expect(panel).to_be_visible(timeout=LIVE)
        expect(panel.locator(".delivery-number")).to_have_text("ASN-100")
        expect(panel.locator(".rline")).to_have_count(3)

        # Three good kettles scanned, then one damaged with a photo from the station camera.
        for _ in range(3):
            scanner.scan(KETTLE, "]E0")
        expect(line(panel, "KETTLE")).to_have_attribute("data-received", "3", timeout=LIVE)
        panel.locator(".key-damaged").click()
        expect(panel.locator(".key-damaged")).to_have_class(re.compile(r"\bon\b"), timeout=LIVE)
        scanner.scan(KETTLE, "]E0")
        expect(line(panel, "KETTLE")).to_have_attribute("data-damaged", "1", timeout=LIVE)
        expect(message).to_contain_text("Photo of the damage saved", timeout=LIVE)
        # (values read inside the short transaction: an expired ORM row would reload and hold SQLite's lock)
        quantity, media = read(db, lambda: db.session.execute(
            select(ReceiptCount.quantity, ReceiptCount.media_sha256).where(ReceiptCount.damaged.is_(True))).one())
        assert quantity == 1 and media and len(media) == 64

        # Two irons.
        scanner.scan(IRON, "]E0")
        scanner.scan(IRON, "]E0")
        expect(line(panel, "IRON")).to_have_attribute("data-received", "2", timeout=LIVE)

        # An unknown barcode is held as a question, and linked to a SKU on the page.
        scanner.scan(UNKNOWN, "]E0")
        question = panel.locator(".rquestion").filter(has_text=UNKNOWN)
        expect(question).to_be_visible(timeout=LIVE)
        expect(page.locator("#prompt")).to_have_class(re.compile(r"\bsound-error\b"))
        question.locator('input[name="q"]').fill("Кружка")
        question.get_by_role("button", name="Find").click()
        question.locator(".pick-sku").filter(has_text="MUG").click()
        expect(line(panel, "MUG")).to_have_attribute("data-received", "1", timeout=LIVE)
        expect(panel.locator(".rquestion")).to_have_count(0)

        # The towels have no usable barcode: one key prints a sticker on the label printer, its
        # barcode is decoded back from the printed label and scanned for both towels.
        zpl = devices["zpl"]
        line(panel, "TOWEL").locator("button.sticker").click()
        wait_for(lambda: zpl.complete_jobs(), "the sticker on the ZPL printer emulator", on_fail=diagnose)
        [label] = zpl.complete_jobs()
        png = zpl.png(label)
        assert png is not None, "the ZPL emulator renders no PNG"
        codes = [symbol.text for symbol in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
        assert codes, "no barcode decoded from the sticker"
        assert b"TOWEL" in label.data or any("TOWEL" in c for c in codes)
        for _ in range(2):
            scanner.scan(codes[0], "]C0")
        expect(line(panel, "TOWEL")).to_have_attribute("data-received", "2", timeout=LIVE)

        # Close: discrepancies listed, the receiving act printed on the receipt printer.
        page.once("dialog", lambda dialog: dialog.accept())
        panel.locator(".key-close").click()
        expect(message).to_contain_text("closed", timeout=LIVE)
        escpos = devices["escpos"]
        wait_for(lambda: escpos.complete_jobs(), "the receiving act on the ESC/POS printer", on_fail=diagnose)
        act = escpos.decode(escpos.complete_jobs()[0])
        if act is not None:
            assert "ASN-100" in act.text
        kinds = read(db, lambda: sorted(
            (d.kind, d.quantity) for d in db.session.execute(
                select(Discrepancy).where(Discrepancy.delivery_id == dock["delivery_id"])).scalars()))
        assert ("short", 1) in kinds and ("damaged", 1) in kinds and ("unexpected", 1) in kinds, kinds
        assert read(db, lambda: db.session.get(Delivery, dock["delivery_id"]).status) == "closed"

        # Putaway on the handheld: a 4-5 inch screen, the cells typed by a wedge scanner.
        page.set_viewport_size({"width": 360, "height": 640})
        page.goto("/putaway")
        page.locator('[data-delivery="ASN-100"] .start-delivery').click()
        page.wait_for_url(re.compile(r"/putaway/task\?delivery=\d+$"))
        root = page.locator("#handheld")
        expect(root).to_have_attribute("data-left", re.compile(r"^\d+$"), timeout=LIVE)
        tasks = int(root.get_attribute("data-left"))
        assert tasks >= 4  # kettles, irons, towels, the mug (the damaged kettle waits in quarantine)
        assert page.evaluate("document.activeElement.id") == "scan-input"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        heights = page.locator("#handheld button:visible").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height)")
        assert min(heights) >= 44

        first = True
        while root.get_attribute("data-left") != "0":
            page.locator("#take-task").click()
            expect(root).to_have_attribute("data-task-id", re.compile(r"^\d+$"), timeout=LIVE)
            cell = page.locator("#target").get_attribute("data-cell")
            assert cell, "the task shows no cell"
            expect(page.locator("#route-map .stop.current")).to_have_count(1)
            if first:  # a wrong cell: an error sound and nothing changes
                wedge(page, dock["receiving_cell"])
                expect(page.locator("#prompt")).to_have_class(re.compile(r"\bsound-error\b"), timeout=LIVE)
                expect(page.locator("body")).to_have_attribute("data-played", "error")
                first = False
            left = int(root.get_attribute("data-left") or tasks)
            wedge(page, cell)
            expect(root).to_have_attribute("data-left", str(left - 1), timeout=LIVE)
            expect(page.locator("#prompt")).to_have_class(re.compile(r"\bsound-ok\b"))
            assert page.evaluate("document.activeElement.id") == "scan-input"
        expect(page.locator("#tasks-left")).to_have_text("All tasks are done.")

        # Stock and ledger match; the goods are in the cells their tasks went to.
        def final():
            done = [(t.status, t.done_cell_id, t.sku_id, t.quantity) for t in db.session.execute(
                select(PutawayTask).where(PutawayTask.delivery_id == dock["delivery_id"])).scalars()]
            quants = {(q.cell_id, q.sku_id): q.quantity for q in db.session.execute(select(Quant)).scalars()}
            return check_quants(), done, quants

        differences, done, quants = read(db, final)
        assert differences == []
        assert done and all(status == PutawayStatus.done for status, *_rest in done)
        placed: dict[tuple, int] = {}
        for _status, cell_id, sku_id, quantity in done:
            placed[(cell_id, sku_id)] = placed.get((cell_id, sku_id), 0) + quantity
        for key, quantity in placed.items():
            assert quants.get(key) == quantity, (key, quantity, quants)
        assert sum(quantity for *_rest, quantity in done) == 3 + 2 + 2 + 1
        assert sum(q for (cell_id, _sku), q in quants.items() if cell_id == dock["quarantine_id"]) == 1
    finally:
        agent.stop()
