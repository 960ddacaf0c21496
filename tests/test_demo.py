"""The demo: seeding on a small size, and `cellwms demo` as a real process."""

import os
import queue
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import closing
from datetime import date

import pytest
from sqlalchemy import func, select

from server.commands.demo_stations import DEMO_STATIONS, _station_toml, demo_codes
from server.models import Cell, Delivery, DeliveryLine, Movement, Quant, Sku, SkuBarcode, Station, User, Zone
from server.models.people import Role
from server.services.barcodes import is_valid_gtin
from server.services.demo import DEMO_USERS, DemoRefused, DemoSize, issue_station_tokens, seed_demo
from server.services.demo_flows import DEMO_ASN_BLIND, DEMO_ASN_LOTS, DEMO_ASN_SHORT
from server.services.stock import check_quants
from tests import factories
from tests.assertions import count

SMALL = DemoSize(blocks=2, aisles=3, bays=4, levels=2, skus=60, stocked_share=0.5)


def test_seed_small_demo_is_consistent(db):
    info = seed_demo(SMALL, today=date(2025, 3, 1))
    db.session.commit()
    storage = 2 * 3 * 4 * 2 * 2
    assert info.created and info.cells == storage + 6 and info.skus == 60
    assert count(db, Cell) == storage + 6
    assert check_quants() == []
    assert info.stocked_cells == storage // 2
    movements = db.session.execute(select(Movement)).scalars().all()
    assert {m.reason for m in movements if m.kind == "receive"} == {"opening stock"}
    # The rest: the demo orders' reservations and the picks of the released wave's first batch.
    assert {m.kind for m in movements if m.kind != "receive"} == {"reserve", "pick"}
    assert all(m.reference.startswith("order DEMO-") for m in movements if m.kind == "reserve")
    assert count(db, Quant) >= storage // 2

    barcodes = db.session.execute(select(SkuBarcode.barcode, SkuBarcode.kind)).all()
    assert len(barcodes) == 60 and {k for _, k in barcodes} == {"ean13"}
    for barcode, _ in barcodes:
        assert len(barcode) == 14 and barcode[0] == "0" and is_valid_gtin(barcode[1:])
        assert 460 <= int(barcode[1:4]) <= 469
    names = [n for (n,) in db.session.execute(select(Sku.name))]
    assert len(set(names)) == 60
    assert any(re.search("[а-яА-Я]", n) for n in names) and any(n.isascii() for n in names)

    # Tracked SKUs got their lot and expiry in the ledger.
    for quant in db.session.execute(select(Quant).join(Sku, Sku.id == Quant.sku_id)).scalars():
        assert bool(quant.lot) == quant.sku.track_lot
        assert (quant.expiry is not None) == quant.sku.track_expiry

    users = {u.username: u for u in db.session.execute(select(User)).scalars()}
    roles = set().union(*(u.roles for u in users.values()))
    assert roles == {r.value for r in Role}
    for demo_user in DEMO_USERS:
        user = users[demo_user.username]
        assert user.badge_code == demo_user.badge
        if demo_user.password:
            assert user.check_password(demo_user.password)
        if demo_user.pin:
            assert user.check_pin(demo_user.pin)
        if set(demo_user.roles) & {"supervisor", "admin"}:
            assert user.pin_hash, f"{demo_user.username} would sign in by a badge alone"
    assert {s.kind for s in db.session.execute(select(Station)).scalars()} == {"dock", "pack", "handoff"}
    # The demo's stations are emulated (emulators and a script drive them), marked as such.
    assert {(s.code, s.emulated) for s in db.session.execute(select(Station)).scalars()} == {
        (code, True) for code in ("DOCK-1", "PACK-1", "PACK-2", "HANDOFF-1")}

    again = seed_demo(SMALL)
    assert not again.created and again.cells == info.cells and count(db, Movement) == info.movements
    # A demo database from before the flag: its stations are marked when the demo starts again.
    db.session.execute(Station.__table__.update().values(emulated=False))
    db.session.commit()
    tokens = issue_station_tokens()
    db.session.commit()
    assert set(tokens) == {"DOCK-1", "PACK-1", "PACK-2", "HANDOFF-1"} == {s.code for s in DEMO_STATIONS}
    db.session.expire_all()
    assert all(s.emulated for s in db.session.execute(select(Station)).scalars())


def test_demo_has_dock_cells_and_three_asns_and_the_dock_scans_one(db):
    seed_demo(SMALL, today=date(2025, 3, 1))
    db.session.commit()
    kinds = dict(db.session.execute(
        select(Zone.kind, func.count(Cell.id)).join(Cell, Cell.zone_id == Zone.id).group_by(Zone.kind)).all())
    assert kinds["receiving"] >= 2 and kinds["quarantine"] >= 1

    def asns():
        return {d.number: d for d in db.session.execute(select(Delivery)).scalars()}

    found = asns()
    assert set(found) == {DEMO_ASN_SHORT, DEMO_ASN_BLIND, DEMO_ASN_LOTS}
    short, blind, lots = found[DEMO_ASN_SHORT], found[DEMO_ASN_BLIND], found[DEMO_ASN_LOTS]
    assert all(d.status == "expected" and d.supplier for d in found.values())
    assert [x.expected_qty for x in short.lines] == [4, 2, 3] and not short.blind
    assert all(not (x.sku.track_lot or x.sku.track_expiry or x.sku.track_serial) for x in short.lines)
    assert blind.blind and blind.lines == []
    assert lots.lines and all(x.lot and x.expiry and x.sku.track_lot for x in lots.lines)

    # The dock scans the short ASN's number, then its goods: the first line twice (of 4).
    dock = next(s for s in DEMO_STATIONS if s.code == "DOCK-1")
    codes = demo_codes(dock)
    eans = [x.sku.barcodes[0].barcode[1:] for x in short.lines]
    assert codes[:5] == [DEMO_ASN_SHORT, eans[0], eans[0], eans[1], eans[2]]
    assert demo_codes(next(s for s in DEMO_STATIONS if s.code == "PACK-1"))[0] != DEMO_ASN_SHORT
    # ... and prints the receiving act on its receipt printer.
    profile = _station_toml(dock, {"receipt_printer": {"kind": "printer", "profile": dock.receipt_printer,
                                                        "url": "tcp://127.0.0.1:9100"}})
    assert 'templates = ["receiving-act"]' in profile and dock.receipt_printer in ("epson-tm-t20iii", "xprinter-xp-58iih")

    # Seeding again adds nothing; a demo database without them gets them back.
    seed_demo(SMALL)
    assert len(asns()) == 3 and db.session.execute(select(func.count()).select_from(DeliveryLine)).scalar_one() == 5
    db.session.execute(DeliveryLine.__table__.delete())
    db.session.execute(Delivery.__table__.delete())
    db.session.commit()
    assert not seed_demo(SMALL).created
    db.session.commit()
    assert set(asns()) == {DEMO_ASN_SHORT, DEMO_ASN_BLIND, DEMO_ASN_LOTS}


def test_demo_never_seeds_a_database_with_other_data(db):
    factories.warehouse(code="REAL")
    db.session.commit()
    with pytest.raises(DemoRefused):
        seed_demo(SMALL)
    db.session.rollback()
    assert count(db, Sku) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_command_serves_pages_and_prints_every_template(tmp_path):
    port = _free_port()
    env = dict(os.environ, CELLWMS_INSTANCE=str(tmp_path / "instance"), PYTHONUNBUFFERED="1")
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from server.cli import main; main()", "demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
    )
    lines: queue.Queue = queue.Queue()
    output: list[str] = []

    def read():
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        url, line = None, ""
        while "Ctrl+C stops the demo" not in line:
            line = lines.get(timeout=300)  # a bound on waiting, not a performance check
            assert line is not None, "demo exited early:\n" + "".join(output)
            match = re.search(r"cellwms demo at (http://\S+)", line)
            url = match.group(1) if match else url
        assert url == f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(url, timeout=60) as response:
            assert response.status == 200
        text = "".join(output)
        assert "BDG-1001" in text and "supervisor-demo" in text
        assert re.search(r"admin\s+admin\s+badge BDG-9001\s+PIN 9130", text)
        for template in ("cell-label", "sku-sticker", "tote-label", "badge", "shipping-label", "packing-slip",
                         "handoff-act", "receiving-act"):
            assert f"printed {template} ->" in text
        prints = tmp_path / "instance" / "demo-prints"

        def saved():
            return (len(list((prints / "PACK-1" / "label_printer").glob("job-*.png"))),
                    len(list((prints / "PACK-1" / "receipt_printer").glob("job-*.bin"))))

        # Every template once, then the station agent's first jobs (a sticker and a slip).
        for _ in range(300):  # the emulators save a job just after confirming it; wait at most 30 s
            if saved() >= (6, 3):
                break
            time.sleep(0.1)
        assert saved() >= (6, 3)
        # DOCK-1's first job: the receiving act on its receipt printer
        dock_receipts = prints / "DOCK-1" / "receipt_printer"
        for _ in range(600):
            if list(dock_receipts.glob("job-*.bin")):
                break
            time.sleep(0.1)
        assert list(dock_receipts.glob("job-*.bin"))
        database = tmp_path / "instance" / "cellwms.db"
        assert database.exists()

        def flowing():  # what the emulated stations' agents delivered so far
            with closing(sqlite3.connect(database, timeout=30)) as connection:
                return {(code, kind) for code, kind in connection.execute(
                    "SELECT s.code, e.kind FROM station_events e JOIN stations s ON s.id = e.station_id")}

        expected = {(code, "scan") for code in ("DOCK-1", "PACK-1", "PACK-2", "HANDOFF-1")} | {
            ("PACK-1", "weight"), ("PACK-2", "weight"), ("DOCK-1", "photo"), ("PACK-1", "job_result")}
        for _ in range(600):  # scans every 4 s, weights every 7 s; wait at most 60 s
            if expected <= flowing():
                break
            time.sleep(0.1)
        assert expected <= flowing(), sorted(expected - flowing())
        with closing(sqlite3.connect(database, timeout=30)) as connection:
            marked = dict(connection.execute("SELECT code, emulated FROM stations"))
        assert marked == {"DOCK-1": 1, "PACK-1": 1, "PACK-2": 1, "HANDOFF-1": 1}


        def dock_counts():  # what DOCK-1's script counted: through the emulated station, so not a person's
            with closing(sqlite3.connect(database, timeout=30)) as connection:
                return connection.execute(
                    "SELECT s.code, s.emulated FROM receipt_counts c JOIN stations s ON s.id = c.station_id").fetchall()

        for _ in range(600):  # the ASN and its first goods, 4 s apart; wait at most 60 s
            if dock_counts():
                break
            time.sleep(0.1)
        assert dock_counts() and set(dock_counts()) == {("DOCK-1", 1)}
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_demo_script_is_finite_and_the_dock_receives_the_asn_once(app, db, tmp_path):
    """The emulated stations play a finite script once (badge, then each code once), never a loop;
    a demo started again after the ASN was received gives the dock nothing to scan."""
    from server.commands.demo_stations import DemoStations, demo_badge

    seed_demo(SMALL, today=date(2025, 3, 1))
    db.session.commit()
    dock = next(s for s in DEMO_STATIONS if s.code == "DOCK-1")
    script = demo_codes(dock)
    assert script[0] == DEMO_ASN_SHORT and len(script) == len(set(script)) + 1  # the first line twice

    typed = []

    class FakeScanner:
        class stdin:
            write = staticmethod(typed.append)
            flush = staticmethod(lambda: None)

        @staticmethod
        def poll():
            return None

    stations = DemoStations(tmp_path, "", {})
    stations.scanners["DOCK-1"] = FakeScanner
    stations.scripts["DOCK-1"] = script
    issue_station_tokens()
    db.session.commit()
    for station in db.session.execute(select(Station)).scalars():
        station.health = {"devices": {"scanner": {"state": "up"}}}  # every one: the watcher ends at once
    db.session.commit()
    stations.sign_in_workers(app, wait_s=5, every_s=0.01)
    deadline = time.monotonic() + 10
    while len(typed) < 1 + len(script) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # nothing comes after the script
    assert typed == [f"{code}\n" for code in [demo_badge(dock), *script]]
    # A bounded count of scans at every station: the badge and a short script, once.
    scripts = {s.code: demo_codes(s) for s in DEMO_STATIONS}
    assert all(1 <= len(codes) <= 12 for codes in scripts.values()), scripts
    assert sum(1 + len(codes) for codes in scripts.values()) <= 40

    delivery = db.session.execute(select(Delivery).filter_by(number=DEMO_ASN_SHORT)).scalar_one()
    delivery.status = "receiving"
    db.session.commit()
    assert demo_codes(dock) == []


def test_demo_orders_wait_at_the_cards_first_stages(db):
    from server.models import Batch, Order

    seed_demo(SMALL, today=date(2025, 3, 1))
    orders = db.session.execute(select(Order).order_by(Order.number)).scalars().all()
    statuses = [(o.status, o.postponed_reason) for o in orders]
    assert statuses.count(("new", None)) == 3 and statuses[-1] == ("postponed", "awaiting_stock")
    # One wave released; its first batch picked into totes at the pack area, one of them packed.
    assert statuses.count(("packed", None)) == 1 and statuses.count(("picked", None)) >= 1
    assert sum(statuses.count((s, None)) for s in ("picking", "picked", "packed")) == 4
    assert statuses.count(("reserved", None)) == len(orders) - 8
    assert db.session.execute(select(func.count()).select_from(Batch)).scalar_one() >= 1
    assert all(o.source == "demo" and o.number.startswith("DEMO-") and o.customer_phone for o in orders)
    seed_demo(SMALL, today=date(2025, 3, 2))  # a second start adds none
    assert db.session.execute(select(func.count()).select_from(Order)).scalar_one() == len(orders)
    assert check_quants() == []


def test_demo_has_picked_totes_for_pack1_and_one_packed_parcel_with_evidence(app, db):
    from pathlib import Path

    from server.models import Order, PackingSession, Parcel, ParcelItem, ParcelMedia, Tote
    from server.models.stations import MediaFile
    from server.services import evidence

    seed_demo(SMALL, today=date(2025, 3, 1))
    db.session.commit()
    at_pack = db.session.execute(select(Tote).where(Tote.status == "at_pack")).scalars().all()
    assert at_pack and all(t.code.startswith("TOTE-9") and t.cell_id for t in at_pack)
    for tote in at_pack:  # each carries a picked demo order, every unit picked
        order = db.session.get(Order, tote.order_id)
        assert order.number.startswith("DEMO-") and order.status == "picked"
        assert all(line.picked == line.quantity for line in order.lines)

    parcel = db.session.execute(select(Parcel)).scalar_one()
    order = db.session.get(Order, parcel.order_id)
    assert order.status == "packed" and parcel.status == "packed" and parcel.tracking_number
    assert parcel.weight_g == parcel.expected_weight_g and parcel.label and parcel.packed_at
    station = db.session.get(Station, parcel.station_id)
    assert station.code == "PACK-1" and station.emulated
    units = db.session.execute(select(func.sum(ParcelItem.quantity)).where(ParcelItem.parcel_id == parcel.id)).scalar()
    assert units == sum(line.quantity for line in order.lines)
    session = db.session.execute(select(PackingSession).where(PackingSession.order_id == order.id)).scalar_one()
    assert session.status == "closed"

    media = {m.kind: m for m in db.session.execute(select(ParcelMedia).where(ParcelMedia.parcel_id == parcel.id))
             .scalars()}
    assert set(media) == {"still", "clip"}
    for row in media.values():
        stored = db.session.get(MediaFile, row.media_file_id)
        assert stored.complete and stored.sha256 == row.sha256
    still = db.session.get(MediaFile, media["still"].media_file_id)
    assert still.content_type == "image/jpeg"
    assert Path(app.config["MEDIA_DIR"]).exists()
    assert evidence.verify_pack(evidence.evidence_pack(parcel.id)) == []

    seed_demo(SMALL, today=date(2025, 3, 2))  # a second start packs nothing more
    assert db.session.execute(select(func.count()).select_from(Parcel)).scalar_one() == 1
    assert check_quants() == []


def test_demo_packed_order_page_shows_still_clip_and_evidence_pack(app, client, db):
    from server.models import Order, Parcel
    from tests.test_pages import sign_in_password

    seed_demo(SMALL, today=date(2025, 3, 1))
    db.session.commit()
    parcel = db.session.execute(select(Parcel)).scalar_one()
    order = db.session.get(Order, parcel.order_id)
    sign_in_password(client, "supervisor", "supervisor-demo")
    html = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert order.number in html and parcel.tracking_number in html
    assert "<img src=" in html and 'class="clip-player"' in html and 'class="evidence-pack"' in html
    media = re.findall(r'src="(/api/v1/media/\d+)"', html)
    assert len(media) == 2
    clip = client.get(media[1])
    assert clip.status_code == 200 and clip.data[:4] == b"RIFF" and b"AVI " in clip.data[:16]
    pack = client.get(re.search(r'class="evidence-pack" href="([^"]+)"', html).group(1))
    assert pack.status_code == 200 and pack.data[:2] == b"PK"
