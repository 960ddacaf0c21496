"""The packing flow at a pack station through the station events API (both databases): a picked tote
packed, weighed, labelled and slipped; each refused scan writes only its PackingError; a marking
code packed once; a weight out of tolerance re-weighed, and overridden by a supervisor with PIN; a
station without a scale; an order in two parcels; the same input twice."""

import base64
import json
import uuid

import pytest
from sqlalchemy import func, select

from printers import labels, receipts
from server.extensions import db as _db
from server.models import Order, OrderLine, OrderReservation, StationEvent, StationJob, Tote
from server.models.shipping import (
    MarkingCode,
    PackingError,
    PackingSession,
    Parcel,
    ParcelItem,
    ParcelMedia,
)
from server.services import packing as service
from tests import factories as f
from tests.picking_helpers import IRON, KETTLE, MILK, picking_warehouse, ready_to_pack

EVENTS = "/api/v1/stations/me/events"
GS = "\x1d"


def marking(serial: str) -> str:
    return f"01{KETTLE.zfill(14)}21{serial}{GS}91EE06{GS}92dGVzdHRlc3R0ZXN0dGVzdA=="


def picked_order(s, number, lines, tote_code):
    o = Order(warehouse_id=s.wh.id, number=number, status="picked", customer_name="Пётр",
              delivery_address="Невский пр., 28", carrier="local")
    _db.session.add(o)
    _db.session.flush()
    for n, (sku, qty) in enumerate(lines, start=1):
        _db.session.add(OrderLine(order_id=o.id, line_no=n, sku_id=sku.id, quantity=qty, reserved=0, picked=qty))
    _db.session.add(Tote(warehouse_id=s.wh.id, code=tote_code, status="at_pack", order_id=o.id, cell_id=s.pack.id))
    _db.session.flush()
    return o


@pytest.fixture
def site(db):
    s = picking_warehouse()
    ready_to_pack(s, boxes="SML")
    f.user("anna", roles=("packer",), badge="B-P1")
    f.user("boss", roles=("supervisor",), badge="B-S1", pin="4321")
    s.o1 = picked_order(s, "2001", [(s.kettle, 2), (s.iron, 1)], "TOTE-1")
    s.o2 = picked_order(s, "2002", [(s.iron, 1)], "TOTE-2")
    _db.session.commit()
    s.station, s.auth = f.station(s.wh, code="PACK-1", kind="pack")
    return s


def event(kind, payload, event_id=None):
    return {"event_id": event_id or str(uuid.uuid4()), "kind": kind, "occurred_at": "2026-12-03T10:00:00+00:00",
            "device": "scanner" if kind == "scan" else "scale" if kind == "weight" else "", "payload": payload}


def send(client, auth, kind, payload, event_id=None):
    r = client.post(EVENTS, json={"events": [event(kind, payload, event_id)]}, headers=auth)
    assert r.status_code == 200, r.json
    (outcome,) = r.json["outcomes"]
    assert outcome["status"] == "stored", outcome
    return outcome["prompt"]


def scan_payload(code):
    return {"raw_b64": base64.b64encode(code.encode()).decode(), "symbology": ""}


def scan(client, auth, code):
    return send(client, auth, "scan", scan_payload(code))


def key(client, auth, name, **payload):
    return send(client, auth, "button", {"key": name, **payload})


def weigh(client, auth, grams, stable=True):
    return send(client, auth, "weight", {"value": grams / 1000, "unit": "kg", "stable": stable})


def counts():
    return {m.__name__: _db.session.execute(select(func.count()).select_from(m)).scalar()
            for m in (ParcelItem, MarkingCode, Parcel, PackingError)}


def errors_of(kind):
    return _db.session.execute(select(func.count(PackingError.id)).where(PackingError.kind == kind)).scalar()


def jobs(kind=None):
    q = select(StationJob).order_by(StationJob.id)
    return [j for j in _db.session.execute(q).scalars() if kind is None or j.kind == kind]


def start(client, s, tote="TOTE-1"):
    assert scan(client, s.auth, "B-P1")["sound"] == "ok"
    p = scan(client, s.auth, tote)
    assert p["state"] == "verify", p
    return p


def test_suggest_box_smallest_that_fits(site):
    s = site
    assert service.suggest_box(s.wh.id, [(s.kettle, 1)]).code == "M"  # 250 mm does not fit S's 200
    assert service.suggest_box(s.wh.id, [(s.kettle, 2), (s.iron, 1)]).code == "M"
    assert service.suggest_box(s.wh.id, [(s.kettle, 12)]).code == "L"
    assert service.suggest_box(s.wh.id, [(s.kettle, 50)]) is None


def test_happy_path(client, site):
    s = site
    p = start(client, s)
    view = p["screen"]["packing"]
    assert view["box"]["code"] == "M"
    assert [(x["sku"], x["expected"], x["verified"]) for x in view["lines"]] == [("KETTLE", 2, 0), ("IRON", 1, 0)]
    assert _db.session.get(Order, s.o1.id).status == "packing"
    assert [j.payload["role"] for j in jobs("record_start")] == ["packing"]
    assert scan(client, s.auth, KETTLE)["state"] == "verify"
    assert scan(client, s.auth, KETTLE)["state"] == "verify"
    p = scan(client, s.auth, IRON)
    assert p["state"] == "weighing", p
    assert len(jobs("photo")) == 1 and jobs("photo")[0].payload["role"] == "overhead"
    expected = 2 * 1000 + 1200 + 300 + 20
    p = weigh(client, s.auth, expected + 40)  # within max(30 g, 5 %)
    assert p["state"] == "done" and p["sound"] == "ok", p
    parcel = _db.session.execute(select(Parcel)).scalar_one()
    assert (parcel.seq, parcel.weight_g, parcel.expected_weight_g, parcel.status) == (1, expected + 40, expected, "packed")
    assert parcel.tracking_number and parcel.box_type_id is not None and parcel.station_id == s.station.id
    label = json.loads(parcel.label)
    assert (label["parcel"], label["parcels"], label["tracking"]) == (1, 1, parcel.tracking_number)
    prints = jobs("print")
    assert [(j.payload["template"], j.device) for j in prints] == [("shipping-label", "label_printer"),
                                                                   ("packing-slip", "receipt_printer")]
    labels.render("shipping-label", prints[0].payload["data"], "zebra-zd421-203")  # the data renders
    receipts.render("packing-slip", prints[1].payload["data"], "epson-tm-t20iii")
    assert len(jobs("record_stop")) == 1
    assert _db.session.get(Order, s.o1.id).status == "packed"
    assert _db.session.execute(select(PackingSession)).scalar_one().status == "closed"
    assert _db.session.execute(select(Tote).where(Tote.code == "TOTE-1")).scalar_one().order_id is None
    # the still and the clip the cameras send back are kept with the parcel
    photo, clip = "a" * 64, "b" * 64
    send(client, s.auth, "photo", {"media": photo, "size": 10, "role": "overhead", "job_id": jobs("photo")[0].id})
    send(client, s.auth, "clip", {"media": clip, "size": 20, "role": "packing", "frames": 5, "partial": True,
                                  "job_id": jobs("record_start")[0].id, "session": "packing"})
    media = _db.session.execute(select(ParcelMedia).order_by(ParcelMedia.id)).scalars().all()
    assert [(m.parcel_id, m.kind, m.sha256, m.partial) for m in media] == [(parcel.id, "still", photo, False),
                                                                           (parcel.id, "clip", clip, True)]
    assert all(m.media_file_id for m in media)


def test_a_clip_part_sent_before_the_first_unit_is_kept_with_the_parcel_it_films(client, site):
    s = site
    start(client, s)
    part = "c" * 64  # the camera was lost before any unit was scanned: part 1 closes, partial
    send(client, s.auth, "clip", {"media": part, "size": 20, "role": "packing", "frames": 3, "partial": True,
                                  "job_id": jobs("record_start")[0].id, "session": "packing"})
    [parcel] = _db.session.execute(select(Parcel)).scalars().all()
    assert (parcel.seq, parcel.status) == (1, "packing")
    assert scan(client, s.auth, KETTLE)["state"] == "verify"  # the units go into that same parcel
    assert _db.session.execute(select(func.count(Parcel.id))).scalar() == 1
    media = _db.session.execute(select(ParcelMedia)).scalars().all()
    assert [(m.parcel_id, m.kind, m.sha256, m.partial) for m in media] == [(parcel.id, "clip", part, True)]


def test_the_accepted_weights_answer_carries_its_label_job(client, site):
    """The agent asks for the jobs with its batch: the label goes back in the weight's answer, once."""
    s = site
    start(client, s)
    for code in (KETTLE, KETTLE, IRON):
        scan(client, s.auth, code)
    client.get("/api/v1/stations/me/jobs?wait=0", headers=s.auth)  # the photo and clip jobs so far
    weight = event("weight", {"value": 3.52, "unit": "kg", "stable": True})
    r = client.post(EVENTS, json={"events": [weight], "take_jobs": True}, headers=s.auth)
    assert r.json["outcomes"][0]["prompt"]["state"] == "done", r.json
    handed = r.json["jobs"]
    assert [(j["kind"], j["payload"].get("template"), j["attempts"]) for j in handed] == [
        ("print", "shipping-label", 1), ("print", "packing-slip", 1), ("record_stop", None, 1)]
    assert client.get("/api/v1/stations/me/jobs?wait=0", headers=s.auth).json["jobs"] == []
    again = client.post(EVENTS, json={"events": [weight], "take_jobs": True}, headers=s.auth).json
    assert again["outcomes"][0]["status"] == "duplicate"
    assert [(j["id"], j["attempts"]) for j in again["jobs"]] == [(j["id"], 2) for j in handed]
    assert len(jobs("print")) == 2  # sent again, never made twice


def test_each_refusal_writes_only_its_error(client, site):
    s = site
    start(client, s)
    scan(client, s.auth, KETTLE)
    before = counts()
    for code, kind, slug in ((MILK, "wrong_item", "wrong-item"), ("NO-SUCH-CODE", "unknown_code", None)):
        p = scan(client, s.auth, code)
        assert p["sound"] == "error" and p["state"] == "verify", p
        if slug:
            assert p["screen"]["problem"] == slug
        assert errors_of(kind) == 1
    scan(client, s.auth, KETTLE)
    before = counts()
    p = scan(client, s.auth, KETTLE)  # a third kettle of two
    assert p["sound"] == "error" and p["screen"]["problem"] == "extra-unit", p
    after = counts()
    assert after["PackingError"] == before["PackingError"] + 1
    assert {k: v for k, v in after.items() if k != "PackingError"} == \
        {k: v for k, v in before.items() if k != "PackingError"}


def test_item_of_another_order(client, site):
    s = site
    o3 = picked_order(s, "2003", [(s.kettle, 1)], "TOTE-3")
    _db.session.commit()
    start(client, s, "TOTE-2")  # order 2002: one iron
    before = counts()
    p = scan(client, s.auth, KETTLE)
    assert p["sound"] == "error" and p["screen"]["problem"] == "other-order", p
    assert o3.number in p["message"] or "2001" in p["message"]
    after = counts()
    assert after["PackingError"] == before["PackingError"] + 1 and after["ParcelItem"] == before["ParcelItem"]


def test_marking_code_once(client, site):
    s = site
    start(client, s)
    assert scan(client, s.auth, marking("SER0001"))["sound"] == "ok"
    code = _db.session.execute(select(MarkingCode)).scalar_one()
    assert (code.serial, code.crypto_key, code.order_id) == ("SER0001", "EE06", s.o1.id)
    p = scan(client, s.auth, marking("SER0001"))
    assert p["sound"] == "error" and p["screen"]["problem"] == "marking-repeat", p
    assert errors_of("marking_repeat") == 1
    assert _db.session.execute(select(func.count(ParcelItem.id))).scalar() == 1


def test_weight_out_of_tolerance_then_reweighed(client, site):
    s = site
    start(client, s, "TOTE-2")
    assert scan(client, s.auth, IRON)["state"] == "weighing"
    expected = 1200 + 300 + 20
    p = weigh(client, s.auth, expected + 300)
    assert p["state"] == "mismatch" and p["sound"] == "error", p
    assert p["screen"]["weight_g"] == expected + 300 and p["screen"]["expected_g"] == expected
    assert errors_of("weight_mismatch") == 1 and not jobs("print")
    assert weigh(client, s.auth, expected, stable=False)["sound"] == "none"  # unstable: only shown
    p = key(client, s.auth, "recheck")
    assert p["state"] == "verify"
    assert key(client, s.auth, "new_parcel")["state"] == "weighing"
    p = weigh(client, s.auth, expected - 10)
    assert p["state"] == "done", p
    assert _db.session.execute(select(Parcel)).scalar_one().weight_g == expected - 10


def test_supervisor_override_with_pin(client, site):
    s = site
    start(client, s, "TOTE-2")
    scan(client, s.auth, IRON)
    assert weigh(client, s.auth, 5000)["state"] == "mismatch"
    assert "override" not in [k["key"] for k in key(client, s.auth, "override", pin="4321", reason="x")["keys"]]
    p = scan(client, s.auth, "B-S1")
    assert p["state"] == "mismatch" and "override" in [k["key"] for k in p["keys"]], p
    assert p["user"] == "Anna"  # the packer stays signed in
    p = key(client, s.auth, "override", pin="0000", reason="heavy box")
    assert p["sound"] == "error" and p["state"] == "mismatch"
    p = key(client, s.auth, "override", pin="4321", reason="")
    assert p["sound"] == "error"
    p = key(client, s.auth, "override", pin="4321", reason="box of another size")
    assert p["state"] == "done", p
    parcel = _db.session.execute(select(Parcel)).scalar_one()
    assert parcel.override_reason == "box of another size" and parcel.weight_g == 5000
    assert parcel.override_user_id is not None
    pins = [e.payload.get("pin") for e in _db.session.execute(select(StationEvent)).scalars() if e.kind == "button"]
    assert "4321" not in pins and "[redacted]" in pins  # the PIN is never kept


def test_station_without_scale(client, site):
    s = site
    station = _db.session.get(type(s.station), s.station.id)
    station.health = {"devices": {"scanner": {"kind": "scanner", "state": "up"},
                                  "label_printer": {"kind": "printer", "state": "up"}}}
    _db.session.commit()
    start(client, s, "TOTE-2")
    p = scan(client, s.auth, IRON)
    assert p["state"] == "done", p
    parcel = _db.session.execute(select(Parcel)).scalar_one()
    assert parcel.weight_g is None and parcel.expected_weight_g == 1520 and parcel.tracking_number
    assert [(j.payload["template"], j.device) for j in jobs("print")] == [("shipping-label", "label_printer"),
                                                                           ("packing-slip", None)]


def test_two_parcels(client, site):
    s = site
    start(client, s)
    scan(client, s.auth, KETTLE)
    scan(client, s.auth, KETTLE)
    assert key(client, s.auth, "new_parcel")["state"] == "weighing"
    p = weigh(client, s.auth, 2000 + 300 + 20)
    assert p["state"] == "verify", p
    assert _db.session.get(Order, s.o1.id).status == "packing"
    p = scan(client, s.auth, IRON)
    assert p["state"] == "weighing"
    p = weigh(client, s.auth, 1200 + 300 + 20)
    assert p["state"] == "done", p
    parcels = _db.session.execute(select(Parcel).order_by(Parcel.seq)).scalars().all()
    assert [(json.loads(x.label)["parcel"], json.loads(x.label)["parcels"]) for x in parcels] == [(1, 2), (2, 2)]
    assert len({x.tracking_number for x in parcels}) == 2
    assert len(jobs("record_start")) == 2 and len(jobs("record_stop")) == 2
    assert _db.session.get(Order, s.o1.id).status == "packed"


def test_missing_unit_goes_back_to_short_flow(client, site):
    s = site
    start(client, s)
    scan(client, s.auth, KETTLE)
    line = _db.session.execute(select(OrderLine).where(OrderLine.order_id == s.o1.id,
                                                       OrderLine.sku_id == s.kettle.id)).scalar_one()
    p = key(client, s.auth, "missing", line_id=line.id, quantity=1)
    assert p["state"] == "held", p
    assert errors_of("missing") == 1
    order = _db.session.get(Order, s.o1.id)
    assert order.status == "reserved"
    held = _db.session.execute(select(func.sum(OrderReservation.quantity)).where(
        OrderReservation.order_id == order.id)).scalar()
    assert held == 1
    assert _db.session.execute(select(PackingSession)).scalar_one().status == "held"
    assert key(client, s.auth, "missing", line_id=line.id, quantity=1)["sound"] == "error"  # held: not here


def test_same_input_twice(client, site):
    s = site
    start(client, s)
    same = event("scan", scan_payload(KETTLE))
    r = client.post(EVENTS, json={"events": [same, same]}, headers=s.auth)
    assert [o["status"] for o in r.json["outcomes"]] == ["stored", "duplicate"]
    r = client.post(EVENTS, json={"events": [same]}, headers=s.auth)
    assert r.json["outcomes"][0]["status"] == "duplicate"
    assert _db.session.execute(select(func.sum(ParcelItem.quantity))).scalar() == 1


def test_only_picked_orders_open(client, site):
    s = site
    order = _db.session.get(Order, s.o2.id)
    order.status = "reserved"
    _db.session.commit()
    scan(client, s.auth, "B-P1")
    p = scan(client, s.auth, "TOTE-2")
    assert p["sound"] == "error" and p["state"] == "idle", p
    assert _db.session.execute(select(func.count(PackingSession.id))).scalar() == 0
    p = scan(client, s.auth, "2001")  # the order number opens it too
    assert p["state"] == "verify"


def test_the_station_page_sends_packing_keys(client, site):
    from tests.test_station_pages import post_json, sign_in_badge

    s = site
    sign_in_badge(client, "B-P1")
    post_json(client, "/stations/PACK-1/input", {"kind": "button", "key": "sign_in"}, "/stations/PACK-1")
    r = post_json(client, "/stations/PACK-1/input", {"kind": "scan", "code": "TOTE-2"}, "/stations/PACK-1")
    assert r.get_json()["prompt"]["state"] == "verify", r.get_json()
    r = post_json(client, "/stations/PACK-1/input", {"kind": "button", "key": "override", "pin": "1" * 33},
                  "/stations/PACK-1")
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    r = post_json(client, "/stations/PACK-1/input", {"kind": "button", "key": "teleport"}, "/stations/PACK-1")
    assert r.status_code == 422
    line = _db.session.execute(select(OrderLine).where(OrderLine.order_id == s.o2.id)).scalar_one()
    r = post_json(client, "/stations/PACK-1/input", {"kind": "button", "key": "missing", "line_id": line.id},
                  "/stations/PACK-1")
    assert r.status_code == 200 and r.get_json()["prompt"]["state"] == "held", r.get_json()


def test_the_same_input_from_two_requests_at_once(app, client, site):
    import threading

    s = site
    start(client, s)
    _db.session.rollback()
    app.test_client_class = type(client)
    same, statuses, errors, barrier = event("scan", scan_payload(KETTLE)), [], [], threading.Barrier(2)

    def worker():
        with app.app_context():
            local = app.test_client()
            barrier.wait()
            try:
                r = local.post(EVENTS, json={"events": [same]}, headers=s.auth)
                assert r.status_code == 200, r.get_data(as_text=True)
                statuses.append(r.json["outcomes"][0]["status"])
            except BaseException as error:
                errors.append(error)
            _db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(statuses) == ["duplicate", "stored"]
    _db.session.expire_all()
    assert _db.session.execute(select(func.sum(ParcelItem.quantity))).scalar() == 1


def test_leave_and_reopen_by_order_number(client, site):
    s = site
    start(client, s)
    scan(client, s.auth, KETTLE)
    assert key(client, s.auth, "leave")["state"] == "idle"
    assert len(jobs("record_stop")) == 1
    p = scan(client, s.auth, "2001")
    assert p["state"] == "verify", p
    assert [x["verified"] for x in p["screen"]["packing"]["lines"]] == [1, 0]
    assert _db.session.execute(select(func.count(PackingSession.id))).scalar() == 1
