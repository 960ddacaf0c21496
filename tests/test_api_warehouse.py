"""API: warehouses, zones and cells (SQLite and PostgreSQL)."""

import json

import pytest

from server.models import Cell, Warehouse, Zone
from tests import factories as f
from tests.assertions import assert_problem

API = "/api/v1"




@pytest.fixture
def sup(db):
    return f.token_for(f.user("sup", roles=("supervisor",)))


@pytest.fixture
def picker(db):
    return f.token_for(f.user("pick", roles=("picker",)))


def test_warehouse_round_trip(client, db, sup, picker):
    r = client.post(f"{API}/warehouses", json={"code": " W2 ", "name": "North", "timezone": "Asia/Yekaterinburg"}, headers=sup)
    assert r.status_code == 201, r.get_json()
    wh = r.get_json()
    assert wh["code"] == "W2" and wh["timezone"] == "Asia/Yekaterinburg"
    assert wh["address_format"] == "{zone}-{aisle:02d}-{bay:02d}-{level}-{position}"
    assert r.headers["Location"].endswith(f"/api/v1/warehouses/{wh['id']}")

    assert client.get(f"{API}/warehouses/{wh['id']}", headers=picker).get_json() == wh
    r = client.patch(f"{API}/warehouses/{wh['id']}", json={"name": "North hall", "aisle_pitch_m": 3.5}, headers=sup)
    assert r.status_code == 200
    assert r.get_json()["name"] == "North hall" and r.get_json()["aisle_pitch_m"] == 3.5
    listed = client.get(f"{API}/warehouses", headers=picker).get_json()
    assert [w["code"] for w in listed] == ["W2"]
    assert db.session.get(Warehouse, wh["id"]).name == "North hall"


def test_warehouse_duplicates_and_bad_values(client, db, sup):
    f.warehouse("W1")
    other = f.warehouse("W9")
    db.session.commit()
    assert_problem(client.post(f"{API}/warehouses", json={"code": "W1", "name": "x"}, headers=sup), 409, "duplicate")
    assert_problem(client.patch(f"{API}/warehouses/{other.id}", json={"code": "W1"}, headers=sup), 409, "duplicate")
    # Its own code again is no conflict.
    assert client.patch(f"{API}/warehouses/{other.id}", json={"code": "W9"}, headers=sup).status_code == 200
    for bad in ({"address_format": "{zone}-{row}"}, {"address_format": "{aisle:02d"}, {"timezone": "Mars/Base"},
                {"aisle_pitch_m": 0}, {"depot_aisle": -1}, {"name": "  "}):
        body = assert_problem(client.post(f"{API}/warehouses", json={"code": "W3", "name": "x", **bad}, headers=sup), 422)
        assert set(body["errors"]) == set(bad)
    assert db.session.query(Warehouse).count() == 2


def test_zones(client, db, sup, picker):
    wh = f.warehouse()
    db.session.commit()
    r = client.post(f"{API}/warehouses/{wh.id}/zones", json={"code": "R", "name": "Returns", "kind": "returns"}, headers=sup)
    assert r.status_code == 201
    zone = r.get_json()
    assert zone["warehouse_id"] == wh.id and zone["kind"] == "returns"
    client.post(f"{API}/warehouses/{wh.id}/zones", json={"code": "A", "name": "Storage", "kind": "storage"}, headers=sup)

    listed = client.get(f"{API}/warehouses/{wh.id}/zones", headers=picker).get_json()
    assert [z["code"] for z in listed] == ["A", "R"]
    r = client.patch(f"{API}/zones/{zone['id']}", json={"kind": "quarantine", "name": "Q"}, headers=sup)
    assert r.get_json()["kind"] == "quarantine"
    assert client.get(f"{API}/zones/{zone['id']}", headers=picker).get_json()["name"] == "Q"

    body = assert_problem(
        client.post(f"{API}/warehouses/{wh.id}/zones", json={"code": "X", "name": "X", "kind": "attic"}, headers=sup), 422
    )
    assert "kind" in body["errors"]
    assert_problem(client.patch(f"{API}/zones/{zone['id']}", json={"kind": "attic"}, headers=sup), 422)
    assert_problem(
        client.post(f"{API}/warehouses/{wh.id}/zones", json={"code": "A", "name": "again", "kind": "storage"}, headers=sup),
        409,
        "duplicate",
    )
    assert_problem(client.patch(f"{API}/zones/{zone['id']}", json={"code": "A"}, headers=sup), 409, "duplicate")
    assert_problem(client.get(f"{API}/warehouses/999/zones", headers=picker), 404, "not-found")
    assert_problem(
        client.post(f"{API}/warehouses/999/zones", json={"code": "A", "name": "A", "kind": "storage"}, headers=sup), 404
    )
    # The same zone code in another warehouse is fine.
    w2 = f.warehouse("W2")
    db.session.commit()
    r = client.post(f"{API}/warehouses/{w2.id}/zones", json={"code": "A", "name": "A", "kind": "storage"}, headers=sup)
    assert r.status_code == 201
    assert db.session.query(Zone).count() == 3


def test_cell_round_trip(client, db, sup, picker):
    wh = f.warehouse()
    zone = f.zone(wh, "S")
    db.session.commit()
    r = client.post(
        f"{API}/cells",
        json={"zone_id": zone.id, "aisle": 3, "bay": 12, "level": 2, "position": 1, "cell_type": "bin",
              "max_units": 40, "block": 1, "slot": 12, "side": "R"},
        headers=sup,
    )
    assert r.status_code == 201, r.get_json()
    cell = r.get_json()
    # Address from the warehouse's format; barcode defaults to the address.
    assert cell["address"] == "S-03-12-2-1" and cell["barcode"] == "S-03-12-2-1"
    assert cell["warehouse_id"] == wh.id and cell["status"] == "active" and cell["max_volume_cm3"] is None
    assert r.headers["Location"].endswith(f"/api/v1/cells/{cell['id']}")

    assert client.get(f"{API}/cells/{cell['id']}", headers=picker).get_json() == cell
    r = client.patch(f"{API}/cells/{cell['id']}", json={"status": "blocked", "max_units": None, "max_weight_g": 25000},
                     headers=sup)
    assert r.status_code == 200
    assert (r.get_json()["status"], r.get_json()["max_units"], r.get_json()["max_weight_g"]) == ("blocked", None, 25000)
    row = db.session.get(Cell, cell["id"])
    assert row.status == "blocked" and row.max_units is None

    # Only status, type and capacity change; the address does not.
    body = assert_problem(client.patch(f"{API}/cells/{cell['id']}", json={"address": "X"}, headers=sup), 422)
    assert "address" in body["errors"]
    assert_problem(client.patch(f"{API}/cells/{cell['id']}", json={"max_units": -1}, headers=sup), 422)
    assert_problem(client.patch(f"{API}/cells/{cell['id']}", json={"status": "broken"}, headers=sup), 422)


def test_cell_uniqueness_per_warehouse(client, db, sup):
    wh, w2 = f.warehouse("W1"), f.warehouse("W2")
    z1, z2 = f.zone(wh, "S"), f.zone(w2, "S")
    db.session.commit()
    ok = client.post(f"{API}/cells", json={"zone_id": z1.id, "address": "S-1", "barcode": "C0001"}, headers=sup)
    assert ok.status_code == 201
    body = assert_problem(
        client.post(f"{API}/cells", json={"zone_id": z1.id, "address": "S-1", "barcode": "C0002"}, headers=sup), 409
    )
    assert body["field"] == "address"
    body = assert_problem(
        client.post(f"{API}/cells", json={"zone_id": z1.id, "address": "S-2", "barcode": "C0001"}, headers=sup), 409
    )
    assert body["field"] == "barcode"
    # The same address and barcode in another warehouse are fine.
    r = client.post(f"{API}/cells", json={"zone_id": z2.id, "address": "S-1", "barcode": "C0001"}, headers=sup)
    assert r.status_code == 201 and r.get_json()["warehouse_id"] == w2.id
    body = assert_problem(client.post(f"{API}/cells", json={"zone_id": 999, "address": "S-9"}, headers=sup), 422,
                          "unknown-reference")
    assert "zone_id" in body["errors"]
    assert db.session.query(Cell).count() == 2


def test_cell_list_filters_and_pagination(client, db, picker):
    wh = f.warehouse()
    a, b = f.zone(wh, "A"), f.zone(wh, "B")
    for i in range(1, 6):
        f.cell(a, f"A-01-0{i}")
    f.cell(a, "A-02-01", status="blocked")
    f.cell(b, "B-01-01")
    f.cell(b, "B%-01")  # a LIKE wildcard in an address is only a character
    db.session.commit()

    def addresses(query=""):
        r = client.get(f"{API}/cells?page_size=100{query}", headers=picker)
        assert r.status_code == 200, r.get_json()
        return [c["address"] for c in r.get_json()]

    assert addresses(f"&zone_id={b.id}") == ["B%-01", "B-01-01"]
    assert addresses("&status=blocked") == ["A-02-01"]
    assert addresses("&address_prefix=A-01") == [f"A-01-0{i}" for i in range(1, 6)]
    assert addresses("&address_prefix=B%25") == ["B%-01"]
    assert addresses(f"&warehouse_id={wh.id}&zone_id={a.id}&status=active&address_prefix=A-01-0") == [
        f"A-01-0{i}" for i in range(1, 6)
    ]
    assert_problem(client.get(f"{API}/cells?status=broken", headers=picker), 422)

    r = client.get(f"{API}/cells?page=2&page_size=3", headers=picker)
    assert [c["address"] for c in r.get_json()] == ["A-01-04", "A-01-05", "A-02-01"]
    page = json.loads(r.headers["X-Pagination"])
    assert page["total"] == 8 and page["total_pages"] == 3 and page["page"] == 2 and page["next_page"] == 3


def test_cell_by_barcode(client, db, picker):
    w1, w2 = f.warehouse("W1"), f.warehouse("W2")
    z1, z2 = f.zone(w1), f.zone(w2)
    c1 = f.cell(z1, "S-01", barcode="CELL-0001")
    c2 = f.cell(z2, "S-01", barcode="CELL-0001")
    only = f.cell(z1, "S-02", barcode="CELL 0002/A")
    db.session.commit()

    r = client.get(f"{API}/cells/by-barcode/CELL 0002/A", headers=picker)
    assert r.status_code == 200 and r.get_json()["id"] == only.id
    # Two warehouses share a barcode: say which, or ask as a station of one.
    assert_problem(client.get(f"{API}/cells/by-barcode/CELL-0001", headers=picker), 409, "ambiguous-barcode")
    r = client.get(f"{API}/cells/by-barcode/CELL-0001?warehouse_id={w2.id}", headers=picker)
    assert r.get_json()["id"] == c2.id
    _, dock = f.station(w1, "DOCK-1", "dock")
    assert client.get(f"{API}/cells/by-barcode/CELL-0001", headers=dock).get_json()["id"] == c1.id
    body = assert_problem(client.get(f"{API}/cells/by-barcode/NOPE", headers=picker), 404, "not-found")
    assert body["barcode"] == "NOPE"


def test_roles_on_master_data(client, db, sup, picker):
    wh = f.warehouse()
    zone = f.zone(wh)
    db.session.commit()
    _, dock = f.station(wh, "DOCK-1", "dock")
    # Workers and stations read master data ...
    for headers in (picker, dock):
        assert client.get(f"{API}/warehouses", headers=headers).status_code == 200
        assert client.get(f"{API}/cells", headers=headers).status_code == 200
    # ... but only supervisors and admins write it.
    for headers in (picker, dock):
        assert_problem(client.post(f"{API}/warehouses", json={"code": "W5", "name": "x"}, headers=headers), 403, "forbidden")
        assert_problem(client.post(f"{API}/cells", json={"zone_id": zone.id, "address": "S-1"}, headers=headers), 403)
        assert_problem(client.patch(f"{API}/zones/{zone.id}", json={"name": "x"}, headers=headers), 403)
    admin = f.token_for(f.user("root", roles=("admin",)))
    assert client.post(f"{API}/cells", json={"zone_id": zone.id, "address": "S-1"}, headers=admin).status_code == 201
    assert_problem(client.get(f"{API}/cells"), 401, "unauthorized")
