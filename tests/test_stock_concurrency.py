"""20 workers moving and reserving the same stock at once: ledger and quants stay equal, nothing negative."""

import random
import threading

from sqlalchemy import func, select

from server.extensions import db as _db
from server.models import Movement, Quant
from server.services.errors import DomainError
from server.services.stock import apply_movement, check_quants
from tests import factories as f

WORKERS = 20
OPERATIONS_PER_WORKER = 25
START_QUANTITY = 40


def test_concurrent_moves_and_reservations_keep_ledger_and_quants_equal(app, db):
    wh, _, cells, sku = f.stocked_warehouse()
    cell_ids, sku_id = [c.id for c in cells], sku.id
    for cell_id in cell_ids:
        apply_movement("receive", sku_id, START_QUANTITY, to_cell_id=cell_id)
    db.session.commit()
    # From here the main thread must not touch its session: on SQLite an open transaction
    # holds the write lock (BEGIN IMMEDIATE) and the workers would wait for it.
    outcomes = {"applied": 0, "refused": 0}
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(WORKERS)

    def worker(seed: int):
        rng = random.Random(seed)
        with app.app_context():
            start.wait()
            for _ in range(OPERATIONS_PER_WORKER):
                kind = rng.choice(["move", "move", "reserve", "release", "pick", "issue"])
                source, target = rng.sample(cell_ids, 2)
                try:
                    apply_movement(
                        kind, sku_id, rng.randint(1, 6), from_cell_id=source,
                        to_cell_id=target if kind == "move" else None,
                    )
                    _db.session.commit()
                    result = "applied"
                except DomainError:
                    _db.session.rollback()
                    result = "refused"
                except BaseException as error:  # anything else is a bug (deadlock, lost update...)
                    _db.session.rollback()
                    with lock:
                        errors.append(error)
                    continue
                with lock:
                    outcomes[result] += 1
            _db.session.remove()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert outcomes["applied"] > WORKERS  # the race really happened
    db.session.expire_all()
    assert check_quants() == []
    negative = db.session.execute(
        select(func.count()).select_from(Quant).where((Quant.quantity < 0) | (Quant.reserved < 0)
                                                      | (Quant.reserved > Quant.quantity))
    ).scalar_one()
    assert negative == 0
    issued = db.session.execute(
        select(func.coalesce(func.sum(Movement.quantity), 0)).where(Movement.kind.in_(["issue", "pick"]))
    ).scalar_one()
    on_hand = db.session.execute(select(func.sum(Quant.quantity))).scalar_one()
    assert on_hand + issued == START_QUANTITY * len(cell_ids)
