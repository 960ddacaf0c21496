"""The parcel's shipping label and packing slip from the database, printed on the ZPL and ESC/POS
emulators over TCP; the label's barcodes decoded back with zxing-cpp, the slip's Cyrillic read back."""

import io

import pytest
import zxingcpp
from PIL import Image

from printers import labels, receipts
from printers.profiles import load_profile
from printers.spool import PrinterSpool
from server.models import Order, OrderLine, OrderSource, PackingSession, Parcel, ParcelItem
from server.services.carriers import adapter_for
from server.services.parcel_documents import packing_slip_data, shipping_label_data
from terminal.emulators.escpos_printer import EscposPrinterEmulator
from terminal.emulators.zpl_printer import ZplPrinterEmulator
from tests import factories as f

FAST = {"first_backoff": 0.02, "max_backoff": 0.1, "timeout": 8, "io_timeout": 2, "status_timeout": 1}
ZPL = load_profile("zebra-zd421-203")
ESCPOS = load_profile("epson-tm-t20iii")


def _packed(db, address="г. Санкт-Петербург, Невский проспект, дом 28, корпус 2, квартира 7, 190000",
            parcels=2):
    wh = f.warehouse()
    wh.name, wh.address = "ООО «Склад-Сервис»", "Москва, ул. Складская, д. 5"
    db.session.add(OrderSource(code="yolka", name="Магазин «Ёлка»", warehouse_id=wh.id, secret="s"))
    tea = f.sku("TEA-100", "Чай чёрный «Байкал» 100 г", weight_g=110)
    mug = f.sku("MUG-330", "Кружка керамическая 330 мл", weight_g=350)
    station, _ = f.station(wh, "PACK-1", "pack")
    packer = f.user("ivanova", ("packer",))
    packer.full_name = "Иванова А. С."
    order = Order(warehouse_id=wh.id, number="SO-2024-00017", customer_name="Петров Пётр Петрович",
                  customer_phone="+7 921 000-00-00", delivery_address=address, carrier="СДЭК", source="yolka")
    order.lines = [OrderLine(line_no=1, sku_id=tea.id, quantity=2), OrderLine(line_no=2, sku_id=mug.id, quantity=1)]
    db.session.add(order)
    db.session.flush()
    session = PackingSession(station_id=station.id, order_id=order.id, packer_user_id=packer.id)
    db.session.add(session)
    db.session.flush()
    made = []
    for seq in range(1, parcels + 1):
        parcel = Parcel(order_id=order.id, code=f"P-{seq}", carrier="СДЭК", packing_session_id=session.id, seq=seq,
                        weight_g=1250, packer_user_id=packer.id, station_id=station.id)
        db.session.add(parcel)
        db.session.flush()
        made.append(parcel)
    first = made[0]
    db.session.add_all([
        ParcelItem(parcel_id=first.id, order_line_id=order.lines[0].id, sku_id=tea.id, quantity=1),
        ParcelItem(parcel_id=first.id, order_line_id=order.lines[0].id, sku_id=tea.id, quantity=1),
        ParcelItem(parcel_id=first.id, order_line_id=order.lines[1].id, sku_id=mug.id, quantity=1),
    ])
    db.session.commit()
    return order, made


def test_label_prints_and_its_barcodes_decode(app, db):
    app.config["CELLWMS_GS1_COMPANY_PREFIX"] = "4607012"
    order, parcels = _packed(db)
    shipment = adapter_for(parcels[0].carrier).create_shipment(parcels[0], order)
    parcels[0].tracking_number, parcels[0].sscc = shipment.tracking_number, shipment.sscc
    data = shipping_label_data(parcels[0], order, shipment, 1, 2)
    assert data["recipient"]["name"] == "Петров Пётр Петрович"
    assert data["sender"] == {"name": "ООО «Склад-Сервис»", "address": ["Москва, ул. Складская, д. 5"]}
    assert data["weight_kg"] == 1.25 and (data["parcel"], data["parcels"]) == (1, 2)
    assert " ".join(data["recipient"]["address"]) == order.delivery_address  # wrapped, nothing lost
    assert data["order"] == "SO-2024-00017" and data["carrier"] == "СДЭК"
    zpl = labels.render("shipping-label", data, ZPL)
    text = zpl.decode()
    for shown in ("Петров Пётр Петрович", "Место 1 из 2", "Вес: 1.25 кг", "№ SO-2024-00017"):
        assert shown in text
    with ZplPrinterEmulator(ZPL) as printer:
        assert PrinterSpool(printer.url, ZPL, **FAST).print(zpl).printed
        png = printer.png(printer.wait_for_jobs(1)[0])
    found = {(s.format.name, s.text) for s in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))}
    assert found == {("Code128", shipment.tracking_number), ("Code128", f"(00){shipment.sscc}")}


def test_defaults_from_the_parcel_and_its_session(app, db):
    order, parcels = _packed(db, parcels=3)
    parcels[1].tracking_number = "SDE000000021"
    data = shipping_label_data(parcels[1], order)
    assert (data["parcel"], data["parcels"], data["tracking"]) == (2, 3, "SDE000000021")
    assert "sscc" not in data
    labels.render("shipping-label", data, ZPL)


@pytest.mark.parametrize("address", [
    "Очень-очень-длинное-название-населённого-пункта-без-пробелов-которое-не-влезает-в-строку",
    "\n".join(["Республика Саха (Якутия), Усть-Майский улус, посёлок городского типа Эльдикан"] * 4),
])
def test_long_addresses_fit_the_label(app, db, address):
    order, parcels = _packed(db, address=address)
    order.customer_name = "Константинопольская-Завалишина Екатерина-Александра Вениаминовна"
    data = shipping_label_data(parcels[0], order, None, 1, 1)
    assert len(data["recipient"]["address"]) <= 4 and data["recipient"]["name"].endswith("…")
    labels.render("shipping-label", data, ZPL)  # no field wider than the label


def test_packing_slip_prints_in_cyrillic(app, db):
    order, parcels = _packed(db)
    data = packing_slip_data(parcels[0], order)
    assert data["shop"] == 'Магазин "Ёлка"' and data["packer"] == "Иванова А. С." and data["weight_kg"] == 1.25
    assert data["lines"] == [{"sku": "TEA-100", "name": 'Чай чёрный "Байкал" 100 г', "qty": 2},
                             {"sku": "MUG-330", "name": "Кружка керамическая 330 мл", "qty": 1}]
    job = receipts.render("packing-slip", data, ESCPOS)
    printer = EscposPrinterEmulator(ESCPOS).start(tcp=True)
    try:
        assert PrinterSpool(printer.url, ESCPOS, **FAST).print(job).printed
        receipt = printer.decode(printer.wait_for_jobs(1)[0])
    finally:
        printer.stop()
    text = receipt.text
    for shown in ("Упаковочный лист", "Заказ: SO-2024-00017", "Чай чёрный \"Байкал\" 100 г",
                  "Кружка керамическая 330 мл", "Иванова А. С.", "Всего единиц:"):
        assert shown in text
    assert receipt.cuts == 1


def test_packing_slip_of_an_empty_parcel_lists_the_order(app, db):
    order, parcels = _packed(db)
    order.customer_name = "Ёжик 🦔"
    data = packing_slip_data(parcels[1], order)
    assert [(line["sku"], line["qty"]) for line in data["lines"]] == [("TEA-100", 2), ("MUG-330", 1)]
    receipts.render("packing-slip", data, ESCPOS)
