"""GraphLayout: a compiled building answering as a Layout, the routing dispatch, and batching and
re-slotting on a building of two halls."""

import itertools
import math
import random
import re

import pytest

from server.core.batching import BatchingError, Cart, Order, OrderLine, make_batches
from server.core.building import (
    AisleRule,
    Anchor,
    Building,
    Column,
    Corridor,
    Hall,
    NamedPoint,
    building_from_layout,
    compile_building,
)
from server.core.graph_layout import FacePoint, GraphLayout
from server.core.layout import Layout, LayoutError, PickPoint
from server.core.routing import polyline, route, route_length
from server.core.slotting import CellSpec, SlotIndex, plan_reslotting

BUILDING = Building(
    halls=(Hall("A", (1, 2, 3, 4), blocks=2, slots=10),
           Hall("B", (11, 12, 13), blocks=1, slots=12, origin=(40.0, 0.0), rotation=90.0)),
    aisles=(AisleRule(3, oneway="up"), AisleRule(12, closed_back=True), AisleRule(4, blocks=(1, 1))),
    columns=(Column("A", 2, (1, 2)),),
    corridors=(Corridor(Anchor("A", 0, 4, 3.0), Anchor("B", 0, 11), via=((20.0, 1.0), (30.0, -2.0)), name="door"),),
    points=(NamedPoint("carts", Anchor("A", 0, 1, -1.0)), NamedPoint("pack", Anchor("B", 0, 13, 1.5))),
)
PLAN = compile_building(BUILDING)
LAYOUT = GraphLayout(PLAN, "carts", "pack")


def cells():
    """Every (aisle index, block, slot) of the building, 0-based."""
    index = {number: i for i, number in enumerate(PLAN.aisle_numbers)}
    return [(index[a], b - 1, s - 1) for a, b, s in PLAN.cells()]


def brute_force(layout: GraphLayout, points) -> float:
    faces = list(dict.fromkeys(p.face for p in points))
    g = layout.graph
    return min(g.walk_length([layout.start, *order, layout.end]) for order in itertools.permutations(faces))


def test_points_are_faces_numbered_as_layout_numbers_them():
    assert (LAYOUT.aisles, LAYOUT.blocks, LAYOUT.slots) == (7, 2, 12)
    p = LAYOUT.point(5, 0, 3)  # aisle 12, block 1, slot 4
    assert isinstance(p, FacePoint) and isinstance(p, PickPoint)
    assert p.face == PLAN.face(12, 1, 4) and (p.x, p.y) == pytest.approx(PLAN.graph.xy(p.face))
    assert LAYOUT.points([(5, 0, 3), (0, 1, 9)])[1].face == PLAN.face(1, 2, 10)
    assert LAYOUT.point(5, 0, 3) is p  # one point object per cell
    for bad, message in [((7, 0, 0), "outside the layout (7 aisles)"),
                         ((3, 1, 0), "aisle 4 spans blocks 1..1, not block 2"),
                         ((4, 0, 12), "slots 1..12, not slot 13"),
                         ((0, 0, -1), "slots 1..10, not slot 0")]:
        with pytest.raises(LayoutError, match=re.escape(message)):
            LAYOUT.point(*bad)
    assert LAYOUT.depot.face == PLAN.points["carts"] and LAYOUT.depot.block == -1
    assert LAYOUT.depots == (LAYOUT.depot, LAYOUT.end_point) and LAYOUT.end_point.face == PLAN.points["pack"]
    assert PLAN.aisle_numbers[LAYOUT.depot_aisle] == 1
    LAYOUT.point(LAYOUT.depot_aisle, 0, 0)  # what waves use for a cell without a place


def test_distances_are_the_graphs_and_directed():
    g = PLAN.graph
    low, high = LAYOUT.point(2, 0, 1), LAYOUT.point(2, 0, 8)  # one-way aisle 3, up
    assert LAYOUT.distance(low, high) == pytest.approx(7.0)
    assert LAYOUT.distance(high, low) > 7.0 + 10
    matrix = LAYOUT.distance_matrix([low, high, LAYOUT.depot])
    assert matrix[0][1] == LAYOUT.distance(low, high) and matrix[1][0] == LAYOUT.distance(high, low)
    assert matrix[2][0] == g.distance(PLAN.points["carts"], low.face) and matrix[1][1] == 0.0
    stops = [high, LAYOUT.point(6, 0, 0)]
    assert LAYOUT.tour_length(stops) == pytest.approx(
        g.distance(LAYOUT.start, high.face) + g.distance(high.face, stops[1].face) + g.distance(stops[1].face, LAYOUT.end))
    assert LAYOUT.tour_length(stops, depot=LAYOUT.end_point) == pytest.approx(
        g.walk_length([LAYOUT.end, high.face, stops[1].face, LAYOUT.end]))
    # A plain PickPoint of the same cell (as from another Layout) is found by its numbers.
    plain = PickPoint(2, 0, 1, 0.0, 0.0)
    assert LAYOUT.distance(plain, high) == LAYOUT.distance(low, high)


def test_route_dispatches_to_the_graph_router_start_to_end():
    rng = random.Random(7)
    for _ in range(25):
        points = [LAYOUT.point(*c) for c in rng.sample(cells(), rng.randint(1, 6))]
        points.append(points[0])  # a twin pick: visited once
        walk = route(LAYOUT, points)
        assert sorted(walk.order) == list(range(len(points) - 1))
        assert walk.length == pytest.approx(LAYOUT.tour_length(walk.stops))
        assert walk.length == pytest.approx(brute_force(LAYOUT, points))
        assert route_length(LAYOUT, points) == pytest.approx(walk.length)
        # The drawn walk runs start -> stops -> end and is exactly as long.
        line = walk.polyline
        assert line[0] == PLAN.graph.nodes[LAYOUT.start] and line[-1] == PLAN.graph.nodes[LAYOUT.end]
        assert sum(math.dist(a, b) for a, b in zip(line, line[1:], strict=False)) == pytest.approx(walk.length)
        assert polyline(LAYOUT, walk.stops) == line
        assert route(LAYOUT, points, "address").length == pytest.approx(
            LAYOUT.tour_length(list(dict.fromkeys(points))))
    with pytest.raises(LayoutError, match="empty pick list"):
        route(LAYOUT, [])
    with pytest.raises(LayoutError, match="unknown routing method 'sshape' on a building plan; known: auto"):
        route_length(LAYOUT, [LAYOUT.point(0, 0, 0)], "sshape")
    with pytest.raises(LayoutError, match="is not a pick face"):
        route(LAYOUT, [LAYOUT.depot])


def test_with_ends_shares_the_graph_and_moves_the_ends():
    back = LAYOUT.with_ends(start="pack", end="carts")
    assert (back.start, back.end) == (LAYOUT.end, LAYOUT.start) and back.graph is LAYOUT.graph
    assert back.point(1, 1, 1) is LAYOUT.point(1, 1, 1)
    same = LAYOUT.with_ends(end="carts")
    assert same.depots == (same.depot,)
    node = LAYOUT.with_ends(start=0)
    assert node.start == 0 and node.end == LAYOUT.end
    # From a cell: the picker steps off its aisle at the nearer end it may walk to.
    at = LAYOUT.point(2, 0, 8)  # one-way up: only its back end
    moved = LAYOUT.with_ends(start=at)
    u, v, _ = PLAN.graph.edges[at.face.edge]
    assert moved.start == v
    assert LAYOUT.with_ends(start=moved.depot).start == v
    with pytest.raises(LayoutError, match="start: unknown point 'dock'; known: carts, pack"):
        LAYOUT.with_ends(start="dock")
    with pytest.raises(LayoutError, match="end: node 999 is not in the graph"):
        GraphLayout(PLAN, "carts", 999)


def test_a_rectangular_layout_as_a_graph_routes_the_same():
    rng = random.Random(3)
    for blocks in (1, 2, 3):
        layout = Layout(aisles=8, blocks=blocks, slots=10, depot_aisle=2)
        graph = GraphLayout(compile_building(building_from_layout(layout)), "depot")
        for _ in range(12):
            picks = [(rng.randrange(8), rng.randrange(blocks), rng.randrange(10)) for _ in range(rng.randint(1, 12))]
            got = route_length(graph, graph.points(picks))
            if len(set(picks)) <= 6:
                assert got == pytest.approx(brute_force(graph, graph.points(picks)), abs=1e-9)
            if blocks <= 2:  # the rectangular exact method agrees
                assert got == pytest.approx(route(layout, layout.points(picks), "optimal").length, abs=1e-9)
            else:
                assert got <= route(layout, layout.points(picks), "multiblock").length + 1e-9
            assert graph.tour_length(graph.points(picks)) == pytest.approx(layout.tour_length(layout.points(picks)))


def test_batching_on_a_building_of_two_halls():
    rng = random.Random(5)
    everywhere = cells()
    orders = [Order(f"SO{n}", [OrderLine(rng.choice(everywhere), rng.randint(1, 3)) for _ in range(rng.randint(1, 3))],
                    volume=rng.uniform(1, 5), totes=1) for n in range(18)]
    cart = Cart(orders=4, totes=4)
    plans = {method: make_batches(orders, cart, LAYOUT, method, rounds=5) for method in ("fcfs", "savings", "improve")}
    for plan in plans.values():
        placed = sorted(o for batch in plan.batches for o in batch.orders)
        assert placed == sorted(o.id for o in orders)
        by_id = {o.id: o for o in orders}
        for batch in plan.batches:
            assert len(batch.orders) <= 4
            points = [LAYOUT.point(*line.point) for o in batch.orders for line in by_id[o].lines]
            assert batch.length == pytest.approx(route_length(LAYOUT, points))
        assert plan.total == pytest.approx(sum(b.length for b in plan.batches))
    assert plans["improve"].total <= plans["fcfs"].total + 1e-9
    # The graph router's own methods are known to batching on a building; the rectangular ones are not.
    address = make_batches(orders, cart, LAYOUT, "fcfs", router="address")
    assert [b.orders for b in address.batches] == [b.orders for b in plans["fcfs"].batches]
    assert address.total >= plans["fcfs"].total - 1e-9
    with pytest.raises(BatchingError, match="unknown routing method 'sshape'; known: auto, exact, search, address"):
        make_batches(orders, cart, LAYOUT, "fcfs", router="sshape")


def test_slotting_on_a_building_of_two_halls():
    specs = [CellSpec(f"{a}-{b}-{s}", a, b, s, max_units=50) for a, b, s in cells()]
    index = SlotIndex(LAYOUT, specs)
    def near(c):
        return min(LAYOUT.distance(d, LAYOUT.point(c.aisle, c.block, c.slot)) for d in LAYOUT.depots)

    # An empty building: a fast mover goes to a cell nearest the start or the drop-off point.
    best = index.suggest("X", 1, 10.0, 10.0, velocity="A")[0].cell_id
    assert near(next(c for c in specs if c.id == best)) == pytest.approx(min(near(c) for c in specs))

    rng = random.Random(11)
    chosen = rng.sample(specs, 40)
    skus = [f"S{k}" for k in range(40)]
    fast = skus[:6]
    history = [sorted({rng.choice(fast) if rng.random() < 0.8 else rng.choice(skus) for _ in range(rng.randint(1, 4))})
               for _ in range(120)]
    # Fast movers start far from both ends.
    far_first = sorted(chosen, key=lambda c: -near(c))
    assignment = dict(zip(skus, [c.id for c in far_first], strict=True))
    plan = plan_reslotting(LAYOUT, chosen, assignment, history, sample=50)
    assert plan.moves and plan.mean_route_after < plan.mean_route_before
    point = {c.id: LAYOUT.point(c.aisle, c.block, c.slot) for c in chosen}

    def mean(cell_of):
        return sum(route_length(LAYOUT, [point[cell_of[s]] for s in o]) for o in history) / len(history)

    assert mean(plan.after) < mean(plan.before)


def test_a_plain_rectangular_hall_is_routed_by_the_rectangular_exact_method():
    rng = random.Random(8)
    # Aisle numbers not in ascending order left to right, the hall turned and moved.
    hall = Hall("A", (15, 12, 13, 11, 14, 16), blocks=2, slots=12, origin=(7.0, 3.0), rotation=30.0)
    plan = compile_building(Building((hall,), aisles=(AisleRule(12), AisleRule(13, blocks=(1, 2))),
                                     points=(NamedPoint("depot", Anchor("A", 0, 13)), NamedPoint("x", Anchor("A", 1, 16, 2.0)))))
    graph = GraphLayout(plan, "depot")
    layout, aisle = graph.rectangular
    assert (layout.aisles, layout.blocks, layout.slots, layout.depot_aisle) == (6, 2, 12, 2)
    assert [aisle[i] for i in range(6)] == [3, 1, 2, 4, 0, 5]  # aisles 11..16 by their place in the hall
    index = {n: i for i, n in enumerate(plan.aisle_numbers)}
    all_cells = [(index[a], b - 1, s - 1) for a, b, s in plan.cells()]
    for _ in range(10):
        points = graph.points(rng.sample(all_cells, rng.randint(13, 40)))
        walk = route(graph, points)
        assert walk.length == pytest.approx(route(layout, graph.rectangular_points(points), "optimal").length)
        assert walk.length == pytest.approx(graph.tour_length(walk.stops))
        assert route_length(graph, points) == pytest.approx(walk.length)
        assert walk.length <= route(graph, points, "search").length + 1e-9
        line = walk.polyline
        assert line[0] == plan.graph.nodes[graph.start] == line[-1]
        assert sum(math.dist(a, b) for a, b in zip(line, line[1:], strict=False)) == pytest.approx(walk.length)


@pytest.mark.parametrize("change", [
    dict(columns=(Column("A", 0, (1, 2)),)),
    dict(aisles=(AisleRule(2, oneway="up"),)),
    dict(aisles=(AisleRule(2, closed_back=True),)),
    dict(aisles=(AisleRule(2, blocks=(1, 1)),)),
    dict(corridors=(Corridor(Anchor("A", 0, 1), Anchor("A", 2, 3)),)),
    dict(points=(NamedPoint("depot", Anchor("A", 0, 1, -1.0)),)),
    dict(points=(NamedPoint("depot", Anchor("A", 1, 1)),)),
])
def test_anything_but_a_plain_hall_is_routed_on_the_graph(change):
    base = dict(halls=(Hall("A", (1, 2, 3), blocks=2, slots=10),), points=(NamedPoint("depot", Anchor("A", 0, 1)),))
    plan = compile_building(Building(**{**base, **change}))
    assert GraphLayout(plan, "depot").rectangular is None
    assert GraphLayout(compile_building(Building(**base)), "depot").rectangular is not None
    two = compile_building(Building(**{**base, "points": (
        NamedPoint("depot", Anchor("A", 0, 1)), NamedPoint("drop", Anchor("A", 0, 3)))}))
    assert GraphLayout(two, "depot", "drop").rectangular is None and GraphLayout(two, "drop").rectangular is not None
