"""API errors are application/problem+json with a stable type (SQLite and PostgreSQL)."""

import json

import pytest

from server.models import Sku, Warehouse
from tests import factories as f
from tests.assertions import assert_problem

API = "/api/v1"


@pytest.fixture
def admin(db):
    return f.token_for(f.user("root", roles=("admin",)))


@pytest.mark.parametrize(
    "path",
    ["/warehouses", "/warehouses/1/zones", "/cells", "/skus", "/skus/1/barcodes", "/users", "/stations"],
)
def test_malformed_json(client, db, admin, path):
    f.warehouse()
    f.sku()
    db.session.commit()
    r = client.post(f"{API}{path}", data='{"code": "W2", "name": ', content_type="application/json", headers=admin)
    assert_problem(r, 400, "malformed-json")


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/warehouses", {"code": 7, "name": "x"}, "code"),
        ("/warehouses", {"code": "W", "name": "x", "aisle_pitch_m": "wide"}, "aisle_pitch_m"),
        ("/warehouses/1/zones", {"code": "A", "name": "A", "kind": ["storage"]}, "kind"),
        ("/cells", {"zone_id": "one", "address": "A-1"}, "zone_id"),
        ("/cells", {"zone_id": 1, "address": "A-1", "max_units": 2.5}, "max_units"),
        ("/skus", {"code": "S", "name": "S", "weight_g": "heavy"}, "weight_g"),
        ("/skus", {"code": "S", "name": "S", "barcodes": "4601234567893"}, "barcodes"),
        ("/skus", {"code": "S", "name": "S", "track_lot": "perhaps"}, "track_lot"),
        ("/users", {"username": "u", "roles": ["picker"], "active": "sometimes"}, "active"),
        ("/stations", {"warehouse_id": "W1", "code": "D", "kind": "dock"}, "warehouse_id"),
    ],
)
def test_wrong_type_in_a_field(client, db, admin, path, body, field):
    f.zone(f.warehouse())
    db.session.commit()
    problem = assert_problem(client.post(f"{API}{path}", json=body, headers=admin), 422, "validation-error")
    assert field in problem["errors"]


def test_not_an_object_and_unknown_fields(client, db, admin):
    assert_problem(client.post(f"{API}/warehouses", json=["W1"], headers=admin), 422, "validation-error")
    problem = assert_problem(client.post(f"{API}/warehouses", json={"code": "W", "name": "x", "colour": "red"},
                                         headers=admin), 422)
    assert "colour" in problem["errors"]
    # Without a JSON body the required fields are missing.
    problem = assert_problem(client.post(f"{API}/warehouses", data="code=W", headers=admin), 422)
    assert {"code", "name"} <= set(problem["errors"])
    assert db.session.query(Warehouse).count() == 0


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/warehouses/404"), ("patch", "/warehouses/404"), ("get", "/warehouses/404/zones"),
        ("get", "/zones/404"), ("patch", "/zones/404"), ("get", "/cells/404"), ("patch", "/cells/404"),
        ("get", "/skus/404"), ("patch", "/skus/404"), ("delete", "/skus/404/barcodes/4601234567893"),
        ("get", "/users/404"), ("patch", "/users/404"), ("get", "/stations/404"), ("patch", "/stations/404"),
        ("post", "/stations/404/token"),
    ],
)
def test_unknown_id(client, db, admin, method, path):
    kwargs = {"json": {}} if method in ("patch", "post") else {}
    body = assert_problem(getattr(client, method)(f"{API}{path}", headers=admin, **kwargs), 404, "not-found")
    assert body["id"] == 404


def test_http_errors_are_problems(client, db, admin):
    assert_problem(client.get(f"{API}/no-such-thing", headers=admin), 404, "not-found")
    assert_problem(client.get(f"{API}/cells/not-a-number", headers=admin), 404, "not-found")
    assert_problem(client.delete(f"{API}/warehouses", headers=admin), 405, "method-not-allowed")
    assert_problem(client.put(f"{API}/skus/1", json={}, headers=admin), 405, "method-not-allowed")


def test_internal_error_is_a_problem_and_rolls_back(app, db, admin):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom():
        db.session.add(Sku(code="HALF", name="half-written"))
        db.session.flush()
        raise RuntimeError("bug")

    app.add_url_rule(f"{API}/_test_boom", "test_boom", boom, methods=["POST"])
    r = app.test_client().post(f"{API}/_test_boom", headers=admin)
    body = assert_problem(r, 500, "internal-error")
    assert "bug" not in json.dumps(body)
    assert db.session.query(Sku).filter_by(code="HALF").count() == 0


def test_credentials(client, db):
    r = client.get(f"{API}/warehouses")
    assert_problem(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.post(f"{API}/warehouses", json={"code": "W", "name": "x"}), 401, "unauthorized")
    assert_problem(client.get(f"{API}/warehouses", headers={"Authorization": "Bearer nope"}), 401, "invalid-token")
    # A revoked (inactive) user's token is refused too.
    u = f.user("gone", roles=("supervisor",))
    headers = f.token_for(u)
    u.active = False
    db.session.commit()
    assert_problem(client.get(f"{API}/warehouses", headers=headers), 401, "invalid-token")
    assert db.session.query(Warehouse).count() == 0


def test_idempotency_key_too_long(client, db, admin):
    r = client.post(f"{API}/warehouses", json={"code": "W", "name": "x"}, headers={**admin, "Idempotency-Key": "k" * 201})
    assert_problem(r, 400, "bad-idempotency-key")
    assert db.session.query(Warehouse).count() == 0


def test_pagination(client, db, admin):
    for i in range(25):
        f.sku(f"S-{i:03d}", f"Item {i}")
    db.session.commit()
    r = client.get(f"{API}/skus", headers=admin)
    assert len(r.get_json()) == 10
    page = json.loads(r.headers["X-Pagination"])
    assert page == {"total": 25, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 1, "next_page": 2}
    r = client.get(f"{API}/skus?page=3&page_size=10", headers=admin)
    assert [s["code"] for s in r.get_json()] == [f"S-{i:03d}" for i in range(20, 25)]
    assert json.loads(r.headers["X-Pagination"])["previous_page"] == 2
    assert_problem(client.get(f"{API}/skus?page=0", headers=admin), 422, "validation-error")
    assert_problem(client.get(f"{API}/skus?page_size=1000", headers=admin), 422)
    assert_problem(client.get(f"{API}/skus?page=two", headers=admin), 422)


def test_openapi_lists_the_master_data_paths(client):
    r = client.get(f"{API}/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    paths = spec["paths"]
    expected = {
        "/api/v1/warehouses": {"get", "post"},
        "/api/v1/warehouses/{warehouse_id}": {"get", "patch"},
        "/api/v1/warehouses/{warehouse_id}/zones": {"get", "post"},
        "/api/v1/zones/{zone_id}": {"get", "patch"},
        "/api/v1/cells": {"get", "post"},
        "/api/v1/cells/{cell_id}": {"get", "patch"},
        "/api/v1/cells/by-barcode/{barcode}": {"get"},
        "/api/v1/skus": {"get", "post"},
        "/api/v1/skus/{sku_id}": {"get", "patch"},
        "/api/v1/skus/{sku_id}/barcodes": {"post"},
        "/api/v1/skus/{sku_id}/barcodes/{barcode}": {"delete"},
        "/api/v1/users": {"get", "post"},
        "/api/v1/users/{user_id}": {"get", "patch"},
        "/api/v1/stations": {"get", "post"},
        "/api/v1/stations/{station_id}": {"get", "patch"},
        "/api/v1/stations/{station_id}/token": {"post"},
        "/api/v1/stations/{station_id}/deactivate": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            # Every operation names the roles it admits.
            assert "Roles:" in paths[path][method].get("description", ""), (path, method)
    # Secrets have no place in the schemas.
    schemas = json.dumps(spec["components"]["schemas"])
    assert "password_hash" not in schemas and "pin_hash" not in schemas and "token_hash" not in schemas
