"""API: users and stations, admin only (SQLite and PostgreSQL)."""

import hashlib

import pytest

from server.models import IdempotencyRecord, Station, User
from tests import factories as f
from tests.assertions import assert_problem

API = "/api/v1"
SECRET_FIELDS = {"password", "password_hash", "pin", "pin_hash", "token_hash"}




@pytest.fixture
def admin(db):
    return f.token_for(f.user("root", roles=("admin",), password="root-password"))


def test_user_round_trip(client, db, admin):
    r = client.post(
        f"{API}/users",
        json={"username": "anna", "full_name": "Анна Петрова", "roles": ["picker", "packer"], "badge_code": "B-0042",
              "pin": "1234", "locale": "ru"},
        headers=admin,
    )
    assert r.status_code == 201, r.get_json()
    user = r.get_json()
    assert not SECRET_FIELDS & set(user)
    assert user["roles"] == ["packer", "picker"] and user["badge_code"] == "B-0042"
    assert user["has_pin"] is True and user["has_password"] is False and user["active"] is True
    assert r.headers["Location"].endswith(f"/api/v1/users/{user['id']}")
    row = db.session.get(User, user["id"])
    assert row.check_pin("1234") and row.pin_hash != "1234"

    r = client.patch(f"{API}/users/{user['id']}",
                     json={"roles": ["supervisor"], "password": "long-enough-1", "pin": None, "badge_code": None},
                     headers=admin)
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert not SECRET_FIELDS & set(got)
    assert (got["roles"], got["has_password"], got["has_pin"], got["badge_code"]) == (["supervisor"], True, False, None)
    db.session.expire_all()
    row = db.session.get(User, user["id"])
    assert row.check_password("long-enough-1") and row.pin_hash is None

    r = client.patch(f"{API}/users/{user['id']}", json={"active": False}, headers=admin)
    assert r.get_json()["active"] is False
    assert client.get(f"{API}/users/{user['id']}", headers=admin).get_json()["active"] is False
    listed = client.get(f"{API}/users", headers=admin).get_json()
    assert [u["username"] for u in listed] == ["anna", "root"]
    assert all(not SECRET_FIELDS & set(u) for u in listed)


def test_user_filters(client, db, admin):
    f.user("p1", roles=("picker",))
    f.user("p2", roles=("picker", "packer"))
    f.user("pk", roles=("packer",))
    u = f.user("old", roles=("picker",))
    u.active = False
    db.session.commit()

    def names(query):
        return [x["username"] for x in client.get(f"{API}/users?{query}", headers=admin).get_json()]

    assert names("role=picker") == ["old", "p1", "p2"]
    assert names("role=picker&active=true") == ["p1", "p2"]
    assert names("role=admin") == ["root"]
    assert names("q=P") == ["p1", "p2", "pk"]
    assert_problem(client.get(f"{API}/users?role=boss", headers=admin), 422)


def test_user_bad_input_and_duplicates(client, db, admin):
    f.user("anna", badge="B-1")
    db.session.commit()
    for bad in ({"roles": ["boss"]}, {"roles": []}, {"pin": "12"}, {"pin": "12ab"}, {"password": "short"},
                {"locale": "de"}, {"roles": "picker"}, {"username": ""}):
        body = assert_problem(client.post(f"{API}/users", json={"username": "new", "roles": ["picker"], **bad},
                                          headers=admin), 422, "validation-error")
        assert set(body["errors"]) == set(bad)
    body = assert_problem(client.post(f"{API}/users", json={"username": "anna", "roles": ["picker"]}, headers=admin),
                          409, "duplicate")
    assert body["field"] == "username"
    body = assert_problem(client.post(f"{API}/users", json={"username": "bob", "roles": ["picker"], "badge_code": "B-1"},
                                      headers=admin), 409, "duplicate")
    assert body["field"] == "badge_code"
    bob = f.user("bob")
    db.session.commit()
    assert_problem(client.patch(f"{API}/users/{bob.id}", json={"badge_code": "B-1"}, headers=admin), 409, "duplicate")
    assert db.session.query(User).count() == 3


def test_last_admin_stays(client, db, admin):
    root = db.session.query(User).filter_by(username="root").one()
    assert_problem(client.patch(f"{API}/users/{root.id}", json={"active": False}, headers=admin), 409, "last-admin")
    assert_problem(client.patch(f"{API}/users/{root.id}", json={"roles": ["supervisor"]}, headers=admin), 409,
                   "last-admin")
    other = client.post(f"{API}/users", json={"username": "admin2", "roles": ["admin"], "password": "another-pass"},
                        headers=admin)
    assert other.status_code == 201
    assert client.patch(f"{API}/users/{root.id}", json={"roles": ["supervisor"]}, headers=admin).status_code == 200


def test_people_are_admin_only(client, db, admin):
    wh = f.warehouse()
    db.session.commit()
    sup = f.token_for(f.user("sup", roles=("supervisor",)))
    picker = f.token_for(f.user("pick", roles=("picker",)))
    _, dock = f.station(wh, "DOCK-1", "dock")
    new_user = {"username": "x", "roles": ["admin"], "password": "sneaky-pass"}
    for headers in (sup, picker, dock):
        assert_problem(client.post(f"{API}/users", json=new_user, headers=headers), 403, "forbidden")
        assert_problem(client.get(f"{API}/users", headers=headers), 403)
        assert_problem(client.get(f"{API}/stations", headers=headers), 403)
        assert_problem(client.post(f"{API}/stations", json={"warehouse_id": wh.id, "code": "P", "kind": "pack"},
                                   headers=headers), 403)
    assert_problem(client.post(f"{API}/users", json=new_user), 401, "unauthorized")
    assert db.session.query(User).filter_by(username="x").count() == 0


def test_station_token_shown_once(client, db, admin):
    wh = f.warehouse()
    db.session.commit()
    r = client.post(f"{API}/stations", json={"warehouse_id": wh.id, "code": "PACK-1", "name": "Pack 1", "kind": "pack"},
                    headers=admin)
    assert r.status_code == 201, r.get_json()
    station = r.get_json()
    token = station["token"]
    assert len(token) >= 40 and station["role"] == "packer" and station["active"] is True
    assert "token_hash" not in station
    row = db.session.get(Station, station["id"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # Never shown again.
    assert "token" not in client.get(f"{API}/stations/{station['id']}", headers=admin).get_json()
    assert all("token" not in s for s in client.get(f"{API}/stations", headers=admin).get_json())

    # The token works: a pack station reads SKUs but may not write them.
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/skus", headers=bearer).status_code == 200
    assert_problem(client.post(f"{API}/skus", json={"code": "S", "name": "S"}, headers=bearer), 403)

    # Rotating: the old token stops working, the new one works.
    r = client.post(f"{API}/stations/{station['id']}/token", headers=admin)
    assert r.status_code == 200
    new = r.get_json()["token"]
    assert new != token
    assert_problem(client.get(f"{API}/skus", headers=bearer), 401, "invalid-token")
    assert client.get(f"{API}/skus", headers={"Authorization": f"Bearer {new}"}).status_code == 200

    # Deactivating: the token stops working at once; reactivating brings it back.
    r = client.post(f"{API}/stations/{station['id']}/deactivate", headers=admin)
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert_problem(client.get(f"{API}/skus", headers={"Authorization": f"Bearer {new}"}), 401)
    r = client.patch(f"{API}/stations/{station['id']}", json={"active": True, "name": "Pack one"}, headers=admin)
    assert (r.get_json()["active"], r.get_json()["name"]) == (True, "Pack one")
    assert client.get(f"{API}/skus", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_station_bad_input_and_filters(client, db, admin):
    w1, w2 = f.warehouse("W1"), f.warehouse("W2")
    db.session.commit()
    f.station(w1, "DOCK-1", "dock")
    f.station(w2, "PACK-1", "pack")
    assert_problem(client.post(f"{API}/stations", json={"warehouse_id": w1.id, "code": "DOCK-1", "kind": "dock"},
                               headers=admin), 409, "duplicate")
    body = assert_problem(client.post(f"{API}/stations", json={"warehouse_id": w1.id, "code": "X", "kind": "kiosk"},
                                      headers=admin), 422, "validation-error")
    assert "kind" in body["errors"]
    body = assert_problem(client.post(f"{API}/stations", json={"warehouse_id": 999, "code": "X", "kind": "dock"},
                                      headers=admin), 422, "unknown-reference")
    assert "warehouse_id" in body["errors"]
    # The token is made by the server, never sent.
    assert_problem(client.post(f"{API}/stations", json={"warehouse_id": w1.id, "code": "X", "kind": "dock",
                                                        "token": "mine"}, headers=admin), 422)
    codes = [s["code"] for s in client.get(f"{API}/stations?warehouse_id={w2.id}", headers=admin).get_json()]
    assert codes == ["PACK-1"]
    codes = [s["code"] for s in client.get(f"{API}/stations?kind=dock", headers=admin).get_json()]
    assert codes == ["DOCK-1"]
    assert_problem(client.post(f"{API}/stations/999/token", headers=admin), 404, "not-found")
    assert_problem(client.post(f"{API}/stations/999/deactivate", headers=admin), 404, "not-found")
    assert db.session.query(Station).count() == 2


def test_idempotent_station_create_keeps_no_token(client, db, admin):
    wh = f.warehouse()
    db.session.commit()
    headers = {**admin, "Idempotency-Key": "station-pack-2"}
    payload = {"warehouse_id": wh.id, "code": "PACK-2", "kind": "pack"}
    first = client.post(f"{API}/stations", json=payload, headers=headers)
    assert first.status_code == 201 and first.get_json()["token"]
    second = client.post(f"{API}/stations", json=payload, headers=headers)
    assert second.status_code == 201 and second.headers["X-Idempotent-Replay"] == "true"
    # The replay names the same station, but the token was shown once only and is not stored.
    assert second.get_json()["id"] == first.get_json()["id"] and second.get_json()["token"] is None
    assert db.session.query(Station).count() == 1
    record = db.session.query(IdempotencyRecord).filter_by(key="station-pack-2").one()
    assert first.get_json()["token"] not in record.response_body
    assert_problem(client.post(f"{API}/stations", json={**payload, "kind": "dock"}, headers=headers), 422,
                   "idempotency-key-reused")


def test_idempotent_user_create(client, db, admin):
    headers = {**admin, "Idempotency-Key": "user-anna"}
    payload = {"username": "anna", "roles": ["picker"], "badge_code": "B-7"}
    first = client.post(f"{API}/users", json=payload, headers=headers)
    second = client.post(f"{API}/users", json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["X-Idempotent-Replay"] == "true" and second.get_json() == first.get_json()
    assert db.session.query(User).filter_by(username="anna").count() == 1
    assert_problem(client.post(f"{API}/users", json={**payload, "badge_code": "B-8"}, headers=headers), 422,
                   "idempotency-key-reused")
