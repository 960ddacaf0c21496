"""Packing KPIs from rows built directly (sessions, parcels, items and errors with set times), on
both databases; the API GET /api/v1/kpi/packing and the receiving page's KPI section."""

from datetime import UTC, date, datetime, timedelta

import pytest

from server.extensions import db as _db
from server.models import (
    Order,
    OrderLine,
    PackingError,
    PackingSession,
    Parcel,
    ParcelItem,
    StationEvent,
)
from server.services.kpi import day_window, packing_kpis
from tests import factories as f

T0 = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


def packed(wh, number, station, packer, started, labels, units=(1,), boss=None, source=None):
    """An order packed at `station` by `packer`: a session started at `started`, a parcel labelled at
    each of `labels` holding `units[i]` units (its items' inputs from `source`, when given)."""
    sku = f.sku(f"SKU-{number}")
    order = Order(warehouse_id=wh.id, number=number, status="packed")
    _db.session.add(order)
    _db.session.flush()
    line = OrderLine(order_id=order.id, line_no=1, sku_id=sku.id, quantity=sum(units), picked=sum(units))
    _db.session.add(line)
    session = PackingSession(station_id=station.id, order_id=order.id, packer_user_id=packer.id, status="closed",
                             started_at=started, detail={})
    _db.session.add(session)
    _db.session.flush()
    for seq, (label, n) in enumerate(zip(labels, units, strict=True), start=1):
        parcel = Parcel(order_id=order.id, code=f"P-{number}-{seq}", packing_session_id=session.id, seq=seq,
                        packer_user_id=packer.id, station_id=station.id, packed_at=label, status="packed",
                        override_user_id=boss.id if boss else None, override_reason="heavier box" if boss else "")
        _db.session.add(parcel)
        _db.session.flush()
        event_id = None
        if source:
            event_id = f"ev-{number}-{seq}"
            _db.session.add(StationEvent(event_id=event_id, station_id=station.id, user_id=packer.id, kind="scan",
                                         occurred_at=label, received_at=label, source=source))
        _db.session.add(ParcelItem(parcel_id=parcel.id, order_line_id=line.id, sku_id=sku.id, quantity=n,
                                   user_id=packer.id, event_id=event_id, scanned_at=label))
    _db.session.flush()
    return order, session


def error(station, kind, when, order=None, user=None):
    _db.session.add(PackingError(station_id=station.id, order_id=order.id if order else None,
                                 user_id=user.id if user else None, kind=kind, created_at=when, detail={}))


@pytest.fixture
def floor(db):
    """Two packers at PACK-1 and PACK-2, an emulated PACK-9 (one parcel by its agent, one typed on
    its page), errors of each kind of station; another warehouse's parcel."""
    wh, other = f.warehouse("W1"), f.warehouse("W2")
    mia, oleg, boss = f.user("mia", ("packer",)), f.user("oleg", ("packer",)), f.user("boss", ("supervisor",))
    pack1, _ = f.station(wh, "PACK-1", "pack")
    pack2, _ = f.station(wh, "PACK-2", "pack")
    bot, _ = f.station(wh, "PACK-9", "pack")
    bot.emulated = True
    far, _ = f.station(other, "PACK-X", "pack")
    # mia: 2 min for A (2 units), then B in two parcels: 3 min and 1 min more (3 + 1 units).
    a, _ = packed(wh, "A", pack1, mia, at(), [at(minutes=2)], units=(2,))
    packed(wh, "B", pack1, mia, at(minutes=10), [at(minutes=13), at(minutes=14)], units=(3, 1), boss=boss)
    # oleg: 6 min for C at PACK-2.
    packed(wh, "C", pack2, oleg, at(minutes=20), [at(minutes=26)])
    # the emulated station's agent: kept apart; oleg typing on its page: his.
    packed(wh, "D", bot, mia, at(minutes=30), [at(minutes=31)], units=(5,))
    packed(wh, "E", bot, oleg, at(minutes=40), [at(minutes=44)], source="page")
    packed(wh, "OLD", pack1, mia, at(days=-2), [at(days=-2, minutes=3)])  # before the window
    packed(other, "X", far, mia, at(), [at(minutes=1)])  # another warehouse
    error(pack1, "wrong_item", at(minutes=1), a, mia)
    error(pack1, "weight_mismatch", at(minutes=12), user=mia)
    error(pack2, "weight_mismatch", at(minutes=25), user=oleg)
    error(bot, "extra_unit", at(minutes=30, seconds=30), user=mia)
    error(far, "wrong_item", at(minutes=1))
    _db.session.commit()
    return {"wh": wh, "other": other, "bot": bot}


def test_packing_kpis_per_packer_and_station(floor):
    k = packing_kpis(floor["wh"].id, at(hours=-1), at(hours=2))
    # people's: A, B (2 parcels), C, E; 2 + 3 + 1 + 6 + 4 = 16 active minutes
    assert (k["orders"], k["units"], k["parcels"], k["active_minutes"]) == (4, 8, 5, 16.0)
    assert k["orders_per_hour"] == 15.0 and k["units_per_hour"] == 30.0 and k["parcels_per_hour"] == 18.8
    mia, oleg = k["per_packer"]
    assert mia["user"] == "mia" and (mia["orders"], mia["units"], mia["parcels"], mia["active_minutes"]) == \
        (2, 6, 3, 6.0)
    assert mia["orders_per_hour"] == 20.0 and mia["units_per_hour"] == 60.0 and mia["parcels_per_hour"] == 30.0
    assert oleg["user"] == "oleg" and (oleg["orders"], oleg["parcels"], oleg["active_minutes"]) == (2, 2, 10.0)
    stations = {s["station"]: s for s in k["per_station"]}
    assert set(stations) == {"PACK-1", "PACK-2", "PACK-9"}  # PACK-9's parcel typed on its page
    assert stations["PACK-9"]["parcels"] == 1 and stations["PACK-1"]["units"] == 6
    # tote scan to label, seconds: 120, 180, 240, 360, 240 -> median 240, p90 312
    assert k["to_label"] == {"median_seconds": 240.0, "p90_seconds": 312.0}
    assert mia["to_label"] == {"median_seconds": 180.0, "p90_seconds": 228.0}
    assert k["errors_by_kind"] == {"weight_mismatch": 2, "wrong_item": 1} and k["errors"] == 3
    assert k["weight_mismatches"] == 2 and k["overrides"] == 2

    emulated = k["emulated"]
    assert (emulated["parcels"], emulated["units"], emulated["orders"]) == (1, 5, 1)
    assert emulated["per_station"][0]["station"] == "PACK-9" and emulated["per_station"][0]["active_minutes"] == 1.0
    assert emulated["errors_by_kind"] == {"extra_unit": 1} and emulated["weight_mismatches"] == 0


def test_packing_kpis_of_an_empty_window_and_a_local_day(floor):
    empty = packing_kpis(floor["wh"].id, at(days=-1, hours=-1), at(days=-1))
    assert empty["parcels"] == 0 and empty["orders_per_hour"] is None and empty["per_packer"] == []
    assert empty["to_label"] == {"median_seconds": None, "p90_seconds": None} and empty["errors_by_kind"] == {}
    # The local day 14 May holds the window above; 12 May holds OLD.
    day = packing_kpis(floor["wh"].id, *day_window(floor["wh"].id, date(2024, 5, 14)))
    assert day["parcels"] == 5
    old = packing_kpis(floor["wh"].id, *day_window(floor["wh"].id, date(2024, 5, 12)))
    assert old["parcels"] == 1 and old["per_packer"][0]["user"] == "mia"


def test_packing_kpi_api(client, floor):
    supervisor = f.token_for(f.user("sveta", ("supervisor",)))
    packer = f.token_for(f.user("pavel", ("packer",)))
    wh = floor["wh"].id
    url = f"/api/v1/kpi/packing?warehouse_id={wh}&since=2024-05-14T08:00:00Z&until=2024-05-14T11:00:00Z"
    response = client.get(url, headers=supervisor)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["parcels"] == 5 and body["errors_by_kind"] == {"weight_mismatch": 2, "wrong_item": 1}
    assert [r["user"] for r in body["per_packer"]] == ["mia", "oleg"]
    assert body["emulated"]["parcels"] == 1 and body["to_label"]["p90_seconds"] == 312.0
    day = client.get(f"/api/v1/kpi/packing?warehouse_id={wh}&day=2024-05-14", headers=supervisor)
    assert day.status_code == 200 and day.json["parcels"] == 5

    forbidden = client.get(url, headers=packer)
    assert forbidden.status_code == 403 and forbidden.mimetype == "application/problem+json"
    assert client.get(url).status_code == 401
    both = client.get(f"/api/v1/kpi/packing?warehouse_id={wh}&day=2024-05-14&since=2024-05-14T08:00:00Z",
                      headers=supervisor)
    assert both.status_code == 422 and both.mimetype == "application/problem+json"
    backwards = client.get(f"/api/v1/kpi/packing?warehouse_id={wh}&since=2024-05-15T00:00:00Z"
                           "&until=2024-05-14T00:00:00Z", headers=supervisor)
    assert backwards.status_code == 422
    assert client.get("/api/v1/kpi/packing", headers=supervisor).status_code == 422  # two warehouses
    assert client.get("/api/v1/kpi/packing?warehouse_id=999", headers=supervisor).status_code == 404


def test_receiving_page_shows_packing_kpis_and_emulated_packing_apart(client, db):
    from tests.test_pages import sign_in_password

    wh = f.warehouse()
    mia = f.user("mia", ("packer",))
    f.user("olga", ("supervisor",), password="boss-pass-1")
    pack1, _ = f.station(wh, "PACK-1", "pack")
    bot, _ = f.station(wh, "PACK-9", "pack")
    bot.emulated = True
    now = datetime.now(UTC).replace(microsecond=0)
    packed(wh, "A", pack1, mia, now - timedelta(minutes=10), [now - timedelta(minutes=8)], units=(2,))
    packed(wh, "D", bot, mia, now - timedelta(minutes=5), [now - timedelta(minutes=4)], units=(7,))
    error(pack1, "weight_mismatch", now - timedelta(minutes=9), user=mia)
    _db.session.commit()

    sign_in_password(client, "olga", "boss-pass-1")
    html = client.get("/receiving").get_data(as_text=True)
    section = html[html.index('id="packing-kpis"'):]
    people = section[:section.index('id="packing-emulated"')]
    assert "1 parcel packed" in people and "1 weight mismatch" in people
    assert '<td>mia</td><td class="num">30.0</td><td class="num">60.0</td><td class="num">30.0</td>' in people
    assert "weight mismatch 1" in people and "PACK-9" not in people
    assert "Packed at emulated stations: 1 parcel" in section
