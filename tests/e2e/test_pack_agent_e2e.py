"""End to end at an emulated pack station with the real station agent (`python -m terminal.cli
station`): a pty scanner, a pty CAS scale (30 kg), a TCP ZPL and a TCP ESC/POS printer and two MJPEG
network cameras (overhead still, packing clip), with the station screen and the order page in
headless Chromium.

- The Done-when path: a batch picked on the 360x640 handheld drops its totes at the pack area; the
  packer packs order 1001 from its tote with one wrong scan (an iron of order 1002), a weight out
  of tolerance that is then corrected, and the label and slip print with no click. The label's
  barcodes decode back (zxing-cpp), the slip reads in Russian, the still and the clip show on the
  order page (the clip plays), and the evidence pack's signature and hashes verify.
- Failures, each a clear state and nothing lost: a marking code scanned twice, a scale that never
  settles, the label printer out of paper (the label prints once the paper is back, once), and
  the packing camera lost mid-clip (the clip is kept, partial).
Both databases (the `db` fixture)."""

from __future__ import annotations

import io
import re
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from server.extensions import db as _db
from server.models import Order, StationJob
from server.models.shipping import MarkingCode, PackingError, Parcel, ParcelItem, ParcelMedia
from tests import factories as f
from tests.e2e.conftest import PAGE_WAIT_MS
from tests.e2e.picking_steps import (
    drop_off,
    pick_every_line,
    sign_in_and_open_picking,
    take_batch_and_scan_totes,
)
from tests.picking_helpers import (
    IRON,
    KETTLE,
    L1_EXPIRY,
    MILK,
    picking_site,
    picking_warehouse,
    ready_to_pack,
)
from tests.station_harness import AgentProcess, emulated_devices, read, tail, wait_for, write_profile

pytestmark = pytest.mark.browser

GS = "\x1d"
FAST = {"backoff_min": 0.02, "backoff_max": 0.3}
LIVE = 30_000  # ms an agent -> server -> stream -> page round may take on a loaded CI machine
EXPECTED_G = 3 * 1000 + 2 * 1030 + 300 + 20  # three kettles, two milk, box M, filler


def marking(serial: str) -> str:
    """A Честный знак DataMatrix of a kettle: GTIN, serial, key 91 and crypto 92, GS-separated."""
    return f"01{KETTLE.zfill(14)}21{serial}{GS}91EE06{GS}92dGVzdHRlc3R0ZXN0dGVzdA=="


MILK_L1 = f"01{MILK.zfill(14)}17{L1_EXPIRY:%y%m%d}10L1"  # GS1-128, aim ]C1


@pytest.fixture
def site(db):
    """The picking site (orders 1001 and 1002 in one ready batch) with what packing needs."""
    s = ready_to_pack(picking_site(), milk_g=1030)
    for o in (s.o1, s.o2):
        o.customer_name, o.delivery_address, o.carrier = "Пётр Иванов", "Санкт-Петербург, Невский пр., 28", "local"
    packer = f.user("anna", roles=("packer",), badge="B-P1")
    packer.full_name = "Анна Петрова"
    f.user("olga", ("supervisor",), password="s3cret-pass")
    station, auth = f.station(s.wh, code="PACK-1", kind="pack")
    out = {"o1": s.o1.id, "o2": s.o2.id, "station": station.id,
           "token": auth["Authorization"].removeprefix("Bearer ")}
    _db.session.rollback()
    return out


@contextmanager
def pack_station(tmp_path, live_server, token, *, settle_timeout=4.0):
    """The pack station's emulators and its real agent, every device up; yields the emulators and the agent."""
    with emulated_devices(tmp_path, scale="cas-pdii", cameras=("overhead", "packing")) as made:
        profile = write_profile(tmp_path / "pack-1.toml", "pack-1", "pack", {
            "scanner": {"kind": "scanner", "profile": "honeywell-voyager-1450g", "url": made["scanner"].port,
                        "options": FAST},
            "scale": {"kind": "scale", "profile": "cas-pdii", "url": made["scale"].port,
                      "options": {**FAST, "settle_timeout": settle_timeout}},
            "label_printer": {"kind": "printer", "profile": "zebra-zd421-203", "url": made["zpl"].url,
                              "templates": ["shipping-label"], "options": {**FAST, "status_interval": 2.0}},
            "receipt_printer": {"kind": "printer", "profile": "epson-tm-t20iii", "url": made["escpos"].url,
                                "templates": ["packing-slip"], "options": {**FAST, "status_interval": 2.0}},
            "overhead_camera": {"kind": "camera", "profile": "generic-uvc", "url": made["overhead"].url,
                                "role": "overhead", "options": FAST},
            "packing_camera": {"kind": "camera", "profile": "generic-uvc", "url": made["packing"].url,
                               "role": "packing", "options": FAST},
        })
        agent = AgentProcess(profile, live_server, token, tmp_path)
        try:
            agent.start()
            made["agent"] = agent
            yield made
        finally:
            agent.stop()


def health(db, station_id: int) -> dict:
    from server.models import Station
    from server.services.stations import station_health

    return read(db, lambda: station_health(db.session.get(Station, station_id)))


def all_up(db, station_id: int, agent) -> None:
    wait_for(lambda: (h := health(db, station_id))["state"] == "ok" and len(h["devices"]) == 6
             and all(d["state"] == "up" for d in h["devices"].values()),
             "the agent's six devices up on the server", on_fail=lambda: f"{health(db, station_id)}\n{tail(agent.log)}")


def open_station_screen(chromium, live_server):
    """The packer's station screen at 1280x800, signed in on the browser by badge."""
    context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(PAGE_WAIT_MS)
    page = context.new_page()
    page.goto("/sign-in")
    page.keyboard.type("B-P1")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/stations/PACK-1")
    expect(page.locator("#station")).to_have_attribute("data-live", "yes")
    return context, page


def signed_in_office(chromium, live_server):
    context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PAGE_WAIT_MS)
    office = context.new_page()
    office.goto("/sign-in")
    office.fill("#username", "olga")
    office.fill("#password", "s3cret-pass")
    office.get_by_role("button", name="Sign in with password").click()
    office.wait_for_url(re.compile(r"/$"))
    return context, office


def pick_the_batch(chromium, live_server, db) -> None:
    """The picking flow on the handheld: totes TOTE-0001 (order 1001) and TOTE-0002 (order 1002)."""
    context = chromium.new_context(base_url=live_server, locale="en-US", viewport={"width": 360, "height": 640})
    try:
        page = context.new_page()
        sign_in_and_open_picking(page, "en")
        take_batch_and_scan_totes(page, ["TOTE-0001", "TOTE-0002"])
        pick_every_line(page, db)
        drop_off(page)
    finally:
        context.close()


def shown(page, sound: str, text: str = "") -> None:
    """The station's prompt after an input through the agent: its sound, and its words."""
    prompt = page.locator("#prompt")
    if text:
        expect(prompt.locator(".prompt-message")).to_contain_text(text, timeout=LIVE)
    expect(prompt).to_have_class(re.compile(rf"\bsound-{sound}\b"), timeout=LIVE)


def count(db, model, *where) -> int:
    return read(db, lambda: db.session.execute(select(func.count()).select_from(model).where(*where)).scalar())


# Rows are read into plain values inside one short transaction: an expired ORM attribute read
# later would open a transaction of its own (on SQLite, the writer's lock) and stall the server.

def jobs_of(db, station_id: int, kind: str, template: str | None = None) -> list[dict]:
    def query():
        rows = db.session.execute(select(StationJob).where(StationJob.station_id == station_id,
                                                           StationJob.kind == kind).order_by(StationJob.id)).scalars()
        return [{"id": r.id, "state": r.state, "result": r.result, "template": (r.payload or {}).get("template")}
                for r in rows if template is None or (r.payload or {}).get("template") == template]

    return read(db, query)


def parcel_media(db, order_id: int) -> dict[str, dict]:
    def query():
        rows = db.session.execute(select(ParcelMedia).join(Parcel, Parcel.id == ParcelMedia.parcel_id)
                                  .where(Parcel.order_id == order_id)).scalars()
        return {row.kind: {"partial": row.partial, "sha256": row.sha256, "media_file_id": row.media_file_id}
                for row in rows}

    return read(db, query)


def parcels_of(db, order_id: int) -> list[dict]:
    def query():
        rows = db.session.execute(select(Parcel).where(Parcel.order_id == order_id).order_by(Parcel.seq)).scalars()
        return [{"id": p.id, "status": p.status, "weight_g": p.weight_g, "tracking": p.tracking_number,
                 "sscc": p.sscc} for p in rows]

    return read(db, query)


def decoded_label(zpl, job) -> set[str]:
    import zxingcpp
    from PIL import Image

    png = zpl.png(job)
    assert png is not None, "the ZPL emulator renders no PNG"
    return {symbol.text for symbol in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))}


def test_a_picked_tote_packed_through_the_agent_with_evidence(chromium, live_server, db, site, tmp_path):
    from server.services.evidence import verify_pack

    pick_the_batch(chromium, live_server, db)
    assert read(db, lambda: db.session.get(Order, site["o1"]).status) == "picked"

    with pack_station(tmp_path, live_server, site["token"]) as station:
        agent, scanner, scale = station["agent"], station["scanner"], station["scale"]
        all_up(db, site["station"], agent)
        context, page = open_station_screen(chromium, live_server)
        try:
            panel = page.locator("#packing-panel")
            scanner.scan("B-P1", "]C0")
            expect(page.locator("#worker")).to_have_text("Анна Петрова", timeout=LIVE)

            # The tote from picking opens its order: the lines, the suggested box, the clip starts.
            scanner.scan("TOTE-0001", "]C0")
            expect(panel).to_have_attribute("data-state", "verify", timeout=LIVE)
            expect(panel.locator(".pack-order")).to_have_text("Order 1001")
            expect(panel.locator(".pack-box")).to_contain_text("Box M")
            rows = panel.locator(".pack-lines tbody tr")
            expect(rows).to_have_count(2)
            wait_for(lambda: any(j["state"] == "done" for j in jobs_of(db, site["station"], "record_start")),
                     "the packing camera recording", on_fail=lambda: tail(agent.log))

            # One wrong scan: an iron of order 1002. The error sound; only a packing error written.
            scanner.scan(IRON, "]E0")
            shown(page, "error", "1002")
            assert count(db, PackingError, PackingError.kind == "other_order") == 1
            assert count(db, ParcelItem) == 0

            # Every unit: three kettles by their marking codes, two milk by GS1 with the lot.
            for serial in ("K-0001", "K-0002", "K-0003"):
                scanner.scan(marking(serial), "]d2")
                shown(page, "ok", "verified")
            scanner.scan(MILK_L1, "]C1")
            expect(rows.nth(1).locator(".verified")).to_have_text("1 / 2", timeout=LIVE)
            scanner.scan(MILK_L1, "]C1")
            expect(panel).to_have_attribute("data-state", "weighing", timeout=LIVE)
            assert count(db, MarkingCode) == 3

            # Out of tolerance (a tape gun left in the box): both weights; then corrected.
            scale.put(EXPECTED_G / 1000 + 0.82)
            expect(panel).to_have_attribute("data-state", "mismatch", timeout=LIVE)
            weights = panel.locator(".pack-weights")
            expect(weights.locator(".measured dd")).to_contain_text(str(EXPECTED_G + 820))
            expect(weights.locator(".expected dd")).to_contain_text(str(EXPECTED_G))
            assert count(db, PackingError, PackingError.kind == "weight_mismatch") == 1
            assert jobs_of(db, site["station"], "print") == []  # nothing printed for a wrong weight
            scale.put(0)
            scale.put(EXPECTED_G / 1000 + 0.03)
            expect(panel).to_have_attribute("data-state", "done", timeout=LIVE)

            # Label and slip printed with no click.
            zpl, escpos = station["zpl"], station["escpos"]
            wait_for(lambda: zpl.complete_jobs() and escpos.complete_jobs(), "the label and the slip printed",
                     on_fail=lambda: tail(agent.log))
            [parcel] = parcels_of(db, site["o1"])
            assert parcel["status"] == "packed" and parcel["weight_g"] == EXPECTED_G + 30
            [label] = zpl.complete_jobs()
            texts = decoded_label(zpl, label)
            assert parcel["tracking"] in texts, texts
            if parcel["sscc"]:
                assert any(parcel["sscc"] in text for text in texts), texts
            [slip] = escpos.complete_jobs()
            receipt = escpos.decode(slip).text
            assert "1001" in receipt and "Чайник" in receipt and "Молоко" in receipt, receipt
            expect(panel.locator(".pack-packed .tracking")).to_have_text(parcel["tracking"])
            assert read(db, lambda: db.session.get(Order, site["o1"]).status) == "packed"
        finally:
            context.close()

        # The still and the whole clip reach the server with their hashes.
        wait_for(lambda: {"still", "clip"} <= set(parcel_media(db, site["o1"])), "the still and the clip stored",
                 on_fail=lambda: tail(agent.log))
        media = parcel_media(db, site["o1"])
        assert not media["clip"]["partial"]

    # The order page shows the still and plays the clip; the evidence pack verifies.
    context, office = signed_in_office(chromium, live_server)
    try:
        office.goto(f"/orders/{site['o1']}")
        card = office.locator(f"#parcel-{parcel['id']}")
        expect(card).to_contain_text(parcel["tracking"])
        still = card.locator(".evidence img")
        expect(still).to_be_visible()
        assert still.evaluate("img => img.complete && img.naturalWidth") == 640
        player = card.locator(".clip-player")
        expect(player).to_have_attribute("data-state", "paused")
        frames = int(player.get_attribute("data-frames"))
        assert frames >= 5
        player.locator("button.play").click()
        expect(player).to_have_attribute("data-state", "playing")
        expect(player).not_to_have_attribute("data-frame", "0")
        width, lit = player.locator("canvas").evaluate(
            "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " let lit = 0; for (let i = 0; i < d.length; i += 4) lit += d[i] > 30; return [c.width, lit]; }")
        assert width >= 640 and lit > 1000, (width, lit)  # the clip's frames drawn, not a blank canvas

        key = office.request.get("/api/v1/evidence/public-key").json()["pem"]
        pack = office.request.get(card.locator("a.evidence-pack").get_attribute("href"))
        assert pack.status == 200 and pack.headers["content-type"] == "application/zip"
        assert verify_pack(pack.body(), key) == []
    finally:
        context.close()


@pytest.fixture
def picked(db):
    """Two picked orders in totes at the pack area, as picking leaves them: 3001 (two kettles,
    marked) in TOTE-7 and 3002 (an iron) in TOTE-8."""
    from server.models import OrderLine, Tote

    s = ready_to_pack(picking_warehouse())
    ids = {}
    for number, sku, quantity, tote in (("3001", s.kettle, 2, "TOTE-7"), ("3002", s.iron, 1, "TOTE-8")):
        o = Order(warehouse_id=s.wh.id, number=number, status="picked", customer_name="Пётр Иванов",
                  delivery_address="Невский пр., 28", carrier="local")
        _db.session.add(o)
        _db.session.flush()
        _db.session.add(OrderLine(order_id=o.id, line_no=1, sku_id=sku.id, quantity=quantity, reserved=0,
                                  picked=quantity))
        _db.session.add(Tote(warehouse_id=s.wh.id, code=tote, status="at_pack", order_id=o.id, cell_id=s.pack.id))
        ids[number] = o.id
    f.user("anna", roles=("packer",), badge="B-P1").full_name = "Анна Петрова"
    f.user("olga", ("supervisor",), password="s3cret-pass")
    station, auth = f.station(s.wh, code="PACK-1", kind="pack")
    out = {**ids, "station": station.id, "token": auth["Authorization"].removeprefix("Bearer ")}
    _db.session.rollback()
    return out


def scan_events(db, station_id: int) -> int:
    from server.models import StationEvent

    return count(db, StationEvent, StationEvent.station_id == station_id, StationEvent.kind == "scan")


def test_pack_station_failures_each_give_a_clear_state_and_lose_nothing(chromium, live_server, db, picked,
                                                                        tmp_path):
    from server.services.evidence import verify_pack

    expected = 2 * 1000 + 300 + 20
    with pack_station(tmp_path, live_server, picked["token"], settle_timeout=1.0) as station:
        agent, scanner, scale, zpl, escpos = (station[k] for k in ("agent", "scanner", "scale", "zpl", "escpos"))
        all_up(db, picked["station"], agent)
        context, page = open_station_screen(chromium, live_server)
        scans = 0

        def scan(code: str, aim: str) -> None:
            nonlocal scans
            scanner.scan(code, aim)
            scans += 1

        try:
            panel = page.locator("#packing-panel")

            def device(name: str):
                return page.locator(f'ul.devices li[data-device="{name}"]').first
            scan("B-P1", "]C0")
            expect(page.locator("#worker")).to_have_text("Анна Петрова", timeout=LIVE)
            scan("TOTE-7", "]C0")
            expect(panel).to_have_attribute("data-state", "verify", timeout=LIVE)
            wait_for(lambda: any(j["state"] == "done" for j in jobs_of(db, picked["station"], "record_start")),
                     "the packing camera recording", on_fail=lambda: tail(agent.log))
            before = station["packing"].frames_sent
            wait_for(lambda: station["packing"].frames_sent >= before + 5, "a few frames of the clip")

            # The packing camera is lost mid-clip: the part so far is kept (partial), recording goes on.
            station["packing"].unplug()
            shown(page, "error", "The camera was lost: the video so far is kept")
            expect(device("packing_camera")).to_have_class(
                re.compile(r"\bstate-down\b"), timeout=LIVE)
            wait_for(lambda: parcel_media(db, picked["3001"]).get("clip", {}).get("partial") is True,
                     "the partial clip kept with the parcel", on_fail=lambda: tail(agent.log))
            station["packing"].replug()
            expect(device("packing_camera")).to_have_class(
                re.compile(r"\bstate-up\b"), timeout=LIVE)

            # An item of another order: refused, named; nothing packed.
            scan(IRON, "]E0")
            shown(page, "error", "3002")
            # A marking code already packed: refused; the unit is recorded once.
            scan(marking("K-1001"), "]d2")
            shown(page, "ok", "verified")
            scan(marking("K-1001"), "]d2")
            shown(page, "error", "already packed")
            assert count(db, MarkingCode) == 1 and count(db, ParcelItem) == 1
            assert count(db, PackingError, PackingError.kind.in_(("other_order", "marking_repeat"))) == 2
            scan(marking("K-1002"), "]d2")
            expect(panel).to_have_attribute("data-state", "weighing", timeout=LIVE)

            # A scale that never settles: the station says so; nothing is accepted while it rocks.
            zpl.set_paper(False)  # and the label printer is out of paper (its report comes first)
            expect(device("label_printer")).to_contain_text("out of paper", timeout=LIVE)
            scale.put(expected / 1000)
            scale.motion()
            shown(page, "error", "does not settle")
            expect(device("scale").locator(".detail")).to_contain_text("does not settle")
            assert panel.get_attribute("data-state") == "weighing"
            assert parcels_of(db, picked["3001"])[0]["status"] == "packing"

            # It settles: the parcel is accepted; the slip prints, the label waits for paper.
            scale.motion(False)
            expect(panel).to_have_attribute("data-state", "done", timeout=LIVE)
            wait_for(lambda: escpos.complete_jobs(), "the packing slip printed", on_fail=lambda: tail(agent.log))
            label = panel.locator('.pack-document[data-template="shipping-label"]')
            expect(label.locator(".device-problem")).to_contain_text("out of paper", timeout=LIVE)
            expect(label).not_to_have_class(re.compile(r"\bresult-printed\b"))
            assert zpl.complete_jobs() == []
            [parcel] = parcels_of(db, picked["3001"])
            assert parcel["status"] == "packed"

            # The paper is back: the label prints, once.
            zpl.set_paper(True)
            expect(label).to_have_class(re.compile(r"\bresult-printed\b"), timeout=LIVE)
            expect(label.locator(".device-problem")).to_have_count(0)
            [printed] = zpl.complete_jobs()
            assert parcel["tracking"] in decoded_label(zpl, printed)
            assert [j["result"] for j in jobs_of(db, picked["station"], "print", "shipping-label")] == ["printed"]
        finally:
            context.close()

        # Nothing lost: every scan reached the server, the outbox is empty, both clip parts are kept.
        wait_for(lambda: (agent.status() or {}).get("waiting") == 0 and agent.status()["media_waiting"] == 0
                 and agent.status()["media_refused"] == 0, "the agent's outbox drained",
                 on_fail=lambda: f"{agent.status()}\n{tail(agent.log)}")
        assert scan_events(db, picked["station"]) == scans
        wait_for(lambda: len(clip_rows(db, picked["3001"])) == 2, "both parts of the clip stored",
                 on_fail=lambda: tail(agent.log))
        assert sorted(clip_rows(db, picked["3001"])) == [False, True]  # the part before the loss is partial

    context, office = signed_in_office(chromium, live_server)
    try:
        office.goto(f"/orders/{picked['3001']}")
        expect(office.locator(".media-partial")).to_have_count(1)
        expect(office.locator(".clip-player")).to_have_count(2)
        key = office.request.get("/api/v1/evidence/public-key").json()["pem"]
        pack = office.request.get(office.locator("a.evidence-pack").get_attribute("href"))
        assert verify_pack(pack.body(), key) == []
    finally:
        context.close()


def clip_rows(db, order_id: int) -> list[bool]:
    """The partial flag of each clip file kept with the order's parcels."""
    return read(db, lambda: [row.partial for row in db.session.execute(
        select(ParcelMedia).join(Parcel, Parcel.id == ParcelMedia.parcel_id)
        .where(Parcel.order_id == order_id, ParcelMedia.kind == "clip")).scalars()])
