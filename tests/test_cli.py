"""`cellwms layout apply`, `cellwms import ...`, `cellwms server --help` through click's runner."""

from pathlib import Path

from sqlalchemy import func, select

from server.models import Cell, Movement, Sku, Warehouse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def count(db, model) -> int:
    db.session.remove()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def run(app, *args):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def test_layout_apply_reapply_and_dry_run(app, db):
    spec = EXAMPLES / "layout.toml"
    dry = run(app, "layout", "apply", spec, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "cells: 1949 created" in dry.output and "dry run: nothing written" in dry.output
    assert count(db, Cell) == 0

    first = run(app, "layout", "apply", spec)
    assert first.exit_code == 0, first.output
    assert "warehouse MSK1: created" in first.output and "cells: 1949 created, 0 updated, 0 unchanged" in first.output
    again = run(app, "layout", "apply", spec)
    assert "cells: 0 created, 0 updated, 1949 unchanged" in again.output
    assert count(db, Cell) == 1949


def test_bad_layout_spec_names_the_key_and_writes_nothing(app, db, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        (EXAMPLES / "layout.toml").read_text(encoding="utf-8").replace("levels = 4", "levles = 4"), encoding="utf-8"
    )
    result = run(app, "layout", "apply", bad)
    assert result.exit_code != 0
    assert "areas[0].levles: unknown key" in result.output
    assert "nothing written" in result.output
    assert count(db, Warehouse) == 0

    broken = tmp_path / "broken.toml"
    broken.write_text("[warehouse\ncode = 1", encoding="utf-8")
    result = run(app, "layout", "apply", broken)
    assert result.exit_code != 0 and "not valid TOML" in result.output


def test_import_commands(app, db, tmp_path):
    assert run(app, "layout", "apply", EXAMPLES / "layout.toml").exit_code == 0
    broken = tmp_path / "skus.csv"
    broken.write_text(
        (EXAMPLES / "skus.csv").read_text(encoding="utf-8").replace(",1200,", ",1,2 кг,"), encoding="utf-8"
    )
    result = run(app, "import", "skus", broken)
    assert result.exit_code == 1
    assert "skus.csv: line 3: 12 values but 11 columns" in result.output
    assert "nothing imported" in result.output
    assert count(db, Sku) == 0

    for kind, name in (("skus", "skus.csv"), ("skus", "skus.json"), ("barcodes", "barcodes.csv")):
        result = run(app, "import", kind, EXAMPLES / name)
        assert result.exit_code == 0, result.output
    assert count(db, Sku) == 8

    checked = run(app, "import", "stock", EXAMPLES / "stock.csv", "--dry-run")
    assert checked.exit_code == 0 and "dry run" in checked.output
    assert count(db, Movement) == 0
    result = run(app, "import", "stock", EXAMPLES / "stock.csv")
    assert result.exit_code == 0, result.output
    assert "stock: 6 line(s), 738 unit(s) received as opening stock" in result.output
    twice = run(app, "import", "stock", EXAMPLES / "stock.csv")
    assert twice.exit_code == 1 and "already imported" in twice.output
    assert count(db, Movement) == 6
    check = run(app, "stock", "check")
    assert check.exit_code == 0 and "quants equal the ledger" in check.output


def test_import_needs_csv_or_json(app, tmp_path):
    path = tmp_path / "skus.xlsx"
    path.write_bytes(b"PK")
    result = run(app, "import", "skus", path)
    assert result.exit_code == 1 and ".csv or .json" in result.output


def test_server_and_demo_help(app):
    server = run(app, "server", "--help")
    assert server.exit_code == 0 and "gunicorn" in server.output and "--port" in server.output
    demo = run(app, "demo", "--help")
    assert demo.exit_code == 0 and "--no-stations" in demo.output
