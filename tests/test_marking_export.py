"""The order's marking codes for the shop's marking-system report: JSON and CSV (UTF-8 with a BOM,
`;`-separated), from the API and the CLI."""

import csv
import io
import json

from sqlalchemy import select

from server.models import Order, Station, User, Warehouse
from server.services.marking_export import marking_codes, marking_codes_csv
from tests import factories as f
from tests.evidence_helpers import packed_parcel

HEADERS = ["GTIN", "Serial number", "Crypto key (91)", "Crypto code (92)", "Marking code", "Parcel", "Status"]


def _expected(number="SO-1"):
    gtin = f"0460000000001{len(number) % 10}"
    return [{"gtin": gtin, "serial": f"SER{n}{number}", "crypto_key": "EE06", "crypto_code": f"abc{n}=",
             "raw": f"01{gtin}21SER{n}{number}\x1d91EE06\x1d92abc{n}=", "parcel": f"P-{number}", "status": "packed"}
            for n in range(2)]


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_json_and_csv(db, tmp_path):
    parcel, _, _ = packed_parcel(tmp_path)
    wh = db.session.get(Warehouse, db.session.get(Order, parcel.order_id).warehouse_id)
    station = db.session.get(Station, parcel.station_id)
    other, _, _ = packed_parcel(tmp_path, "SO-2", wh=wh, station=station, shade=40, code_suffix="b")
    assert marking_codes(other.order_id) == _expected("SO-2")  # each order its own
    assert marking_codes(parcel.order_id) == _expected()
    rows = _rows(marking_codes_csv(parcel.order_id).encode())
    assert rows[0] == HEADERS
    assert rows[1:] == [[r["gtin"], r["serial"], r["crypto_key"], r["crypto_code"], r["raw"], r["parcel"], r["status"]]
                        for r in _expected()]


def test_api_both_formats(app, db, client, tmp_path):
    parcel, _, _ = packed_parcel(tmp_path)
    boss = db.session.execute(select(User).where(User.username == "boss")).scalar_one()
    shop = f.user("shop", ("integration",))
    packer = db.session.execute(select(User).where(User.username == "packer")).scalar_one()
    db.session.commit()
    order_id = parcel.order_id
    answer = client.get(f"/api/v1/orders/{order_id}/marking-codes", headers=f.token_for(boss))
    assert answer.status_code == 200 and answer.get_json() == _expected()
    answer = client.get(f"/api/v1/orders/{order_id}/marking-codes?format=csv", headers=f.token_for(shop))
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert _rows(answer.data)[0] == HEADERS and len(_rows(answer.data)) == 3
    assert client.get(f"/api/v1/orders/{order_id}/marking-codes", headers=f.token_for(packer)).status_code == 403
    bad = client.get(f"/api/v1/orders/{order_id}/marking-codes?format=xml", headers=f.token_for(boss))
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    missing = client.get("/api/v1/orders/999999/marking-codes", headers=f.token_for(boss))
    assert missing.status_code == 404 and missing.get_json()["type"].endswith("order-not-found")


def test_an_order_without_codes_is_an_empty_list(db):
    wh = f.warehouse()
    order = Order(warehouse_id=wh.id, number="SO-EMPTY")
    db.session.add(order)
    db.session.commit()
    assert marking_codes(order.id) == []
    assert _rows(marking_codes_csv(order.id).encode()) == [HEADERS]


def test_cli_export(app, db, tmp_path):
    parcel, _, _ = packed_parcel(tmp_path)
    runner = app.test_cli_runner()
    out = tmp_path / "codes.csv"
    result = runner.invoke(args=["export", "marking-codes", "--order", "SO-1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _rows(out.read_bytes())[1][1] == "SER0SO-1"
    result = runner.invoke(args=["export", "marking-codes", "--order", str(parcel.order_id), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output) == _expected()
    result = runner.invoke(args=["export", "marking-codes", "--order", "NOPE"])
    assert result.exit_code != 0 and "no order 'NOPE'" in result.output
