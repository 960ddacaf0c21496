"""Order batching: every order once, cart capacity, cutoff priority, improvement, bad input."""

import random

import pytest

from server.core.batching import STARTS, BatchingError, Cart, Order, OrderLine, make_batches
from server.core.layout import Layout
from server.core.routing import route_length

LAYOUT = Layout(aisles=10, blocks=2, slots=20)
METHODS = ("fcfs", "seed", "savings", "improve")


def orders_for(count=40, seed=1, urgent_share=0.0):
    rng = random.Random(seed)
    orders = []
    for n in range(count):
        lines = [OrderLine((rng.randrange(LAYOUT.aisles), rng.randrange(LAYOUT.blocks), rng.randrange(LAYOUT.slots)),
                           rng.randint(1, 3)) for _ in range(rng.randint(1, 5))]
        cutoff = 10 if rng.random() < urgent_share else 100
        orders.append(Order(f"SO{n}", lines, volume=rng.uniform(1, 8), totes=rng.randint(1, 2), cutoff=cutoff))
    return orders


CART = Cart(orders=6, items=30, volume=35.0, totes=8)


def loads(orders):
    return {o.id: (sum(line.quantity for line in o.lines), o.volume, o.totes) for o in orders}


@pytest.mark.parametrize("method", METHODS)
def test_every_order_once_within_capacity(method):
    orders = orders_for()
    plan = make_batches(orders, CART, LAYOUT, method, rounds=10)
    placed = [order_id for batch in plan.batches for order_id in batch.orders]
    assert sorted(placed) == sorted(o.id for o in orders)
    load = loads(orders)
    for batch in plan.batches:
        assert 1 <= len(batch.orders) <= CART.orders
        assert batch.items == sum(load[o][0] for o in batch.orders) <= CART.items
        assert batch.volume == pytest.approx(sum(load[o][1] for o in batch.orders))
        assert batch.volume <= CART.volume + 1e-9
        assert batch.totes == sum(load[o][2] for o in batch.orders) <= CART.totes
    assert plan.total == pytest.approx(sum(b.length for b in plan.batches))


@pytest.mark.parametrize("method", METHODS)
def test_lengths_are_the_routers(method):
    orders = orders_for(25)
    by_id = {o.id: o for o in orders}
    plan = make_batches(orders, CART, LAYOUT, method, rounds=5)
    for batch in plan.batches:
        points = [LAYOUT.point(*line.point) for o in batch.orders for line in by_id[o].lines]
        assert batch.length == pytest.approx(route_length(LAYOUT, points))


def test_batching_beats_fcfs_and_improve_beats_its_start():
    orders = orders_for(60, seed=3)
    cart = Cart(orders=8)
    totals = {m: make_batches(orders, cart, LAYOUT, m, rounds=0).total for m in ("fcfs", "seed", "savings")}
    assert totals["seed"] < totals["fcfs"] and totals["savings"] < totals["fcfs"]
    for start in STARTS:
        first = make_batches(orders, cart, LAYOUT, start).total if start in totals else None
        for rounds in (0, 20):
            improved = make_batches(orders, cart, LAYOUT, "improve", start=start, rounds=rounds, seed=7)
            if first is not None:
                assert improved.total <= first + 1e-9
    # The improvement is never worse than its start, even when stopped by a small budget.
    for budget in (1, 50, 300):
        stopped = make_batches(orders, cart, LAYOUT, "improve", start="seed", max_evaluations=budget)
        assert stopped.total <= totals["seed"] + 1e-9


@pytest.mark.parametrize("method", METHODS)
def test_orders_due_soon_go_in_the_earliest_batches(method):
    orders = orders_for(40, seed=5, urgent_share=0.3)
    urgent = {o.id for o in orders if o.cutoff <= 10}
    assert 5 < len(urgent) < 20
    plan = make_batches(orders, Cart(orders=5), LAYOUT, method, now=0, horizon=10, rounds=10)
    flags = [bool(urgent & set(b.orders)) for b in plan.batches]
    assert flags == [b.urgent for b in plan.batches]
    # Batches holding urgent orders come first, and are no more than the urgent orders need
    # (savings may leave a cart part-full, so give it one more).
    first_other = flags.index(False)
    assert all(flags[:first_other]) and not any(flags[first_other:])
    need = -(-len(urgent) // 5)
    assert first_other <= need + (1 if method in ("savings", "improve") else 0)
    # Without a horizon nothing is urgent.
    assert not any(b.urgent for b in make_batches(orders, Cart(orders=5), LAYOUT, method, rounds=2).batches)


def test_improve_keeps_urgent_orders_in_the_early_batches_of_its_start():
    orders = orders_for(40, seed=5, urgent_share=0.3)
    for start in ("fcfs", "seed", "savings"):
        first = make_batches(orders, Cart(orders=5), LAYOUT, start, now=0, horizon=10)
        improved = make_batches(orders, Cart(orders=5), LAYOUT, "improve", start=start, now=0, horizon=10, rounds=20)
        assert sum(b.urgent for b in improved.batches) <= sum(b.urgent for b in first.batches)
        assert improved.total <= first.total + 1e-9


def test_deterministic_with_a_seed():
    orders = orders_for(50, seed=9)
    runs = [make_batches(orders, CART, LAYOUT, "improve", seed=4, rounds=15) for _ in range(2)]
    assert [b.orders for b in runs[0].batches] == [b.orders for b in runs[1].batches]
    assert runs[0].total == runs[1].total
    assert runs[0].evaluations == runs[1].evaluations


def test_cell_ids_and_datetimes():
    from datetime import datetime, timedelta

    cells = {"A-01-05": (1, 0, 5), "B-07-02": LAYOUT.point(7, 1, 2), "A-03-11": (3, 0, 11)}
    now = datetime(2026, 1, 5, 14, 0)
    orders = [
        Order("late", [("A-01-05", 2)], cutoff=now + timedelta(minutes=20)),
        Order("calm", [OrderLine("B-07-02"), OrderLine("A-03-11", 4)], cutoff=now + timedelta(hours=5)),
        Order("none", [("A-03-11", 1)]),
    ]
    plan = make_batches(orders, Cart(orders=1), LAYOUT, "improve", cells=cells, now=now, horizon=timedelta(hours=1))
    assert plan.batches[0].orders == ("late",) and plan.batches[0].urgent
    assert [b.orders for b in plan.batches[1:]] == [("calm",), ("none",)]
    assert plan.batches[1].items == 5


def test_no_orders_no_batches():
    plan = make_batches([], CART, LAYOUT, "improve")
    assert plan.batches == () and plan.total == 0


@pytest.mark.parametrize(("orders", "cart", "message"), [
    ([Order("SO1", [])], Cart(), "order 'SO1' has no lines"),
    ([Order("SO1", [((0, 0, 1), 40)])], Cart(items=30), "bigger than a cart: items 40 > 30"),
    ([Order("SO1", [((0, 0, 1), 1)], volume=9.0)], Cart(volume=5.0), "bigger than a cart: volume"),
    ([Order("SO1", [((0, 0, 1), 1)], totes=3)], Cart(totes=2), "bigger than a cart: totes"),
    ([Order("SO1", [((0, 0, 1), 1)])], Cart(orders=0), "at least one order"),
    ([Order("SO1", [((0, 0, 1), 1)])], Cart(items=0), "items must be above zero"),
    ([Order("SO1", [((0, 0, 1), 1)])], Cart(volume=0), "volume must be above zero"),
    ([Order("SO1", [("X-99", 1)])], Cart(), "unknown pick point or cell 'X-99'"),
    ([Order("SO1", [((10, 0, 1), 1)])], Cart(), "order 'SO1': point (aisle 10, block 0, slot 1) is outside"),
    ([Order("SO1", [((0, 0, 1), 0)])], Cart(), "quantity must be a whole number >= 1"),
    ([Order("SO1", [((0, 0, 1), 1)]), Order("SO1", [((0, 0, 2), 1)])], Cart(), "appears twice"),
    ([Order("SO1", [((0, 0, 1), 1)], cutoff="soon")], Cart(), "is not comparable"),
])
def test_bad_input_is_a_clear_error(orders, cart, message):
    with pytest.raises(BatchingError) as raised:
        make_batches(orders, cart, LAYOUT, "seed", now=0, horizon=10)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_unknown_method_router_or_start():
    orders = orders_for(3)
    for kwargs, message in [({"method": "magic"}, "unknown batching method"),
                            ({"router": "teleport"}, "unknown routing method"),
                            ({"start": "guess"}, "unknown start method")]:
        with pytest.raises(BatchingError, match=message):
            make_batches(orders, CART, LAYOUT, **kwargs)
