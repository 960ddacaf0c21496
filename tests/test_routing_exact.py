"""Exact routing ("optimal"): equals a Held-Karp optimum over the same geometry, for 1 and 2 blocks;
the order walks exactly the claimed length; the C extension agrees with the Python version."""


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core.layout import Layout, LayoutError
from server.core.routing import METHODS, route, route_length
from server.core.routing import exact as ex
from tests.routing_reference import optimal_tour_length as held_karp


def distinct_points(layout, picks):
    seen, out = set(), []
    for p in picks:
        point = layout.point(*p)
        if (point.x, point.y) not in seen:
            seen.add((point.x, point.y))
            out.append(point)
    return out


def check(layout, points, exact=True):
    order, length = ex.solve_python(layout, points)
    assert sorted(order) == list(range(len(points)))
    walked = layout.tour_length([points[i] for i in order])
    best = held_karp(layout, points)
    if exact:  # dyadic geometry: every sum is exact
        assert walked == length == best
    else:
        assert walked == pytest.approx(length, rel=1e-12) and length == pytest.approx(best, rel=1e-12)
    if ex._exact is not None:
        assert ex.solve_c(layout, points) == (order, length)
        assert ex.solve_c(layout, points, want_order=False)[1] == length
    return order, length


@st.composite
def instances(draw, blocks, max_picks=12, dyadic=True):
    aisles = draw(st.integers(1, 12))
    slots = draw(st.integers(1, 12))
    if dyadic:
        geometry = dict(slot_length=draw(st.sampled_from([0.5, 1.0, 2.0])),
                        aisle_pitch=draw(st.sampled_from([0.5, 1.0, 3.0, 5.0, 20.0])),
                        cross_aisle_width=draw(st.sampled_from([0.25, 1.0, 2.0, 8.0])))
    else:
        positive = st.floats(0.01, 50.0, allow_nan=False, allow_infinity=False)
        geometry = dict(slot_length=draw(positive), aisle_pitch=draw(positive), cross_aisle_width=draw(positive))
    layout = Layout(aisles=aisles, blocks=blocks, slots=slots, depot_aisle=draw(st.integers(0, aisles - 1)),
                    **geometry)
    # Few aisles or slots now and then, so picks share aisles, ends and blocks.
    used_aisles = draw(st.lists(st.integers(0, aisles - 1), min_size=1, max_size=4))
    pick = st.tuples(st.one_of(st.sampled_from(used_aisles), st.integers(0, aisles - 1)),
                     st.integers(0, blocks - 1),
                     st.one_of(st.sampled_from([0, slots - 1]), st.integers(0, slots - 1)))
    picks = draw(st.lists(pick, min_size=1, max_size=max_picks))
    return layout, distinct_points(layout, picks)[:max_picks]


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(instances(blocks=1))
def test_one_block_equals_held_karp(instance):
    check(*instance)


@SETTINGS
@given(instances(blocks=2))
def test_two_blocks_equal_held_karp(instance):
    check(*instance)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2).flatmap(lambda b: instances(blocks=b, max_picks=10, dyadic=False)))
def test_any_geometry_equals_held_karp(instance):
    check(*instance, exact=False)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2).flatmap(lambda b: instances(blocks=b, max_picks=40)),
       st.randoms(use_true_random=False))
def test_larger_instances_walk_the_claimed_length(instance, rnd):
    # Too many picks for Held-Karp: the order walks the claimed length, and no local change helps.
    layout, points = instance
    order, length = ex.solve_python(layout, points)
    assert layout.tour_length([points[i] for i in order]) == length
    shuffled = order[:]
    rnd.shuffle(shuffled)
    assert layout.tour_length([points[i] for i in shuffled]) >= length
    if ex._exact is not None:
        assert ex.solve_c(layout, points) == (order, length)


def test_edge_cases():
    one_aisle = Layout(aisles=1, blocks=2, slots=10)
    check(one_aisle, distinct_points(one_aisle, [(0, 0, 3)]))
    check(one_aisle, distinct_points(one_aisle, [(0, 1, 9), (0, 0, 0), (0, 1, 0)]))
    layout = Layout(aisles=8, blocks=1, slots=20, depot_aisle=5)
    check(layout, distinct_points(layout, [(5, 0, 7)]))  # one pick, at the depot aisle
    check(layout, distinct_points(layout, [(5, 0, s) for s in (0, 4, 19, 11)]))  # all at the depot aisle
    check(layout, distinct_points(layout, [(0, 0, 19), (7, 0, 0)]))  # both ends, far from the depot
    two = Layout(aisles=8, blocks=2, slots=20, depot_aisle=7)
    check(two, distinct_points(two, [(0, 1, 19), (3, 0, 0), (3, 1, 0), (6, 0, 19)]))


def test_one_pick_is_straight_there_and_back():
    layout = Layout(aisles=10, blocks=2, slots=30, depot_aisle=2)
    point = layout.point(6, 1, 4)
    assert route(layout, [point], "optimal").length == 2 * layout.distance(layout.depot, point)


def test_known_one_block_route():
    # Depot at aisle 0; picks deep in aisles 0 and 3: S-shape over the back cross aisle, 2 * 15 + 2 * 32.
    layout = Layout(aisles=5, blocks=1, slots=30)
    points = [layout.point(0, 0, 29), layout.point(3, 0, 28)]
    result = route(layout, points, "optimal")
    assert result.length == 2 * 15 + 2 * 32
    assert route_length(layout, points, "optimal") == result.length


def test_route_maps_duplicates_and_draws_the_polyline():
    layout = Layout(aisles=6, blocks=2, slots=10, depot_aisle=3)
    points = layout.points([(1, 0, 2), (4, 1, 9), (1, 0, 2), (5, 0, 0)])
    result = route(layout, points, "optimal")
    assert sorted(result.order) == [0, 1, 3]
    assert result.length == held_karp(layout, distinct_points(layout, [(1, 0, 2), (4, 1, 9), (5, 0, 0)]))
    assert result.polyline[0] == result.polyline[-1] == (layout.depot.x, layout.depot.y)


def test_bad_input():
    layout = Layout(aisles=4, blocks=3, slots=10)
    with pytest.raises(LayoutError, match="1 or 2 blocks"):
        route(layout, [layout.point(1, 2, 3)], "optimal")
    with pytest.raises(LayoutError, match="1 or 2 blocks"):
        route_length(layout, [layout.point(1, 2, 3)], "optimal")
    small = Layout(aisles=4, blocks=1, slots=10)
    with pytest.raises(LayoutError):
        route(small, [], "optimal")
    with pytest.raises(LayoutError):
        route(small, [layout.point(1, 2, 3)], "optimal")


def test_auto_is_exact_for_one_and_two_blocks():
    for blocks in (1, 2):
        layout = Layout(aisles=7, blocks=blocks, slots=12, depot_aisle=3)
        points = layout.points([(0, 0, 11), (6, blocks - 1, 0), (2, 0, 5), (4, blocks - 1, 7)])
        assert route_length(layout, points, "auto") == held_karp(layout, points)


def test_state_tables_are_the_papers_classes():
    # Ratliff & Rosenthal: 7 classes for one block (ours: 5 with edges, the empty and the closed
    # tour); two blocks: 23 classes with edges plus the empty one.
    assert len(ex.tables(1).states) == 6
    assert len(ex.tables(2).states) == 24


@pytest.mark.skipif(ex._exact is None, reason="C extension not built")
def test_c_extension_agrees_on_benchmark_sizes():
    import random

    rnd = random.Random(7)
    for blocks in (1, 2):
        layout = Layout(aisles=20, blocks=blocks, slots=30, depot_aisle=rnd.randrange(20))
        for n in (1, 5, 30, 80):
            picks = [(rnd.randrange(20), rnd.randrange(blocks), rnd.randrange(30)) for _ in range(n)]
            points = distinct_points(layout, picks)
            order, length = ex.solve_python(layout, points)
            assert ex.solve_c(layout, points) == (order, length)
            assert layout.tour_length([points[i] for i in order]) == length


def test_method_is_registered():
    assert METHODS["optimal"] is ex.optimal


@pytest.mark.skipif(ex._exact is None, reason="C extension not built")
def test_c_extension_rejects_points_outside_the_layout():
    small, big = Layout(aisles=3, blocks=1, slots=5), Layout(aisles=9, blocks=2, slots=5)
    with pytest.raises(LayoutError, match="outside"):
        ex.solve_c(small, [big.point(8, 0, 1)])
    with pytest.raises(LayoutError, match="outside"):
        ex.solve_c(small, [big.point(1, 1, 1)])
    with pytest.raises(LayoutError, match="1 or 2 blocks"):
        ex.solve_c(Layout(aisles=3, blocks=3), [big.point(1, 1, 1)])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2).flatmap(lambda b: instances(blocks=b, max_picks=30)), st.data())
def test_optimal_length_takes_duplicates_and_matches_route_length(instance, data):
    layout, points = instance
    with_twins = points + data.draw(st.lists(st.sampled_from(points), max_size=5))
    assert ex.optimal_length(layout, with_twins) == route_length(layout, with_twins, "optimal")
    assert ex.solve_python(layout, with_twins, want_order=False)[1] == route_length(layout, points, "optimal")


def test_optimal_length_rejects_bad_input():
    layout = Layout(aisles=3, blocks=1, slots=5)
    with pytest.raises(LayoutError, match="empty"):
        ex.optimal_length(layout, [])
    with pytest.raises(LayoutError, match="outside"):
        ex.optimal_length(layout, [Layout(aisles=3, blocks=1, slots=9).point(1, 0, 7)])
    with pytest.raises(LayoutError, match="1 or 2 blocks"):
        ex.optimal_length(Layout(aisles=3, blocks=3), [layout.point(1, 0, 1)])


def test_pure_python_fallback(monkeypatch):
    monkeypatch.setattr(ex, "_exact", None)
    monkeypatch.setattr(ex, "solve", ex.solve_python)
    layout = Layout(aisles=6, blocks=2, slots=10, depot_aisle=2)
    points = layout.points([(0, 1, 9), (5, 0, 0), (3, 1, 4)])
    assert route(layout, points, "optimal").length == ex.optimal_length(layout, points) == held_karp(layout, points)
    with pytest.raises(LayoutError, match="outside"):
        ex.optimal_length(Layout(aisles=3, blocks=1, slots=5), points)
