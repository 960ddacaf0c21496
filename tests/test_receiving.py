"""Receiving service on both databases: deliveries, counts (packs, GS1, marking codes), pallets,
unknown barcodes, stickers, closing with discrepancies, stock and putaway, concurrent receivers."""

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from server.extensions import db as _db
from server.models import (
    Delivery,
    DeliveryLine,
    Movement,
    PutawayTask,
    Quant,
    ReceiptCount,
    ReceivingQuestion,
    Sku,
    SkuBarcode,
)
from server.services import receiving as rc
from server.services.barcodes import check_digit
from server.services.errors import DomainError
from server.services.scan import classify
from server.services.stock import check_quants
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse

GS = "\x1d"
KETTLE_EAN = "4601234567893"
CUP_EAN = "4607012345677"
TEA_EAN = "4600000000008"
CASE_GTIN = "1" + KETTLE_EAN[:-1]
CASE_GTIN += str(check_digit(CASE_GTIN))
SSCC = "346012340000000018"
SIGNATURE = "dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q="


def marking(serial: str, gtin=KETTLE_EAN) -> str:
    return f"01{gtin.zfill(14)}21{serial}{GS}91EE06{GS}92{SIGNATURE}"


@pytest.fixture
def house(db):
    wh, receiving, cells, quarantine = putaway_warehouse(slots=4, max_units=100)
    kettle = f.sku("KETTLE", "Чайник", barcode=KETTLE_EAN, length_mm=100, width_mm=100, height_mm=100)
    kettle.barcodes.append(SkuBarcode(barcode=CASE_GTIN, kind="gtin14", units=12))
    cup = f.sku("CUP", "Кружка", barcode=CUP_EAN, length_mm=50, width_mm=50, height_mm=50)
    tea = f.sku("TEA", "Чай", length_mm=50, width_mm=50, height_mm=50)  # no barcode yet
    ivan = f.user("ivan", roles=("receiver",), badge="B-1")
    db.session.commit()
    return {"wh": wh, "receiving": receiving, "quarantine": quarantine, "kettle": kettle, "cup": cup, "tea": tea,
            "ivan": ivan}


def asn(h, number="D-1", **kw):
    lines = kw.pop("lines", [{"sku_code": "KETTLE", "quantity": 10}, {"sku_id": h["cup"].id, "quantity": 5},
                             {"sku_code": "TEA", "quantity": 4}])
    delivery = rc.create_delivery(h["wh"].id, number, "ООО Поставщик", "2026-11-24", lines, **kw)
    _db.session.commit()
    return delivery


def scanned(code: str, h):
    return classify(code, h["wh"].id)


def snapshot():
    _db.session.expire_all()
    counts = _db.session.execute(select(func.count(), func.coalesce(func.sum(ReceiptCount.quantity), 0))
                                 .select_from(ReceiptCount)).one()
    lines = sorted(_db.session.execute(select(DeliveryLine.id, DeliveryLine.received_qty, DeliveryLine.damaged_qty))
                   .all())
    quants = sorted(_db.session.execute(select(Quant.cell_id, Quant.sku_id, Quant.quantity)).all())
    questions = sorted(_db.session.execute(select(ReceivingQuestion.barcode, ReceivingQuestion.quantity)).all())
    return tuple(counts), lines, quants, questions, _db.session.execute(select(func.count(SkuBarcode.id))).scalar()


def test_create_delivery_names_bad_fields_and_saves_nothing(house):
    with pytest.raises(DomainError) as error:
        rc.create_delivery(house["wh"].id, "D-9", "S", "tomorrow",
                           [{"sku_code": "NOPE", "quantity": 1}, {"sku_code": "CUP", "quantity": 0}],
                           pallets=["123"])
    assert error.value.status == 422
    assert set(error.value.extra["errors"]) == {"expected_date", "lines.0.sku_code", "lines.1.quantity", "pallets.0"}
    assert _db.session.execute(select(func.count(Delivery.id))).scalar() == 0
    asn(house)
    with pytest.raises(DomainError) as error:
        asn(house)
    assert error.value.status == 409


def test_receiving_an_asn_short_over_damaged_unknown_linked_then_closed(house):
    h, ivan = house, house["ivan"]
    delivery = asn(h, pallets=[SSCC])
    assert rc.find_delivery(h["wh"].id, "D-1").id == delivery.id
    assert rc.find_delivery(h["wh"].id, "(00)" + SSCC).id == delivery.id
    assert scanned("D-1", h).kind == "delivery" and scanned(SSCC, h).kind == "pallet"
    with pytest.raises(DomainError):  # not open yet
        rc.count_scan(delivery, scanned(KETTLE_EAN, h), user=ivan)
    rc.open_delivery(delivery, ivan)
    assert delivery.status == "receiving" and delivery.receiving_cell_id == h["receiving"].id
    rc.receive_pallet(delivery, SSCC, ivan)

    for _ in range(7):  # kettle: 7 good + 1 damaged of 10 -> short 2
        rc.count_scan(delivery, scanned(KETTLE_EAN, h), user=ivan)
    damaged = rc.count_scan(delivery, scanned(KETTLE_EAN, h), damaged=True, user=ivan)
    rc.attach_photo(damaged.count, "a" * 64)
    counted = rc.count_scan(delivery, scanned(CUP_EAN, h), 6, user=ivan)  # cup: 6 of 5 -> over 1
    assert (counted.line.received_qty, counted.line.expected_qty) == (6, 5)
    question = rc.hold_unknown(delivery, "TEA-NO-CODE-1", user=ivan)  # tea arrives with an unknown code
    question = rc.hold_unknown(delivery, "TEA-NO-CODE-1", units=3, user=ivan)
    assert question.quantity == 4
    rc.link_question(question, h["tea"], ivan)
    assert scanned("TEA-NO-CODE-1", h).kind == "sku"
    rc.hold_unknown(delivery, "4600000000015", user=ivan)  # one still open at closing
    _db.session.commit()

    summary = rc.delivery_summary(delivery)
    assert [(x["sku"], x["expected"], x["received"], x["damaged"], x["state"]) for x in summary["lines"]] == [
        ("KETTLE", 10, 7, 1, "short"), ("CUP", 5, 6, 0, "over"), ("TEA", 4, 4, 0, "done")]
    assert summary["pallets"] == [{"sscc": SSCC, "received": True, "received_at": summary["pallets"][0]["received_at"]}]

    found = rc.close_delivery(delivery, ivan)
    _db.session.commit()
    assert sorted((d.kind, d.quantity) for d in found) == [("damaged", 1), ("over", 1), ("short", 2), ("unknown", 1)]
    assert delivery.status == "closed"
    quants = {(q.cell_id, q.sku_id): q.quantity for q in _db.session.execute(select(Quant)).scalars()}
    assert quants == {(h["receiving"].id, h["kettle"].id): 7, (h["receiving"].id, h["cup"].id): 6,
                      (h["receiving"].id, h["tea"].id): 4, (h["quarantine"].id, h["kettle"].id): 1}
    assert check_quants() == []
    tasks = _db.session.execute(select(PutawayTask.sku_id, func.sum(PutawayTask.quantity))
                                .group_by(PutawayTask.sku_id)).all()
    assert dict(tasks) == {h["kettle"].id: 7, h["cup"].id: 6, h["tea"].id: 4}
    act = rc.receiving_act_data(delivery, "Ivan")
    assert act["totals"] == {"expected": 19, "received": 17, "damaged": 1, "short": 2, "over": 1, "unexpected": 0}
    assert [x["kind"] for x in act["lines"]] == ["short", "over", "", "unknown"]
    with pytest.raises(DomainError):  # closed once
        rc.close_delivery(delivery, ivan)
    boss = f.user("boss", roles=("supervisor",))
    rc.accept_discrepancies(delivery, boss)
    _db.session.commit()
    assert delivery.status == "accepted" and all(d["accepted"] for d in rc.delivery_summary(delivery)["discrepancies"])


def test_refusals_change_nothing(house):
    h, ivan = house, house["ivan"]
    delivery = asn(h, lines=[{"sku_code": "KETTLE", "quantity": 10}], pallets=[SSCC])
    other = asn(h, "D-2", lines=[{"sku_code": "CUP", "quantity": 1}])
    rc.open_delivery(delivery, ivan)
    rc.receive_pallet(delivery, SSCC, ivan)
    rc.count_scan(delivery, scanned(marking("SERIAL0000001"), h), user=ivan)
    _db.session.commit()
    before = snapshot()
    for action in (
        lambda: rc.count_scan(delivery, scanned(CUP_EAN, h), user=ivan),  # not on the ASN
        lambda: rc.count_scan(delivery, scanned(marking("SERIAL0000001"), h), user=ivan),  # marking code twice
        lambda: rc.receive_pallet(delivery, SSCC, ivan),  # same SSCC twice
        lambda: rc.receive_pallet(other, SSCC, ivan),  # ... on another delivery
        lambda: rc.count(delivery, h["kettle"], 0, user=ivan),
        lambda: rc.count_scan(other, scanned(CUP_EAN, h), user=ivan),  # not open
    ):
        with pytest.raises(DomainError), _db.session.begin_nested():
            action()
        assert snapshot() == before


def test_case_codes_gs1_lot_expiry_marking_and_unexpected(house):
    h, ivan = house, house["ivan"]
    delivery = asn(h, lines=[{"sku_code": "KETTLE", "quantity": 30, "lot": "L1", "expiry": "2027-03-31"}])
    rc.open_delivery(delivery, ivan)
    case = rc.count_scan(delivery, scanned(f"01{CASE_GTIN}17270331" + "10L1", h), user=ivan)
    assert (case.count.quantity, case.count.lot, case.count.expiry) == (12, "L1", date(2027, 3, 31))
    assert case.line.received_qty == 12
    two_cases = rc.count_scan(delivery, scanned(CASE_GTIN, h), 2, user=ivan)  # plain GTIN-14: the line's lot
    assert (two_cases.count.quantity, two_cases.count.lot) == (24, "L1") and two_cases.line.received_qty == 36
    unit = rc.count_scan(delivery, scanned(marking("ABCDEFGHIJKLM"), h), user=ivan)
    assert unit.count.serial == f"01{KETTLE_EAN.zfill(14)}21ABCDEFGHIJKLM"
    with pytest.raises(DomainError) as error:
        rc.count_scan(delivery, scanned(marking("ABCDEFGHIJKLM"), h), user=ivan)
    assert error.value.slug == "serial-already-received"
    undone = rc.undo_count(unit.count, ivan)  # the unit may be scanned again after an undo
    assert undone.line.received_qty == 36
    with pytest.raises(DomainError):
        rc.undo_count(unit.count, ivan)
    rc.count_scan(delivery, scanned(marking("ABCDEFGHIJKLM"), h), user=ivan)
    with pytest.raises(DomainError) as error:
        rc.count_scan(delivery, scanned(CUP_EAN, h), user=ivan)
    assert error.value.slug == "sku-not-in-delivery"
    added = rc.count_scan(delivery, scanned(CUP_EAN, h), user=ivan, unexpected=True)
    assert added.new_line and added.line.unexpected
    again = rc.count_scan(delivery, scanned(CUP_EAN, h), user=ivan, event_id="e-1")
    same = rc.count_scan(delivery, scanned(CUP_EAN, h), user=ivan, event_id="e-1")  # the same event: once
    assert same.duplicate and same.line.received_qty == again.line.received_qty == 2
    _db.session.commit()
    found = rc.close_delivery(delivery, ivan)
    assert sorted((d.kind, d.quantity) for d in found) == [("over", 7), ("unexpected", 2)]
    lots = dict(_db.session.execute(select(Quant.lot, Quant.quantity).where(Quant.sku_id == h["kettle"].id)).all())
    assert lots == {"L1": 37}
    assert check_quants() == []


def test_blind_delivery_and_a_new_sku_for_an_unknown_barcode(house):
    h, ivan = house, house["ivan"]
    delivery = rc.create_delivery(h["wh"].id, "B-1", "Market", None, [], blind=True)
    rc.open_delivery(delivery, ivan)
    rc.count_scan(delivery, scanned(CUP_EAN, h), 3, user=ivan)
    question = rc.hold_unknown(delivery, TEA_EAN, units=2, user=ivan)
    sku, counted = rc.create_sku_for_question(question, "SPOON", "Ложка", ivan)
    assert counted.line.received_qty == 2 and question.status == "created"
    assert _db.session.execute(select(SkuBarcode.barcode).where(SkuBarcode.sku_id == sku.id)).scalar() == \
        TEA_EAN.zfill(14)
    with pytest.raises(DomainError):
        rc.link_question(question, h["cup"], ivan)
    found = rc.close_delivery(delivery, ivan)
    assert found == []
    assert check_quants() == []


def test_sticker_barcode_scans_as_the_sku(house):
    h = house
    row = rc.sticker_barcode(h["tea"])
    assert (row.barcode, row.kind) == ("TEA", "internal") and rc.sticker_barcode(h["tea"]).id == row.id
    assert scanned("TEA", h).entity_id == h["tea"].id
    numeric = f.sku("4600000000008", "Digits only")
    data = rc.sticker_data(numeric)
    assert data["ean13"].startswith("2") and len(data["ean13"]) == 13
    assert scanned(data["ean13"], h).entity_id == numeric.id
    cell_named = f.sku(h["receiving"].address, "Named like a cell")
    assert rc.sticker_barcode(cell_named).barcode != cell_named.code


def test_two_receivers_count_into_one_line_concurrently(app, house):
    h = house
    delivery = asn(h, lines=[{"sku_code": "KETTLE", "quantity": 100}])
    rc.open_delivery(delivery, h["ivan"])
    olga = f.user("olga", roles=("receiver",))
    _db.session.commit()
    delivery_id, sku_id, users = delivery.id, h["kettle"].id, [h["ivan"].id, olga.id]
    _db.session.rollback()
    per_worker, errors, start = 25, [], threading.Barrier(2)

    def worker(n: int):
        with app.app_context():
            start.wait()
            for i in range(per_worker):
                try:
                    d = _db.session.get(Delivery, delivery_id)
                    rc.count(d, _db.session.get(Sku, sku_id), 1 + n, user=_db.session.get(type(h["ivan"]), users[n]),
                             event_id=f"w{n}-{i}")
                    _db.session.commit()
                except BaseException as error:  # a lost update or a deadlock is a bug
                    _db.session.rollback()
                    errors.append(error)
            _db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _db.session.expire_all()
    line = _db.session.execute(select(DeliveryLine).where(DeliveryLine.delivery_id == delivery_id)).scalar_one()
    total = per_worker * 1 + per_worker * 2
    assert line.received_qty == total
    assert _db.session.execute(select(func.sum(ReceiptCount.quantity))).scalar() == total
    rc.close_delivery(_db.session.get(Delivery, delivery_id), None)
    _db.session.commit()
    assert _db.session.execute(select(func.sum(Movement.quantity))).scalar() == total
    assert check_quants() == []
