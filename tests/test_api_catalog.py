"""API: SKUs and barcodes (SQLite and PostgreSQL), and the GTIN helper."""

import pytest

from server.models import IdempotencyRecord, Sku, SkuBarcode
from server.services.barcodes import (
    BarcodeError,
    check_digit,
    gtin_kind,
    is_valid_gtin,
    normalize_gtin,
    printed_form,
)
from tests import factories as f
from tests.assertions import assert_problem

API = "/api/v1"




# --- the GTIN helper (no database) -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, kind, stored",
    [
        ("4601234567893", "ean13", "04601234567893"),
        ("96385074", "ean8", "00000096385074"),
        ("036000291452", "upc", "00036000291452"),
        ("10012345678902", "gtin14", "10012345678902"),
        (" 4006381333931 ", "ean13", "04006381333931"),
    ],
)
def test_gtin_kinds_and_stored_form(text, kind, stored):
    assert gtin_kind(text) == kind
    assert normalize_gtin(text) == stored
    assert printed_form(stored, kind) == text.strip()


@pytest.mark.parametrize("text", ["4601234567890", "96385075", "1234567", "123456789012345", "46012345678x3", "",
                                  "00000000", "٤٦٠١٢٣٤٥٦٧٨٩٣"])
def test_bad_gtins(text):
    assert not is_valid_gtin(text)
    with pytest.raises(BarcodeError):
        normalize_gtin(text)


def test_check_digit():
    assert check_digit("460123456789") == 3
    assert check_digit("9638507") == 4
    assert printed_form("INT-77", "internal") == "INT-77"


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def sup(db):
    return f.token_for(f.user("sup", roles=("supervisor",)))


@pytest.fixture
def picker(db):
    return f.token_for(f.user("pick", roles=("picker",)))


KETTLE = {
    "code": "KT-100",
    "name": "Чайник электрический 1,7 л",
    "length_mm": 220, "width_mm": 160, "height_mm": 250, "weight_g": 1150,
    "track_serial": True,
    "barcodes": [
        {"barcode": "4601234567893"},
        {"barcode": "036000291452"},
        {"barcode": "96385074"},
        {"barcode": "14601234567890", "units": 6},
        {"barcode": "KT100-BOX", "units": 12},
    ],
}


def test_sku_round_trip(client, db, sup, picker):
    r = client.post(f"{API}/skus", json=KETTLE, headers=sup)
    assert r.status_code == 201, r.get_json()
    sku = r.get_json()
    assert r.headers["Location"].endswith(f"/api/v1/skus/{sku['id']}")
    assert sku["code"] == "KT-100" and sku["name"] == KETTLE["name"] and sku["volume_cm3"] == 8800
    assert sku["track_serial"] is True and sku["track_lot"] is False and sku["active"] is True
    got = [(b["barcode"], b["printed"], b["kind"], b["units"]) for b in sku["barcodes"]]
    assert got == [
        ("04601234567893", "4601234567893", "ean13", 1),
        ("00036000291452", "036000291452", "upc", 1),
        ("00000096385074", "96385074", "ean8", 1),
        ("14601234567890", "14601234567890", "gtin14", 6),
        ("KT100-BOX", "KT100-BOX", "internal", 12),
    ]
    assert client.get(f"{API}/skus/{sku['id']}", headers=picker).get_json() == sku

    r = client.patch(f"{API}/skus/{sku['id']}", json={"name": "Чайник 1,7 л", "weight_g": 1200, "active": False},
                     headers=sup)
    assert r.status_code == 200
    assert (r.get_json()["name"], r.get_json()["weight_g"], r.get_json()["active"]) == ("Чайник 1,7 л", 1200, False)
    assert len(r.get_json()["barcodes"]) == 5
    row = db.session.get(Sku, sku["id"])
    assert row.weight_g == 1200 and not row.active


def test_gtin_validation_in_the_api(client, db, sup):
    body = assert_problem(
        client.post(f"{API}/skus", json={"code": "A", "name": "A", "barcodes": [{"barcode": "4601234567890"}]},
                    headers=sup),
        422,
        "bad-barcode",
    )
    assert "barcodes.0.barcode" in body["errors"] and "expected 3" in body["detail"]
    # The same digits as an in-house code are fine.
    r = client.post(f"{API}/skus", json={"code": "A", "name": "A",
                                         "barcodes": [{"barcode": "4601234567890", "kind": "internal"}]}, headers=sup)
    assert r.status_code == 201 and r.get_json()["barcodes"][0]["barcode"] == "4601234567890"
    # A UPC-A sent in its 13-digit EAN form, stated as UPC, prints as 12 digits.
    r = client.post(f"{API}/skus", json={"code": "B", "name": "B",
                                         "barcodes": [{"barcode": "0036000291452", "kind": "upc"}]}, headers=sup)
    assert r.status_code == 201
    assert r.get_json()["barcodes"][0]["printed"] == "036000291452"
    # 13 significant digits do not fit an EAN-8.
    assert_problem(client.post(f"{API}/skus", json={"code": "C", "name": "C",
                                                    "barcodes": [{"barcode": "4601234567893", "kind": "ean8"}]},
                               headers=sup), 422, "bad-barcode")
    assert_problem(client.post(f"{API}/skus", json={"code": "C", "name": "C",
                                                    "barcodes": [{"barcode": "X", "units": 0}]}, headers=sup), 422)
    assert db.session.query(Sku).count() == 2


def test_sku_duplicates(client, db, sup):
    f.sku("KT-1", barcode="4601234567893")
    db.session.commit()
    body = assert_problem(client.post(f"{API}/skus", json={"code": "KT-1", "name": "x"}, headers=sup), 409, "duplicate")
    assert body["field"] == "code"
    # Any printed form of a GTIN that another SKU has is a duplicate.
    body = assert_problem(
        client.post(f"{API}/skus", json={"code": "KT-2", "name": "x", "barcodes": [{"barcode": "04601234567893"}]},
                    headers=sup),
        409,
        "duplicate",
    )
    assert body["field"] == "barcode" and "KT-1" in body["title"]
    assert_problem(
        client.post(f"{API}/skus", json={"code": "KT-2", "name": "x",
                                         "barcodes": [{"barcode": "036000291452"}, {"barcode": "0036000291452"}]},
                    headers=sup),
        409,
        "duplicate",
    )
    other = f.sku("KT-3")
    db.session.commit()
    assert_problem(client.patch(f"{API}/skus/{other.id}", json={"code": "KT-1"}, headers=sup), 409, "duplicate")
    assert db.session.query(Sku).count() == 2 and db.session.query(SkuBarcode).count() == 1


def test_sku_barcodes_add_and_remove(client, db, sup):
    s = f.sku("KT-1", barcode="4601234567893")
    other = f.sku("KT-2")
    db.session.commit()
    r = client.post(f"{API}/skus/{s.id}/barcodes", json={"barcode": "036000291452"}, headers=sup)
    assert r.status_code == 201
    assert (r.get_json()["barcode"], r.get_json()["kind"]) == ("00036000291452", "upc")
    assert_problem(client.post(f"{API}/skus/{other.id}/barcodes", json={"barcode": "0036000291452"}, headers=sup),
                   409, "duplicate")
    assert_problem(client.post(f"{API}/skus/{s.id}/barcodes", json={"barcode": "036000291453"}, headers=sup),
                   422, "bad-barcode")
    assert_problem(client.post(f"{API}/skus/999/barcodes", json={"barcode": "X-1"}, headers=sup), 404, "not-found")

    # Removed by its printed form.
    r = client.delete(f"{API}/skus/{s.id}/barcodes/4601234567893", headers=sup)
    assert r.status_code == 204
    assert_problem(client.delete(f"{API}/skus/{s.id}/barcodes/4601234567893", headers=sup), 404, "not-found")
    assert_problem(client.delete(f"{API}/skus/{other.id}/barcodes/036000291452", headers=sup), 404)
    db.session.expire_all()
    assert [b.barcode for b in db.session.get(Sku, s.id).barcodes] == ["00036000291452"]
    # Internal barcodes may hold a slash.
    assert client.post(f"{API}/skus/{s.id}/barcodes", json={"barcode": "BOX/12"}, headers=sup).status_code == 201
    assert client.delete(f"{API}/skus/{s.id}/barcodes/BOX/12", headers=sup).status_code == 204


def test_sku_search(client, db, picker):
    f.sku("KT-100", "Kettle steel", barcode="4601234567893")
    f.sku("KT-200", "Kettle glass")
    f.sku("MUG-1", "Кружка 100% керамика")
    f.sku("OLD-1", "Old kettle", active=False)
    db.session.commit()

    def codes(query):
        r = client.get(f"{API}/skus?{query}", headers=picker)
        assert r.status_code == 200, r.get_json()
        return [s["code"] for s in r.get_json()]

    assert codes("q=kettle") == ["KT-100", "KT-200", "OLD-1"]
    assert codes("q=kt-") == ["KT-100", "KT-200"]
    assert codes("q=Кружка") == ["MUG-1"]
    assert codes("q=100%25") == ["MUG-1"]  # % is a character, not a wildcard
    assert codes("q=kettle&active=true") == ["KT-100", "KT-200"]
    assert codes("barcode=4601234567893") == ["KT-100"]
    assert codes("barcode=04601234567893") == ["KT-100"]
    assert codes("barcode=4601234567890") == []
    assert len(codes("")) == 4


def test_catalog_roles(client, db, sup, picker):
    wh = f.warehouse()
    db.session.commit()
    _, dock = f.station(wh, "DOCK-1", "dock")
    s = f.sku("KT-1")
    db.session.commit()
    for headers in (picker, dock):
        assert client.get(f"{API}/skus", headers=headers).status_code == 200
        assert client.get(f"{API}/skus/{s.id}", headers=headers).status_code == 200
        body = assert_problem(client.post(f"{API}/skus", json={"code": "N", "name": "N"}, headers=headers), 403,
                              "forbidden")
        assert body["required_roles"] == ["supervisor"]
        assert_problem(client.patch(f"{API}/skus/{s.id}", json={"name": "N"}, headers=headers), 403)
        assert_problem(client.post(f"{API}/skus/{s.id}/barcodes", json={"barcode": "X"}, headers=headers), 403)
    assert_problem(client.post(f"{API}/skus", json={"code": "N", "name": "N"}), 401, "unauthorized")
    assert_problem(client.get(f"{API}/skus"), 401)
    assert db.session.query(Sku).count() == 1


def test_idempotent_sku_create(client, db, sup):
    headers = {**sup, "Idempotency-Key": "create-kt-100"}
    first = client.post(f"{API}/skus", json=KETTLE, headers=headers)
    assert first.status_code == 201 and "X-Idempotent-Replay" not in first.headers
    second = client.post(f"{API}/skus", json=KETTLE, headers=headers)
    assert second.status_code == 201
    assert second.headers["X-Idempotent-Replay"] == "true"
    assert second.get_json() == first.get_json()
    assert second.headers["Location"] == first.headers["Location"]
    assert db.session.query(Sku).count() == 1 and db.session.query(SkuBarcode).count() == 5

    changed = client.post(f"{API}/skus", json={**KETTLE, "name": "Another"}, headers=headers)
    assert_problem(changed, 422, "idempotency-key-reused")
    assert db.session.query(Sku).count() == 1
    # A failed call stores nothing: the key stays free for the corrected call.
    bad = client.post(f"{API}/skus", json={"code": "X"}, headers={**sup, "Idempotency-Key": "k2"})
    assert_problem(bad, 422, "validation-error")
    assert db.session.query(IdempotencyRecord).filter_by(key="k2").count() == 0
    ok = client.post(f"{API}/skus", json={"code": "X", "name": "X"}, headers={**sup, "Idempotency-Key": "k2"})
    assert ok.status_code == 201 and "X-Idempotent-Replay" not in ok.headers
