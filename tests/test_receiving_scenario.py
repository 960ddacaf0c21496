"""The receiving scenario through the station events API (both databases): a dock receives an ASN
with a short line, an over line, a damaged unit with its photo, an unknown barcode linked to a SKU
and a sticker printed and scanned back; refusals sound an error and change nothing; two stations
count into one line at once; and the deliveries API."""

import base64
import threading
import uuid

import pytest
import zxingcpp
from sqlalchemy import func, select

from printers import labels, receipts
from server.extensions import db as _db
from server.models import (
    Delivery,
    DeliveryLine,
    PutawayTask,
    Quant,
    ReceiptCount,
    ReceivingQuestion,
    SkuBarcode,
    StationJob,
)
from server.services import receiving as rc
from server.services.stock import check_quants
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse

EVENTS = "/api/v1/stations/me/events"
API = "/api/v1"
GS = "\x1d"
KETTLE_EAN = "4601234567893"
CUP_EAN = "4607012345677"
SSCC = "346012340000000018"
SIGNATURE = "dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q="
MARKING = f"01{KETTLE_EAN.zfill(14)}21SERIAL0000001{GS}91EE06{GS}92{SIGNATURE}"


@pytest.fixture
def dock(db):
    wh, receiving, cells, quarantine = putaway_warehouse(slots=4, max_units=100)
    kettle = f.sku("KETTLE", "Чайник", barcode=KETTLE_EAN, length_mm=100, width_mm=100, height_mm=100)
    cup = f.sku("CUP", "Кружка", barcode=CUP_EAN, length_mm=50, width_mm=50, height_mm=50)
    tea = f.sku("TEA", "Чай", length_mm=50, width_mm=50, height_mm=50)
    f.user("ivan", roles=("receiver",), badge="B-1")
    f.user("olga", roles=("receiver",), badge="B-2")
    boss = f.user("boss", roles=("supervisor",))
    delivery = rc.create_delivery(wh.id, "D-1", "ООО Поставщик", "2026-11-24",
                                  [{"sku_code": "KETTLE", "quantity": 3}, {"sku_code": "CUP", "quantity": 2},
                                   {"sku_code": "TEA", "quantity": 2}], pallets=[SSCC])
    _db.session.commit()
    station, auth = f.station(wh, code="DOCK-1", kind="dock")
    station2, auth2 = f.station(wh, code="DOCK-2", kind="dock")
    return {"wh": wh, "receiving": receiving, "quarantine": quarantine, "kettle": kettle, "cup": cup, "tea": tea,
            "delivery": delivery, "station": station, "auth": auth, "auth2": auth2, "boss": f.token_for(boss)}


def send(client, auth, kind, payload):
    event = {"event_id": str(uuid.uuid4()), "kind": kind, "occurred_at": "2026-11-24T10:00:00+00:00",
             "device": "scanner", "payload": payload}
    r = client.post(EVENTS, json={"events": [event]}, headers=auth)
    assert r.status_code == 200, r.json
    (outcome,) = r.json["outcomes"]
    assert outcome["status"] == "stored", outcome
    return outcome["prompt"]


def scan(client, auth, code: str) -> dict:
    return send(client, auth, "scan", {"raw_b64": base64.b64encode(code.encode()).decode(), "symbology": ""})


def key(client, auth, name: str, **payload) -> dict:
    return send(client, auth, "button", {"key": name, **payload})


def line_of(prompt, sku):
    return next(x for x in prompt["screen"]["delivery"]["lines"] if x["sku"] == sku)


def test_a_dock_receives_an_asn_end_to_end(client, dock):
    auth = dock["auth"]
    prompt = scan(client, auth, "D-1")
    assert prompt["sound"] == "error" and "badge" in prompt["message"]
    assert _db.session.get(Delivery, dock["delivery"].id).status == "expected"
    scan(client, auth, "B-1")
    prompt = scan(client, auth, SSCC)  # the pallet's SSCC opens the delivery and records the pallet
    assert prompt["sound"] == "ok" and prompt["message"] == f"Delivery D-1 open; pallet {SSCC} received. Scan the goods."
    assert prompt["screen"]["delivery"]["pallets"][0]["received"] is True

    scan(client, auth, KETTLE_EAN)
    prompt = scan(client, auth, KETTLE_EAN)  # kettle: 2 of 3 (short)
    assert (prompt["message"], prompt["sound"]) == ("Чайник: 2 of 3", "ok")
    key(client, auth, "quantity", value=2)
    prompt = scan(client, auth, CUP_EAN)
    assert prompt["message"] == "Кружка: 2 of 2"
    prompt = key(client, auth, "damaged")
    assert prompt["screen"]["damaged_next"] is True
    prompt = scan(client, auth, CUP_EAN)  # a damaged cup: the line is over by one
    assert prompt["message"] == "Кружка: 1 damaged (1 in all)." and len(prompt["jobs"]) == 1
    job = _db.session.get(StationJob, prompt["jobs"][0])
    assert (job.kind, job.payload["role"]) == ("photo", "overhead")
    count_id = job.payload["count_id"]
    media = "b" * 64
    prompt = send(client, auth, "photo", {"job_id": job.id, "media": media, "size": 1234})
    assert prompt["message"] == "Photo of the damage saved."
    assert _db.session.get(ReceiptCount, count_id).media_sha256 == media

    prompt = scan(client, auth, "TEA-NO-CODE")  # unknown barcode: held, error sound
    assert prompt["sound"] == "error" and prompt["message"].startswith("Unknown barcode TEA-NO-CODE: held")
    question_id = prompt["screen"]["question_id"]
    r = client.post(f"{API}/receiving-questions/{question_id}/link", json={"sku_id": dock["tea"].id},
                    headers=dock["boss"])
    assert r.status_code == 200, r.json
    assert next(x for x in r.json["lines"] if x["sku"] == "TEA")["received"] == 1

    tea_line = next(x for x in prompt["screen"]["delivery"]["lines"] if x["sku"] == "TEA")
    prompt = key(client, auth, "sticker", line_id=tea_line["id"], copies=2)
    job = _db.session.get(StationJob, prompt["jobs"][0])
    assert job.payload["template"] == "sku-sticker" and job.payload["copies"] == 2
    decoded = _decode_sticker(job.payload["data"])
    prompt = scan(client, auth, decoded)  # the sticker scans as the SKU and counts
    assert prompt["message"] == "Чай: 2 of 2"

    prompt = key(client, auth, "close")
    assert prompt["sound"] == "ok" and prompt["message"].startswith("Delivery D-1 closed with 3 discrepancies")
    act = _db.session.get(StationJob, prompt["jobs"][0])
    assert act.payload["template"] == "receiving-act"
    receipts.render("receiving-act", act.payload["data"], "epson-tm-t20iii")  # the template takes the data
    assert [(x["sku"], x["kind"]) for x in act.payload["data"]["lines"]] == [
        ("KETTLE", "short"), ("CUP", "over"), ("TEA", "")]
    _db.session.expire_all()
    r = client.get(f"{API}/deliveries/{dock['delivery'].id}/discrepancies", headers=dock["boss"])
    assert sorted((d["kind"], d["quantity"]) for d in r.json) == [("damaged", 1), ("over", 1), ("short", 1)]
    quants = dict(_db.session.execute(select(Quant.sku_id, Quant.quantity)
                                      .where(Quant.cell_id == dock["receiving"].id)).all())
    assert quants == {dock["kettle"].id: 2, dock["cup"].id: 2, dock["tea"].id: 2}
    assert check_quants() == []
    assert _db.session.execute(select(func.sum(PutawayTask.quantity))).scalar() == 6
    r = client.post(f"{API}/deliveries/{dock['delivery'].id}/accept", headers=dock["boss"])
    assert r.status_code == 200 and r.json["status"] == "accepted"


def _decode_sticker(data: dict) -> str:
    from printers.preview import render_image

    zpl = labels.render("sku-sticker", data, "zebra-zd421-203")
    symbols = zxingcpp.read_barcodes(render_image(zpl, 203))
    assert symbols, "no barcode on the sticker"
    return symbols[0].text


def snapshot():
    _db.session.expire_all()
    return (_db.session.execute(select(func.count(ReceiptCount.id))).scalar(),
            sorted(_db.session.execute(select(DeliveryLine.id, DeliveryLine.received_qty,
                                              DeliveryLine.damaged_qty)).all()),
            sorted(_db.session.execute(select(Quant.cell_id, Quant.sku_id, Quant.quantity)).all()),
            _db.session.execute(select(func.count(ReceivingQuestion.id))).scalar(),
            _db.session.execute(select(func.count(SkuBarcode.id))).scalar(),
            sorted(_db.session.execute(select(Delivery.id, Delivery.status)).all()))


def test_refusals_sound_an_error_and_change_nothing(client, dock):
    auth = dock["auth"]
    other = rc.create_delivery(dock["wh"].id, "D-2", "", None, [{"sku_code": "CUP", "quantity": 1}])
    _db.session.commit()
    scan(client, auth, "B-1")
    scan(client, auth, SSCC)
    key(client, auth, "open", delivery_id=dock["delivery"].id)
    scan(client, auth, MARKING)
    before = snapshot()
    for code, words in ((SSCC, "already received"), (MARKING, "marking code was already received")):
        prompt = scan(client, auth, code)
        assert prompt["sound"] == "error" and words in prompt["message"], prompt
        assert snapshot() == before
    tea_code = "4600000000008"
    prompt = key(client, auth, "leave")
    key(client, auth, "open", delivery_id=other.id)
    before = snapshot()
    prompt = scan(client, auth, KETTLE_EAN)  # a SKU of another delivery
    assert prompt["sound"] == "error" and prompt["message"].startswith("KETTLE is not on delivery D-2")
    assert snapshot() == before
    for payload in ({"key": "open", "delivery_id": 999}, {"key": "count", "line_id": 999, "quantity": 1},
                    {"key": "quantity", "value": 0}, {"key": "undo"}):
        prompt = send(client, auth, "button", payload)
        assert prompt["sound"] == "error", payload
        assert snapshot() == before
    prompt = key(client, auth, "add_unexpected")  # now on purpose: an unexpected line
    assert prompt["sound"] == "ok" and "not on the ASN" in prompt["message"]
    assert scan(client, auth, "B-1")["user"] is None  # signed out
    prompt = scan(client, auth, tea_code)
    assert prompt["state"] == "idle"  # no delivery open after sign-out: the code is only named
    after = snapshot()
    for prompt in (scan(client, auth, "D-1"), key(client, auth, "open", delivery_id=other.id)):
        assert prompt["sound"] == "error" and "badge" in prompt["message"]  # nobody signed in
    assert snapshot() == after


def test_case_code_gs1_lot_expiry_and_undo(client, dock):
    auth = dock["auth"]
    case = "1" + KETTLE_EAN[:-1]
    from server.services.barcodes import check_digit

    case += str(check_digit(case))
    _db.session.add(SkuBarcode(sku_id=dock["kettle"].id, barcode=case, kind="gtin14", units=6))
    _db.session.commit()
    scan(client, auth, "B-1")
    scan(client, auth, "D-1")
    prompt = scan(client, auth, f"01{case}17270331" + "10LOT-7")
    assert prompt["message"] == "Чайник: 6 of 3"
    counted = _db.session.execute(select(ReceiptCount).order_by(ReceiptCount.id.desc())).scalars().first()
    assert (counted.quantity, counted.lot, counted.expiry.isoformat()) == (6, "LOT-7", "2027-03-31")
    prompt = key(client, auth, "undo")
    assert prompt["message"] == "Undone: 6 of Чайник. Now 0."
    assert key(client, auth, "undo")["sound"] == "error"
    line = line_of(prompt, "KETTLE")
    prompt = key(client, auth, "count", line_id=line["id"], quantity=3)
    assert prompt["message"] == "Чайник: 3 of 3"


def test_two_stations_count_into_one_line_at_once(app, client, dock):
    app.test_client_class = type(client)
    for auth, badge in ((dock["auth"], "B-1"), (dock["auth2"], "B-2")):
        scan(client, auth, badge)
        scan(client, auth, "D-1")
    _db.session.rollback()
    per_station, errors, start = 20, [], threading.Barrier(2)

    def worker(auth):
        with app.app_context():
            local = app.test_client()
            start.wait()
            for _ in range(per_station):
                try:
                    prompt = scan(local, auth, KETTLE_EAN)
                    assert prompt["sound"] == "ok", prompt
                except BaseException as error:
                    errors.append(error)
            _db.session.remove()

    threads = [threading.Thread(target=worker, args=(auth,)) for auth in (dock["auth"], dock["auth2"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _db.session.expire_all()
    line = _db.session.execute(select(DeliveryLine).where(DeliveryLine.sku_id == dock["kettle"].id)).scalar_one()
    assert line.received_qty == 2 * per_station
    assert _db.session.execute(select(func.sum(ReceiptCount.quantity))).scalar() == 2 * per_station


def test_deliveries_api(client, dock):
    boss = dock["boss"]
    body = {"warehouse_id": dock["wh"].id, "number": "API-1", "supplier": "Поставщик", "expected_date": "2026-12-01",
            "lines": [{"sku_code": "CUP", "quantity": 4}, {"sku_id": dock["kettle"].id, "quantity": 1,
                                                           "lot": "L", "expiry": "2027-01-01"}]}
    r = client.post(f"{API}/deliveries", json=body, headers=boss)
    assert r.status_code == 201, r.json
    delivery_id = r.json["id"]
    assert [x["expected"] for x in r.json["lines"]] == [4, 1]
    r = client.post(f"{API}/deliveries", json={**body, "number": "API-2", "lines": [{"sku_code": "X", "quantity": -1}]},
                    headers=boss)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert set(r.json["errors"]) == {"lines.0.sku_code", "lines.0.quantity"}
    r = client.get(f"{API}/deliveries?status=expected&supplier=Поставщик", headers=boss)
    assert r.status_code == 200 and {d["number"] for d in r.json} == {"D-1", "API-1"}
    assert client.post(f"{API}/deliveries/{delivery_id}/close", headers=boss).status_code == 409
    r = client.post(f"{API}/deliveries/{delivery_id}/open", headers=boss)
    assert r.json["status"] == "receiving"
    receiver = f.token_for(f.user("rita", roles=("receiver",)))
    assert client.post(f"{API}/deliveries/{delivery_id}/accept", headers=receiver).status_code == 403
    assert client.post(f"{API}/deliveries/{delivery_id}/close", headers=receiver).status_code == 200
    r = client.get(f"{API}/deliveries/{delivery_id}/discrepancies", headers=receiver)
    assert sorted(d["kind"] for d in r.json) == ["short", "short"]
    r = client.post(f"{API}/deliveries/{delivery_id}/accept", headers=boss)
    assert r.status_code == 200 and r.json["status"] == "accepted"
    assert client.get(f"{API}/deliveries/99999", headers=boss).status_code == 404
