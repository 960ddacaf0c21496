"""Two writes of one kind at the same moment, each in its own app context and connection (issue 12):
closing two deliveries into one receiving cell, two putaways into one shelf, two identical
requests with one Idempotency-Key. On PostgreSQL the threads really race (row locks decide);
on SQLite every write transaction holds the write lock, so the same tests pass in turn."""

import threading
import time

import pytest
from sqlalchemy import func, select

from server.extensions import db as _db
from server.models import Cell, Delivery, Movement, PutawayStatus, PutawayTask, Quant, User
from server.models.base import utcnow
from server.services import receiving as rc
from server.services.errors import DomainError
from server.services.putaway import confirm_putaway
from server.services.stock import check_quants
from tests import factories as f
from tests.putaway_helpers import putaway_warehouse, received_delivery

JOIN_TIMEOUT = 30  # seconds: a test that hangs on a lock fails instead of blocking the run



def _run_together(run, count: int, what: str) -> None:
    """`run(n)` for n in range(count), each in its own thread started at once; none may hang."""
    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive(), f"a concurrent {what} hung"

def at_once(app, jobs, *, hold: float = 0.2):
    """Run each job(n) in its own thread and app context, all started together. A job returns a
    value or raises; the transaction it leaves open is committed after `hold` seconds (so the
    others run while it is still uncommitted). Returns [(value, None) | (None, error)]."""
    results: list = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(n):
        with app.app_context():
            try:
                start.wait(timeout=JOIN_TIMEOUT)
                value = jobs[n](n)
                time.sleep(hold)
                _db.session.commit()
                results[n] = (value, None)
            except BaseException as error:  # noqa: BLE001 - reported to the test
                _db.session.rollback()
                results[n] = (None, error)
            finally:
                _db.session.remove()

    _run_together(run, len(jobs), "write")
    return results


def test_two_deliveries_of_a_new_sku_closed_at_once_both_receive(app, db):
    wh, receiving, _cells, _quarantine = putaway_warehouse(slots=4, max_units=100)
    receiver = f.user("ivan", roles=("receiver",))
    rounds = 3
    skus = [f.sku(f"NEW-{n}", f"New {n}") for n in range(rounds)]
    db.session.commit()
    for n, sku in enumerate(skus):
        ids = []
        for k in range(2):
            delivery = rc.create_delivery(wh.id, f"D-{n}-{k}", "Supplier", "2026-11-24",
                                          [{"sku_id": sku.id, "quantity": 3 + k}])
            rc.open_delivery(delivery, receiver)
            rc.count(delivery, sku, 3 + k, user=receiver, event_id=f"c-{n}-{k}")
            ids.append(delivery.id)
        db.session.commit()
        user_id = receiver.id
        db.session.rollback()

        def close(k, ids=ids, user_id=user_id):
            rc.close_delivery(_db.session.get(Delivery, ids[k]), _db.session.get(User, user_id))

        results = at_once(app, [close, close])
        assert [error for _value, error in results] == [None, None]
        db.session.expire_all()
        quant = db.session.execute(select(Quant).where(Quant.cell_id == receiving.id,
                                                       Quant.sku_id == sku.id)).scalar_one()
        assert quant.quantity == 3 + 4
    assert check_quants() == []
    assert db.session.execute(select(func.count()).select_from(Movement)).scalar_one() == 2 * rounds


def test_two_putaways_into_one_one_sku_shelf_at_once_one_is_refused(app, db):
    wh, receiving, cells, _quarantine = putaway_warehouse(slots=2)  # shelves: one SKU, max 10 units
    shelf = cells["W1-S-01-01"]
    kettle, iron = f.sku("KETTLE", "Чайник"), f.sku("IRON", "Утюг")
    receiver = f.user("ivan", roles=("receiver",))
    delivery = received_delivery(wh, receiving, [(kettle, 6, "", None), (iron, 6, "", None)])
    tasks = [PutawayTask(warehouse_id=wh.id, delivery_id=delivery.id, sku_id=sku.id, lot="", quantity=6,
                         from_cell_id=receiving.id, suggested_cell_id=shelf.id, status=PutawayStatus.open,
                         created_at=utcnow())
             for sku in (kettle, iron)]
    db.session.add_all(tasks)
    db.session.commit()
    task_ids, shelf_id, user_id = [t.id for t in tasks], shelf.id, receiver.id
    db.session.rollback()

    def confirm(k):
        confirm_putaway(_db.session.get(PutawayTask, task_ids[k]), _db.session.get(Cell, shelf_id),
                        _db.session.get(User, user_id))

    results = at_once(app, [confirm, confirm])
    errors = [error for _value, error in results if error is not None]
    assert len(errors) == 1 and isinstance(errors[0], DomainError), errors
    assert errors[0].slug in ("cell-full", "mixing-not-allowed")
    db.session.expire_all()
    held = db.session.execute(select(Quant.sku_id, Quant.quantity).where(Quant.cell_id == shelf_id,
                                                                         Quant.quantity > 0)).all()
    assert len(held) == 1 and held[0].quantity == 6
    assert check_quants() == []


def requests_at_once(app, calls):
    """Each call(client) in its own thread (so its own app context and connection), started together."""
    results: list = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(n):
        client = app.test_client()
        try:
            start.wait(timeout=JOIN_TIMEOUT)
            results[n] = calls[n](client)
        except BaseException as error:  # noqa: BLE001 - a 500 in TESTING mode is raised here
            results[n] = error

    _run_together(run, len(calls), "request")
    return results


def test_two_identical_requests_with_one_idempotency_key_at_once_are_one_request(app, db):
    _wh, _, cells, sku = f.stocked_warehouse()
    headers = f.token_for(f.user("rita", ("receiver",)))
    db.session.commit()
    body = {"kind": "receive", "sku_id": sku.id, "quantity": 5, "to_cell_id": cells[0].id}
    db.session.rollback()
    rounds = 3
    for n in range(rounds):
        def post(client, n=n):
            return client.post("/api/v1/movements", json=body, headers={**headers, "Idempotency-Key": f"twin-{n}"})

        first, second = requests_at_once(app, [post, post])
        answers = [r if isinstance(r, BaseException) else (r.status_code, r.headers.get("X-Idempotent-Replay"))
                   for r in (first, second)]
        assert set(answers) == {(201, None), (201, "true")}, answers
        assert first.json["id"] == second.json["id"]
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Movement)).scalar_one() == rounds
    assert check_quants() == []


def test_a_twin_that_waits_too_long_for_its_first_call_gets_503_with_retry_after(app, db, backend, database_url):
    """PostgreSQL: the first call with the key is still running (its lock held by another
    connection here); the twin waits CELLWMS_IDEMPOTENCY_WAIT_MS, then answers 503, not 500."""
    if backend != "postgresql":
        pytest.skip("the advisory lock on the key: PostgreSQL (SQLite runs twins one after the other)")
    from sqlalchemy import create_engine, text

    from server.api import idempotency_lock_id

    _wh, _, cells, sku = f.stocked_warehouse()
    user = f.user("rita", ("receiver",))
    headers = f.token_for(user)
    db.session.commit()
    principal, body = f"user:{user.id}", {"kind": "receive", "sku_id": sku.id, "quantity": 5, "to_cell_id": cells[0].id}
    app.config["CELLWMS_IDEMPOTENCY_WAIT_MS"] = 200
    other = create_engine(database_url)
    try:
        with other.connect() as first:
            first.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": idempotency_lock_id(principal, "slow")})
            twin = app.test_client().post("/api/v1/movements", json=body,
                                          headers={**headers, "Idempotency-Key": "slow"})
            first.rollback()
    finally:
        other.dispose()
    assert twin.status_code == 503, twin.json
    assert twin.json["type"] == "urn:cellwms:problem:database-busy" and twin.headers["Retry-After"] == "1"
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Movement)).scalar_one() == 0


def test_two_print_again_presses_for_one_failed_label_queue_one_label(app, db):
    from server.models import StationJob
    from server.services.stations import create_job
    from tests.conftest import FreshClient
    from tests.test_station_pages import csrf_token, sign_in_badge

    wh = f.warehouse()
    station, _auth = f.station(wh, "PACK-1", "pack")
    f.user("pavel", ("packer",), badge="B-2002")
    failed = create_job(station, "print", {"template": "shipping-label", "data": {}}, device="label_printer")
    failed.state, failed.result = "failed", "paper_out"
    db.session.commit()
    failed_id = failed.id
    db.session.rollback()
    clients = []
    app.test_client_class = FreshClient  # each request with an empty `g`, as in production
    for _ in range(2):
        client = app.test_client()
        sign_in_badge(client, "B-2002")
        clients.append((client, csrf_token(client, "/stations/PACK-1")))
    db.session.rollback()  # the sign-ins ran in this thread's session: no transaction left open
    start = threading.Barrier(2)
    answers: list = [None, None]

    def press(n):
        client, token = clients[n]
        with app.app_context():
            start.wait(timeout=JOIN_TIMEOUT)
            answers[n] = client.post("/stations/PACK-1/jobs", json={"button": "reprint", "job_id": failed_id},
                                     headers={"X-CSRFToken": token}).status_code

    _run_together(press, 2, "print again")
    assert sorted(answers) == [201, 409], answers
    db.session.expire_all()
    assert db.session.execute(select(func.count(StationJob.id))).scalar() == 2
