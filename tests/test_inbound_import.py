"""ASN import (`cellwms import deliveries`): rows of one number form one delivery; all or nothing,
errors per line and field."""

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from server.models import Delivery, DeliveryLine, DeliveryPallet, Sku
from server.services.barcodes import check_digit
from server.services.importer import (
    ImportFailed,
    import_barcodes,
    import_skus,
    read_csv,
    read_file,
    read_json,
)
from server.services.inbound_import import import_deliveries
from tests import factories
from tests.assertions import count, import_errors

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEADER = "number,supplier,expected_date,sku,quantity,lot,expiry,sscc\n"


def sscc(body17: str) -> str:
    return body17 + str(check_digit(body17))


def example_catalog(db):
    factories.warehouse("MSK1")
    import_skus(read_file(str(EXAMPLES / "skus.csv"))[0])
    import_barcodes(read_file(str(EXAMPLES / "barcodes.csv"))[0])
    db.session.commit()


def test_example_file_creates_two_deliveries_with_lines_and_pallets(db):
    example_catalog(db)
    report = import_deliveries(read_file(str(EXAMPLES / "deliveries.csv"))[0])
    db.session.commit()
    assert (report.deliveries, report.delivery_lines, report.units, report.pallets, report.blind) == (2, 6, 360, 2, 0)
    first = db.session.execute(select(Delivery).filter_by(number="PO-2405-0117")).scalar_one()
    assert (first.supplier, first.expected_date, first.status, first.blind) == (
        "ООО «Молочный двор»", date(2024, 5, 20), "expected", False)
    milk = db.session.execute(select(Sku.id).filter_by(code="MILK-32-1L")).scalar_one()
    assert [(x.line_no, x.sku_id == milk, x.expected_qty, x.lot, x.expiry) for x in first.lines][:2] == [
        (1, True, 96, "L2405-17", date(2026, 11, 30)), (2, True, 48, "L2405-18", date(2026, 12, 15))]
    pallets = db.session.execute(select(DeliveryPallet.sscc).filter_by(delivery_id=first.id)).scalars().all()
    assert sorted(pallets) == ["046070012340000104", "046070012340000111"]
    second = db.session.execute(select(Delivery).filter_by(number="PO-2405-0118")).scalar_one()
    socks = db.session.execute(select(Sku.id).filter_by(code="SOCKS-M-42")).scalar_one()
    assert second.expected_date == date(2024, 5, 21) and second.lines[1].sku_id == socks  # found by its EAN
    assert [x.expected_qty for x in second.lines] == [6, 120, 50]

    # the same file again: the numbers are taken; nothing more is written
    assert import_errors(import_deliveries, read_file(str(EXAMPLES / "deliveries.csv"))[0]) == [
        (2, "number"), (2, "sscc"), (4, "sscc"), (5, "number")]
    db.session.rollback()
    assert count(db, Delivery) == 2 and count(db, DeliveryLine) == 6


def test_every_bad_field_is_named_and_nothing_is_written(db):
    example_catalog(db)
    good = sscc("04607001234000020")
    bad_check = good[:-1] + str((int(good[-1]) + 1) % 10)
    text = HEADER + (
        "PO-1,Поставщик А,2024-05-20,MILK-32-1L,10,L1,2026-11-30,\n"  # 2 fine
        "PO-1,Поставщик Б,,TEA-GR-100,5,,,\n"  # 3 supplier differs
        "PO-1,,21.05.2024,TEA-GR-100,0,,,\n"  # 4 date differs, quantity 0
        "PO-2,,,NO-SUCH,3,,,\n"  # 5 unknown SKU
        "PO-2,,,KETTLE-PW17,,,,\n"  # 6 quantity missing
        "PO-2,,,KETTLE-PW17,2.5,,31.02.2026,\n"  # 7 quantity not whole, bad date
        f"PO-2,,,USB-C-1M,4,,,{bad_check}\n"  # 8 SSCC check digit
        f"PO-3,,,USB-C-1M,4,,,{good}\n"  # 9 fine
        f"PO-4,,,USB-C-1M,4,,,{good}\n"  # 10 SSCC of another delivery in the file
        ",,,USB-C-1M,1,,,\n"  # 11 no number
        "PO-5,,,,7,,,\n"  # 12 quantity without SKU
        "PO-6,,2024-13-01,,,,,\n"  # 13 bad expected date
    )
    assert sorted(import_errors(import_deliveries, read_csv(text))) == [
        (3, "supplier"), (4, "expected_date"), (4, "quantity"), (5, "sku"), (6, "quantity"), (7, "expiry"),
        (7, "quantity"), (8, "sscc"), (10, "sscc"), (11, "number"), (12, "sku"), (13, "expected_date")]
    db.session.rollback()
    assert count(db, Delivery) == 0 and count(db, DeliveryLine) == 0 and count(db, DeliveryPallet) == 0


def test_unknown_column_and_messages(db):
    example_catalog(db)
    assert import_errors(import_deliveries, read_csv("number,sku,qty,colour\nPO-1,USB-C-1M,1,red\n")) == [(2, "colour")]
    with pytest.raises(ImportFailed) as caught:
        import_deliveries(read_csv(HEADER + "PO-1,,,NO-SUCH,3,,,\n"))
    assert str(caught.value.errors[0]) == "line 2, sku: no SKU with code or barcode 'NO-SUCH'"


def test_rows_of_a_number_anywhere_in_the_file_merge_and_a_header_row_is_a_blind_delivery(db):
    example_catalog(db)
    text = HEADER + (
        "PO-7,,,USB-C-1M,4,,,\n"
        "PO-8,ИП Петров,2024-06-01,,,,,\n"  # no lines: blind
        "PO-7,ООО Кабель,,4623456000453,6,,,\n"  # the same SKU by its EAN: one line of 10
        "PO-7,,,INT-USB-C-1M,1,B2,,\n"  # another lot: another line
    )
    report = import_deliveries(read_csv(text))
    db.session.commit()
    assert (report.deliveries, report.blind, report.delivery_lines, report.units) == (2, 1, 2, 11)
    po7 = db.session.execute(select(Delivery).filter_by(number="PO-7")).scalar_one()
    assert po7.supplier == "ООО Кабель" and [(x.expected_qty, x.lot) for x in po7.lines] == [(10, ""), (1, "B2")]
    po8 = db.session.execute(select(Delivery).filter_by(number="PO-8")).scalar_one()
    assert po8.blind and po8.lines == [] and po8.expected_date == date(2024, 6, 1)


def test_numbers_are_unique_per_warehouse_and_json_and_dry_run_work(db):
    example_catalog(db)
    other = factories.warehouse("SPB1")
    db.session.commit()
    rows = read_json('[{"number": "PO-9", "sku": "USB-C-1M", "quantity": 3},\n'
                     ' {"number": "PO-9", "sku": "KETTLE-PW17", "quantity": "2", "sscc": "(00)' + sscc("04607001234000030") + '"}]')
    dry = import_deliveries(rows, warehouse_code="MSK1", dry_run=True)
    assert dry.deliveries == 1 and dry.pallets == 1 and count(db, Delivery) == 0
    import_deliveries(rows, warehouse_code="MSK1")
    db.session.commit()
    assert db.session.execute(select(DeliveryPallet.sscc)).scalar_one() == sscc("04607001234000030")
    again = read_json('[{"number": "PO-9", "sku": "USB-C-1M", "quantity": 3}]')
    import_deliveries(again, warehouse_id=other.id)  # the same number in another warehouse is fine
    db.session.commit()
    assert import_errors(import_deliveries, again, warehouse_code="MSK1") == [(1, "number")]
    assert import_errors(import_deliveries, again) == [(0, "")]  # two warehouses: say which


def test_cli_imports_deliveries(app, db, tmp_path):
    example_catalog(db)
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["import", "deliveries", str(EXAMPLES / "deliveries.csv"), "--dry-run"])
    assert checked.exit_code == 0, checked.output
    assert "2 delivery(ies) created (0 blind), 6 line(s), 360 unit(s), 2 pallet(s)" in checked.output
    assert "dry run: nothing written" in checked.output
    done = runner.invoke(args=["import", "deliveries", str(EXAMPLES / "deliveries.csv")])
    assert done.exit_code == 0, done.output
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "PO-X,,,USB-C-1M,-1,,,\n", encoding="utf-8")
    failed = runner.invoke(args=["import", "deliveries", str(bad)])
    assert failed.exit_code == 1
    assert "bad.csv: line 2, quantity: must be >= 1" in failed.output
    db.session.remove()
    assert count(db, Delivery) == 2
