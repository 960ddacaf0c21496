"""Receiving and putaway KPIs for the dashboard, from what was recorded (issue 7).

- Time per delivery: `opened_at` to `closed_at` of the deliveries closed in the window; per line:
  that time over the delivery's lines.
- Counting actions: one per ReceiptCount row (a scan or an entered quantity). Its time is the
  station event that counted it (`occurred_at` on the device, else `received_at`), else the
  count's `created_at`. Counts are in the window by `created_at`.
- Time per action: the median of the gaps between a receiver's consecutive counting actions.
  A gap longer than IDLE_GAP is a break (another delivery, lunch), not an action: it counts
  neither in the median nor in active time.
- Active minutes: the sum of a receiver's gaps that are not breaks; units per hour = units over
  active hours.
- Discrepancy rate: lines of the deliveries closed in the window with at least one discrepancy
  row, over all their lines.
- Putaway: tasks done in the window, median minutes from creation to done, and the share done
  in another cell than suggested (an override, with its reason).

Days are the warehouse's local days (its time zone): `day_window` gives their UTC bounds.

Sums and counts are grouped in SQL; medians and time differences are taken in Python (the
same code on SQLite and PostgreSQL).
"""

from datetime import UTC, date, datetime, timedelta
from statistics import median

from sqlalchemy import and_, case, func, or_, select

from server.extensions import db
from server.models import (
    Delivery,
    DeliveryLine,
    DeliveryStatus,
    Discrepancy,
    PutawayStatus,
    PutawayTask,
    ReceiptCount,
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
    units = (select(ReceiptCount.delivery_id, func.sum(ReceiptCount.quantity).label("n"))
             .group_by(ReceiptCount.delivery_id).subquery())
    rows = db.session.execute(
        select(Delivery.id, Delivery.number, Delivery.opened_at, Delivery.closed_at,
               func.coalesce(lines.c.n, 0), func.coalesce(units.c.n, 0))
        .outerjoin(lines, lines.c.delivery_id == Delivery.id)
        .outerjoin(units, units.c.delivery_id == Delivery.id)
        .where(Delivery.warehouse_id == warehouse_id, Delivery.status.in_(CLOSED),
               Delivery.closed_at >= since, Delivery.closed_at < until)
        .order_by(Delivery.closed_at, Delivery.id)
    ).all()
    out = []
    for _, number, opened_at, closed_at, n_lines, n_units in rows:
        seconds = (closed_at - opened_at).total_seconds() if opened_at and closed_at else None
        out.append({
            "number": number, "opened_at": opened_at, "closed_at": closed_at,
            "minutes": _round(seconds / 60 if seconds is not None else None),
            "lines": int(n_lines), "units": int(n_units),
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


def _receivers(warehouse_id: int, since: datetime, until: datetime) -> tuple[list[dict], list[float]]:
    in_window = (ReceiptCount.delivery_id == Delivery.id, Delivery.warehouse_id == warehouse_id,
                 ReceiptCount.user_id.is_not(None), ReceiptCount.created_at >= since, ReceiptCount.created_at < until)
    totals = db.session.execute(
        select(ReceiptCount.user_id, User.username, func.sum(ReceiptCount.quantity), func.count())
        .join(User, User.id == ReceiptCount.user_id).where(*in_window)
        .group_by(ReceiptCount.user_id, User.username)
    ).all()
    # The actions in each receiver's order: the event's device time where there is one.
    at = func.coalesce(StationEvent.occurred_at, StationEvent.received_at, ReceiptCount.created_at)
    times: dict[int, list[datetime]] = {}
    for user_id, when in db.session.execute(
        select(ReceiptCount.user_id, at).select_from(ReceiptCount)
        .outerjoin(StationEvent, StationEvent.event_id == ReceiptCount.event_id)
        .where(*in_window).order_by(ReceiptCount.user_id, at, ReceiptCount.id)
    ):
        times.setdefault(user_id, []).append(when)

    out, all_gaps = [], []
    for user_id, username, units, actions in sorted(totals, key=lambda row: row[1]):
        stamps = times.get(user_id, [])
        gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
        gaps = [g for g in gaps if g <= IDLE_GAP.total_seconds()]
        all_gaps += gaps
        active = sum(gaps)
        units = int(units or 0)
        out.append({
            "user": username, "user_id": user_id, "units": units, "actions": int(actions),
            "active_minutes": _round(active / 60),
            "units_per_hour": _round(units * 3600 / active if active else None),
            "seconds_per_action": _round(median(gaps) if gaps else None),
        })
    return out, all_gaps


def _putaway(warehouse_id: int, since: datetime, until: datetime) -> dict:
    overridden = or_(PutawayTask.override_reason.is_not(None),
                     and_(PutawayTask.suggested_cell_id.is_not(None),
                          PutawayTask.done_cell_id != PutawayTask.suggested_cell_id))
    rows = db.session.execute(
        select(PutawayTask.created_at, PutawayTask.done_at, overridden)
        .where(PutawayTask.warehouse_id == warehouse_id, PutawayTask.status == PutawayStatus.done,
               PutawayTask.done_at >= since, PutawayTask.done_at < until)
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
    """KPIs of receiving and putaway in a warehouse for [since, until)."""
    since, until = _utc(since), _utc(until)
    lines_closed, lines_with_discrepancy = _discrepancies(warehouse_id, since, until)
    receivers, gaps = _receivers(warehouse_id, since, until)
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
        "putaway": _putaway(warehouse_id, since, until),
    }
