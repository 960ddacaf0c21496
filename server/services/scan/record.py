"""Recording: a classified scan as a scan_events row, kept apart so a scenario can classify
first and record with its own meaning."""

from datetime import datetime

from server.extensions import db
from server.models import ScanEvent
from server.models.base import utcnow
from server.services.scan.decode import _clean
from server.services.scan.lookup import Classification


def scan_row(
    result: Classification,
    *,
    raw_length: int | None = None,
    max_bytes: int | None = None,
    station_id: int | None = None,
    user_id: int | None = None,
    warehouse_id: int | None = None,
    event_id: str | None = None,
    scanned_at: datetime | None = None,
    source: str = "api",
    meaning: dict | None = None,
) -> dict:
    """The scan_events row for `result`, as column values.

    Raw bytes go to the bytea column as read (cut to `max_bytes`, with the true length kept);
    `text` is a printable copy without NUL or other controls, which PostgreSQL text refuses.
    """
    scan = result.scan
    raw = scan.raw
    limit = max_bytes if max_bytes is not None else len(raw)
    return {
        "event_id": event_id, "warehouse_id": warehouse_id, "station_id": station_id, "user_id": user_id,
        "source": source, "scanned_at": scanned_at, "received_at": utcnow(), "raw": raw[:limit],
        "raw_length": raw_length if raw_length is not None else len(raw), "text": _clean(scan.text)[:limit],
        "symbology": scan.symbology, "kind": result.kind, "entity_id": result.entity_id,
        "meaning": meaning if meaning is not None else result.answer(),
    }


def record_scan(result: Classification, **row) -> ScanEvent:
    """Add a ScanEvent for `result` to the session (the caller's transaction commits it); the
    keywords are scan_row's."""
    event = ScanEvent(**scan_row(result, **row))
    db.session.add(event)
    return event
