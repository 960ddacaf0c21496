"""Dates as people and files give them (ISO YYYY-MM-DD or DD.MM.YYYY as typed in Russia), and
moments as the warehouse's people read them: in its time zone."""

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


def parse_date(value) -> date | None:
    """A date from a date, YYYY-MM-DD or DD.MM.YYYY (also what the database hands back); None when
    blank. Raises ValueError for anything else."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    text = str(value).strip()
    if not text:
        return None
    for fmt in FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    return date.fromisoformat(text)  # the other ISO forms (20240131); ValueError otherwise


# --- the warehouse's time zone ---------------------------------------------------------------
# Times are stored in UTC; what a person reads or prints is in the warehouse's time zone.

DEFAULT_ZONE = "Europe/Moscow"
STAMP = "%d.%m.%Y %H:%M"


def check_zone(name) -> str:
    """`name` when it is an IANA time zone name (Europe/Moscow). Raises ValueError for anything else."""
    try:
        ZoneInfo(name)
    except (TypeError, ValueError, KeyError, OSError):
        raise ValueError(f"Unknown time zone {str(name)[:64]!r}: give an IANA name such as Europe/Moscow.") from None
    return name


def zone_named(name: str | None) -> tzinfo:
    """The zone of a stored name; UTC when there is none or it is unknown (rows from before the check)."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ValueError, KeyError, OSError):
        return UTC


def warehouse_zone(warehouse=None) -> tzinfo:
    """The time zone of a warehouse (a row or an id); without one, the first warehouse's; else UTC."""
    from sqlalchemy import select

    from server.extensions import db
    from server.models import Warehouse

    if isinstance(warehouse, Warehouse):
        return zone_named(warehouse.timezone)
    statement = select(Warehouse.timezone)
    statement = (statement.where(Warehouse.id == warehouse) if warehouse is not None
                 else statement.order_by(Warehouse.id).limit(1))
    return zone_named(db.session.execute(statement).scalar_one_or_none())


def now_in(warehouse=None, now: datetime | None = None) -> datetime:
    """Now (or the aware moment `now`) in the warehouse's time zone."""
    return (now or datetime.now(UTC)).astimezone(warehouse_zone(warehouse))


def today_in(warehouse=None, now: datetime | None = None) -> date:
    """Today's date in the warehouse (not the server's); with `now`, that moment's local date."""
    return now_in(warehouse, now).date()


def day_bounds(day: date, warehouse=None) -> tuple[datetime, datetime]:
    """[start, end) of a local day of the warehouse, in UTC (23 or 25 hours long on DST days)."""
    zone = warehouse_zone(warehouse)
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_time(value: datetime | None, warehouse=None, fmt: str = STAMP) -> str:
    """A stored moment as the warehouse's people read it ("" for none). Naive values are UTC."""
    if value is None:
        return ""
    zone = warehouse if isinstance(warehouse, tzinfo) else warehouse_zone(warehouse)
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return value.astimezone(zone).strftime(fmt)
