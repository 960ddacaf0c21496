"""Stock and movements through the API: roles, problem+json, idempotency."""

import pytest

from server.models import Movement, Warehouse
from tests import factories as f


@pytest.fixture
def stocked(db):
    wh, _, cells, sku = f.stocked_warehouse()
    receiver = f.token_for(f.user("rita", ("receiver",)))
    supervisor = f.token_for(f.user("sam", ("supervisor",)))
    picker = f.token_for(f.user("pete", ("picker",)))
    return {"wh": wh.id, "cells": [c.id for c in cells], "sku": sku.id,
            "receiver": receiver, "supervisor": supervisor, "picker": picker}


def receive(client, s, quantity=10, cell=0, **headers):
    return client.post(
        "/api/v1/movements",
        json={"kind": "receive", "sku_id": s["sku"], "quantity": quantity, "to_cell_id": s["cells"][cell]},
        headers={**s["receiver"], **headers},
    )


def test_receive_then_read_stock_by_sku_and_by_cell(client, stocked):
    s = stocked
    response = receive(client, s, 12)
    assert response.status_code == 201, response.json
    assert response.json["kind"] == "receive" and response.json["quantity"] == 12
    by_sku = client.get(f"/api/v1/stock/by-sku/{s['sku']}", headers=s["picker"]).json
    assert by_sku["totals"] == {"quantity": 12, "reserved": 0, "available": 12}
    assert [line["cell_id"] for line in by_sku["lines"]] == [s["cells"][0]]
    by_cell = client.get(f"/api/v1/stock/by-cell/{s['cells'][0]}", headers=s["picker"]).json
    assert by_cell["lines"][0]["sku_id"] == s["sku"] and by_cell["totals"]["available"] == 12
    listed = client.get(f"/api/v1/stock?sku_id={s['sku']}", headers=s["picker"])
    assert len(listed.json) == 1 and "X-Pagination" in listed.headers


def test_same_idempotency_key_twice_moves_stock_once(client, db, stocked):
    s = stocked
    first = receive(client, s, 5, **{"Idempotency-Key": "dock-7-line-1"})
    second = receive(client, s, 5, **{"Idempotency-Key": "dock-7-line-1"})
    assert first.status_code == second.status_code == 201
    assert second.headers.get("X-Idempotent-Replay") == "true"
    assert first.json["id"] == second.json["id"]
    assert db.session.query(Movement).count() == 1
    totals = client.get(f"/api/v1/stock/by-sku/{s['sku']}", headers=s["picker"]).json["totals"]
    assert totals["quantity"] == 5
    reused = receive(client, s, 6, **{"Idempotency-Key": "dock-7-line-1"})
    assert reused.status_code == 422
    assert reused.json["type"] == "urn:cellwms:problem:idempotency-key-reused"


def test_taking_more_than_available_is_a_409_problem_and_writes_nothing(client, db, stocked):
    s = stocked
    receive(client, s, 3)
    response = client.post(
        "/api/v1/movements",
        json={"kind": "move", "sku_id": s["sku"], "quantity": 4,
              "from_cell_id": s["cells"][0], "to_cell_id": s["cells"][1]},
        headers=s["supervisor"],
    )
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.json["type"] == "urn:cellwms:problem:insufficient-stock"
    assert response.json["available"] == 3
    assert response.json["title"] == "Not enough available stock in the cell."
    assert db.session.query(Movement).count() == 1
    # The same refusal for a Russian reader: the title in Russian, the type unchanged.
    russian = client.post(
        "/api/v1/movements",
        json={"kind": "move", "sku_id": s["sku"], "quantity": 4,
              "from_cell_id": s["cells"][0], "to_cell_id": s["cells"][1]},
        headers={**s["supervisor"], "Accept-Language": "ru"},
    )
    assert russian.json["type"] == response.json["type"]
    assert russian.json["title"] == "В ячейке не хватает доступного остатка."
    assert "доступно 3" in russian.json["detail"]


@pytest.mark.parametrize(
    "body, status",
    [
        ({"kind": "receive", "sku_id": "abc", "quantity": 1, "to_cell_id": 1}, 422),
        ({"kind": "receive", "sku_id": 1, "quantity": "1", "to_cell_id": 1}, 422),
        ({"kind": "receive", "sku_id": 1, "quantity": 0, "to_cell_id": 1}, 422),
        ({"kind": "levitate", "sku_id": 1, "quantity": 1, "to_cell_id": 1}, 422),
        ({"kind": "receive", "quantity": 1, "to_cell_id": 1}, 422),
        ({"kind": "receive", "sku_id": 99999, "quantity": 1, "to_cell_id": 1}, 404),
    ],
)
def test_bad_movement_bodies_are_problems(client, stocked, body, status):
    response = client.post("/api/v1/movements", json=body, headers=stocked["supervisor"])
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].startswith("urn:cellwms:problem:")


def test_malformed_json_is_a_problem(client, stocked):
    response = client.post(
        "/api/v1/movements", data=b'{"kind": "receive",', content_type="application/json",
        headers=stocked["supervisor"],
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_roles_per_movement_kind(client, stocked):
    s = stocked
    assert client.post("/api/v1/movements", json={}).status_code == 401
    receive(client, s, 5)
    adjust = {"kind": "adjust_out", "sku_id": s["sku"], "quantity": 1, "from_cell_id": s["cells"][0],
              "reason": "damaged"}
    refused = client.post("/api/v1/movements", json=adjust, headers=s["picker"])
    assert refused.status_code == 403 and refused.json["required_roles"] == ["supervisor"]
    assert client.post("/api/v1/movements", json=adjust, headers=s["supervisor"]).status_code == 201


def test_a_station_records_movements_in_its_own_name(client, db, stocked):
    s = stocked
    station, header = f.station(db.session.get(Warehouse, s["wh"]))
    response = client.post(
        "/api/v1/movements",
        json={"kind": "receive", "sku_id": s["sku"], "quantity": 2, "to_cell_id": s["cells"][0]},
        headers=header,
    )
    assert response.status_code == 201
    assert response.json["station_id"] == station.id and response.json["user_id"] is None


def test_fefo_reservation_and_movement_listing(client, stocked):
    s = stocked
    receive(client, s, 4, cell=0)
    receive(client, s, 4, cell=1)
    reserved = client.post(
        "/api/v1/stock/reservations",
        json={"sku_id": s["sku"], "warehouse_id": s["wh"], "quantity": 6, "reference": "ORD-100"},
        headers=s["supervisor"],
    )
    assert reserved.status_code == 201
    assert sum(m["quantity"] for m in reserved.json["movements"]) == 6
    too_much = client.post(
        "/api/v1/stock/reservations",
        json={"sku_id": s["sku"], "warehouse_id": s["wh"], "quantity": 3}, headers=s["supervisor"],
    )
    assert too_much.status_code == 409
    listed = client.get("/api/v1/movements?reference=ORD-100", headers=s["picker"])
    assert {m["kind"] for m in listed.json} == {"reserve"}
    assert client.get("/api/v1/movements/999999", headers=s["picker"]).status_code == 404
