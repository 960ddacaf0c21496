"""The stock ledger: movements and quants in one transaction, rebuildable, never negative."""

import pytest
from sqlalchemy.exc import DBAPIError

from server.models import Movement, Quant
from server.services.errors import DomainError
from server.services.stock import Actor, apply_movement, check_quants, reserve_fefo
from tests import factories as f


def quant(db, cell, sku, lot=""):
    return db.session.execute(db.select(Quant).filter_by(cell_id=cell.id, sku_id=sku.id, lot=lot)).scalar_one()


def test_receive_move_reserve_pick_keep_quants_equal_to_ledger(db):
    wh, _, (a, b, c), sku = f.stocked_warehouse()
    apply_movement("receive", sku.id, 10, to_cell_id=a.id, actor=Actor(scenario="receiving"))
    apply_movement("move", sku.id, 4, from_cell_id=a.id, to_cell_id=b.id)
    apply_movement("reserve", sku.id, 3, from_cell_id=b.id)
    apply_movement("pick", sku.id, 2, from_cell_id=b.id)
    apply_movement("release", sku.id, 1, from_cell_id=b.id)
    db.session.commit()
    assert (quant(db, a, sku).quantity, quant(db, a, sku).reserved) == (6, 0)
    assert (quant(db, b, sku).quantity, quant(db, b, sku).reserved) == (2, 0)
    assert check_quants() == []
    assert db.session.query(Movement).count() == 5


def test_cannot_take_more_than_available(db):
    wh, _, (a, b, _c), sku = f.stocked_warehouse()
    apply_movement("receive", sku.id, 5, to_cell_id=a.id)
    apply_movement("reserve", sku.id, 4, from_cell_id=a.id)
    db.session.commit()
    with pytest.raises(DomainError) as err:
        apply_movement("move", sku.id, 2, from_cell_id=a.id, to_cell_id=b.id)
    assert err.value.status == 409 and err.value.slug == "insufficient-stock"
    with pytest.raises(DomainError) as err:
        apply_movement("pick", sku.id, 5, from_cell_id=a.id)
    assert err.value.slug == "insufficient-reserved"


@pytest.mark.parametrize(
    "kwargs, slug",
    [
        ({"kind": "teleport", "quantity": 1}, "unknown-movement-kind"),
        ({"kind": "receive", "quantity": 0}, "bad-quantity"),
        ({"kind": "receive", "quantity": -3}, "bad-quantity"),
        ({"kind": "receive", "quantity": 1.5}, "bad-quantity"),
        ({"kind": "receive", "quantity": 1, "to_cell_id": None}, "target-cell-required"),
        ({"kind": "issue", "quantity": 1}, "source-cell-required"),
        ({"kind": "receive", "quantity": 1, "to_cell_id": 99999}, "unknown-cell"),
    ],
)
def test_bad_movements_are_refused_and_write_nothing(db, kwargs, slug):
    wh, _, cells, sku = f.stocked_warehouse()
    kwargs = dict(kwargs)
    kind = kwargs.pop("kind")
    quantity = kwargs.pop("quantity")
    with pytest.raises(DomainError) as err:
        apply_movement(kind, sku.id, quantity, **kwargs)
    assert err.value.slug == slug
    db.session.rollback()
    assert db.session.query(Movement).count() == 0


def test_tracked_sku_needs_lot_and_expiry(db):
    wh, _, (a, *_), _ = f.stocked_warehouse()
    milk = f.sku("MILK", "Молоко 3,2%", track_lot=True, track_expiry=True)
    with pytest.raises(DomainError, match="lot"):
        apply_movement("receive", milk.id, 1, to_cell_id=a.id)
    with pytest.raises(DomainError, match="expiry"):
        apply_movement("receive", milk.id, 1, to_cell_id=a.id, lot="L1")


def test_blocked_cell_refuses_goods(db):
    wh, _, (a, b, _c), sku = f.stocked_warehouse()
    b.status = "blocked"
    db.session.commit()
    with pytest.raises(DomainError) as err:
        apply_movement("receive", sku.id, 1, to_cell_id=b.id)
    assert err.value.slug == "cell-blocked"


def test_same_idempotency_key_moves_stock_once(db):
    wh, _, (a, b, _c), sku = f.stocked_warehouse()
    first = apply_movement("receive", sku.id, 7, to_cell_id=a.id, idempotency_key="rcv-1")
    again = apply_movement("receive", sku.id, 7, to_cell_id=a.id, idempotency_key="rcv-1")
    db.session.commit()
    assert first.id == again.id
    assert quant(db, a, sku).quantity == 7
    with pytest.raises(DomainError) as err:
        apply_movement("receive", sku.id, 8, to_cell_id=a.id, idempotency_key="rcv-1")
    assert err.value.slug == "idempotency-key-reused"


def test_lots_and_expiry_are_separate_quants_and_fefo_reserves_first_expiring(db):
    import datetime as dt

    wh, _, (a, b, _c), _ = f.stocked_warehouse()
    yogurt = f.sku("YOG", "Йогурт", track_expiry=True)
    apply_movement("receive", yogurt.id, 5, to_cell_id=a.id, expiry=dt.date(2027, 3, 1))
    apply_movement("receive", yogurt.id, 5, to_cell_id=b.id, expiry=dt.date(2027, 1, 1))
    moves = reserve_fefo(yogurt.id, 7, warehouse_id=wh.id, reference="ORD-1")
    db.session.commit()
    assert [(m.from_cell_id, m.quantity) for m in moves] == [(b.id, 5), (a.id, 2)]
    with pytest.raises(DomainError) as err:
        reserve_fefo(yogurt.id, 4, warehouse_id=wh.id)
    assert err.value.slug == "insufficient-stock"
    assert check_quants() == []


def test_ledger_is_immutable_in_the_database(db):
    wh, _, (a, *_), sku = f.stocked_warehouse()
    apply_movement("receive", sku.id, 1, to_cell_id=a.id)
    db.session.commit()
    with pytest.raises(DBAPIError, match="immutable"):
        db.session.execute(db.update(Movement).values(quantity=100))
        db.session.flush()
    db.session.rollback()
    with pytest.raises(DBAPIError, match="immutable"):
        db.session.execute(db.delete(Movement))
    db.session.rollback()


def test_check_finds_and_repairs_a_tampered_quant(db):
    wh, _, (a, *_), sku = f.stocked_warehouse()
    apply_movement("receive", sku.id, 9, to_cell_id=a.id)
    db.session.commit()
    quant(db, a, sku).quantity = 4
    db.session.commit()
    differences = check_quants()
    assert [(d.ledger_quantity, d.quant_quantity) for d in differences] == [(9, 4)]
    check_quants(repair=True)
    db.session.commit()
    assert check_quants() == [] and quant(db, a, sku).quantity == 9
