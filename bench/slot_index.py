"""The putaway slot index built from the database: `build_slot_index` on a generated warehouse
(20 aisles x 100 slots x 5 levels = 10,000 cells, 2,000 SKUs, 5,000 quants), then suggestions.

`python -m bench slot_index -- [--aisles N] [--slots N] [--levels N] [--quants N] [--suggestions N]
[--builds N] [--backend sqlite|postgresql]`. Moved here from tests/test_putaway.py (a timing is
not a test); tests/test_putaway.py keeps a small correctness check of the same warehouse.
"""

import argparse
import statistics
import tempfile
import time

from bench import percentile, table
from bench.scan_stock import on_each_database


def fill_warehouse(db, *, aisles: int = 20, slots: int = 100, levels: int = 5, skus: int = 2000,
                   quants: int = 5000, code: str = "BIG") -> tuple[int, list[int], list[int]]:
    """A warehouse with a storage zone of aisles x slots x levels cells (50 units each), a
    receiving cell, `skus` SKUs and `quants` quants of 5 units in every other cell; commits.
    Returns (warehouse id, storage cell ids, SKU ids)."""
    from sqlalchemy import select

    from server.models import Cell, Quant, Sku, Warehouse, Zone

    warehouse = Warehouse(code=code, name=code)
    db.session.add(warehouse)
    db.session.flush()
    storage = Zone(warehouse_id=warehouse.id, code="A", name="A", kind="storage")
    receiving = Zone(warehouse_id=warehouse.id, code="R", name="R", kind="receiving")
    db.session.add_all([storage, receiving])
    db.session.flush()
    db.session.add(Cell(warehouse_id=warehouse.id, zone_id=receiving.id, address=f"{code}-R", barcode=f"{code}-R"))
    db.session.execute(Cell.__table__.insert(), [
        {"warehouse_id": warehouse.id, "zone_id": storage.id, "address": f"B-{a:02d}-{s:03d}-{lv}",
         "barcode": f"{code}-{a:02d}-{s:03d}-{lv}", "aisle": a, "block": 1 + (s - 1) // 50,
         "slot": 1 + (s - 1) % 50, "level": lv, "max_units": 50, "cell_type": "shelf", "status": "active"}
        for a in range(1, aisles + 1) for s in range(1, slots + 1) for lv in range(1, levels + 1)])
    db.session.execute(Sku.__table__.insert(), [
        {"code": f"{code}-S{i}", "name": f"S{i}", "length_mm": 100, "width_mm": 100, "height_mm": 100,
         "weight_g": 500, "track_lot": False, "track_expiry": False, "track_serial": False, "track_marking": False,
         "active": True} for i in range(skus)])
    cell_ids = db.session.execute(select(Cell.id).where(Cell.zone_id == storage.id).order_by(Cell.id)).scalars().all()
    sku_ids = db.session.execute(select(Sku.id).where(Sku.code.like(f"{code}-S%")).order_by(Sku.id)).scalars().all()
    quants = min(quants, len(cell_ids) // 2)
    db.session.execute(Quant.__table__.insert(), [
        {"cell_id": cell_ids[i * 2], "sku_id": sku_ids[i % len(sku_ids)], "lot": "", "quantity": 5, "reserved": 0}
        for i in range(quants)])
    db.session.commit()
    return warehouse.id, cell_ids, sku_ids


def run_backend(backend: str, url: str, args) -> list[list]:
    import flask_migrate

    from server import create_app
    from server.extensions import db
    from server.services.slotting import build_slot_index

    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance})
        with app.app_context():
            flask_migrate.upgrade()
            warehouse_id, cells, skus = fill_warehouse(db, aisles=args.aisles, slots=args.slots, levels=args.levels,
                                                       quants=args.quants)
            builds = []
            for _ in range(args.builds):
                started = time.perf_counter()
                index, _maps = build_slot_index(warehouse_id)
                builds.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
            assert len(index) == len(cells), (len(index), len(cells))
            timings = []
            for sku_id in (skus * (1 + args.suggestions // len(skus)))[: args.suggestions]:
                started = time.perf_counter_ns()
                found = index.suggest(sku_id, 3, velocity="B", limit=1)
                timings.append((time.perf_counter_ns() - started) / 1000)
                assert found
            db.session.remove()
            db.engine.dispose()
    size = f"{len(cells):,} cells, {min(args.quants, len(cells) // 2):,} quants"
    return [[backend, f"build_slot_index ({size})", args.builds, statistics.median(builds), max(builds), "ms"],
            [backend, "suggest (3 units, best cell)", len(timings), percentile(timings, 50), percentile(timings, 99),
             "µs"]]


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench slot_index --")
    parser.add_argument("--aisles", type=int, default=20)
    parser.add_argument("--slots", type=int, default=100)
    parser.add_argument("--levels", type=int, default=5)
    parser.add_argument("--quants", type=int, default=5000)
    parser.add_argument("--suggestions", type=int, default=1000)
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    rows = on_each_database(args.backend or ["sqlite", "postgresql"], lambda name, url: run_backend(name, url, args))
    print("## Putaway slot index from the database")
    print()
    print(table(["database", "operation", "runs", "median", "max / p99", "unit"], rows))
