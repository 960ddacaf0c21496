"""POST /api/v1/scan: answers, recording of every scan, retries, bad bodies."""

import base64
import uuid

import pytest
from sqlalchemy import func, select

from server.models import ScanEvent
from tests import factories as f

GS = "\x1d"
GTIN14 = "04601234567893"
PROBLEM = "application/problem+json"


@pytest.fixture
def setup(db):
    wh, z, cells, sku = f.stocked_warehouse()
    station, station_auth = f.station(wh, code="PACK-1", kind="pack")
    picker = f.user("petr", roles=("picker",), badge="BADGE-7")
    picker_auth = f.token_for(picker)
    return {"wh": wh, "cells": cells, "sku": sku, "station": station, "station_auth": station_auth,
            "picker": picker, "picker_auth": picker_auth}


def events(db):
    return db.session.execute(select(ScanEvent).order_by(ScanEvent.id)).scalars().all()


def scan(client, auth, **body):
    return client.post("/api/v1/scan", json=body, headers=auth)


def test_station_scans_a_cell_and_it_is_recorded(client, db, setup):
    response = scan(client, setup["station_auth"], code="S-01-02-1-1\r\n", symbology="]C0")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["kind"] == "cell"
    assert body["entity"]["id"] == setup["cells"][1].id
    assert body["message"] == "Cell S-01-02-1-1."
    assert body["gs1"] is None and body["event_id"] is None
    (event,) = events(db)
    assert event.station_id == setup["station"].id and event.user_id is None
    assert event.warehouse_id == setup["wh"].id
    assert event.source == "agent"
    assert event.raw == b"S-01-02-1-1\r\n" and event.raw_length == 13
    assert event.text == "S-01-02-1-1" and event.symbology == "]C0"
    assert (event.kind, event.entity_id) == ("cell", setup["cells"][1].id)
    assert event.meaning["message"] == "Cell S-01-02-1-1."


def test_worker_scans_a_marking_code_as_bytes(client, db, setup):
    code = f"]d201{GTIN14}21ABCDEFGHIJKLM{GS}91EE06{GS}92{'A' * 44}\r"
    response = scan(client, setup["picker_auth"], raw_b64=base64.b64encode(code.encode()).decode(), source="page")
    body = response.json
    assert (body["kind"], body["entity"]["id"]) == ("sku", setup["sku"].id)
    assert body["gs1"]["marking_code"]["id"] == f"01{GTIN14}21ABCDEFGHIJKLM"
    (event,) = events(db)
    assert event.user_id == setup["picker"].id and event.station_id is None and event.source == "page"
    assert event.symbology == "]d2" and GS in event.text


def test_badge_answer_holds_name_and_roles_only(client, setup):
    body = scan(client, setup["station_auth"], code="BADGE-7").json
    assert body["kind"] == "badge"
    assert body["entity"] == {"name": "Petr", "roles": ["picker"]}


@pytest.mark.parametrize(
    "raw",
    [b"", b"\r\n", b"\x00", b"CELL\x00\x01\x02", b"x" * 10_240, bytes(range(256)), b"\xff\xfe\xfd", b"??garbage??"],
)
def test_garbage_is_unknown_and_recorded(client, db, setup, raw):
    response = scan(client, setup["station_auth"], raw_b64=base64.b64encode(raw).decode())
    assert response.status_code == 200, response.json
    assert response.json["kind"] == "unknown"
    assert response.json["message"]
    (event,) = events(db)
    assert event.raw == raw and event.raw_length == len(raw)
    assert event.kind == "unknown" and event.entity_id is None
    assert "\x00" not in event.text


def test_garbage_as_text_codes(client, db, setup):
    for code in ("", "   ", "x" * 10_240, "\u0007\u001b[0m", "\x00"):
        assert scan(client, setup["picker_auth"], code=code).json["kind"] == "unknown"
    assert len(events(db)) == 5


def test_over_the_size_limit_is_cut_but_answered(app, client, db, setup):
    app.config["CELLWMS_SCAN_MAX_BYTES"] = 100
    response = scan(client, setup["station_auth"], code="Z" * 1000)
    assert response.json["kind"] == "unknown"
    assert "1000 bytes" in response.json["message"]
    (event,) = events(db)
    assert event.raw == b"Z" * 100 and event.raw_length == 1000 and len(event.text) == 100


def test_retried_event_id_is_stored_once(client, db, setup):
    event_id = str(uuid.uuid4())
    first = scan(client, setup["station_auth"], code="4601234567893", event_id=event_id,
                 scanned_at="2026-11-23T10:00:00+03:00")
    again = scan(client, setup["station_auth"], code="4601234567893", event_id=event_id)
    assert first.status_code == again.status_code == 200
    assert first.json == again.json
    assert first.json["event_id"] == event_id and first.json["kind"] == "sku"
    (event,) = events(db)
    assert event.event_id == event_id
    assert event.scanned_at is not None
    # Somebody else's event id is not theirs to replay.
    other = scan(client, setup["picker_auth"], code="4601234567893", event_id=event_id)
    assert other.status_code == 409 and other.mimetype == PROBLEM
    assert db.session.execute(select(func.count(ScanEvent.id))).scalar_one() == 1


def test_wrong_token_is_401_and_no_role_is_403(client, db, setup):
    response = scan(client, {"Authorization": "Bearer not-a-token"}, code="S-01-01-1-1")
    assert response.status_code == 401 and response.mimetype == PROBLEM
    nobody = f.user("nobody", roles=())
    response = scan(client, f.token_for(nobody), code="S-01-01-1-1")
    assert response.status_code == 403 and response.mimetype == PROBLEM
    assert events(db) == []


def test_no_token_is_401(client, db, setup):
    response = client.post("/api/v1/scan", json={"code": "S-01-01-1-1"})
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert events(db) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": 42},
        {"code": None},
        {"code": "A", "raw_b64": "QQ=="},
        {"raw_b64": "not base64!"},
        {"code": "A", "event_id": "not-a-uuid"},
        {"code": "A", "source": "telepathy"},
        {"code": "A", "symbology": "]toolongsym"},
        {"code": "A", "scanned_at": "yesterday"},
        {"code": "A", "colour": "red"},
        ["code"],
    ],
)
def test_bad_bodies_are_problems(client, db, setup, body):
    response = client.post("/api/v1/scan", json=body, headers=setup["station_auth"])
    assert response.status_code == 422, response.json
    assert response.mimetype == PROBLEM
    assert response.json["type"].startswith("urn:cellwms:problem:")
    assert events(db) == []


def test_malformed_json_is_a_problem(client, db, setup):
    response = client.post("/api/v1/scan", data=b'{"code": ', headers={**setup["station_auth"],
                                                                     "Content-Type": "application/json"})
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert events(db) == []
