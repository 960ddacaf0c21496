"""The multiblock method: a real tour, never below the optimum, and the optimum on most small
instances (Held-Karp over the same geometry)."""

import random

import pytest

from server.core.layout import Layout, LayoutError
from server.core.routing import METHODS, route
from server.core.routing.heuristics import order_length
from server.core.routing.multiblock import multiblock
from tests.test_routing_heuristics import held_karp, random_instance


def test_multiblock_is_never_below_and_mostly_at_held_karp():
    rng = random.Random(3)
    hits = total = 0
    for _ in range(60):
        layout, points = random_instance(rng, 9, blocks=rng.choice([3, 4]))
        optimum = held_karp(layout.distance_matrix([layout.depot, *points]))
        order, length = multiblock(layout, points)
        assert sorted(order) == list(range(len(points)))
        assert length == pytest.approx(layout.tour_length([points[i] for i in order]), abs=1e-9)
        assert length >= optimum - 1e-9
        hits += length <= optimum + 1e-9
        total += 1
    assert hits >= 0.9 * total, f"optimal on {hits} of {total}"


def test_multiblock_on_one_and_two_blocks_too():
    rng = random.Random(5)
    for blocks in (1, 2):
        for _ in range(15):
            layout, points = random_instance(rng, 8, blocks=blocks)
            optimum = held_karp(layout.distance_matrix([layout.depot, *points]))
            _, length = multiblock(layout, points)
            assert optimum - 1e-9 <= length <= optimum * 1.05 + 1e-9


def test_multiblock_larger_instances_are_consistent_and_beat_the_heuristics():
    rng = random.Random(9)
    for _ in range(5):
        layout, points = random_instance(rng, 60, blocks=4)
        order, length = multiblock(layout, points)
        assert sorted(order) == list(range(len(points)))
        assert length == pytest.approx(order_length(layout, points, order), abs=1e-9)
        for name in ("sshape", "largest_gap", "combined"):
            assert length <= METHODS[name](layout, points)[1] + 1e-9
        assert multiblock(layout, points) == (order, length)  # deterministic


def test_multiblock_through_route_and_bad_input():
    layout = Layout(aisles=8, blocks=3, slots=12)
    points = [layout.point(1, 2, 3), layout.point(7, 0, 11), layout.point(1, 2, 3)]
    result = route(layout, points, "multiblock")
    assert sorted(result.order) == [0, 1]
    assert route(layout, points[:1], "multiblock").order == [0]
    with pytest.raises(LayoutError, match="empty"):
        route(layout, [], "multiblock")
    with pytest.raises(LayoutError, match="outside"):
        route(layout, [Layout(aisles=9, blocks=4, slots=12).point(8, 3, 0)], "multiblock")
