"""Scan classification and stock lookups on a generated warehouse (100,000 cells, 1,000,000 quants).

Measured in-process (no HTTP), each call in its own transaction, as a request would run it.
The data is bulk-loaded (executemany on SQLite, COPY on PostgreSQL) straight into the tables
the migrations built; quants are written without ledger rows, which these reads never touch.
"""

import os
import random
import tempfile
import time
from datetime import date, datetime, timedelta

from sqlalchemy import create_engine, make_url, text

from bench import measure, summary, table
from server.services.barcodes import check_digit

GS = "\x1d"
CREATED = datetime(2026, 1, 1, 8, 0, 0)
ZONES = "ABCD"


def ean13(i: int) -> str:
    body = f"460{i:09d}"
    return body + str(check_digit(body))


def cell_rows(n_cells: int, warehouse_id: int, zone_ids: list[int]):
    for i in range(n_cells):
        zone_index, aisle, bay, level, position = _place(i, n_cells)
        address = _address(i, n_cells)
        yield (i + 1, warehouse_id, zone_ids[zone_index], address, f"C{i + 1:07d}", "shelf", "active",
               aisle + 1, bay + 1, level + 1, position + 1, zone_index, bay, "L" if position % 2 else "R", CREATED)


def sku_rows(n_skus: int):
    for i in range(1, n_skus + 1):
        yield (i, f"SKU-{i:06d}", f"Товар {i}", 100, 80, 60, 500, i % 7 == 0, i % 5 == 0, False, i % 11 == 0,
               True, CREATED)


def barcode_rows(n_skus: int):
    for i in range(1, n_skus + 1):
        yield (i, i, ean13(i).zfill(14), "ean13", 1, CREATED)


def quant_rows(n_cells: int, per_cell: int, n_skus: int):
    quant_id = 0
    base = date(2027, 1, 1)
    for c in range(n_cells):
        for j in range(per_cell):
            quant_id += 1
            sku = (c * per_cell + j) % n_skus + 1
            expiry = base + timedelta(days=(c + j) % 365) if sku % 5 == 0 else None
            yield (quant_id, c + 1, sku, f"L{j}" if sku % 7 == 0 else "", expiry, 1 + (c + j) % 50, 0, CREATED)


CELL_COLS = ("id, warehouse_id, zone_id, address, barcode, cell_type, status, aisle, bay, level, position, "
             "block, slot, side, created_at")
SKU_COLS = ("id, code, name, length_mm, width_mm, height_mm, weight_g, track_lot, track_expiry, track_serial, "
            "track_marking, active, created_at")
BARCODE_COLS = "id, sku_id, barcode, kind, units, created_at"
QUANT_COLS = "id, cell_id, sku_id, lot, expiry, quantity, reserved, updated_at"


def load(db, n_cells: int, n_quants: int, n_skus: int) -> float:
    """Bulk-load the warehouse; returns seconds taken."""
    start = time.perf_counter()
    per_cell = max(1, n_quants // n_cells)
    raw = db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        cursor = driver.cursor()
        dialect = db.engine.dialect.name
        if dialect == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("BEGIN")
        warehouse = [(1, "BENCH", "Bench", "{zone}-{aisle:02d}-{bay:02d}-{level}-{position}", "Europe/Moscow",
                      3.0, 1.0, 2.0, 0, CREATED)]
        zone_ids = list(range(1, len(ZONES) + 1))
        zones = [(z, 1, code, f"Storage {code}", "storage", CREATED) for z, code in zip(zone_ids, ZONES, strict=True)]
        tables = [
            ("warehouses", "id, code, name, address_format, timezone, aisle_pitch_m, slot_length_m, "
             "cross_aisle_width_m, depot_aisle, created_at", warehouse),
            ("zones", "id, warehouse_id, code, name, kind, created_at", zones),
            ("cells", CELL_COLS, cell_rows(n_cells, 1, zone_ids)),
            ("skus", SKU_COLS, sku_rows(n_skus)),
            ("sku_barcodes", BARCODE_COLS, barcode_rows(n_skus)),
            ("quants", QUANT_COLS, quant_rows(n_cells, per_cell, n_skus)),
        ]
        for name, columns, rows in tables:
            if dialect == "sqlite":
                marks = ", ".join("?" * len(columns.split(",")))
                cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", (_sqlite_row(r) for r in rows))
            else:
                with cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        if dialect == "sqlite":
            cursor.execute("COMMIT")
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA synchronous=NORMAL")
        else:
            for name in ("warehouses", "zones", "cells", "skus", "sku_barcodes", "quants"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
            driver.commit()
            driver.autocommit = True
            cursor.execute("VACUUM ANALYZE")
            driver.autocommit = False
        cursor.close()
    finally:
        raw.close()
    return time.perf_counter() - start


def _sqlite_row(row):
    return tuple(v.isoformat(" ") if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v
                 for v in row)


def scan_codes(kind: str, n: int, n_cells: int, n_skus: int, rng: random.Random) -> list[bytes]:
    codes = []
    for _ in range(n):
        cell = rng.randrange(n_cells)
        sku = rng.randrange(1, n_skus + 1)
        if kind == "cell barcode":
            code = f"C{cell + 1:07d}\r\n"
        elif kind == "cell address":
            code = _address(cell, n_cells)
        elif kind == "SKU EAN-13":
            code = ean13(sku)
        elif kind == "GS1-128 lot+expiry":
            code = f"]C101{ean13(sku).zfill(14)}17271231{GS}10L{sku % 97}"
        elif kind == "marking code":
            code = f"]d201{ean13(sku).zfill(14)}21{rng.randrange(10**12, 10**13)}{GS}91EE06{GS}92{'x' * 44}"
        else:
            code = f"NOPE-{rng.randrange(10**9)}"
        codes.append(code.encode())
    return codes


def _place(i: int, n_cells: int) -> tuple[int, int, int, int, int]:
    """Cell number -> zone, aisle, bay, level, position (50 bays, 4 levels, 5 positions)."""
    per_zone = -(-n_cells // len(ZONES))
    zone_index, k = divmod(i, per_zone)
    aisle, rest = divmod(k, 50 * 4 * 5)
    bay, rest = divmod(rest, 4 * 5)
    level, position = divmod(rest, 5)
    return zone_index, aisle, bay, level, position


def _address(i: int, n_cells: int) -> str:
    zone_index, aisle, bay, level, position = _place(i, n_cells)
    return f"{ZONES[zone_index]}-{aisle + 1:02d}-{bay + 1:02d}-{level + 1}-{position + 1}"


SCAN_KINDS = ["cell barcode", "cell address", "SKU EAN-13", "GS1-128 lot+expiry", "marking code", "unknown"]
EXPECTED = {"cell barcode": "cell", "cell address": "cell", "SKU EAN-13": "sku", "GS1-128 lot+expiry": "sku",
            "marking code": "sku", "unknown": "unknown"}


def run_backend(backend: str, url: str, n_cells: int, n_quants: int, n_skus: int, samples: int) -> list[list]:
    import flask_migrate

    from server import create_app
    from server.extensions import db
    from server.services.scan import classify
    from server.services.stock_queries import stock_by_cell, stock_by_sku

    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance})
        with app.app_context():
            flask_migrate.upgrade()
            seconds = load(db, n_cells, n_quants, n_skus)
            counts = db.session.execute(text("SELECT (SELECT count(*) FROM cells), (SELECT count(*) FROM quants)")).one()
            db.session.rollback()
            print(f"{backend}: loaded {counts[0]:,} cells, {counts[1]:,} quants, {n_skus:,} SKUs in {seconds:.1f} s")
            rng = random.Random(7)
            rows = []

            def done():
                db.session.rollback()
                db.session.expunge_all()

            mix: list[float] = []
            for kind in SCAN_KINDS:
                codes = scan_codes(kind, samples, n_cells, n_skus, rng)
                got = classify(codes[0]).kind
                db.session.rollback()
                assert got == EXPECTED[kind], (kind, codes[0], got)
                timings = measure(classify, codes, after=done)
                mix += timings
                rows.append([backend, f"classify: {kind}", *_stats(timings)])
            rows.append([backend, "classify: mix of all above", *_stats(mix)])
            skus = [rng.randrange(1, n_skus + 1) for _ in range(samples)]
            cells = [rng.randrange(1, n_cells + 1) for _ in range(samples)]
            assert stock_by_sku(skus[0]) and stock_by_cell(cells[0])
            rows.append([backend, "stock_by_sku (one SKU, all cells)", *_stats(measure(stock_by_sku, skus, after=done))])
            rows.append([backend, "stock_by_cell (one cell)", *_stats(measure(stock_by_cell, cells, after=done))])
            db.session.remove()
            db.engine.dispose()
    return rows


def _stats(timings: list[float]) -> list:
    s = summary(timings)
    return [s["n"], s["p50"], s["p99"], s["max"], "yes" if s["p99"] < 5000 else "NO"]


def postgres_bench_url() -> str | None:
    """A fresh database `<name>_bench` on the DATABASE_URL server, or None without one."""
    base_url = os.environ.get("DATABASE_URL")
    if not base_url:
        return None
    base = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"{base.database}_bench"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def on_each_database(backends, run) -> list:
    """`run(name, url)`'s rows on a throwaway SQLite file and on a throwaway PostgreSQL database
    (when DATABASE_URL names a server; dropped afterwards), for the backends asked for."""
    rows = []
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as folder:
            rows += run("SQLite", f"sqlite:///{folder}/bench.db")
    if "postgresql" in backends:
        url = postgres_bench_url()
        if url is None:
            print("PostgreSQL: skipped (no DATABASE_URL)")
        else:
            try:
                rows += run("PostgreSQL", url)
            finally:
                drop_postgres(url)
    return rows


def drop_postgres(url: str) -> None:
    bench = make_url(url)
    base = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+psycopg")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{bench.database}" WITH (FORCE)'))
    admin.dispose()


def main(n_cells: int = 100_000, n_quants: int = 1_000_000, n_skus: int = 50_000, samples: int = 2000,
         backends=("sqlite", "postgresql")) -> str:
    rows = on_each_database(backends, lambda name, url: run_backend(name, url, n_cells, n_quants, n_skus, samples))
    headers = ["database", "operation", "calls", "p50 µs", "p99 µs", "max µs", "p99 < 5 ms"]
    return table(headers, rows)


def run(argv: list[str]) -> None:
    """`python -m bench scan -- [options]`: build the warehouse(s), print the table."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench scan --")
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--quants", type=int, default=1_000_000)
    parser.add_argument("--skus", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=2000, help="timed calls per operation")
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    print("## Scan classification and stock lookups (in-process)")
    print()
    print(main(args.cells, args.quants, args.skus, args.samples, tuple(args.backend or ("sqlite", "postgresql"))))
