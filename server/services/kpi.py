"""Receiving and putaway KPIs for the dashboard, from what was recorded (issue 7); packing KPIs
(issue 14) at the end of the module.

People's work and emulated work are kept apart: a count or a putaway done by a station marked
`emulated` (the demo's, driven by emulators and a script: its agent's inputs, its token's calls)
is the station's work, never a person's, whoever is signed in there. What a person types on that
station's screen or on a handheld using its devices (event source page, handheld) stays theirs.
The figures below count people's work; `emulated` has the same figures per emulated station and
the emulated putaway.

- Time per delivery: `opened_at` to `closed_at` of the deliveries closed in the window; per line:
  that time over the delivery's lines. Its `units` are the units people counted, `emulated_units`
  those counted through emulated stations.
- Counting actions: one per ReceiptCount row (a scan or an entered quantity). Its station is the
  count's, else its station event's; a putaway task's is `done_station_id`, its input `done_event_id`. Its time is the station event that counted it
  (`occurred_at` on the device, else `received_at`), else the count's `created_at`. Counts are
  in the window by `created_at`.
- Time per action: the median of the gaps between a receiver's (or an emulated station's)
  consecutive counting actions. A gap longer than IDLE_GAP is a break (another delivery, lunch),
  not an action: it counts neither in the median nor in active time.
- Active minutes: the sum of a receiver's gaps that are not breaks; units per hour = units over
  active hours.
- Discrepancy rate: lines of the deliveries closed in the window with at least one discrepancy
  row, over all their lines (the goods' figure: whoever counted them).
- Putaway: tasks done in the window, median minutes from creation to done, and the share done
  in another cell than suggested (an override, with its reason).

Days are the warehouse's local days (its time zone): `day_window` gives their UTC bounds.

Delivery sums and line counts are grouped in SQL; counting actions are read one row each (their
times are needed anyway) and summed, medians and time differences taken in Python (the same code
on SQLite and PostgreSQL).
"""

from datetime import UTC, date, datetime, timedelta
from statistics import median

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from server.extensions import db
from server.models import (
    Delivery,
    DeliveryLine,
    DeliveryStatus,
    Discrepancy,
    PutawayStatus,
    PutawayTask,
    ReceiptCount,
    Station,
    StationEvent,
    User,
)
from server.services import dates

IDLE_GAP = timedelta(minutes=5)
CLOSED = (DeliveryStatus.closed, DeliveryStatus.accepted)


def _utc(value: datetime) -> datetime:
    """A caller's aware bound in UTC (stored times come back aware UTC already)."""
    return value.astimezone(UTC)


def day_window(warehouse_id: int, first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """[start of `first`, end of `last`) in UTC: whole local days of the warehouse (`last`: `first`)."""
    return dates.day_bounds(first, warehouse_id)[0], dates.day_bounds(last or first, warehouse_id)[1]


def recent_days(warehouse_id: int, days: int = 7) -> tuple[datetime, datetime]:
    """From the start of the local day `days - 1` days before today to now (today counts)."""
    today = dates.today_in(warehouse_id)
    return day_window(warehouse_id, today - timedelta(days=days - 1))[0], datetime.now(UTC)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _deliveries(warehouse_id: int, since: datetime, until: datetime) -> list[dict]:
    lines = (select(DeliveryLine.delivery_id, func.count().label("n"))
             .group_by(DeliveryLine.delivery_id).subquery())
    emulated = _emulated()
    units = (select(ReceiptCount.delivery_id,
                    func.sum(case((emulated, 0), else_=ReceiptCount.quantity)).label("people"),
                    func.sum(case((emulated, ReceiptCount.quantity), else_=0)).label("emulated"))
             .select_from(ReceiptCount)
             .outerjoin(StationEvent, StationEvent.event_id == ReceiptCount.event_id)
             .group_by(ReceiptCount.delivery_id).subquery())
    rows = db.session.execute(
        select(Delivery.id, Delivery.number, Delivery.opened_at, Delivery.closed_at,
               func.coalesce(lines.c.n, 0), func.coalesce(units.c.people, 0), func.coalesce(units.c.emulated, 0))
        .outerjoin(lines, lines.c.delivery_id == Delivery.id)
        .outerjoin(units, units.c.delivery_id == Delivery.id)
        .where(Delivery.warehouse_id == warehouse_id, Delivery.status.in_(CLOSED),
               Delivery.closed_at >= since, Delivery.closed_at < until)
        .order_by(Delivery.closed_at, Delivery.id)
    ).all()
    out = []
    for _, number, opened_at, closed_at, n_lines, n_units, n_emulated in rows:
        seconds = (closed_at - opened_at).total_seconds() if opened_at and closed_at else None
        out.append({
            "number": number, "opened_at": opened_at, "closed_at": closed_at,
            "minutes": _round(seconds / 60 if seconds is not None else None),
            "lines": int(n_lines), "units": int(n_units), "emulated_units": int(n_emulated),
            "seconds_per_line": _round(seconds / n_lines if seconds is not None and n_lines else None),
        })
    return out


def _discrepancies(warehouse_id: int, since: datetime, until: datetime) -> tuple[int, int]:
    """(lines closed in the window, those with a discrepancy)."""
    closed = (select(Delivery.id).where(Delivery.warehouse_id == warehouse_id, Delivery.status.in_(CLOSED),
                                        Delivery.closed_at >= since, Delivery.closed_at < until))
    flagged = select(Discrepancy.line_id).where(Discrepancy.line_id == DeliveryLine.id).exists()
    total, with_discrepancy = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((flagged, 1), else_=0)), 0))
        .select_from(DeliveryLine).where(DeliveryLine.delivery_id.in_(closed))
    ).one()
    return int(total), int(with_discrepancy)


# Inputs a person typed or scanned on a page (a station's screen, a handheld): a person's work,
# even at an emulated station.
BY_HAND = ("page", "handheld")


def _emulated_work(station_id, source):
    """True for work done through an emulated station by the station itself (its agent, its
    token), not typed on a page or a handheld there; `source` is its station event's, None if none."""
    return and_(station_id.in_(select(Station.id).where(Station.emulated.is_(True))),
                or_(source.is_(None), source.not_in(BY_HAND)))


def _emulated():
    """_emulated_work for a count (its own station, else its event's); the query must outer-join
    StationEvent on the count's event_id."""
    return _emulated_work(func.coalesce(ReceiptCount.station_id, StationEvent.station_id), StationEvent.source)


def _figures(units: int, actions: int, stamps: list[datetime]) -> tuple[dict, list[float]]:
    """Units, actions, active minutes, units per hour and seconds per action of one worker's (or
    one emulated station's) counting actions at `stamps`; and the gaps that are not breaks."""
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    gaps = [g for g in gaps if g <= IDLE_GAP.total_seconds()]
    active = sum(gaps)
    return {
        "units": units, "actions": actions, "active_minutes": _round(active / 60),
        "units_per_hour": _round(units * 3600 / active if active else None),
        "seconds_per_action": _round(median(gaps) if gaps else None),
    }, gaps


def _counting(warehouse_id: int, since: datetime, until: datetime) -> tuple[list[dict], list[float], list[dict]]:
    """(per receiver, the receivers' gaps, per emulated station). A count through an emulated
    station is that station's, never the signed-in worker's."""
    # The actions in order: the event's device time where there is one.
    at = func.coalesce(StationEvent.occurred_at, StationEvent.received_at, ReceiptCount.created_at)
    station_id = func.coalesce(ReceiptCount.station_id, StationEvent.station_id)
    rows = db.session.execute(
        select(ReceiptCount.user_id, User.username, Station.id, Station.code,
               case((_emulated(), True), else_=False), ReceiptCount.quantity, at)
        .select_from(ReceiptCount)
        .join(Delivery, Delivery.id == ReceiptCount.delivery_id)
        .outerjoin(StationEvent, StationEvent.event_id == ReceiptCount.event_id)
        .outerjoin(User, User.id == ReceiptCount.user_id)
        .outerjoin(Station, Station.id == station_id)
        .where(Delivery.warehouse_id == warehouse_id, ReceiptCount.created_at >= since,
               ReceiptCount.created_at < until)
        .order_by(at, ReceiptCount.id)
    ).all()
    people: dict[int, dict] = {}
    bots: dict[int, dict] = {}
    for user_id, username, sid, code, emulated, quantity, when in rows:
        if emulated:
            who = bots.setdefault(sid, {"station": code, "station_id": sid, "units": 0, "stamps": [], "users": set()})
            if username:
                who["users"].add(username)
        elif user_id is not None:
            who = people.setdefault(user_id, {"user": username, "user_id": user_id, "units": 0, "stamps": []})
        else:
            continue  # nobody's: neither a person's work nor a station's
        who["units"] += int(quantity or 0)
        who["stamps"].append(when)

    per_receiver, all_gaps = [], []
    for who in sorted(people.values(), key=lambda w: w["user"]):
        figures, gaps = _figures(who["units"], len(who["stamps"]), who["stamps"])
        all_gaps += gaps
        per_receiver.append({"user": who["user"], "user_id": who["user_id"], **figures})
    per_station = []
    for who in sorted(bots.values(), key=lambda w: w["station"]):
        figures, _ = _figures(who["units"], len(who["stamps"]), who["stamps"])
        per_station.append({"station": who["station"], "station_id": who["station_id"], **figures,
                            "signed_in": sorted(who["users"])})
    return per_receiver, all_gaps, per_station


def _putaway(warehouse_id: int, since: datetime, until: datetime, emulated: bool) -> dict:
    """People's putaway, or (`emulated`) that done by emulated stations."""
    event = aliased(StationEvent)
    by_station = _emulated_work(PutawayTask.done_station_id, event.source)
    overridden = or_(PutawayTask.override_reason.is_not(None),
                     and_(PutawayTask.suggested_cell_id.is_not(None),
                          PutawayTask.done_cell_id != PutawayTask.suggested_cell_id))
    rows = db.session.execute(
        select(PutawayTask.created_at, PutawayTask.done_at, overridden)
        .outerjoin(event, event.event_id == PutawayTask.done_event_id)
        .where(PutawayTask.warehouse_id == warehouse_id, PutawayTask.status == PutawayStatus.done,
               PutawayTask.done_at >= since, PutawayTask.done_at < until,
               by_station if emulated else ~func.coalesce(by_station, False))
    ).all()
    minutes = [(done - created).total_seconds() / 60 for created, done, _ in rows]
    overrides = sum(1 for *_, flag in rows if flag)
    return {
        "tasks_done": len(rows),
        "median_minutes": _round(median(minutes) if minutes else None),
        "overrides": overrides,
        "override_rate": _round(overrides / len(rows), 4) if rows else None,
    }


def receiving_kpis(warehouse_id: int, since: datetime, until: datetime) -> dict:
    """KPIs of receiving and putaway in a warehouse for [since, until): people's work, and apart
    from it (`emulated`) the work of emulated stations."""
    since, until = _utc(since), _utc(until)
    lines_closed, lines_with_discrepancy = _discrepancies(warehouse_id, since, until)
    receivers, gaps, stations = _counting(warehouse_id, since, until)
    return {
        "warehouse_id": warehouse_id,
        "since": since,
        "until": until,
        "deliveries": _deliveries(warehouse_id, since, until),
        "per_receiver": receivers,
        "lines_closed": lines_closed,
        "lines_with_discrepancy": lines_with_discrepancy,
        "discrepancy_rate": _round(lines_with_discrepancy / lines_closed, 4) if lines_closed else None,
        "seconds_per_action": _round(median(gaps) if gaps else None),
        "putaway": _putaway(warehouse_id, since, until, emulated=False),
        "emulated": {"per_station": stations, "putaway": _putaway(warehouse_id, since, until, emulated=True)},
    }


# --- packing (issue 14) ----------------------------------------------------------------------------
#
# Parcels packed in the window (`packed_at`), of the warehouse's orders. A parcel is an emulated
# station's work when its station is emulated and none of its units was scanned on a page or a
# handheld there (its items' station events); else its packer's. A packing error (weight
# mismatches among them) records no input: one at an emulated station is that station's.
#
# - Packing time of a parcel: from its session's start (the tote scan) for the session's first
#   parcel, else from the previous parcel's label, to its label (`packed_at`). Active hours: the
#   sum of a packer's (or station's) packing times; orders, units and parcels per hour over them.
# - Tote scan to label: `packed_at - PackingSession.started_at` of each parcel (a later parcel of
#   a session includes the earlier ones): median and p90 (linear between ranks) in seconds.
# - Weight mismatches: the `weight_mismatch` errors, and the parcels labelled after a supervisor's
#   override.


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * share
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _packed_parcels(warehouse_id: int, since: datetime, until: datetime) -> list[dict]:
    from server.models import Order, PackingSession, Parcel, ParcelItem

    units = (select(ParcelItem.parcel_id, func.sum(ParcelItem.quantity).label("n"))
             .group_by(ParcelItem.parcel_id).subquery())
    by_hand = (select(ParcelItem.id).join(StationEvent, StationEvent.event_id == ParcelItem.event_id)
               .where(ParcelItem.parcel_id == Parcel.id, StationEvent.source.in_(BY_HAND)).exists())
    rows = db.session.execute(
        select(Parcel.id, Parcel.order_id, Parcel.packing_session_id, Parcel.packer_user_id, User.username,
               Parcel.station_id, Station.code, func.coalesce(Station.emulated, False), by_hand,
               func.coalesce(units.c.n, 0), Parcel.packed_at, PackingSession.started_at,
               Parcel.override_user_id)
        .join(Order, Order.id == Parcel.order_id)
        .outerjoin(units, units.c.parcel_id == Parcel.id)
        .outerjoin(PackingSession, PackingSession.id == Parcel.packing_session_id)
        .outerjoin(User, User.id == Parcel.packer_user_id)
        .outerjoin(Station, Station.id == Parcel.station_id)
        .where(Order.warehouse_id == warehouse_id, Parcel.status == "packed", Parcel.packed_at >= since,
               Parcel.packed_at < until)
        .order_by(Parcel.packed_at, Parcel.id)
    ).all()
    out, last_label = [], {}
    for (pid, order_id, session_id, user_id, username, station_id, code, emulated, hand, n, packed_at, started_at,
         overridden) in rows:
        start = last_label.get(session_id, started_at) if session_id else None
        if session_id:
            last_label[session_id] = packed_at
        out.append({
            "id": pid, "order_id": order_id, "user_id": user_id, "user": username, "station_id": station_id,
            "station": code, "emulated": bool(emulated) and not hand, "units": int(n), "overridden": bool(overridden),
            "seconds": max((packed_at - start).total_seconds(), 0.0) if start else None,
            "to_label": max((packed_at - started_at).total_seconds(), 0.0) if started_at else None,
        })
    return out


def _rates(parcels: list[dict]) -> dict:
    seconds = sum(p["seconds"] or 0 for p in parcels)
    hours = seconds / 3600
    orders = len({p["order_id"] for p in parcels})
    units = sum(p["units"] for p in parcels)

    def per_hour(n: int) -> float | None:
        return _round(n / hours) if hours else None

    return {"orders": orders, "units": units, "parcels": len(parcels), "active_minutes": _round(seconds / 60),
            "orders_per_hour": per_hour(orders), "units_per_hour": per_hour(units),
            "parcels_per_hour": per_hour(len(parcels))}


def _to_label(parcels: list[dict]) -> dict:
    times = [p["to_label"] for p in parcels if p["to_label"] is not None]
    return {"median_seconds": _round(median(times) if times else None),
            "p90_seconds": _round(_percentile(times, 0.9))}


def _grouped(parcels: list[dict], key: str, name: str) -> list[dict]:
    groups: dict[int, list[dict]] = {}
    for p in parcels:
        if p[key] is not None:
            groups.setdefault(p[key], []).append(p)
    rows = [{name: ps[0][name], key: ident, **_rates(ps), "to_label": _to_label(ps)} for ident, ps in groups.items()]
    return sorted(rows, key=lambda r: (r[name] or "", r[key]))


def _packing_errors(warehouse_id: int, since: datetime, until: datetime) -> tuple[dict, dict]:
    """(people's errors by kind, emulated stations' errors by kind), of the window by `created_at`."""
    from server.models import Order, PackingError

    station = aliased(Station)
    emulated = case((station.emulated.is_(True), 1), else_=0).label("emulated")
    rows = db.session.execute(
        select(PackingError.kind, emulated, func.count())
        .outerjoin(station, station.id == PackingError.station_id)
        .outerjoin(Order, Order.id == PackingError.order_id)
        .where(or_(Order.warehouse_id == warehouse_id, station.warehouse_id == warehouse_id),
               PackingError.created_at >= since, PackingError.created_at < until)
        .group_by(PackingError.kind, emulated)
    ).all()
    people: dict[str, int] = {}
    bots: dict[str, int] = {}
    for kind, emulated, n in rows:
        target = bots if emulated else people
        target[kind] = target.get(kind, 0) + int(n)
    return dict(sorted(people.items())), dict(sorted(bots.items()))


def _packing_figures(parcels: list[dict], errors: dict) -> dict:
    return {**_rates(parcels), "to_label": _to_label(parcels), "errors_by_kind": errors,
            "errors": sum(errors.values()),
            "weight_mismatches": errors.get("weight_mismatch", 0),
            "overrides": sum(1 for p in parcels if p["overridden"])}


def packing_kpis(warehouse_id: int, since: datetime, until: datetime) -> dict:
    """KPIs of packing in a warehouse for [since, until): people's work (totals, per packer, per
    station), and apart from it (`emulated`) the work of emulated stations."""
    since, until = _utc(since), _utc(until)
    parcels = _packed_parcels(warehouse_id, since, until)
    people = [p for p in parcels if not p["emulated"]]
    bots = [p for p in parcels if p["emulated"]]
    errors, emulated_errors = _packing_errors(warehouse_id, since, until)
    return {
        "warehouse_id": warehouse_id, "since": since, "until": until,
        **_packing_figures(people, errors),
        "per_packer": _grouped(people, "user_id", "user"),
        "per_station": _grouped(people, "station_id", "station"),
        "emulated": {**_packing_figures(bots, emulated_errors), "per_station": _grouped(bots, "station_id", "station")},
    }
