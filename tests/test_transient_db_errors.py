"""A passing database conflict while a station batch is handled (a deadlock, a serialization
failure, a lock not had in time) is answered 503 with Retry-After and stores nothing, so the agent
sends the batch again; only a real bug in a scenario is kept as a `rejected` event (issue 12)."""

import psycopg.errors
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from server.extensions import db as _db
from server.models import Cell, StationEvent
from tests import factories as f
from tests.test_api_stations import EVENTS, scan


@pytest.fixture
def station(db):
    wh, _z, cells, _sku = f.stocked_warehouse()
    station, auth = f.station(wh, code="PACK-1", kind="pack")
    db.session.commit()
    return {"auth": auth, "cell_id": cells[0].id}


class Wrapped:
    """The `identify` scenario, with `fault(event)` run first for every input."""

    def __init__(self, base, fault):
        self.base, self.fault, self.name = base, fault, base.name

    def __getattr__(self, name):
        return getattr(self.base, name)

    def handle(self, ctx, event):
        self.fault(event)
        return self.base.handle(ctx, event)


@pytest.fixture
def faulty(monkeypatch):
    from server import scenarios

    def install(fault):
        monkeypatch.setitem(scenarios.SCENARIOS, "pack", Wrapped(scenarios.IDENTIFY, fault))
    return install


def count_events() -> int:
    _db.session.rollback()
    return _db.session.execute(select(func.count()).select_from(StationEvent)).scalar_one()


def assert_busy(response):
    assert response.status_code == 503, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["type"] == "urn:cellwms:problem:database-busy"
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("error", [psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure])
def test_a_deadlock_or_serialization_failure_is_503_and_stores_nothing(client, db, station, faulty, error):
    failing = {"on": True}

    def fault(event):
        if failing["on"] and event.payload["raw"] == b"BUSY":
            raise OperationalError("SELECT 1", {}, error("the database says: try again"))

    faulty(fault)
    batch = [scan("S-01-01-1-1"), scan("BUSY"), scan("S-01-02-1-1")]
    assert_busy(client.post(EVENTS, json={"events": batch}, headers=station["auth"]))
    assert count_events() == 0  # nothing kept as rejected: the agent sends the batch again
    failing["on"] = False
    again = client.post(EVENTS, json={"events": batch}, headers=station["auth"])
    assert again.status_code == 200, again.json
    assert [o["status"] for o in again.json["outcomes"]] == ["stored", "stored", "stored"]
    assert count_events() == 3


def test_a_real_bug_in_a_scenario_is_still_kept_as_rejected(client, db, station, faulty):
    def fault(event):
        if event.payload["raw"] == b"BOOM":
            raise OperationalError("SELECT nonsense", {}, psycopg.errors.UndefinedColumn("no such column"))

    faulty(fault)
    r = client.post(EVENTS, json={"events": [scan("S-01-01-1-1"), scan("BOOM")]}, headers=station["auth"])
    assert r.status_code == 200, r.json
    assert [o["status"] for o in r.json["outcomes"]] == ["stored", "rejected"]


def test_a_lock_held_by_another_connection_is_503_then_the_retry_is_stored(client, db, station, faulty, backend,
                                                                              database_url):
    """PostgreSQL: another connection holds the cell's row lock; the scenario's lock waits past
    lock_timeout (55P03, a real error from the server): 503; once the lock is gone the retry lands."""
    if backend != "postgresql":
        pytest.skip("row locks and lock_timeout: PostgreSQL")
    cell_id = station["cell_id"]

    def fault(event):
        _db.session.execute(text("SET LOCAL lock_timeout = '200ms'"))
        _db.session.execute(select(Cell.id).where(Cell.id == cell_id).with_for_update())

    faulty(fault)
    other = create_engine(database_url)
    try:
        with other.connect() as holder:
            holder.execute(text("SELECT id FROM cells WHERE id = :id FOR UPDATE"), {"id": cell_id})
            batch = [scan("S-01-01-1-1")]
            assert_busy(client.post(EVENTS, json={"events": batch}, headers=station["auth"]))
            assert count_events() == 0
            holder.rollback()
        again = client.post(EVENTS, json={"events": batch}, headers=station["auth"])
        assert again.status_code == 200 and again.json["outcomes"][0]["status"] == "stored", again.json
    finally:
        other.dispose()


def test_which_database_errors_pass_by_themselves():
    import sqlite3

    from sqlalchemy.exc import IntegrityError

    from server.services.db_errors import is_transient

    def wrapped(cls, orig):
        return cls("INSERT ...", {}, orig)

    assert is_transient(wrapped(OperationalError, psycopg.errors.DeadlockDetected("x")))
    assert is_transient(wrapped(OperationalError, psycopg.errors.SerializationFailure("x")))
    assert is_transient(wrapped(OperationalError, psycopg.errors.LockNotAvailable("x")))
    assert is_transient(wrapped(OperationalError, sqlite3.OperationalError("database is locked")))
    assert not is_transient(wrapped(IntegrityError, psycopg.errors.UniqueViolation("x")))
    assert not is_transient(wrapped(OperationalError, sqlite3.OperationalError("no such column: x")))
    assert not is_transient(RuntimeError("a bug"))
