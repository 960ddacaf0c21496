"""Wave release benchmark: N orders on the demo warehouse reserved and released as one wave.

`cellwms bench wave --orders N [--json] [--database URL]` (one run) or `python -m bench wave --
[--orders 100,1000]` (a Markdown table, SQLite and, with DATABASE_URL, PostgreSQL).

What runs: a fresh database (a temporary SQLite file, or the one given, which must be empty or
hold the demo), migrated, `seed_demo()`; N orders of 1-5 lines created through
`orders.create_order` (SKUs drawn with a fixed seed from the stocked ones, 1-3 units each within
what is available, a third of them with a carrier cutoff within 6 hours, a fifth with priority 1),
as orders awaiting confirmation, committed (no ANALYZE: a fresh database plans as well). Timed (wall):
`reservation.reserve_many` of the N orders (the path of an import or of stock arriving for many
postponed orders), then `waves.release_wave`, then the commit: `seconds`.

Walks (metres, along aisles and cross aisles, depot to depot): `walk_m`, the batches' routes as
released; `walk_m_name_order`, the same batches each picked in cell-address order;
`walk_m_fcfs_name_order`, the orders batched first come, first served under the same cart
(`make_batches(method="fcfs")`), each batch in cell-address order.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta

from bench import stations

SEED = 13


@contextmanager
def fresh_database(url: str | None = None, backend: str = "sqlite"):
    """(label, URL) of a database to run on: `url` as given, else a fresh one removed afterwards."""
    if url:
        yield ("PostgreSQL" if url.startswith("postgres") else "SQLite"), url
        return
    with stations.database(backend, "wave") as fresh:
        yield fresh


def make_orders(warehouse_id: int, count: int, rng: random.Random, now) -> list:
    """`count` orders awaiting confirmation, each line within the stock not yet promised."""
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import Quant, Sku
    from server.services import orders

    available = dict(db.session.execute(
        select(Sku.code, func.sum(Quant.quantity - Quant.reserved)).join(Sku, Sku.id == Quant.sku_id)
        .where(Quant.quantity > Quant.reserved).group_by(Sku.code).order_by(Sku.code)).all())
    codes = sorted(available)
    made = []
    for n in range(count):
        lines = {}
        for _ in range(rng.randint(1, 5)):
            code = rng.choice(codes)
            units = min(rng.randint(1, 3), available[code] - lines.get(code, 0))
            if units > 0:
                lines[code] = lines.get(code, 0) + units
        if not lines:
            continue
        for code, units in lines.items():
            available[code] -= units
            if available[code] == 0:
                codes.remove(code)
        cutoff = now + timedelta(minutes=rng.randint(30, 360)) if rng.random() < 1 / 3 else None
        order, _created = orders.create_order(
            warehouse_id, f"BW-{n + 1:05d}", [{"sku": c, "quantity": q} for c, q in lines.items()],
            needs_confirmation=True, priority=1 if rng.random() < 0.2 else 0, cutoff_at=cutoff)
        made.append(order.id)
    return made


def measure(count: int, url: str) -> dict:
    """One run on the database at `url` (migrated and seeded here): the JSON object of the command."""
    import flask_migrate
    from sqlalchemy import select

    from server import create_app
    from server.core.batching import make_batches
    from server.extensions import db
    from server.models import Cell, Order, PickLine, Warehouse
    from server.models.base import utcnow
    from server.services import reservation, waves
    from server.services.demo import seed_demo
    from server.services.geometry import warehouse_geometry

    with tempfile.TemporaryDirectory(prefix="cellwms-wave-instance-") as instance:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
        with app.app_context():
            flask_migrate.upgrade()
            seed_demo()
            db.session.commit()
            warehouse_id = db.session.execute(select(Warehouse.id).filter_by(code="DEMO")).scalar_one()
            now = utcnow()
            ids = make_orders(warehouse_id, count, random.Random(SEED), now)
            db.session.commit()
            db.session.expunge_all()

            started, cpu = time.perf_counter(), time.process_time()
            reservation.reserve_many(ids)
            wave = waves.release_wave(warehouse_id, now=now)
            db.session.commit()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            wave_id, release_s, method = wave.id, wave.seconds, wave.method

            warehouse = db.session.get(Warehouse, warehouse_id)
            geometry = warehouse_geometry(warehouse_id)
            addresses = dict(db.session.execute(select(Cell.id, Cell.address)).all())
            by_batch: dict[int, list[int]] = {}
            for batch_id, cell_id in db.session.execute(
                    select(PickLine.batch_id, PickLine.cell_id).join(PickLine.batch)
                    .where(PickLine.batch.has(wave_id=wave_id)).order_by(PickLine.batch_id, PickLine.seq)):
                by_batch.setdefault(batch_id, []).append(cell_id)
            walk = sum(waves.walk_length(geometry, cells) for cells in by_batch.values())
            name_order = sum(_by_address(geometry, cells, addresses, waves) for cells in by_batch.values())

            # First come, first served: in the order the orders arrived.
            taken = list(db.session.execute(select(Order).where(Order.id.in_(ids)).order_by(Order.id)).scalars())
            given = waves.wave_input(warehouse, geometry, taken)
            fcfs = make_batches(given.core_orders, waves.cart_of(warehouse), geometry.layout, "fcfs")
            cells_of = {o.id: [r.cell_id for r in given.reservations[o.id]] for o in taken}
            fcfs_walk = sum(_by_address(geometry, [c for oid in b.orders for c in cells_of[oid]], addresses, waves)
                            for b in fcfs.batches)
            lines = sum(len(c) for c in by_batch.values())
            db.session.remove()
            db.engine.dispose()
    return {
        "orders": len(ids), "lines": lines, "method": method, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
        "release_seconds": release_s, "batches": len(by_batch), "fcfs_batches": len(fcfs.batches),
        "walk_m": round(walk, 1), "walk_m_name_order": round(name_order, 1),
        "walk_m_fcfs_name_order": round(fcfs_walk, 1),
        "vs_name_order": round(walk / name_order - 1, 4) if name_order else None,
        "vs_fcfs_name_order": round(walk / fcfs_walk - 1, 4) if fcfs_walk else None,
    }


def _by_address(geometry, cells, addresses, waves) -> float:
    ordered = waves.address_order([(c, addresses.get(c, "")) for c in dict.fromkeys(cells)])
    return waves.walk_length(geometry, [c for c, _a in ordered])


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench wave")
    parser.add_argument("--orders", default="100,1000", help="comma-separated order counts")
    args = parser.parse_args(argv)
    backends = ["sqlite"] + (["postgresql"] if os.environ.get("DATABASE_URL") else [])
    rows = []
    for backend in backends:
        for count in [int(n) for n in args.orders.split(",")]:
            with fresh_database(backend=backend) as (label, url):
                rows.append((label, measure(count, url)))
    print("| database | orders | lines | batches | seconds | CPU s | release s | walk_m | name order m | FCFS name order m "
          "| vs name order | vs FCFS name order |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in rows:
        print(f"| {label} | {r['orders']:,} | {r['lines']:,} | {r['batches']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['release_seconds']:.2f} | "
              f"{r['walk_m']:,.0f} | {r['walk_m_name_order']:,.0f} | {r['walk_m_fcfs_name_order']:,.0f} | "
              f"{r['vs_name_order']:+.1%} | {r['vs_fcfs_name_order']:+.1%} |")


if __name__ == "__main__":
    run(sys.argv[1:])
