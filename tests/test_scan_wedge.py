"""Scans as keyboard-wedge scanners type them into a page: the Russian layout, Caps Lock,
marking codes without GS separators, and a handheld's prefix/suffix/GS settings. Through
classify(), POST /api/v1/scan and the handheld pages; both databases (fixtures)."""

import pytest
from sqlalchemy import select

from server.models import ScanEvent, SkuBarcode
from server.services.dates import today_in
from server.services.scan import Kind, Wedge, classify, decode, typed_readings
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse, received_delivery
from tests.test_pages import csrf_token, post, sign_in_badge

GS = "\x1d"
GTIN14 = "04601234567893"
SIGNATURE = "dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3Q="
MARKING = f"01{GTIN14}215Jb3Ac8dZ<Wq){GS}91EE06{GS}92{SIGNATURE}"
PROBLEM = "application/problem+json"


@pytest.fixture
def house(db):
    wh, z, cells, sku = f.stocked_warehouse()
    cell = f.cell(z, "A-01-01-2-1", barcode="C-0001")
    sku.barcodes.append(SkuBarcode(barcode="INT-0042", kind="internal"))
    f.user("anna", roles=("picker",), badge="BADGE-0001")
    f.user("olga", roles=("picker",), badge="ФЫВА")  # a Cyrillic badge, known as typed
    f.cell(z, "ASDF")  # what ФЫВА would be on US keys
    picker = f.user("petr", roles=("picker",), badge="BADGE-7")
    db.session.commit()
    return {"wh": wh, "cell": cell, "sku": sku, "auth": f.token_for(picker)}


def test_readings_of_russian_layout_and_caps_lock():
    assert typed_readings("Ф-01-01-2-1")[0] == "A-01-01-2-1"
    assert "A-01-01-2-1" in typed_readings("ф-01-01-2-1")  # Russian layout and Caps Lock
    assert typed_readings("a-01-01-2-1") == ["A-01-01-2-1"]
    assert typed_readings("ИФВПУ-0001")[0] == "BADGE-0001"
    assert typed_readings("ЫЛГ.123б4ю5")[0] == "SKU/123,4.5"
    assert typed_readings("01-02") == []


@pytest.mark.parametrize("typed, kind, meant", [
    ("Ф-01-01-2-1", Kind.cell, "A-01-01-2-1"),  # Russian layout
    ("a-01-01-2-1", Kind.cell, "A-01-01-2-1"),  # Caps Lock
    ("ф-01-01-2-1", Kind.cell, "A-01-01-2-1"),  # both
    ("С-0001", Kind.cell, "C-0001"),  # a cell barcode
    ("ИФВПУ-0001", Kind.badge, "BADGE-0001"),
    ("badge-0001", Kind.badge, "BADGE-0001"),
    ("ШТЕ-0042", Kind.sku, "INT-0042"),
    ("int-0042", Kind.sku, "INT-0042"),
])
def test_typed_codes_are_read_as_meant(house, typed, kind, meant):
    for warehouse_id in (None, house["wh"].id):
        result = classify(typed.encode(), warehouse_id)
        assert result.kind == kind, (typed, warehouse_id)
        assert result.scan.text == meant and result.scan.typed == typed
        assert result.scan.raw == typed.encode()
        assert result.answer()["typed"] == typed


def test_a_known_typed_code_is_not_re_read(house):
    result = classify("ФЫВА".encode())
    assert (result.kind, result.scan.typed) == (Kind.badge, None)
    assert "typed" not in result.answer()
    assert classify(b"A-01-01-2-1").scan.typed is None
    assert classify("Щ-99".encode()).kind == Kind.unknown


@pytest.mark.parametrize("code, serial, key, crypto_ai, crypto", [
    (f"01{GTIN14}215Jb3Ac8dZ<Wq)91EE0692{SIGNATURE}", "5Jb3Ac8dZ<Wq)", "EE06", "92", SIGNATURE),
    (f"01{GTIN14}21ABCDEFGHIJKLM93dGVz", "ABCDEFGHIJKLM", None, "93", "dGVz"),  # serial 13, tail 4
    (f"01{GTIN14}21ABCDEFG93dGVz", "ABCDEFG", None, "93", "dGVz"),  # serial 7
    (f"01{GTIN14}21ABCDEF93dGVz", "ABCDEF", None, "93", "dGVz"),  # dairy: serial 6
    (f"01{GTIN14}21ABCDEF93dGVz3103000353", "ABCDEF", None, "93", "dGVz"),  # and a net weight
    (f"01{GTIN14}21ABCDEFG8005012345" + "93dGVz", "ABCDEFG", None, "93", "dGVz"),  # tobacco block
])
def test_marking_codes_without_gs_by_their_form(house, code, serial, key, crypto_ai, crypto):
    result = classify(code.encode())
    assert result.kind == Kind.sku, result.message
    marking = result.gs1["marking_code"]
    assert marking == {"id": f"01{GTIN14}21{serial}", "key": key, "crypto": crypto, "crypto_ai": crypto_ai}
    assert result.gs1["serial"] == serial


def test_marking_code_of_an_unknown_gtin_says_unknown_product(house):
    result = classify(f"01{4607000000014:014d}21ABCDEFGHIJKLM93dGVz".encode())
    assert result.kind == Kind.unknown and "04607000000014" in str(result.message)


def test_wedge_settings_cut_prefix_and_suffix_and_read_the_gs_substitute():
    wedge = Wedge.from_json({"prefix": "#", "suffix": "!", "gs": "~"})
    assert decode(f"#{MARKING.replace(GS, '~')}!\r".encode(), wedge=wedge).gs1["marking_code"]["key"] == "EE06"
    assert decode(b"#A-1!", wedge=wedge).text == "A-1"
    assert Wedge.from_json(None, default_gs="~").gs == "~"
    assert Wedge.from_json({"gs": "|"}, default_gs="~").gs == "|"
    for bad in ({"prefix": "x" * 9}, {"suffix": "a\x00"}, {"gs": "a"}, {"gs": "~~"}, {"gs": " "}, {"other": 1},
                {"prefix": 5}, [], "x"):
        with pytest.raises(ValueError):
            Wedge.from_json(bad)


# --- through the API ------------------------------------------------------------------------------


def api_scan(client, house, **body):
    return client.post("/api/v1/scan", json=body, headers=house["auth"])


def test_api_reads_typed_codes_and_records_what_was_meant(client, db, house):
    cell = api_scan(client, house, code="Ф-01-01-2-1").json
    assert (cell["kind"], cell["entity"]["id"], cell["typed"]) == ("cell", house["cell"].id, "Ф-01-01-2-1")
    assert api_scan(client, house, code="badge-0001").json["kind"] == "badge"
    marking = api_scan(client, house, code=MARKING.replace(GS, "")).json
    assert marking["kind"] == "sku" and marking["gs1"]["marking_code"]["key"] == "EE06"
    first = db.session.execute(select(ScanEvent).order_by(ScanEvent.id)).scalars().first()
    assert (first.kind, first.text, first.raw) == ("cell", "A-01-01-2-1", "Ф-01-01-2-1".encode())


def test_api_wedge_settings_and_their_bounds(client, app, house, monkeypatch):
    typed = "[" + MARKING.replace(GS, "~") + "]"
    body = api_scan(client, house, code=typed, wedge={"prefix": "[", "suffix": "]", "gs": "~"}).json
    assert body["kind"] == "sku" and body["gs1"]["marking_code"]["id"] == f"01{GTIN14}215Jb3Ac8dZ<Wq)"
    monkeypatch.setitem(app.config, "CELLWMS_WEDGE_GS", "~")
    assert api_scan(client, house, code=MARKING.replace(GS, "~"), source="page").json["gs1"]["marking_code"]
    for wedge in ({"prefix": "x" * 9}, {"gs": "a"}, {"gs": "\x00"}, "text", {"gs": ["~"]}):
        response = api_scan(client, house, code="A-01-01-2-1", wedge=wedge)
        assert response.status_code == 422 and response.mimetype == PROBLEM, wedge


# --- through the handheld pages -------------------------------------------------------------------


@pytest.fixture
def site(db):
    from server.services.putaway import create_putaway_tasks

    wh, receiving, cells, _quarantine = putaway_warehouse(max_units=20)
    kettle = f.sku("KETTLE", "Чайник", barcode="4601234567893", track_marking=True)
    f.user("ivan", ("receiver",), badge="B-1")
    delivery = received_delivery(wh, receiving, [(kettle, 12, "", None)], number="D-1")
    create_putaway_tasks(delivery)
    db.session.commit()
    return {"wh": wh, "cells": cells}


def send(client, url, body, page):
    return client.post(url, json=body, headers={"X-CSRFToken": csrf_token(client, page)})


def last_scan(db) -> ScanEvent:
    db.session.expire_all()
    return db.session.execute(select(ScanEvent).order_by(ScanEvent.id.desc())).scalars().first()


def test_handheld_page_reads_layout_caps_lock_and_marking_codes(client, db, site):
    sign_in_badge(client, "B-1")
    page, url = "/putaway/task", "/putaway/input"
    html = client.get(page).get_data(as_text=True)
    assert 'id="wedge-form"' in html and "wedge.js" in html
    cell = next(iter(site["cells"].values()))
    for typed in (cell.address.swapcase(), cell.address.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                                                            "ФИСВУАПРШОЛДЬТЩЗЙКЫЕГМЦЧНЯ"))):
        assert send(client, url, {"kind": "scan", "code": typed}, page).status_code == 200
        row = last_scan(db)
        assert (row.kind, row.entity_id, row.text) == ("cell", cell.id, cell.address), typed
    send(client, url, {"kind": "scan", "code": "b-1"}, page)
    assert last_scan(db).kind == "badge"
    typed = "#" + MARKING.replace(GS, "~") + "!"
    body = {"kind": "scan", "code": typed, "wedge": {"prefix": "#", "suffix": "!", "gs": "~"}}
    assert send(client, url, body, page).status_code == 200
    row = last_scan(db)
    assert row.kind == "sku" and row.meaning["gs1"]["marking_code"]["key"] == "EE06"
    send(client, url, {"kind": "scan", "code": MARKING.replace(GS, "")}, page)
    assert last_scan(db).meaning["gs1"]["marking_code"]["crypto"] == SIGNATURE
    bad = send(client, url, {"kind": "scan", "code": "X", "wedge": {"gs": "ab"}}, page)
    assert bad.status_code == 422 and bad.mimetype == PROBLEM


def test_receiving_screen_has_the_scanner_settings(client, db, site):

    from server.services.receiving import create_delivery

    kettle = db.session.execute(select(SkuBarcode)).scalars().first()
    delivery = create_delivery(site["wh"].id, "ASN-9", "Supplier", today_in(site["wh"]),
                               lines=[{"sku_id": kettle.sku_id, "quantity": 1}])
    db.session.commit()
    sign_in_badge(client, "B-1")
    html = client.get(f"/receiving/{delivery.id}").get_data(as_text=True)
    assert 'id="wedge-form"' in html and "wedge.js" in html and "Scanner settings" in html
    post(client, "/language", {"language": "ru"}, token_from="/")
    assert "Настройки сканера" in client.get(f"/receiving/{delivery.id}").get_data(as_text=True)
