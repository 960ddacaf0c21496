"""The server-side time of one pick scan on the handheld, on a warehouse of 100,000 cells.

The warehouse of `bench/scan_stock.py` (100,000 cells, 1,000,000 quants, 50,000 SKUs, bulk-loaded),
a pack-area cell, and ready batches of 4 orders x 5 lines (one unit each, reserved in random placed
cells by ledger `reserve` movements). A picker works them through the picking flow in-process
(`server.scenarios.handheld_input`, no HTTP), each input in its own transaction and committed, as
the page's request runs it: take the batch, a tote per slot, then per line the cell scan, the item
scan (EAN-13) and the tote scan that records the pick (ledger movement, pick line, reservation,
order line, walked metres; the batch finished at its last line). Each of the three scans is timed;
taking batches, totes and drop-offs are not.

`python -m bench pick_scan -- [--cells N] [--quants N] [--skus N] [--samples N] [--backend ...]`,
or `cellwms bench pick-scan` with the same options.
"""

import argparse
import base64
import random
import tempfile
import time

from sqlalchemy import text

from bench import summary, table
from bench.scan_stock import ean13, load, on_each_database

ORDERS_PER_BATCH, LINES_PER_ORDER = 4, 5
WARMUP_LINES = 40


def _batches(db, n_lines: int, rng: random.Random) -> tuple[int, int, int]:
    """Ready batches covering `n_lines` pick lines; returns (picker id, pack cell id, lines made)."""
    from server.models import (
        Batch,
        BatchOrder,
        Cell,
        Order,
        OrderLine,
        OrderReservation,
        PickLine,
        User,
        Wave,
        Zone,
    )
    from server.services.pick_scans import reroute
    from server.services.stock import apply_movement

    pack_zone = Zone(warehouse_id=1, code="P", name="Pack", kind="packing")
    db.session.add(pack_zone)
    db.session.flush()
    pack = Cell(warehouse_id=1, zone_id=pack_zone.id, address="PACK-01", barcode="PACK-01")
    picker = User(username="picker", full_name="Picker", badge_code="B-PICK")
    picker.roles = ("picker",)
    db.session.add_all([pack, picker])
    db.session.flush()
    total = db.session.execute(text("SELECT count(*) FROM quants")).scalar()
    spread = max(1, total // (n_lines * 20))  # a sample spread over the warehouse
    quants = db.session.execute(text(
        "SELECT q.id, q.cell_id, q.sku_id, q.lot, q.expiry FROM quants q JOIN cells c ON c.id = q.cell_id "
        "WHERE c.block > 0 AND c.slot > 0 AND c.aisle > 0 AND q.quantity > q.reserved AND q.lot = '' "
        "AND q.expiry IS NULL AND q.id % :m = :k LIMIT :n"), {"m": spread, "k": rng.randrange(spread), "n": n_lines * 3}).all()
    rng.shuffle(quants)
    seen, chosen = set(), []
    for q in quants:  # one line per cell
        if q.cell_id not in seen:
            seen.add(q.cell_id)
            chosen.append(q)
    chosen = chosen[:n_lines]
    per_batch = ORDERS_PER_BATCH * LINES_PER_ORDER
    for b in range(0, len(chosen), per_batch):
        wave = Wave(warehouse_id=1, totes_per_cart=ORDERS_PER_BATCH, tote_volume_l=40.0, tote_max_kg=15.0)
        db.session.add(wave)
        db.session.flush()
        batch = Batch(wave_id=wave.id, warehouse_id=1, seq=b, cart=f"C-{b // per_batch:03d}")
        db.session.add(batch)
        db.session.flush()
        group = chosen[b:b + per_batch]
        for slot in range(1, ORDERS_PER_BATCH + 1):
            lines = group[(slot - 1) * LINES_PER_ORDER:slot * LINES_PER_ORDER]
            if not lines:
                break
            order = Order(warehouse_id=1, number=f"B{b:05d}-{slot}", status="picking")
            db.session.add(order)
            db.session.flush()
            db.session.add(BatchOrder(batch_id=batch.id, order_id=order.id, slot=slot))
            for n, q in enumerate(lines, start=1):
                line = OrderLine(order_id=order.id, line_no=n, sku_id=q.sku_id, quantity=1, reserved=1, picked=0)
                db.session.add(line)
                db.session.flush()
                apply_movement("reserve", q.sku_id, 1, from_cell_id=q.cell_id)
                reservation = OrderReservation(order_id=order.id, order_line_id=line.id, cell_id=q.cell_id,
                                               sku_id=q.sku_id, quantity=1)
                db.session.add(reservation)
                db.session.flush()
                db.session.add(PickLine(batch_id=batch.id, order_id=order.id, order_line_id=line.id,
                                        reservation_id=reservation.id, cell_id=q.cell_id, sku_id=q.sku_id,
                                        quantity=1, seq=n))
        db.session.flush()
        reroute(batch, None)
    db.session.commit()
    return picker.id, pack.id, len(chosen)


def run_backend(backend: str, url: str, n_cells: int, n_quants: int, n_skus: int, samples: int) -> list[list]:
    import flask_migrate

    from server import create_app
    from server.extensions import db
    from server.models import Cell, PickLine, User
    from server.scenarios import handheld_input
    from server.scenarios.picking import PICKING

    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance})
        with app.app_context():
            flask_migrate.upgrade()
            seconds = load(db, n_cells, n_quants, n_skus)
            rng = random.Random(11)
            warmup = min(WARMUP_LINES, samples)
            picker_id, _pack_id, n_lines = _batches(db, samples + warmup, rng)
            print(f"{backend}: loaded {n_cells:,} cells, {n_quants:,} quants in {seconds:.1f} s; "
                  f"{n_lines:,} pick lines in batches of {ORDERS_PER_BATCH * LINES_PER_ORDER}")
            timings: dict[str, list[float]] = {"cell": [], "item": [], "tote": []}
            totes = iter(range(1, 10**6))

            def send(kind, payload, timed=None):
                user = db.session.get(User, picker_id)
                start = time.perf_counter_ns()
                outcome = handheld_input(user, kind, payload, scenario=PICKING)
                db.session.commit()
                took = (time.perf_counter_ns() - start) / 1000
                db.session.expunge_all()
                prompt = outcome["prompt"]
                assert prompt["sound"] == "ok", prompt
                if timed is not None and done[0] >= warmup:
                    timings[timed].append(took)
                return prompt

            def code(value: str) -> dict:
                return {"raw_b64": base64.b64encode(value.encode()).decode(), "symbology": ""}

            done = [0]
            prompt = send("button", {"key": "take"})
            while done[0] < n_lines:
                state = prompt["state"]
                if state == "totes":
                    prompt = send("scan", code(f"TOTE-{next(totes):06d}"))
                elif state == "cell":
                    line = db.session.get(PickLine, prompt["screen"]["line"]["id"])
                    cell_code = db.session.get(Cell, line.cell_id).barcode
                    sku_id = line.sku_id
                    db.session.rollback()
                    send("scan", code(cell_code), "cell")
                    send("scan", code(ean13(sku_id)), "item")
                    prompt = send("scan", code(prompt["screen"]["line"]["tote"]), "tote")
                    done[0] += 1
                elif state == "drop":
                    prompt = send("scan", code("PACK-01"))
                elif state == "done":
                    if done[0] >= n_lines:
                        break
                    prompt = send("button", {"key": "take"})
                else:
                    raise AssertionError(prompt)
            rows = [[backend, f"{what} scan", *_stats(values)] for what, values in
                    (("cell", timings["cell"]), ("item (EAN-13)", timings["item"]),
                     ("tote: the pick recorded", timings["tote"]))]
            db.session.remove()
            db.engine.dispose()
    return rows


def _stats(timings: list[float]) -> list:
    s = summary(timings)
    return [s["n"], s["p50"] / 1000, s["p99"] / 1000, s["max"] / 1000]


def main(n_cells=100_000, n_quants=1_000_000, n_skus=50_000, samples=1000, backends=("sqlite", "postgresql")) -> str:
    rows = on_each_database(backends, lambda name, url: run_backend(name, url, n_cells, n_quants, n_skus, samples))
    return table(["database", "pick-flow input (handheld_input + commit)", "calls", "p50 ms", "p99 ms", "max ms"],
                 rows)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench pick_scan --")
    p.add_argument("--cells", type=int, default=100_000)
    p.add_argument("--quants", type=int, default=1_000_000)
    p.add_argument("--skus", type=int, default=50_000)
    p.add_argument("--samples", type=int, default=1000, help="timed pick lines (each: cell, item, tote scan)")
    p.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    return p


def run(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    print("## One pick scan, server side (in-process)")
    print()
    print(main(args.cells, args.quants, args.skus, args.samples, tuple(args.backend or ("sqlite", "postgresql"))))
