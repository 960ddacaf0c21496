"""Import of SKUs, barcodes and opening stock: all or nothing, errors per line and field."""

import json
from datetime import date
from pathlib import Path

from sqlalchemy import event, select

from server.models import Cell, Movement, Quant, Sku, SkuBarcode
from server.services.barcodes import check_digit
from server.services.importer import (
    import_barcodes,
    import_skus,
    import_stock,
    read_csv,
    read_file,
    read_json,
)
from server.services.layout import apply_layout, load_spec
from server.services.stock import (
    OPENING_STOCK,
    Actor,
    ReceiptLine,
    apply_movement,
    check_quants,
    receive_lines,
)
from tests import factories
from tests.assertions import count, import_errors

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def ean13(body12: str) -> str:
    return body12 + str(check_digit(body12))


def example_warehouse(db):
    apply_layout(load_spec(str(EXAMPLES / "layout.toml")))
    db.session.commit()


SKUS_CSV = (
    "code,name,length_mm,width_mm,height_mm,weight_g,track_lot,barcodes\n"
    f"TEA-1,\"Чай чёрный «Заря», 100 г\",120,60,180,110,да,{ean13('460123400001')}\n"
    "TEA-2,Чай зелёный,120,60,180,сто,нет,\n"
    f"TEA-3,Кофе молотый,120,60,180,250,нет,{ean13('460123400002')};INT-7\n"
)


def test_csv_with_one_broken_row_imports_nothing_and_names_line_and_field(db):
    assert import_errors(import_skus, read_csv(SKUS_CSV)) == [(3, "weight_g")]
    db.session.rollback()
    assert count(db, Sku) == 0 and count(db, SkuBarcode) == 0


def test_csv_skus_with_cyrillic_names_and_barcodes(db):
    fixed = SKUS_CSV.replace(",сто,", ",95,")
    report = import_skus(read_csv(fixed))
    db.session.commit()
    assert (report.created, report.barcodes_added) == (3, 3)
    tea = db.session.execute(select(Sku).filter_by(code="TEA-1")).scalar_one()
    assert tea.name == "Чай чёрный «Заря», 100 г" and tea.track_lot and not tea.track_expiry
    assert [b.barcode for b in tea.barcodes] == ["0" + ean13("460123400001")]
    kinds = dict(db.session.execute(select(SkuBarcode.barcode, SkuBarcode.kind)).all())
    assert kinds["INT-7"] == "internal"
    again = import_skus(read_csv(fixed))
    assert (again.created, again.updated, again.unchanged, again.barcodes_added) == (0, 0, 3, 0)


def test_semicolon_csv_with_bom_and_several_bad_rows(db, tmp_path):
    path = tmp_path / "skus.csv"
    path.write_bytes(
        "\ufeffcode;name;weight_g;track_expiry\nA-1;Мёд цветочный;500;да\n;Без кода;1;нет\nA-1;Дубль;1;нет\n"
        "A-4;Шоколад;-5;может быть\n".encode()
    )
    records, _ = read_file(str(path))
    assert records[0].data == {"code": "A-1", "name": "Мёд цветочный", "weight_g": "500", "track_expiry": "да"}
    assert import_errors(import_skus, records) == [(3, "code"), (4, "code"), (5, "weight_g"), (5, "track_expiry")]


def test_unknown_column_is_an_error(db):
    assert import_errors(import_skus, read_csv("code,name,wieght_g\nX,Икс,5\n")) == [(2, "wieght_g")]


def test_json_import_with_lines(db, tmp_path):
    records, _ = read_file(str(EXAMPLES / "skus.json"))
    report = import_skus(records)
    db.session.commit()
    assert report.created == 3 and report.barcodes_added == 4
    kefir = db.session.execute(select(Sku).filter_by(code="KEFIR-25-900")).scalar_one()
    assert kefir.track_marking and kefir.track_expiry and kefir.name == "Кефир 2,5%, 900 г"

    text = json.dumps([{"code": "J-1", "name": "Один"}, {"code": "J-2", "name": ["Два"], "weight_g": "тяжёлый"}], indent=2)
    assert import_errors(import_skus, read_json(text)) == [(6, "name"), (6, "weight_g")]
    assert import_errors(read_json, '[{"code": "J-1",\n "name": }]') == [(2, "")]
    assert import_errors(read_json, '{"code": "J-1"}') == [(1, "")]


def test_barcodes_import(db):
    factories.sku(code="S-1")
    factories.sku(code="S-2", barcode=ean13("460555500001"))
    db.session.commit()
    good = ean13("460555500002")
    bad_check = ean13("460555500003")[:-1] + "0" if ean13("460555500003")[-1] != "0" else ean13("460555500003")[:-1] + "1"
    csv = (
        "sku,barcode,kind,units\n"
        f"S-1,{good},,1\n"
        f"S-1,{bad_check},,1\n"
        f"S-1,{ean13('460555500001')},,1\n"
        "S-9,INT-1,internal,1\n"
        f"S-1,{good[1:]},upc,1\n"
    )
    problems = import_errors(import_barcodes, read_csv(csv))
    assert problems == [(3, "barcode"), (4, "barcode"), (5, "sku"), (6, "barcode")]
    assert count(db, SkuBarcode) == 1

    case14 = "1" + good[:-1] + str(check_digit("1" + good[:-1]))
    report = import_barcodes(read_csv(f"sku,barcode,kind,units\nS-1,{good},ean13,1\nS-1,{case14},,12\n"))
    db.session.commit()
    assert report.created == 2
    case = db.session.execute(select(SkuBarcode).filter_by(units=12)).scalar_one()
    assert (case.kind, case.barcode) == ("gtin14", case14)


def test_opening_stock_goes_through_the_ledger(db):
    example_warehouse(db)
    import_skus(read_file(str(EXAMPLES / "skus.csv"))[0])
    import_barcodes(read_file(str(EXAMPLES / "barcodes.csv"))[0])
    db.session.commit()
    records, digest = read_file(str(EXAMPLES / "stock.csv"))
    report = import_stock(records, batch=digest[:32], reference="stock.csv")
    db.session.commit()
    assert (report.records, report.quantity) == (6, 738)
    movements = db.session.execute(select(Movement)).scalars().all()
    assert len(movements) == 6
    assert {(m.kind, m.reason, m.reference) for m in movements} == {("receive", "opening stock", "stock.csv")}
    assert check_quants() == []
    milk = db.session.execute(
        select(Quant).join(Cell, Cell.id == Quant.cell_id).where(Cell.address == "A-01-01-1-2")
    ).scalar_one()
    assert (milk.lot, milk.expiry, milk.quantity) == ("L2406-02", date(2026, 12, 15), 24)
    pallet = db.session.execute(
        select(Quant).join(Cell, Cell.id == Quant.cell_id).where(Cell.barcode == "P07011")
    ).scalar_one()
    assert pallet.quantity == 500

    assert import_errors(import_stock, records, batch=digest[:32]) == [(0, "")]  # same file twice
    db.session.rollback()
    assert count(db, Movement) == 6


def test_stock_with_bad_rows_imports_nothing(db):
    example_warehouse(db)
    import_skus(read_file(str(EXAMPLES / "skus.csv"))[0])
    db.session.commit()
    blocked = db.session.execute(select(Cell).filter_by(address="A-01-01-2-1")).scalar_one()
    blocked.status = "blocked"
    db.session.commit()
    csv = (
        "cell,sku,lot,expiry,quantity\n"
        "A-01-01-1-1,KETTLE-PW17,,,3\n"
        "Z-99,KETTLE-PW17,,,3\n"
        "A-01-01-1-1,NOPE,,,3\n"
        "A-01-01-1-1,MILK-32-1L,,2026-01-01,3\n"
        "A-01-01-1-1,MILK-32-1L,L1,31.02.2026,3\n"
        "A-01-01-1-1,KETTLE-PW17,,,0\n"
        "A-01-01-2-1,KETTLE-PW17,,,1\n"
        "A-01-01-1-1,KETTLE-PW17,,,\n"
    )
    assert import_errors(import_stock, read_csv(csv)) == [
        (3, "cell"), (4, "sku"), (5, "lot"), (6, "expiry"), (7, "quantity"), (8, "cell"), (9, "quantity"),
    ]
    db.session.rollback()
    assert count(db, Movement) == 0 and count(db, Quant) == 0


def test_bulk_receive_adds_to_existing_quants(db):
    wh, z, cells, sku = factories.stocked_warehouse()
    apply_movement("receive", sku.id, 4, to_cell_id=cells[0].id, reason="delivery")
    db.session.commit()
    receive_lines([
        ReceiptLine(cells[0].id, sku.id, "", None, 6),
        ReceiptLine(cells[0].id, sku.id, "", None, 1),
        ReceiptLine(cells[1].id, sku.id, "", None, 2),
    ], actor=Actor(scenario="import"), reason=OPENING_STOCK)
    db.session.commit()
    assert check_quants() == []
    quantities = dict(db.session.execute(select(Quant.cell_id, Quant.quantity)).all())
    assert quantities == {cells[0].id: 11, cells[1].id: 2}
    assert count(db, Movement) == 4


def test_large_import_does_not_query_per_row(db):
    factories.warehouse()
    zone = factories.zone(db.session.execute(select(factories.Warehouse)).scalar_one())
    rows = [{"warehouse_id": zone.warehouse_id, "zone_id": zone.id, "address": f"S-{i:05d}", "barcode": f"C{i:05d}",
             "cell_type": "shelf", "status": "active"} for i in range(3000)]
    db.session.execute(Cell.__table__.insert(), rows)
    db.session.commit()
    skus = "code,name,weight_g,barcodes\n" + "".join(
        f"K-{i:04d},Товар №{i},{i % 900 + 1},{ean13(f'4650000{i:05d}')}\n" for i in range(2000)
    )
    stock = "cell,sku,lot,expiry,quantity\n" + "".join(
        f"{'S' if i % 2 else 'C'}{'-' if i % 2 else ''}{i % 3000:05d},"
        f"{f'K-{i % 2000:04d}' if i % 3 else ean13(f'4650000{i % 2000:05d}')},,,{i % 7 + 1}\n"
        for i in range(12000)
    )
    statements = []

    def counted(*_):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", counted)
    try:
        import_skus(read_csv(skus))
        import_stock(read_csv(stock))
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
    assert count(db, Sku) == 2000 and count(db, Movement) == 12000
    assert check_quants() == []
    assert len(statements) < 300, len(statements)
