"""Bad input is a 4xx problem, never a 500 (issue 12): integers beyond their column, NUL and lone
surrogates, over-long text, JSON nested 100k deep, media names with CR/LF, absurd media sizes,
and media whose bytes are not what a station says they are (stored XSS)."""

import hashlib
import json

import pytest
from sqlalchemy import select

from server.core.bounds import INT32_MAX, INT64_MAX, json_depth_exceeds
from server.models import MediaFile, Quant, StationEvent
from tests import factories as f
from tests.assertions import assert_problem

BIG = [2**31, 2**63, 10**30]
MEDIA = "/api/v1/stations/me/media"
OFFSET_STREAM = "application/offset+octet-stream"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
AVI = b"RIFF\x10\x08\x00\x00AVI LIST" + bytes(range(256)) * 8
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + bytes(range(256)) * 8
HTML = b"<html><body><script>fetch('/api/v1/users')</script></body></html>"


@pytest.fixture
def s(db):
    wh, zone, cells, sku = f.stocked_warehouse()
    station, station_auth = f.station(wh, code="PACK-1", kind="pack")
    boss = f.token_for(f.user("boss", roles=("supervisor",), password="secret-123"))
    admin = f.token_for(f.user("root", roles=("admin",), password="secret-123"))
    return {"wh": wh.id, "zone": zone.id, "cells": [c.id for c in cells], "sku": sku.id, "station": station.id,
            "station_auth": station_auth, "boss": boss, "admin": admin}


def raw_json(client, method, url, text: str, headers):
    return client.open(url, method=method, data=text.encode("utf-8", "surrogatepass"),
                       content_type="application/json", headers=headers)


# --- integers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("big", [*BIG, INT64_MAX])
def test_path_ids_beyond_their_column_are_404_problems(client, s, big):
    for url in (f"/api/v1/skus/{big}", f"/api/v1/cells/{big}", f"/api/v1/stock/by-sku/{big}",
                f"/api/v1/movements/{big}", f"/api/v1/media/{big}"):
        assert_problem(client.get(url, headers=s["boss"]), 404)


@pytest.mark.parametrize("big", BIG)
def test_query_ids_and_pages_beyond_their_column_are_422(client, s, big):
    for url in (f"/api/v1/stock?sku_id={big}", f"/api/v1/cells?zone_id={big}", f"/api/v1/skus?page={big}",
                f"/api/v1/cells?page={big}", f"/api/v1/skus?page_size={big}", f"/api/v1/movements?cell_id={big}"):
        assert_problem(client.get(url, headers=s["boss"]), 422)


@pytest.mark.parametrize("big", BIG)
def test_body_ids_quantities_and_sizes_beyond_their_column_are_422(client, db, s, big):
    calls = [
        ("/api/v1/movements", {"kind": "receive", "sku_id": big, "quantity": 1, "to_cell_id": s["cells"][0]}),
        ("/api/v1/movements", {"kind": "receive", "sku_id": s["sku"], "quantity": big, "to_cell_id": s["cells"][0]}),
        ("/api/v1/movements", {"kind": "receive", "sku_id": s["sku"], "quantity": 1, "to_cell_id": big}),
        ("/api/v1/reservations", {"sku_id": s["sku"], "warehouse_id": s["wh"], "quantity": big}),
        ("/api/v1/skus", {"code": "BIG", "name": "Big", "weight_g": big}),
        ("/api/v1/cells", {"zone_id": big, "address": "S-09-01-1-1"}),
        ("/api/v1/cells", {"zone_id": s["zone"], "address": "S-09-01-1-1", "aisle": big}),
        (f"/api/v1/warehouses/{s['wh']}", None),
    ]
    for url, body in calls:
        if body is None:
            r = client.patch(url, json={"depot_aisle": big}, headers=s["admin"])
        else:
            r = client.post(url, json=body, headers=s["admin"])
        assert 400 <= r.status_code < 500, (url, body, r.status_code)
        assert r.mimetype == "application/problem+json"
    r = client.patch(f"/api/v1/cells/{s['cells'][0]}", json={"max_units": big}, headers=s["admin"])
    assert_problem(r, 422)
    assert db.session.execute(select(Quant)).first() is None


def test_an_adjust_in_that_would_overflow_a_quant_is_refused(client, db, s):
    cell = s["cells"][0]

    def move(kind, quantity):
        return client.post("/api/v1/movements", json={"kind": kind, "sku_id": s["sku"], "quantity": quantity,
                                                      "to_cell_id": cell}, headers=s["admin"])

    assert move("receive", 10).status_code == 201
    assert_problem(move("adjust_in", INT32_MAX), 422, "quantity-too-large")
    assert move("adjust_in", INT32_MAX - 10).status_code == 201  # exactly full
    assert_problem(move("receive", 1), 422, "quantity-too-large")  # later receipts: a 4xx, not a 500
    db.session.expire_all()
    (quant,) = db.session.execute(select(Quant)).scalars().all()
    assert quant.quantity == INT32_MAX
    assert move("receive", 1).status_code != 500


# --- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b", "\udfff"])
def test_nul_and_lone_surrogates_are_422_in_bodies(client, db, s, bad):
    body = json.dumps({"code": "NUL-1", "name": bad})  # \u0000 and \ud800 escapes, as a client sends them
    assert_problem(raw_json(client, "POST", "/api/v1/skus", body, s["admin"]), 422)
    body = json.dumps({"code": bad, "name": "x"})
    assert_problem(raw_json(client, "POST", "/api/v1/skus", body, s["admin"]), 422)
    body = json.dumps({"kind": "receive", "sku_id": s["sku"], "quantity": 1, "to_cell_id": s["cells"][0],
                       "reason": bad})
    assert_problem(raw_json(client, "POST", "/api/v1/movements", body, s["admin"]), 422)
    hb = json.dumps({"devices": {"scanner": {"state": "up", "detail": bad}}})
    assert_problem(raw_json(client, "POST", "/api/v1/stations/me/heartbeat", hb, s["station_auth"]), 422)


@pytest.mark.parametrize("bad", ["%00", "a%00b"])
def test_nul_in_query_and_path_is_422(client, s, bad):
    assert_problem(client.get(f"/api/v1/skus?q={bad}", headers=s["boss"]), 422)
    assert_problem(client.get(f"/api/v1/cells?address_prefix={bad}", headers=s["boss"]), 422)
    assert_problem(client.delete(f"/api/v1/skus/{s['sku']}/barcodes/{bad}", headers=s["admin"]), 422)


def test_over_long_text_is_422(client, s):
    assert_problem(client.post("/api/v1/movements", json={
        "kind": "receive", "sku_id": s["sku"], "quantity": 1, "to_cell_id": s["cells"][0], "reason": "x" * 5000,
    }, headers=s["admin"]), 422)
    assert_problem(client.get("/api/v1/movements?reference=" + "x" * 5000, headers=s["boss"]), 422)


def test_a_station_event_with_nul_or_a_huge_number_is_stored_as_rejected(client, db, s):
    events = [
        {"event_id": "6f1c1a52-7b43-4a4e-9d43-0c7b1a0f0001", "kind": "button", "device": "keys",
         "occurred_at": "2026-11-23T10:00:00+00:00", "payload": {"key": "a\x00b"}},
        {"event_id": "6f1c1a52-7b43-4a4e-9d43-0c7b1a0f0002", "kind": "photo", "device": "camera",
         "occurred_at": "2026-11-23T10:00:00+00:00", "payload": {"media": "a" * 64, "size": 10**30}},
        {"event_id": "6f1c1a52-7b43-4a4e-9d43-0c7b1a0f0003", "kind": "job_result", "device": "printer",
         "occurred_at": "2026-11-23T10:00:00+00:00", "payload": {"job_id": 2**63, "result": "printed"}},
    ]
    r = client.post("/api/v1/stations/me/events", json={"events": events}, headers=s["station_auth"])
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [o["status"] for o in r.json["outcomes"]] == ["rejected"] * 3
    rows = db.session.execute(select(StationEvent).order_by(StationEvent.id)).scalars().all()
    assert [row.status for row in rows] == ["rejected"] * 3
    assert "\x00" not in json.dumps(rows[0].payload, ensure_ascii=False)
    assert db.session.execute(select(MediaFile)).first() is None


# --- JSON depth -------------------------------------------------------------------------------


def test_json_nested_100k_deep_is_a_problem_not_a_500(client, s):
    for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000, "[" * 100_000):
        r = raw_json(client, "POST", "/api/v1/skus", body, s["admin"])
        assert_problem(r, 400, "json-too-deep")
        r = raw_json(client, "POST", "/api/v1/stations/me/events", body, s["station_auth"])
        assert_problem(r, 400, "json-too-deep")


def test_the_depth_guard_counts_only_brackets_outside_strings():
    assert not json_depth_exceeds(json.dumps({"code": "[" * 1000 + "{" * 1000}).encode())
    assert not json_depth_exceeds(json.dumps({"code": '\\"[[[' * 500}).encode())
    assert json_depth_exceeds(b"[" * 65 + b"]" * 65)
    assert not json_depth_exceeds(b"[" * 64 + b"]" * 64)


# --- media ------------------------------------------------------------------------------------


def announce(client, auth, data, *, kind="photo", content_type="image/jpeg", filename="p.jpg", size=None):
    return client.post(MEDIA, json={"sha256": hashlib.sha256(data).hexdigest(),
                                    "size": len(data) if size is None else size, "kind": kind,
                                    "content_type": content_type, "filename": filename}, headers=auth)


def upload(client, auth, media_id, data, offset=0):
    return client.patch(f"{MEDIA}/{media_id}", data=data, content_type=OFFSET_STREAM,
                        headers={**auth, "Upload-Offset": str(offset)})


@pytest.mark.parametrize("name", ["a\r\nSet-Cookie: x=1.jpg", "p\n.jpg", "p\x00.jpg", "tab\t.jpg"])
def test_a_media_file_name_with_control_characters_is_422(client, db, s, name):
    assert_problem(announce(client, s["station_auth"], JPEG, filename=name), 422)
    assert db.session.execute(select(MediaFile)).first() is None


@pytest.mark.parametrize("size", [10**30, 2**63, -1])
def test_an_absurd_announced_media_size_is_422(client, db, s, size):
    assert_problem(announce(client, s["station_auth"], JPEG, size=size), 422)
    assert db.session.execute(select(MediaFile)).first() is None


@pytest.mark.parametrize("kind, data", [("photo", HTML), ("photo", AVI), ("clip", JPEG), ("clip", HTML),
                                        ("photo", b"\xff\xd8"), ("clip", b"")])
def test_media_whose_bytes_are_not_a_photo_or_clip_are_refused_and_not_stored(app, client, db, s, kind, data):
    auth = s["station_auth"]
    r = announce(client, auth, data, kind=kind, content_type="text/html", filename="x.html")
    if r.status_code == 201:  # announced; the bytes are refused
        media_id = r.json["id"]
        assert_problem(upload(client, auth, media_id, data), 422, "media-type-refused")
        # Sent a byte at a time, the last byte finds it out.
        for i in range(len(data) - 1):
            assert upload(client, auth, media_id, data[i:i + 1], i).status_code == 204
        if len(data) > 1:
            assert_problem(upload(client, auth, media_id, data[-1:], len(data) - 1), 422, "media-type-refused")
        media = db.session.get(MediaFile, media_id)
        db.session.refresh(media)
        assert not media.complete
        assert_problem(client.get(f"/api/v1/media/{media_id}", headers=s["boss"]), 404, "media-incomplete")
    else:  # an empty file is refused as soon as it is announced
        assert_problem(r, 422, "media-type-refused")
    digest = hashlib.sha256(data).hexdigest()
    media_dir = app.config["MEDIA_DIR"]
    import pathlib

    stored = [p for p in pathlib.Path(media_dir).rglob("*") if p.is_file()]
    assert all(digest not in p.name or p.stat().st_size == 0 for p in stored), stored


@pytest.mark.parametrize("kind, data, expected, extension", [
    ("photo", JPEG, "image/jpeg", ".jpg"),
    ("clip", AVI, "video/x-msvideo", ".avi"),
    ("clip", MP4, "video/mp4", ".mp4"),
])
def test_media_are_served_with_their_verified_type_nosniff_and_a_safe_disposition(client, db, s, kind, data,
                                                                                   expected, extension):
    auth = s["station_auth"]
    media_id = announce(client, auth, data, kind=kind, content_type="text/html",
                        filename='фото "1";.html').json["id"]
    assert upload(client, auth, media_id, data).status_code == 204
    assert db.session.get(MediaFile, media_id).content_type == expected
    r = client.get(f"/api/v1/media/{media_id}", headers=s["boss"])
    assert r.status_code == 200 and r.data == data
    assert r.mimetype == expected
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("inline; filename=\"")
    ascii_name = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert ascii_name.endswith(extension) and all(c.isalnum() or c in "._-" for c in ascii_name)
    assert "filename*=UTF-8''" in disposition and "\r" not in disposition and "\n" not in disposition
    assert "%D1%84%D0%BE%D1%82%D0%BE" in disposition  # фото, percent-encoded (RFC 5987)


def test_a_stored_file_that_is_no_photo_is_only_a_download(client, db, s):
    """A row stored before the bytes were checked (announced as text/html) is not served as HTML."""
    auth = s["station_auth"]
    media_id = announce(client, auth, JPEG).json["id"]
    assert upload(client, auth, media_id, JPEG).status_code == 204
    media = db.session.get(MediaFile, media_id)
    media.content_type = "text/html"
    from server.services import stations as service

    with client.application.app_context():
        service.stored_path(media).write_bytes(HTML)
    db.session.commit()
    r = client.get(f"/api/v1/media/{media_id}", headers=s["boss"])
    assert r.status_code == 200
    assert r.mimetype == "application/octet-stream"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment;")


# --- numbers typed into pages ------------------------------------------------------------------


def test_huge_and_non_ascii_numbers_in_pages_are_not_500(client, db, s):
    from tests.test_pages import sign_in_password

    assert sign_in_password(client, "root", "secret-123").status_code in (302, 303)
    for url in (f"/admin/audit?page={10**30}", "/admin/audit?page=²", f"/putaway/task?task={2**31}",
                f"/putaway/task?delivery={10**30}", "/putaway/task?task=²"):
        assert client.get(url).status_code < 500, url


def test_expected_lines_that_sum_past_the_column_are_422(client, db, s):
    line = {"sku_id": s["sku"], "quantity": INT32_MAX}
    r = client.post("/api/v1/deliveries", json={"warehouse_id": s["wh"], "number": "ASN-BIG", "lines": [line, line]},
                    headers=s["admin"])
    assert_problem(r, 422)


def test_a_bulk_receipt_that_would_overflow_a_quant_is_refused(client, db, s):
    from server.services.errors import DomainError
    from server.services.stock import Actor, ReceiptLine, receive_lines

    cell = s["cells"][0]
    assert receive_lines([ReceiptLine(cell, s["sku"], "", None, 10)], actor=Actor(), reason="test") == 1
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        receive_lines([ReceiptLine(cell, s["sku"], "", None, INT32_MAX - 9)], actor=Actor(), reason="test")
    assert refused.value.slug == "quantity-too-large"
    db.session.rollback()
    assert receive_lines([ReceiptLine(cell, s["sku"], "", None, INT32_MAX - 10)], actor=Actor(), reason="test") == 1
    db.session.commit()
    assert db.session.execute(select(Quant.quantity)).scalar_one() == INT32_MAX
