"""The multiblock method, in C (the optional extension) and in pure Python: a real tour, never
below the optimum, and the optimum on most small instances (Held-Karp over the same geometry)."""

import random
from array import array

import pytest

from server.core.layout import Layout, LayoutError
from server.core.routing import METHODS, route
from server.core.routing import multiblock as mb
from server.core.routing.heuristics import node_matrix, order_length
from server.core.routing.multiblock import multiblock
from tests.test_routing_heuristics import held_karp, random_instance

needs_c = pytest.mark.skipif(mb._c is None, reason="C extension not built")


@pytest.fixture(params=["c", "python"])
def implementation(request, monkeypatch):
    """Run a test with the C extension and again with the pure-Python fallback."""
    if request.param == "c" and mb._c is None:
        pytest.skip("C extension not built")
    if request.param == "python":
        monkeypatch.setattr(mb, "_c", None)
    return request.param


def test_multiblock_is_never_below_and_mostly_at_held_karp(implementation):
    rng = random.Random(3)
    hits = total = 0
    for _ in range(60):
        layout, points = random_instance(rng, 10, blocks=rng.choice([3, 4]))
        optimum = held_karp(layout.distance_matrix([layout.depot, *points]))
        order, length = multiblock(layout, points)
        assert sorted(order) == list(range(len(points)))
        assert length == pytest.approx(layout.tour_length([points[i] for i in order]), abs=1e-9)
        assert length >= optimum - 1e-9
        hits += length <= optimum + 1e-9
        total += 1
    assert hits >= (0.97 if implementation == "c" else 0.9) * total, f"optimal on {hits} of {total}"


def test_multiblock_on_one_and_two_blocks_too(implementation):
    rng = random.Random(5)
    for blocks in (1, 2):
        for _ in range(15):
            layout, points = random_instance(rng, 8, blocks=blocks)
            optimum = held_karp(layout.distance_matrix([layout.depot, *points]))
            _, length = multiblock(layout, points)
            assert optimum - 1e-9 <= length <= optimum * 1.05 + 1e-9


def test_multiblock_larger_instances_are_consistent_and_beat_the_heuristics(implementation):
    rng = random.Random(9)
    for _ in range(5):
        layout, points = random_instance(rng, 60, blocks=4)
        order, length = multiblock(layout, points)
        assert sorted(order) == list(range(len(points)))
        assert length == pytest.approx(order_length(layout, points, order), abs=1e-9)
        for name in ("sshape", "largest_gap", "combined"):
            assert length <= METHODS[name](layout, points)[1] + 1e-9
        assert multiblock(layout, points) == (order, length)  # deterministic


def test_multiblock_through_route_and_bad_input(implementation):
    layout = Layout(aisles=8, blocks=3, slots=12)
    points = [layout.point(1, 2, 3), layout.point(7, 0, 11), layout.point(1, 2, 3)]
    result = route(layout, points, "multiblock")
    assert sorted(result.order) == [0, 1]
    assert route(layout, points[:1], "multiblock").order == [0]
    with pytest.raises(LayoutError, match="empty"):
        route(layout, [], "multiblock")
    with pytest.raises(LayoutError, match="outside"):
        route(layout, [Layout(aisles=9, blocks=4, slots=12).point(8, 3, 0)], "multiblock")


@needs_c
def test_c_orders_are_permutations_with_their_recomputed_length():
    rng = random.Random(13)
    for _ in range(40):
        layout, points = random_instance(rng, 120, blocks=rng.choice([1, 2, 3, 4]))
        order, length = multiblock(layout, points)
        assert sorted(order) == list(range(len(points)))
        assert length == pytest.approx(layout.tour_length([points[i] for i in order]), abs=1e-9)
        assert length == pytest.approx(order_length(layout, points, order), abs=1e-9)


@needs_c
def test_c_matrix_is_the_python_matrix():
    rng = random.Random(17)
    for _ in range(50):
        layout, points = random_instance(rng, 40)
        ys = layout.cross_aisle_y
        built = mb._c.node_matrix(
            [layout.depot.x] + [p.x for p in points], [layout.depot.y] + [p.y for p in points],
            [-1] + [p.block for p in points], [(a + b) / 2 for a, b in zip(ys, ys[1:], strict=False)],
            layout.block_length,
        )
        assert array("d", built).tolist() == [v for row in node_matrix(layout, points) for v in row]


@needs_c
def test_c_improve_on_any_matrix_and_its_errors():
    rng = random.Random(19)
    for m in (1, 2, 3, 5, 8, 12, 40):
        xy = [(rng.random(), rng.random()) for _ in range(m)]
        d = [[abs(a - c) + abs(b - e) for c, e in xy] for a, b in xy]
        start = list(range(m))
        rng.shuffle(start)
        tour, length = mb._c.improve(mb.flat(d), start, 50, 1)
        assert sorted(tour) == list(range(m))
        assert length == pytest.approx(mb.tour_cost(d, tour), abs=1e-9)
        assert length <= mb.tour_cost(d, start) + 1e-9
        if m <= 10:
            assert length == pytest.approx(held_karp(d), abs=1e-9)
        assert mb._c.improve(mb.flat(d).tobytes(), start, 50, 1) == (tour, length)  # deterministic
    with pytest.raises(ValueError, match="permutation"):
        mb._c.improve(mb.flat([[0.0] * 3] * 3), [0, 1, 1], 5, 1)
    with pytest.raises(ValueError, match="doubles"):
        mb._c.improve(mb.flat([[0.0] * 3] * 3), [0, 1], 5, 1)


def test_fallback_without_the_extension(monkeypatch):
    """With the extension missing (as if never built), routing runs in Python."""
    monkeypatch.setattr(mb, "_c", None)
    layout = Layout(aisles=10, blocks=3, slots=15)
    rng = random.Random(23)
    picks = dict.fromkeys((rng.randrange(10), rng.randrange(3), rng.randrange(15)) for _ in range(30))
    points = [layout.point(*pick) for pick in picks]
    result = route(layout, points, "multiblock")
    assert sorted(result.order) == list(range(len(points)))
    assert result.length == pytest.approx(layout.tour_length(result.stops), abs=1e-9)
    assert (result.order, result.length) == mb._multiblock_python(layout, points)
