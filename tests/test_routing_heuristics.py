"""Routing heuristics (S-shape, return, midpoint, largest gap, combined) on 1-4 blocks: real
orders, claimed length = recomputed length, never below a Held-Karp optimum."""

import random

import pytest

from server.core.layout import Layout, LayoutError
from server.core.routing import METHODS, route, route_length
from server.core.routing.heuristics import HEURISTICS, node_matrix, order_length
from tests.routing_reference import held_karp


def random_instance(rng: random.Random, max_picks: int, blocks: int | None = None):
    layout = Layout(
        aisles=rng.randint(1, 12), blocks=blocks or rng.randint(1, 4), slots=rng.randint(1, 25),
        slot_length=rng.choice([1.0, 1.3]), aisle_pitch=rng.choice([3.0, 5.0]),
        cross_aisle_width=rng.choice([1.0, 2.5]), depot_aisle=0,
    )
    layout = Layout(**{**layout.to_bench(), "depot_aisle": rng.randrange(layout.aisles)})
    picks = [
        (rng.randrange(layout.aisles), rng.randrange(layout.blocks), rng.randrange(layout.slots))
        for _ in range(rng.randint(1, max_picks))
    ]
    unique = list(dict.fromkeys(picks))
    return layout, [layout.point(*pick) for pick in unique]


def test_node_matrix_is_the_layout_distance():
    rng = random.Random(7)
    for _ in range(100):
        layout, points = random_instance(rng, 15)
        fast = node_matrix(layout, points)
        slow = layout.distance_matrix([layout.depot, *points])
        assert all(abs(a - b) < 1e-9 for r, s in zip(fast, slow, strict=True) for a, b in zip(r, s, strict=True))


@pytest.mark.parametrize("method", HEURISTICS)
def test_heuristic_orders_are_permutations_with_their_recomputed_length(method):
    rng = random.Random(HEURISTICS.index(method))
    for _ in range(150):
        layout, points = random_instance(rng, 40)
        order, length = METHODS[method](layout, points)
        assert sorted(order) == list(range(len(points)))
        assert length == pytest.approx(layout.tour_length([points[i] for i in order]), abs=1e-9)
        assert length == pytest.approx(order_length(layout, points, order), abs=1e-9)


@pytest.mark.parametrize("method", HEURISTICS)
def test_heuristics_never_beat_held_karp(method):
    rng = random.Random(11)
    for _ in range(40):
        layout, points = random_instance(rng, 8)
        optimum = held_karp(layout.distance_matrix([layout.depot, *points]))
        _, length = METHODS[method](layout, points)
        assert length >= optimum - 1e-9


def test_sshape_in_one_block_alternates_direction():
    layout = Layout(aisles=4, blocks=1, slots=10)
    points = [layout.point(a, 0, s) for a, s in [(0, 2), (0, 7), (2, 8), (2, 1), (3, 5)]]
    order, _ = METHODS["sshape"](layout, points)
    # Up aisle 0, down aisle 2, then into aisle 3 from the front and back.
    assert order == [0, 1, 2, 3, 4]


def test_multi_block_frame_picks_the_left_aisle_on_the_way_up():
    layout = Layout(aisles=5, blocks=3, slots=10)
    picks = [(1, 0, 3), (4, 2, 5), (2, 2, 1), (3, 1, 6), (1, 1, 8)]
    points = [layout.point(*p) for p in picks]
    for method in ("sshape", "largest_gap", "combined", "midpoint"):
        order, _ = METHODS[method](layout, points)
        assert order[:2] == [0, 4], method  # aisle 1 in blocks 0 and 1, on the way to block 2
        assert set(order[2:4]) == {1, 2}, method  # then the farthest block


def test_route_through_the_registry_and_bad_input():
    layout = Layout(aisles=6, blocks=3, slots=10)
    points = [layout.point(2, 1, 3), layout.point(2, 1, 3), layout.point(5, 2, 9)]
    for method in HEURISTICS:
        result = route(layout, points, method)
        assert sorted(result.order) == [0, 2]
        assert result.length == pytest.approx(route_length(layout, points, method))
        assert result.polyline[0] == result.polyline[-1] == (layout.depot.x, layout.depot.y)
    with pytest.raises(LayoutError, match="empty"):
        route(layout, [], "sshape")
    with pytest.raises(LayoutError, match="unknown routing method"):
        route(layout, points, "zigzag")
    with pytest.raises(LayoutError, match="outside"):
        layout.point(6, 0, 0)
    outside = Layout(aisles=9, blocks=3, slots=10).point(8, 2, 0)
    with pytest.raises(LayoutError, match="outside"):
        route(layout, [outside], "combined")
    with pytest.raises(LayoutError, match="aisles"):
        Layout(aisles=0)
