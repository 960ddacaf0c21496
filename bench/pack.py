"""Packing: from the stable weight entering the station agent to the shipping label's first byte.

`python -m bench pack -- [--orders 20] [--backend sqlite|postgresql]` prints a Markdown table
(SQLite, and PostgreSQL when DATABASE_URL is set); `cellwms bench pack --json` prints one JSON
object for one backend.

- Database: fresh (bench.stations.database), migrated with Alembic, seeded from the models: a
  warehouse (tolerance 30 g / 5 %, filler 20 g), a packing cell, three SKUs with EAN-13s,
  weights and sizes, two box types, a packer with a badge, a pack station with a token, and N
  picked orders (1-3 units each) in totes at the pack cell, as picking leaves them.
- Server: `cellwms server` (threaded, one process) on 127.0.0.1.
- Agent: the real `cellwms-station` program (`python -m terminal.cli station`) in its own
  process, with a profile: scanner on a pty scanner emulator, scale on a pty MT-SICS scale
  emulator (settles in 0.2 s), label printer (ZPL) and receipt printer (ESC/POS) on TCP
  emulators. No cameras (their jobs fail at once: no device).
- Per order: the badge (once), the tote, each unit (the bench waits for each scan's answer),
  then the expected weight goes on the scale emulator.
- t0: the agent's own time of the weight event (`occurred_at`, stamped by the agent when its
  scale device read the first stable reading; milliseconds, wall clock), read back from the
  server's station_events. t1: the wall-clock time the read carrying the label's `^XA` arrived
  at the ZPL emulator. Same machine, same clock. `occurred_at` is cut to the millisecond, so a
  sample may be up to 1 ms long.
- Stages (`stages_ms`, p50/p95 each; server times are when the request handler stamped them):
  upload (t0 -> the server's received_at of the weight event), server (-> the label job's
  created_at), job_poll (-> its sent_at: the agent took it, from its upload's answer or its long-poll), print (-> t1: the agent
  renders, checks the printer's status, sends).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import percentile, table
from bench.stations import database, free_port

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 300.0
BADGE = "BADGE-PACK-1"
SKUS = (  # code, name, EAN-13 body, weight g, (length, width, height) mm
    ("BENCH-KETTLE", "Kettle", "460123456789", 1000, (200, 150, 250)),
    ("BENCH-IRON", "Iron", "460123456780", 1200, (300, 120, 150)),
    ("BENCH-MUG", "Mug", "460123456781", 350, (120, 90, 100)),
)
FAST = {"backoff_min": 0.02, "backoff_max": 0.3}
WAIT = 30.0


class BenchError(RuntimeError):
    pass


# --- the database ----------------------------------------------------------------------------------


def prepare(url: str, instance: str, orders: int) -> dict:
    """Migrate and seed; returns {"token", "station_id", "orders": [(tote, [ean, ...], expected g)]}."""
    import flask_migrate

    from server import create_app
    from server.auth import new_token
    from server.extensions import db
    from server.models import Cell, Order, OrderLine, Sku, SkuBarcode, Station, Tote, User, Warehouse, Zone
    from server.models.shipping import BoxType
    from server.services.barcodes import check_digit

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
    with app.app_context():
        flask_migrate.upgrade()
        wh = Warehouse(code="W1", name="Bench", pack_tolerance_g=30, pack_tolerance_pct=5.0, pack_filler_g=20)
        db.session.add(wh)
        db.session.flush()
        zone = Zone(warehouse_id=wh.id, code="P", name="Packing", kind="packing")
        db.session.add(zone)
        db.session.flush()
        cell = Cell(warehouse_id=wh.id, zone_id=zone.id, address="W1-P-01", barcode="W1-P-01")
        db.session.add(cell)
        skus = []
        for code, name, body, grams, (length, width, height) in SKUS:
            ean = body + str(check_digit(body))
            sku = Sku(code=code, name=name, weight_g=grams, length_mm=length, width_mm=width, height_mm=height)
            sku.barcodes.append(SkuBarcode(barcode=ean.zfill(14), kind="ean13"))
            db.session.add(sku)
            skus.append((sku, ean))
        boxes = (("M", (400, 300, 300), 300), ("L", (600, 400, 400), 600))
        for code, (length, width, height), grams in boxes:
            db.session.add(BoxType(warehouse_id=wh.id, code=code, name=f"Box {code}", inner_length_mm=length,
                                   inner_width_mm=width, inner_height_mm=height, weight_g=grams))
        packer = User(username="packer", full_name="Bench Packer", badge_code=BADGE)
        packer.roles = ("packer",)
        db.session.add(packer)
        token, digest = new_token()
        station = Station(warehouse_id=wh.id, code="PACK-B", name="Bench pack station", kind="pack",
                          token_hash=digest)
        db.session.add(station)
        db.session.flush()
        plan = []
        for i in range(orders):
            lines = [(skus[i % 3], 1)] if i % 2 == 0 else [(skus[i % 3], 1), (skus[(i + 1) % 3], 1 + i % 2)]
            order = Order(warehouse_id=wh.id, number=f"B{i + 1:05d}", status="picked", customer_name="Bench",
                          delivery_address="Nevsky 28", carrier="local")
            db.session.add(order)
            db.session.flush()
            for n, ((sku, _ean), qty) in enumerate(lines, start=1):
                db.session.add(OrderLine(order_id=order.id, line_no=n, sku_id=sku.id, quantity=qty, reserved=0,
                                         picked=qty))
            tote = f"TOTE-{i + 1:04d}"
            db.session.add(Tote(warehouse_id=wh.id, code=tote, status="at_pack", order_id=order.id, cell_id=cell.id))
            plan.append((order.number, tote, [ean for (_sku, ean), qty in lines for _ in range(qty)]))
        db.session.commit()
        station_id = station.id
        db.session.remove()
        db.engine.dispose()
    return {"token": token, "station_id": station_id, "orders": plan}


class Reader:
    """Short read-only looks at the server's database (each in its own transaction)."""

    def __init__(self, url: str, instance: str):
        from server import create_app

        self.app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})

    def look(self, query):
        from server.extensions import db

        with self.app.app_context():
            try:
                return query(db)
            finally:
                db.session.rollback()
                db.session.remove()

    def close(self) -> None:
        from server.extensions import db

        with self.app.app_context():
            db.engine.dispose()

    def health(self, station_id: int) -> dict:
        from server.models import Station

        return self.look(lambda db: dict(db.session.get(Station, station_id).health or {}))

    def events(self, station_id: int, kind: str) -> list[tuple]:
        """(occurred_at, outcome, status, received_at, event_id) of the station's `kind` events, in
        the agent's order."""
        from sqlalchemy import select

        from server.models import StationEvent

        q = (select(StationEvent.occurred_at, StationEvent.outcome, StationEvent.status, StationEvent.received_at,
                    StationEvent.event_id)
             .where(StationEvent.station_id == station_id, StationEvent.kind == kind).order_by(StationEvent.seq))
        return self.look(lambda db: [tuple(row) for row in db.session.execute(q).all()])

    def label_job(self, event_id: str) -> tuple | None:
        """(created_at, sent_at) of the shipping-label job the event `event_id` queued."""
        from sqlalchemy import select

        from server.models import StationJob

        q = select(StationJob).where(StationJob.created_by_event == event_id, StationJob.kind == "print")
        jobs = self.look(lambda db: [(j.created_at, j.sent_at, (j.payload or {}).get("template"))
                                     for j in db.session.execute(q).scalars()])
        return next(((created, sent) for created, sent, template in jobs if template == "shipping-label"), None)

    def expected_weight(self, number: str) -> int | None:
        from sqlalchemy import select

        from server.models import Order
        from server.models.shipping import Parcel

        q = (select(Parcel.expected_weight_g).join(Order, Order.id == Parcel.order_id)
             .where(Order.number == number).order_by(Parcel.id.desc()).limit(1))
        return self.look(lambda db: db.session.execute(q).scalar())


# --- processes -------------------------------------------------------------------------------------


class Child:
    def __init__(self, argv: list[str], env: dict, log: Path):
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_bytes()[-3000:].decode(errors="replace")
        return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def wait_for(condition, what: str, child: Child | None = None, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if child is not None and not child.alive():
            raise BenchError(f"{what}: the process exited\n{child.tail()}")
        if time.monotonic() >= deadline:
            raise BenchError(f"gave up after {timeout:.0f} s waiting for {what}\n{child.tail() if child else ''}")
        time.sleep(0.01)


def start_server(url: str, home: Path) -> tuple[Child, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "CELLWMS_INSTANCE": str(home / "instance"),
           "MEDIA_DIR": str(home / "media"), "SECRET_KEY": "bench", "PYTHONUNBUFFERED": "1"}
    server = Child([sys.executable, "-c", "from server.cli import main; main()", "server", "--port", str(port)],
                   env, home / "server.log")
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    wait_for(answers, "the server to answer", server, timeout=60)
    return server, base


def write_profile(path: Path, devices: dict[str, dict]) -> Path:
    lines = ["[station]", 'name = "pack-bench"', 'kind = "pack"', ""]
    for name, spec in devices.items():
        lines.append(f"[devices.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in spec.items() if key != "options"]
        lines.append(f"[devices.{name}.options]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in spec.get("options", {}).items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@contextlib.contextmanager
def emulators(home: Path):
    from printers.profiles import load_profile as printer_profile
    from terminal.devices.scales.profile import load as scale_profile
    from terminal.devices.scanners import load_profile as scanner_profile
    from terminal.emulators import all_running
    from terminal.emulators.escpos_printer import EscposPrinterEmulator
    from terminal.emulators.scale import ScaleEmulator
    from terminal.emulators.scanner import ScannerEmulator
    from terminal.emulators.zpl_printer import ZplPrinterEmulator

    made = {
        "scanner": ScannerEmulator(scanner_profile("honeywell-voyager-1450g")[1], link=str(home / "scanner"),
                                   byte_rate=50_000),
        "scale": ScaleEmulator(scale_profile("mettler-toledo-ics425")[1], link=str(home / "scale"), settle=0.2),
        "zpl": ZplPrinterEmulator(printer_profile("zebra-zd421-203")),
        "escpos": EscposPrinterEmulator(printer_profile("epson-tm-t20iii")),
    }
    with all_running(made):
        yield made


def start_agent(home: Path, base: str, token: str, made: dict) -> Child:
    profile = write_profile(home / "pack-bench.toml", {
        "scanner": {"kind": "scanner", "profile": "honeywell-voyager-1450g", "url": made["scanner"].port,
                    "options": FAST},
        "scale": {"kind": "scale", "profile": "mettler-toledo-ics425", "url": made["scale"].port, "options": FAST},
        "label_printer": {"kind": "printer", "profile": "zebra-zd421-203", "url": made["zpl"].url,
                          "templates": ["shipping-label", "sku-sticker"], "options": FAST},
        "receipt_printer": {"kind": "printer", "profile": "epson-tm-t20iii", "url": made["escpos"].url,
                            "templates": ["packing-slip"], "options": FAST},
    })
    argv = [sys.executable, "-u", "-m", "terminal.cli", "station", "--profile", str(profile), "--server", base,
            "--outbox", str(home / "agent.outbox.db"), "--media-dir", str(home / "agent-media"),
            "--retry-max", "0.5"]
    env = {**os.environ, "CELLWMS_STATION_TOKEN": token, "PYTHONUNBUFFERED": "1"}
    return Child(argv, env, home / "agent.log")


# --- the measurement -------------------------------------------------------------------------------


def _wall(moment) -> float:
    return moment.timestamp()


def measure(backend: str, orders: int = 20) -> dict:
    """Pack `orders` orders through the real agent and server on `backend`; the result as JSON."""
    with database(backend, "pack") as (label, url), tempfile.TemporaryDirectory(prefix="cellwms-pack-") as folder:
        home = Path(folder)
        seeded = prepare(url, str(home / "instance"), orders)
        station_id = seeded["station_id"]
        server, base = start_server(url, home)
        reader = Reader(url, str(home / "instance"))
        agent = None
        stages: dict[str, list[float]] = {}
        try:
            with emulators(home) as made:
                agent = start_agent(home, base, seeded["token"], made)
                wait_for(lambda: len(reader.health(station_id).get("devices") or {}) == 4
                         and all((d or {}).get("state") == "up" for d in reader.health(station_id)["devices"].values()),
                         "every device of the agent up on the server", agent, timeout=60)
                samples = _pack_all(seeded, made, reader, station_id, agent, stages)
        finally:
            if agent is not None:
                agent.stop()
            server.stop()
            reader.close()
        from bench.__main__ import machine

        return {"samples": samples, "orders": orders, "p50_ms": round(percentile(samples, 50), 1),
                "p95_ms": round(percentile(samples, 95), 1), "max_ms": round(max(samples), 1),
                "backend": label, "target_p95_ms": TARGET_P95_MS, "server": "cellwms server (threaded)",
                "t0": "agent's weight event occurred_at", "t1": "label's first byte at the ZPL emulator",
                "stages_ms": {stage: {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1)}
                              for stage, values in stages.items()},
                "machine": machine()}


def _pack_all(seeded: dict, made: dict, reader: Reader, station_id: int, agent: Child,
              stages: dict[str, list[float]]) -> list[float]:
    scanner, scale, zpl = made["scanner"], made["scale"], made["zpl"]
    scans = 0

    def scan(code: str, what: str) -> dict:
        nonlocal scans
        scanner.scan(code)
        scans += 1
        events = wait_for(lambda: (e := reader.events(station_id, "scan")) and len(e) >= scans
                          and e[scans - 1][1] is not None and e, f"the answer to {what}", agent)
        _occurred, outcome, status, _received, _event_id = events[scans - 1]
        if status != "stored" or (outcome or {}).get("sound") == "error":
            raise BenchError(f"{what}: {outcome}")
        return outcome

    scan(BADGE, "the badge")
    samples = []
    for number, tote, eans in seeded["orders"]:
        scan(tote, f"tote {tote}")
        for i, ean in enumerate(eans):
            outcome = scan(ean, f"unit {i + 1} of order {number}")
        if outcome.get("state") != "weighing":
            raise BenchError(f"order {number}: not weighing after its units: {outcome}")
        expected = reader.expected_weight(number)
        labels = len(zpl.complete_jobs())
        weights = len(reader.events(station_id, "weight"))
        scale.put(expected / 1000)
        jobs = zpl.wait_for_jobs(labels + 1, timeout=WAIT)
        if len(jobs) <= labels:
            raise BenchError(f"order {number}: no label within {WAIT:.0f} s\n{agent.tail()}")
        label = jobs[labels]
        if b"^XA" not in label.data or label.first_byte is None:
            raise BenchError(f"order {number}: the label job has no first byte: {label}")
        events = wait_for(lambda n=weights: (e := reader.events(station_id, "weight")) and len(e) > n and e,
                          f"order {number}'s weight event on the server", agent)
        occurred, outcome, _status, received, event_id = events[weights]
        if (outcome or {}).get("state") != "done":
            raise BenchError(f"order {number}: the weight was not accepted: {outcome}")
        t0, t1 = _wall(occurred), label.first_byte[0]
        samples.append(round((t1 - t0) * 1000, 1))
        job = reader.label_job(event_id)
        if job is not None and job[1] is not None:
            for stage, start, end in (("upload", t0, _wall(received)), ("server", _wall(received), _wall(job[0])),
                                      ("job_poll", _wall(job[0]), _wall(job[1])), ("print", _wall(job[1]), t1)):
                stages.setdefault(stage, []).append((end - start) * 1000)
        scale.put(0.0)  # the parcel comes off; the agent sees the empty platform before the next one
        time.sleep(scale.settle + 0.3)
    return samples


# --- entry points ----------------------------------------------------------------------------------


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("DATABASE_URL") else ["sqlite"]


def run(argv: list[str]) -> None:
    """`python -m bench pack -- [--orders N] [--backend sqlite|postgresql] [--json]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench pack --")
    parser.add_argument("--orders", type=int, default=20, help="orders packed per database")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], help="default: SQLite, and PostgreSQL "
                        "when DATABASE_URL is set")
    parser.add_argument("--json", action="store_true", help="one JSON object per backend, one a line")
    args = parser.parse_args(argv)
    if args.backend == "postgresql" and not os.environ.get("DATABASE_URL"):
        parser.error("--backend postgresql needs DATABASE_URL")
    results = [measure(b, args.orders) for b in ([args.backend] if args.backend else backends())]
    if args.json:
        for result in results:
            print(json.dumps(result))
        return
    print("## Packing: stable weight at the agent -> shipping label's first byte at the printer")
    print()
    stages = ("upload", "server", "job_poll", "print")
    print(table(["database", "parcels", "p50 ms", "p95 ms", "max ms", f"p95 < {TARGET_P95_MS:.0f} ms",
                 *(f"{stage} p50/p95 ms" for stage in stages)],
                [[r["backend"], len(r["samples"]), f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", f"{r['max_ms']:.0f}",
                  "yes" if r["p95_ms"] < TARGET_P95_MS else "NO",
                  *(f"{r['stages_ms'][stage]['p50']:.0f} / {r['stages_ms'][stage]['p95']:.0f}"
                    if stage in r["stages_ms"] else "" for stage in stages)] for r in results]))
