"""`cellwms import orders`: Russian headers, UTF-8 or Windows-1251, all or nothing with errors by row."""

from pathlib import Path

from sqlalchemy import select

from server.models import Order, OrderEvent
from server.services.importer import read_file
from server.services.importer.records import read_csv
from server.services.order_import import import_orders
from server.services.stock import apply_movement
from tests import factories
from tests.assertions import count, import_errors
from tests.test_inbound_import import example_catalog

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _stocked(db):
    example_catalog(db)
    storage = factories.zone(db.session.execute(select(factories.Warehouse)).scalar_one(), "A")
    cell = factories.cell(storage, "A-01-01-1")
    for code in ("KETTLE-PW17", "USB-C-1M"):
        sku = db.session.execute(select(factories.Sku).filter_by(code=code)).scalar_one()
        apply_movement("receive", sku.id, 5, to_cell_id=cell.id)
    db.session.commit()


def test_the_example_file_in_windows_1251_creates_reserved_and_to_confirm_orders(app, db, tmp_path):
    _stocked(db)
    cp1251 = tmp_path / "orders.csv"
    cp1251.write_bytes((EXAMPLES / "orders.csv").read_text(encoding="utf-8").encode("cp1251"))
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["import", "orders", str(cp1251), "--dry-run"])
    assert checked.exit_code == 0, checked.output
    assert "2 order(s) created (1 new, 1 reserved), 3 line(s), 4 unit(s)" in checked.output
    assert count(db, Order) == 0
    done = runner.invoke(args=["import", "orders", str(cp1251)])
    assert done.exit_code == 0, done.output
    db.session.remove()
    first = db.session.execute(select(Order).filter_by(number="СМ-1001")).scalar_one()
    assert (first.status, first.customer_name, first.carrier, str(first.cod_amount)) == (
        "reserved", "Анна Смирнова", "CDEK", "2490.00")
    assert first.cutoff_at.isoformat() == "2026-12-04T13:00:00+00:00"
    assert [(line.sku.code, line.quantity) for line in first.lines] == [("KETTLE-PW17", 1), ("USB-C-1M", 2)]
    second = db.session.execute(select(Order).filter_by(number="СМ-1002")).scalar_one()
    assert (second.status, second.needs_confirmation, second.source) == ("new", True, "csv")
    again = runner.invoke(args=["import", "orders", str(EXAMPLES / "orders.csv")])  # UTF-8, imported before
    assert again.exit_code == 0 and "0 order(s) created (none)" in again.output and "2 already imported" in again.output
    assert count(db, Order) == 2


def test_a_bad_row_imports_nothing(db):
    _stocked(db)
    header = "номер;артикул;количество;телефон;приоритет\n"
    bad = [
        ("A-1;KETTLE-PW17;0;;\n", (3, "quantity")),
        ("A-1;;1;;\n", (3, "sku")),
        ("A-1;NOPE;1;;\n", (3, "sku")),
        ("A-1;KETTLE-PW17;1;+7900;\nA-1;KETTLE-PW17;1;+7911;\n", (4, "phone")),
        ("A-1;KETTLE-PW17;1;;5000\n", (3, "priority")),
        ("A-1;KETTLE-PW17;abc;;\n", (3, "quantity")),
    ]
    for rows, where in bad:
        good = "B-1;USB-C-1M;1;;\n"
        assert where in import_errors(import_orders, read_csv(header + good + rows)), rows
        db.session.rollback()
    assert count(db, Order) == 0 and count(db, OrderEvent) == 0


def test_json_files_and_an_existing_number_with_other_lines(db, tmp_path):
    _stocked(db)
    path = tmp_path / "o.json"
    path.write_text('[{"number": "J-1", "sku": "USB-C-1M", "quantity": 2, "customer_name": "Ольга"}]', encoding="utf-8")
    report = import_orders(read_file(str(path))[0])
    db.session.commit()
    assert report.orders == 1
    other = read_csv("number,sku,quantity\nJ-1,USB-C-1M,3\n")
    assert import_errors(import_orders, other) == [(2, "number")]
