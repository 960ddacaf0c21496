"""Receiving and putaway KPIs from rows built directly (counts and events with set times), on both
databases, and the API GET /api/v1/kpi/receiving."""

from datetime import UTC, datetime, timedelta

import pytest

from server.extensions import db as _db
from server.models import (
    Cell,
    Delivery,
    DeliveryLine,
    Discrepancy,
    PutawayTask,
    ReceiptCount,
    ReceivingQuestion,
    StationEvent,
)
from server.services.kpi import receiving_kpis
from tests import factories as f

T0 = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


def delivery(wh, number, opened, closed, expected, status="closed"):
    d = Delivery(warehouse_id=wh.id, number=number, status=status, opened_at=opened, closed_at=closed)
    _db.session.add(d)
    _db.session.flush()
    for n, (sku, qty) in enumerate(expected, 1):
        _db.session.add(DeliveryLine(delivery_id=d.id, line_no=n, sku_id=sku.id, expected_qty=qty))
    _db.session.flush()
    return d


def count(d, line_no, user, created, quantity=1, station=None, occurred=None, at_station=None, source="agent"):
    """A counting action; with `occurred`, through a station event (from `source`) that happened
    then; with `at_station`, the count's own station."""
    line = next(x for x in d.lines if x.line_no == line_no)
    event_id = None
    if occurred is not None:
        event_id = f"ev-{d.number}-{created.timestamp()}-{user.id}"
        _db.session.add(StationEvent(event_id=event_id, station_id=station.id if station else None, user_id=user.id,
                                     kind="scan", occurred_at=occurred, received_at=created, source=source))
    _db.session.add(ReceiptCount(delivery_id=d.id, line_id=line.id, sku_id=line.sku_id, quantity=quantity,
                                 user_id=user.id, event_id=event_id, created_at=created,
                                 station_id=at_station.id if at_station else None))


@pytest.fixture
def floor(db):
    """Two warehouses; deliveries closed in and out of the window; two receivers; putaway tasks."""
    wh, other = f.warehouse("W1"), f.warehouse("W2")
    z = f.zone(wh, "R", kind="receiving")
    c1, c2, c3 = f.cell(z, "R-1"), f.cell(z, "S-1"), f.cell(z, "S-2")
    tea, cup, pen = f.sku("TEA"), f.sku("CUP"), f.sku("PEN")
    anna = f.user("anna", ("receiver",))
    boris = f.user("boris", ("receiver",))
    station, _ = f.station(wh)

    a = delivery(wh, "A", at(), at(minutes=30), [(tea, 10), (cup, 5), (pen, 4)])
    b = delivery(wh, "B", at(hours=1), at(hours=1, minutes=20), [(tea, 3), (cup, 2)], status="accepted")
    c = delivery(wh, "C", at(hours=-2), at(hours=-1), [(tea, 1)])  # closed before the window
    d = delivery(wh, "D", at(minutes=19), None, [(pen, 9)], status="receiving")  # still counting
    x = delivery(other, "X", at(), at(minutes=5), [(tea, 1)])  # another warehouse
    _db.session.refresh(a), _db.session.refresh(b), _db.session.refresh(c), _db.session.refresh(d)
    _db.session.refresh(x)

    # anna: gaps 10, 20, 30 s, a break of 18 min, then 15 s. The third count reached the server
    # 4 s late: its event's device time counts.
    count(a, 1, anna, at(minutes=1), station=station, occurred=at(minutes=1))
    count(a, 1, anna, at(minutes=1, seconds=10))
    count(a, 2, anna, at(minutes=1, seconds=34), quantity=5, station=station, occurred=at(minutes=1, seconds=30))
    count(a, 1, anna, at(minutes=2), quantity=-1)  # a correction is an action too
    count(d, 1, anna, at(minutes=20), quantity=2)
    count(d, 1, anna, at(minutes=20, seconds=15))
    count(c, 1, anna, at(minutes=-10))  # before the window
    count(x, 1, anna, at(minutes=3))  # another warehouse
    # boris: one gap of 40 s
    count(b, 1, boris, at(hours=1, minutes=1), quantity=3)
    count(b, 2, boris, at(hours=1, minutes=1, seconds=40), quantity=2)

    # A's line 2 is short and damaged: one line with a discrepancy; an unknown barcode is no line.
    cup_line = next(x for x in a.lines if x.line_no == 2)
    q = ReceivingQuestion(delivery_id=a.id, barcode="999", created_at=at(minutes=5))
    _db.session.add(q)
    _db.session.flush()
    _db.session.add_all([
        Discrepancy(delivery_id=a.id, line_id=cup_line.id, sku_id=cup.id, kind="short", quantity=1),
        Discrepancy(delivery_id=a.id, line_id=cup_line.id, sku_id=cup.id, kind="damaged", quantity=1),
        Discrepancy(delivery_id=a.id, question_id=q.id, kind="unknown", quantity=2),
        Discrepancy(delivery_id=c.id, line_id=c.lines[0].id, sku_id=tea.id, kind="short", quantity=1),
    ])

    def task(created, done=None, suggested=None, done_cell=None, reason=None, warehouse=wh):
        _db.session.add(PutawayTask(
            warehouse_id=warehouse.id, delivery_id=a.id, sku_id=tea.id, quantity=1, from_cell_id=c1.id,
            suggested_cell_id=suggested and suggested.id, done_cell_id=done_cell and done_cell.id,
            override_reason=reason, status="done" if done else "open", created_at=created, done_at=done))

    task(at(minutes=40), at(minutes=50), c2, c2)  # 10 min, as suggested
    task(at(minutes=40), at(minutes=70), c2, c3, "full")  # 30 min, another cell
    task(at(minutes=45), at(minutes=47), None, c3)  # 2 min, nothing suggested
    task(at(minutes=45))  # open
    task(at(hours=-3), at(hours=-2), c2, c3, "full")  # done before the window
    task(at(minutes=1), at(minutes=2), c2, c3, "full", warehouse=other)
    _db.session.commit()
    return {"wh": wh, "other": other, "anna": anna, "boris": boris}


def test_receiving_and_putaway_kpis(floor):
    k = receiving_kpis(floor["wh"].id, T0, T0 + timedelta(days=1))
    assert k["deliveries"] == [
        {"number": "A", "opened_at": at(), "closed_at": at(minutes=30), "minutes": 30.0, "lines": 3, "units": 6,
         "emulated_units": 0, "seconds_per_line": 600.0},
        {"number": "B", "opened_at": at(hours=1), "closed_at": at(hours=1, minutes=20), "minutes": 20.0, "lines": 2,
         "units": 5, "emulated_units": 0, "seconds_per_line": 600.0},
    ]
    anna, boris = k["per_receiver"]
    # anna: 1+1+5-1+2+1 units in 6 actions; gaps 10, 20, 30, 15 s (the 18-minute break is not work)
    assert anna == {"user": "anna", "user_id": floor["anna"].id, "units": 9, "actions": 6, "active_minutes": 1.2,
                    "units_per_hour": 432.0, "seconds_per_action": 17.5}
    assert boris == {"user": "boris", "user_id": floor["boris"].id, "units": 5, "actions": 2,
                     "active_minutes": 0.7, "units_per_hour": 450.0, "seconds_per_action": 40.0}
    assert (k["lines_closed"], k["lines_with_discrepancy"], k["discrepancy_rate"]) == (5, 1, 0.2)
    assert k["seconds_per_action"] == 20.0  # median of 10, 15, 20, 30, 40
    assert k["putaway"] == {"tasks_done": 3, "median_minutes": 10.0, "overrides": 1, "override_rate": 0.3333}
    assert k["emulated"] == {"per_station": [], "putaway": {"tasks_done": 0, "median_minutes": None, "overrides": 0,
                                                            "override_rate": None}}


def test_window_edges_and_an_empty_window(floor):
    # since is inclusive, until exclusive: A closed at 09:30 is out of [09:31, 10:20), B closed at 10:20 too
    assert [d["number"] for d in receiving_kpis(floor["wh"].id, at(minutes=31), at(hours=1, minutes=20))[
        "deliveries"]] == []
    k = receiving_kpis(floor["wh"].id, at(minutes=31), at(hours=2))
    assert [d["number"] for d in k["deliveries"]] == ["B"]
    assert [(r["user"], r["actions"]) for r in k["per_receiver"]] == [("boris", 2)]
    assert (k["lines_closed"], k["lines_with_discrepancy"]) == (2, 0) and k["discrepancy_rate"] == 0.0
    assert k["putaway"]["tasks_done"] == 3  # done at 09:47, 09:50 and 10:10
    empty = receiving_kpis(floor["wh"].id, at(days=5), at(days=6))
    assert empty["deliveries"] == [] and empty["per_receiver"] == []
    assert empty["discrepancy_rate"] is None and empty["seconds_per_action"] is None
    assert empty["putaway"] == {"tasks_done": 0, "median_minutes": None, "overrides": 0, "override_rate": None}


def test_kpi_api(client, floor):
    supervisor = f.token_for(f.user("sveta", ("supervisor",)))
    picker = f.token_for(f.user("pavel", ("picker",)))
    wh = floor["wh"].id
    # 12:00 in Moscow is 09:00 UTC
    url = f"/api/v1/kpi/receiving?warehouse_id={wh}&since=2024-05-14T12:00:00%2B03:00&until=2024-05-15T09:00:00Z"
    response = client.get(url, headers=supervisor)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["deliveries"][0] == {"number": "A", "opened_at": "2024-05-14T09:00:00+00:00",
                                     "closed_at": "2024-05-14T09:30:00+00:00", "minutes": 30.0, "lines": 3,
                                     "units": 6, "emulated_units": 0, "seconds_per_line": 600.0}
    assert [r["units_per_hour"] for r in body["per_receiver"]] == [432.0, 450.0]
    assert body["discrepancy_rate"] == 0.2 and body["putaway"]["override_rate"] == 0.3333

    forbidden = client.get(url, headers=picker)
    assert forbidden.status_code == 403 and forbidden.mimetype == "application/problem+json"
    assert client.get(url).status_code == 401
    missing = client.get("/api/v1/kpi/receiving?warehouse_id=999", headers=supervisor)
    assert missing.status_code == 404 and missing.json["type"].endswith(":not-found")
    backwards = client.get(f"/api/v1/kpi/receiving?warehouse_id={wh}&since=2024-05-15T00:00:00Z"
                           "&until=2024-05-14T00:00:00Z", headers=supervisor)
    assert backwards.status_code == 422 and backwards.mimetype == "application/problem+json"
    which = client.get("/api/v1/kpi/receiving", headers=supervisor)  # two warehouses: say which
    assert which.status_code == 422 and "warehouse_id" in which.json["errors"]


def emulated_station(wh, code="DOCK-9"):
    bot, _ = f.station(wh, code)
    bot.emulated = True
    _db.session.commit()
    return bot


def test_emulated_work_is_kept_apart_from_people(floor):
    """A demo's emulated dock scanning fast under anna's badge: none of it is anna's, all of it is
    shown apart, per emulated station."""
    wh, anna = floor["wh"], floor["anna"]
    bot = emulated_station(wh)
    a = _db.session.execute(_db.select(Delivery).filter_by(number="A")).scalar_one()
    b = _db.session.execute(_db.select(Delivery).filter_by(number="B")).scalar_one()
    e = delivery(wh, "E", at(hours=2), at(hours=2, minutes=10), [(a.lines[0].sku, 130)])
    _db.session.refresh(e)
    for n in range(4):  # 4 scans 2 s apart: 130 units (a bot's pace)
        count(e, 1, anna, at(hours=2, seconds=2 * n), quantity=40 if n < 3 else 10, at_station=bot)
    # The station only on the event (an older count row): still the station's.
    count(a, 1, anna, at(minutes=3), quantity=2, station=bot, occurred=at(minutes=3))
    # boris typing on the emulated station's screen, and on a handheld using its printer: his own work.
    count(b, 1, floor["boris"], at(hours=1, minutes=1, seconds=10), station=bot, at_station=bot,
          occurred=at(hours=1, minutes=1, seconds=10), source="page")
    count(b, 1, floor["boris"], at(hours=1, minutes=1, seconds=20), station=bot, at_station=bot,
          occurred=at(hours=1, minutes=1, seconds=20), source="handheld")
    cell = _db.session.execute(_db.select(Cell.id).filter_by(address="R-1")).scalar_one()
    _db.session.add(StationEvent(event_id="ev-putaway-by-hand", station_id=bot.id, kind="scan", source="handheld",
                                 received_at=at(hours=2, minutes=13)))

    def task(minute, event_id=None):
        _db.session.add(PutawayTask(
            warehouse_id=wh.id, delivery_id=e.id, sku_id=e.lines[0].sku_id, quantity=65, from_cell_id=cell,
            status="done", created_at=at(hours=2, minutes=11), done_at=at(hours=2, minutes=minute),
            done_station_id=bot.id, done_event_id=event_id))

    task(12, "ev-by-the-bot")  # its agent's scan (no event row kept here): the station's
    task(13, "ev-putaway-by-hand")  # a person's handheld using the station's devices: the person's
    _db.session.commit()

    k = receiving_kpis(wh.id, T0, T0 + timedelta(days=1))
    anna_figures, boris_figures = k["per_receiver"]
    assert anna_figures == {"user": "anna", "user_id": anna.id, "units": 9, "actions": 6, "active_minutes": 1.2,
                            "units_per_hour": 432.0, "seconds_per_action": 17.5}  # as without the bot
    # boris: 3 + 2 units, and 1 + 1 he typed at the emulated station; gaps 10, 10, 20 s
    assert boris_figures == {"user": "boris", "user_id": floor["boris"].id, "units": 7, "actions": 4,
                             "active_minutes": 0.7, "units_per_hour": 630.0, "seconds_per_action": 10.0}
    assert k["seconds_per_action"] == 15.0  # median of anna's 10, 15, 20, 30 and boris's 10, 10, 20
    assert k["putaway"]["tasks_done"] == 4
    assert {d["number"]: (d["units"], d["emulated_units"]) for d in k["deliveries"]} == {
        "A": (6, 2), "B": (7, 0), "E": (0, 130)}
    assert k["emulated"]["per_station"] == [
        {"station": "DOCK-9", "station_id": bot.id, "units": 132, "actions": 5, "active_minutes": 0.1,
         "units_per_hour": 79200.0, "seconds_per_action": 2.0, "signed_in": ["anna"]}]
    assert k["emulated"]["putaway"] == {"tasks_done": 1, "median_minutes": 1.0, "overrides": 0, "override_rate": 0.0}


def test_kpi_api_shows_emulated_work_apart(client, floor):
    bot = emulated_station(floor["wh"])
    a = _db.session.execute(_db.select(Delivery).filter_by(number="A")).scalar_one()
    count(a, 1, floor["anna"], at(minutes=4), quantity=50, at_station=bot)
    _db.session.commit()
    supervisor = f.token_for(f.user("sveta", ("supervisor",)))
    body = client.get(f"/api/v1/kpi/receiving?warehouse_id={floor['wh'].id}&since=2024-05-14T09:00:00Z"
                      "&until=2024-05-15T09:00:00Z", headers=supervisor).json
    assert [(r["user"], r["units"]) for r in body["per_receiver"]] == [("anna", 9), ("boris", 5)]
    assert body["deliveries"][0]["emulated_units"] == 50
    assert [(s["station"], s["units"], s["signed_in"]) for s in body["emulated"]["per_station"]] == [
        ("DOCK-9", 50, ["anna"])]


def test_receiving_page_labels_emulated_work(client, db):
    from tests.test_pages import post, sign_in_password

    wh = f.warehouse()
    tea = f.sku("TEA")
    ivan = f.user("ivan", ("receiver",))
    f.user("olga", ("supervisor",), password="boss-pass-1")
    bot = emulated_station(wh)
    now = datetime.now(UTC)
    d = delivery(wh, "ASN-DEMO", now - timedelta(hours=2), now - timedelta(hours=1), [(tea, 9)])
    _db.session.refresh(d)
    count(d, 1, ivan, now - timedelta(hours=1, minutes=30), quantity=3)
    count(d, 1, ivan, now - timedelta(hours=1, minutes=29), quantity=130, at_station=bot)
    _db.session.commit()

    sign_in_password(client, "olga", "boss-pass-1")
    html = client.get("/receiving").get_data(as_text=True)
    people = html[html.index('id="receiving-kpis"'):html.index('id="emulated-kpis"')]
    emulated = html[html.index('id="emulated-kpis"'):]
    assert '<td>ivan</td><td class="num">3</td>' in people and "130" not in people
    assert 'class="emulated">emulated</span>' in emulated
    assert '<td>DOCK-9</td><td class="num">130</td><td class="num">1</td><td>ivan</td>' in emulated
    post(client, "/language", {"language": "ru"}, token_from="/")
    html = client.get("/receiving").get_data(as_text=True)
    assert "Демо-станции" in html and 'class="emulated">демо</span>' in html
