"""The warehouse time zone, on both databases: stored moments come back aware UTC; "today", KPI
days, printed acts and pages are in the warehouse's zone; GET answers carry offsets; a bad zone is
refused wherever it is set.

Vladivostok is UTC+10 and Kaliningrad UTC+2 (no summer time in either): 21:30 UTC on 14 May is
07:30 on the 15th in Vladivostok and 23:30 on the 14th in Kaliningrad. (22:30 UTC would already
be 00:30 on the 15th in Kaliningrad.)"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from server.extensions import READ_ONLY_OPTION
from server.extensions import db as _db
from server.models import AuditEntry, Delivery, DeliveryLine, Movement, StationEvent, Warehouse
from server.services import dates
from server.services.kpi import day_window, receiving_kpis
from server.services.layout import LayoutError, parse_spec
from server.services.receiving import receiving_act_data
from server.services.stock import apply_movement
from server.web.receiving import deliveries_to_open
from tests import factories as f
from tests.test_admin import LAYOUT_TOML, _preview
from tests.test_cli import run
from tests.test_pages import csrf_token, sign_in_password

EVENT = datetime(2024, 5, 14, 21, 30, tzinfo=UTC)
MAY_14, MAY_15 = date(2024, 5, 14), date(2024, 5, 15)
OFFSET = re.compile(r"[+-]\d\d:\d\d$")


def zoned(code: str, zone: str) -> Warehouse:
    wh = f.warehouse(code)
    wh.timezone = zone
    _db.session.flush()
    return wh


@pytest.fixture
def two(db):
    """A warehouse in Vladivostok (the first, so pages without one use it) and one in Kaliningrad."""
    return zoned("VVO", "Asia/Vladivostok"), zoned("KGD", "Europe/Kaliningrad")


def closed_delivery(wh, number="D-1", closed=EVENT):
    sku = f.sku(f"SKU-{number}")
    d = Delivery(warehouse_id=wh.id, number=number, supplier="Поставщик", status="closed",
                 opened_at=closed - timedelta(minutes=30), closed_at=closed)
    _db.session.add(d)
    _db.session.flush()
    _db.session.add(DeliveryLine(delivery_id=d.id, line_no=1, sku_id=sku.id, expected_qty=2, received_qty=2))
    _db.session.flush()
    return d


# --- the column type ---------------------------------------------------------------------------------


def test_stored_moments_come_back_aware_utc_and_naive_ones_are_refused(two):
    vvo, _ = two
    local = EVENT.astimezone(dates.warehouse_zone(vvo))
    _db.session.add(AuditEntry(actor="x", action="a", target="t", at=local))
    _db.session.commit()
    _db.session.expire_all()
    stored = _db.session.execute(select(AuditEntry)).scalar_one().at
    assert stored == EVENT and stored.utcoffset() == timedelta(0) and stored.tzinfo is UTC
    # Also when the database hands the value back in its own session zone.
    if _db.engine.dialect.name == "postgresql":
        _db.session.execute(text("SET TIME ZONE 'Asia/Vladivostok'"))
    again = _db.session.execute(select(AuditEntry.at)).scalar_one()
    assert again == EVENT and again.tzinfo is UTC
    _db.session.rollback()

    _db.session.add(AuditEntry(actor="x", action="a", target="t", at=datetime(2024, 5, 14, 21, 30)))
    with pytest.raises(StatementError, match="no time zone"):
        _db.session.flush()
    _db.session.rollback()


# --- the helper ----------------------------------------------------------------------------------------


def test_today_and_day_bounds_in_the_warehouse(two):
    vvo, kgd = two
    assert dates.today_in(vvo, EVENT) == MAY_15 and dates.today_in(kgd, EVENT) == MAY_14
    assert dates.today_in(vvo.id, EVENT) == MAY_15 and dates.today_in(None, EVENT) == MAY_15  # the first
    assert dates.now_in(kgd, EVENT).isoformat() == "2024-05-14T23:30:00+02:00"
    assert dates.day_bounds(MAY_15, vvo) == (datetime(2024, 5, 14, 14, tzinfo=UTC), datetime(2024, 5, 15, 14, tzinfo=UTC))
    assert dates.day_bounds(MAY_14, kgd) == (datetime(2024, 5, 13, 22, tzinfo=UTC), datetime(2024, 5, 14, 22, tzinfo=UTC))
    assert dates.local_time(EVENT, vvo) == "15.05.2024 07:30"
    assert dates.local_time(EVENT, kgd) == "14.05.2024 23:30"
    assert dates.local_time(None, kgd) == ""


def test_a_day_with_a_clock_change_has_its_real_length(db):
    berlin = zoned("BER", "Europe/Berlin")
    start, end = dates.day_bounds(date(2024, 3, 31), berlin)
    assert end - start == timedelta(hours=23)


# --- KPIs ------------------------------------------------------------------------------------------------


def test_kpi_days_are_local_days(two):
    vvo, kgd = two
    closed_delivery(vvo, "V-1")
    closed_delivery(kgd, "K-1")

    def closed_on(wh, day):
        return [d["number"] for d in receiving_kpis(wh.id, *day_window(wh.id, day))["deliveries"]]

    assert closed_on(vvo, MAY_15) == ["V-1"] and closed_on(vvo, MAY_14) == []
    assert closed_on(kgd, MAY_14) == ["K-1"] and closed_on(kgd, MAY_15) == []
    assert closed_on(vvo, MAY_14) == [] and day_window(vvo.id, MAY_14, MAY_15)[1] > EVENT


def test_kpi_api_takes_a_local_day(client, two):
    vvo, kgd = two
    closed_delivery(vvo, "V-1")
    closed_delivery(kgd, "K-1")
    supervisor = f.token_for(f.user("sveta", ("supervisor",)))

    def day(wh, value):
        return client.get(f"/api/v1/kpi/receiving?warehouse_id={wh.id}&day={value}", headers=supervisor)

    body = day(vvo, "2024-05-15").json
    assert [d["number"] for d in body["deliveries"]] == ["V-1"]
    assert body["since"] == "2024-05-14T14:00:00+00:00" and body["until"] == "2024-05-15T14:00:00+00:00"
    assert day(vvo, "2024-05-14").json["deliveries"] == []
    assert [d["number"] for d in day(kgd, "2024-05-14").json["deliveries"]] == ["K-1"]
    assert day(kgd, "2024-05-15").json["deliveries"] == []

    both = client.get(f"/api/v1/kpi/receiving?warehouse_id={vvo.id}&day=2024-05-15&since=2024-05-14T00:00:00Z",
                      headers=supervisor)
    assert both.status_code == 422 and both.mimetype == "application/problem+json" and "day" in both.json["errors"]
    # since and until without an offset are UTC
    naive = client.get(f"/api/v1/kpi/receiving?warehouse_id={kgd.id}&since=2024-05-14T21:00:00"
                       "&until=2024-05-14T22:00:00", headers=supervisor)
    assert naive.status_code == 200 and [d["number"] for d in naive.json["deliveries"]] == ["K-1"]
    assert naive.json["since"] == "2024-05-14T21:00:00+00:00"


# --- today ----------------------------------------------------------------------------------------------


def test_today_is_the_warehouses_today(client, db):
    """Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart: their dates always differ."""
    east, west = zoned("EAST", "Pacific/Kiritimati"), zoned("WEST", "Pacific/Pago_Pago")
    east_today = dates.today_in(east)
    assert dates.today_in(west) == east_today - timedelta(days=1)
    for wh in (east, west):
        _db.session.add(Delivery(warehouse_id=wh.id, number=f"{wh.code}-1", supplier="S", expected_date=east_today))
    _db.session.flush()
    assert [d.number for d in deliveries_to_open(east.id)] == ["EAST-1"]
    assert deliveries_to_open(west.id) == []  # tomorrow there

    f.user("rita", ("receiver",), password="receiver-pass-1")
    db.session.commit()
    sign_in_password(client, "rita", "receiver-pass-1")
    html = client.get("/receiving").get_data(as_text=True)
    today_part, later_part = html.split('id="deliveries-today"')[1].split("</ul>")[0], html.split("</ul>")[1]
    assert "EAST-1" in today_part and "WEST-1" not in today_part and "WEST-1" in later_part


# --- printed and shown -------------------------------------------------------------------------------


def test_the_printed_receiving_act_shows_local_time(two):
    vvo, kgd = two
    assert receiving_act_data(closed_delivery(vvo, "V-1"), "Анна")["date"] == "15.05.2024 07:30"
    assert receiving_act_data(closed_delivery(kgd, "K-1"), "Анна")["date"] == "14.05.2024 23:30"


def test_pages_show_local_time(client, two):
    vvo, kgd = two
    f.user("root", ("admin",), password="admin-pass-1")
    _db.session.add(AuditEntry(actor="root", action="user.create", target="ivan", at=EVENT))
    station, _ = f.station(vvo)
    _db.session.add(StationEvent(event_id="ev-1", station_id=station.id, kind="scan", received_at=EVENT,
                                 outcome={"title": "", "message": "ok", "sound": "ok", "details": []}))
    closed_delivery(vvo, "V-1")
    k1 = closed_delivery(kgd, "K-1")
    _db.session.commit()
    sign_in_password(client, "root", "admin-pass-1")
    assert "2024-05-15 07:30:00" in client.get("/admin/audit").get_data(as_text=True)
    closed = client.get("/receiving").get_data(as_text=True).split('id="deliveries-closed"')[1]
    assert re.search(r'data-delivery="V-1".*?closed 15\.05\.2024 07:30', closed, re.S)
    assert re.search(r'data-delivery="K-1".*?closed 14\.05\.2024 23:30', closed, re.S)
    assert "closed 14.05.2024 23:30" in client.get(f"/receiving/{k1.id}/discrepancies").get_data(as_text=True)
    html = client.get(f"/stations/{station.code}").get_data(as_text=True)
    assert 'datetime="2024-05-14T21:30:00+00:00">07:30:00</time>' in html


def test_station_stream_events_carry_local_time(app, two):
    from server.web.stations import poll

    vvo, _ = two
    station, _ = f.station(vvo)
    _db.session.add(StationEvent(event_id="ev-1", station_id=station.id, kind="scan", received_at=EVENT,
                                 outcome={"title": "", "message": "ok", "sound": "ok", "details": []}))
    zone = dates.warehouse_zone(vvo)
    _db.session.commit()
    engine = _db.engine.execution_options(**{READ_ONLY_OPTION: True})  # as the stream reads
    messages, _ = poll(engine, station.id, 0, {}, [], zone)
    assert '"time":"07:30:00"' in messages[0] and '"received_at":"2024-05-14T21:30:00+00:00"' in messages[0]


# --- GET answers carry offsets -------------------------------------------------------------------------


def test_get_answers_carry_offsets(client, two):
    vvo, _ = two
    d = closed_delivery(vvo, "V-1")
    _, _, (cell, *_), sku = f.stocked_warehouse()
    apply_movement("receive", sku.id, 3, to_cell_id=cell.id, reason="opening stock")
    supervisor = f.token_for(f.user("sveta", ("supervisor",)))
    _db.session.commit()

    wh = client.get(f"/api/v1/warehouses/{vvo.id}", headers=supervisor).json
    assert OFFSET.search(wh["created_at"]) and wh["timezone"] == "Asia/Vladivostok"
    delivery = client.get(f"/api/v1/deliveries/{d.id}", headers=supervisor).json
    assert delivery["closed_at"] == "2024-05-14T21:30:00+00:00"
    assert OFFSET.search(delivery["opened_at"])
    movements = client.get("/api/v1/movements", headers=supervisor).json
    assert movements and all(OFFSET.search(m["created_at"]) for m in movements)

    # `since` without an offset is UTC (no 500, and the same answer as with +00:00)
    first = _db.session.execute(select(Movement.created_at).order_by(Movement.id)).scalars().first()
    naive = (first - timedelta(minutes=1)).replace(tzinfo=None).isoformat()
    since = client.get(f"/api/v1/movements?since={naive}", headers=supervisor)
    assert since.status_code == 200 and len(since.json) == len(movements)
    later = client.get(f"/api/v1/movements?since={(first + timedelta(hours=1)).replace(tzinfo=None).isoformat()}",
                       headers=supervisor)
    assert later.status_code == 200 and later.json == []


# --- a bad time zone is refused -------------------------------------------------------------------------


def test_a_bad_time_zone_is_refused_by_the_api(client, two):
    vvo, _ = two
    supervisor = f.token_for(f.user("sveta", ("supervisor",)))
    _db.session.commit()
    for bad in ("Mars/Olympus", "../etc/passwd", "", " Europe/Moscow"):
        created = client.post("/api/v1/warehouses", json={"code": "X1", "name": "X", "timezone": bad},
                              headers=supervisor)
        assert created.status_code == 422 and created.mimetype == "application/problem+json", bad
        assert "timezone" in created.json["errors"], bad
    patched = client.patch(f"/api/v1/warehouses/{vvo.id}", json={"timezone": "Mars/Olympus"}, headers=supervisor)
    assert patched.status_code == 422 and "IANA" in str(patched.json["errors"]["timezone"])
    good = client.patch(f"/api/v1/warehouses/{vvo.id}", json={"timezone": "Europe/Kaliningrad"}, headers=supervisor)
    assert good.status_code == 200 and good.json["timezone"] == "Europe/Kaliningrad"


def test_a_bad_time_zone_is_refused_in_a_layout_file(app, db, client, tmp_path):
    spec = LAYOUT_TOML.replace("AISLES", "1").replace('code = "T1"', 'code = "T1"\ntimezone = "Mars/Olympus"')
    import tomllib

    with pytest.raises(LayoutError, match="warehouse.timezone: unknown time zone"):
        parse_spec(tomllib.loads(spec))
    assert parse_spec(tomllib.loads(spec.replace("Mars/Olympus", "Asia/Vladivostok"))).warehouse["timezone"] \
        == "Asia/Vladivostok"

    path = tmp_path / "layout.toml"
    path.write_text(spec, encoding="utf-8")
    result = run(app, "layout", "apply", path)
    assert result.exit_code != 0 and "warehouse.timezone: unknown time zone" in result.output

    f.user("root", ("admin",), password="admin-pass-1")
    db.session.commit()
    sign_in_password(client, "root", "admin-pass-1")
    page = _preview(client, spec)
    assert page.status_code == 422 and "warehouse.timezone: unknown time zone" in page.get_data(as_text=True)
    assert db.session.execute(select(Warehouse)).first() is None
    assert csrf_token(client, "/admin/layout")  # the page still works


def test_moments_out_of_range_are_422_not_500(client, two):
    vvo, _ = two
    supervisor = f.token_for(f.user("sveta", ("supervisor",)))
    _db.session.commit()
    for url in (f"/api/v1/kpi/receiving?warehouse_id={vvo.id}&since=0001-01-01T00:00:00%2B05:00",
                f"/api/v1/kpi/receiving?warehouse_id={vvo.id}&until=0001-01-03T00:00:00Z",
                f"/api/v1/kpi/receiving?warehouse_id={vvo.id}&until=9999-12-31T23:00:00-05:00",
                f"/api/v1/kpi/receiving?warehouse_id={vvo.id}&day=0001-01-01",
                f"/api/v1/kpi/receiving?warehouse_id={vvo.id}&day=9999-12-31",
                "/api/v1/movements?since=0001-01-01T00:00:00%2B05:00"):
        answer = client.get(url, headers=supervisor)
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", url
