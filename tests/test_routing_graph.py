"""Routing on a walkable graph (server.core.walkgraph, server.core.routing.graph), in C (the
optional extension) and in pure Python: distances and walks respect one-way edges, and on the
graph of a rectangular layout the routes are as long as the rectangular router's optimum."""

import math
import random

import pytest

from server.core import walkgraph
from server.core.layout import Layout, LayoutError
from server.core.routing import exact, route
from server.core.routing.graph import EXACT_MAX_FACES, GRAPH_METHODS, passed_on_the_way, route_faces
from server.core.walkgraph import Face, GraphError, WalkGraph


@pytest.fixture(params=["c", "python"])
def implementation(request, monkeypatch):
    """Run a test with the C extension and again with the pure-Python fallback."""
    if request.param == "c" and walkgraph._c() is None:
        pytest.skip("C extension not built")
    if request.param == "python":
        monkeypatch.setattr(walkgraph, "_graph", None)
    return request.param


def layout_graph(layout: Layout) -> tuple[WalkGraph, dict]:
    """The aisle graph of a rectangular layout: a node where an aisle meets a cross aisle; and, for
    each (aisle, block), the edge of that block of the aisle (from its front end)."""
    a_count, c_count = layout.aisles, layout.blocks + 1
    nodes = [(x, y) for x in layout.aisle_x for y in layout.cross_aisle_y]
    edges, aisle_edge = [], {}
    for a in range(a_count):
        for b in range(layout.blocks):
            aisle_edge[a, b] = len(edges)
            edges.append((a * c_count + b, a * c_count + b + 1))
    for a in range(a_count - 1):
        for c in range(c_count):
            edges.append((a * c_count + c, (a + 1) * c_count + c))
    return WalkGraph(nodes, edges), aisle_edge


def layout_face(layout: Layout, aisle_edge: dict, aisle: int, block: int, slot: int) -> Face:
    return Face(aisle_edge[aisle, block], layout.slot_y(block, slot) - layout.cross_aisle_y[block])


def random_layout_instance(rng: random.Random, n: int, blocks: int):
    layout = Layout(aisles=rng.randint(3, 10), blocks=blocks, slots=rng.randint(5, 20),
                    aisle_pitch=rng.choice([2.5, 3.0, 5.0]), depot_aisle=0)
    picks = set()
    n = min(n, layout.aisles * blocks * layout.slots)
    while len(picks) < n:
        picks.add((rng.randrange(layout.aisles), rng.randrange(blocks), rng.randrange(layout.slots)))
    picks = sorted(picks)
    graph, aisle_edge = layout_graph(layout)
    faces = [layout_face(layout, aisle_edge, *p) for p in picks]
    depot = layout.depot_aisle * (blocks + 1)
    return layout, layout.points(picks), graph, faces, depot


# --- the graph ---------------------------------------------------------------------------------


def test_json_round_trip_and_lengths():
    data = {"nodes": [[0, 0], [3, 4], [3, 0]], "edges": [[0, 1], [1, 2, "oneway"]]}
    graph = WalkGraph.from_json(data)
    assert graph.edges == ((0, 1, False), (1, 2, True))
    assert graph.lengths == (5.0, 4.0)
    assert graph.to_json() == {"nodes": [[0.0, 0.0], [3.0, 4.0], [3.0, 0.0]],
                               "edges": [[0, 1], [1, 2, "oneway"]]}
    assert WalkGraph.from_json(graph.to_json()).edges == graph.edges
    assert WalkGraph(graph.nodes, graph.edges).edges == graph.edges


def test_one_way_edges_are_walked_forward_only(implementation):
    # A square 0-1-2-3; the edge 1 -> 2 is one-way.
    graph = WalkGraph([(0, 0), (10, 0), (10, 10), (0, 10)],
                      [(0, 1), (1, 2, "oneway"), (2, 3), (3, 0)])
    assert graph.node_distance(1, 2) == 10
    assert graph.node_distance(2, 1) == 30  # round the other three sides
    assert graph.node_distance(0, 0) == 0
    # A face on the one-way edge, 4 m from node 1: reached only from node 1, left only to node 2.
    face = Face(1, 4.0)
    assert graph.xy(face) == (10.0, 4.0)
    assert graph.distance(1, face) == 4
    assert graph.distance(2, face) == 10 + 10 + 10 + 4
    assert graph.distance(face, 1) == 6 + 30
    assert graph.distance(face, Face(1, 9.0)) == 5
    assert graph.distance(Face(1, 9.0), face) == 1 + 30 + 4
    # A face on a two-way edge runs directly along it either way.
    assert graph.distance(Face(0, 2.0), Face(0, 7.0)) == graph.distance(Face(0, 7.0), Face(0, 2.0)) == 5
    assert graph.path(Face(1, 9.0), face) == [(10.0, 9.0), (10.0, 10.0), (0.0, 10.0), (0.0, 0.0),
                                              (10.0, 0.0), (10.0, 4.0)]
    assert graph.walk_length([0, face, Face(1, 9.0), 3]) == 14 + 5 + 11


def test_unreachable_nodes_are_infinitely_far(implementation):
    graph = WalkGraph([(0, 0), (1, 0), (5, 5)], [(0, 1, "oneway")])
    assert graph.node_distance(0, 1) == 1
    assert graph.node_distance(1, 0) == float("inf")
    assert graph.node_distance(0, 2) == float("inf")
    with pytest.raises(GraphError, match="no walk"):
        graph.path(1, 0)


def test_matrix_depot_row_and_column(implementation):
    graph = WalkGraph([(0, 0), (10, 0), (20, 0)], [(0, 1), (1, 2)])
    faces = [Face(0, 5.0), Face(1, 5.0)]
    assert graph.matrix(faces, 0, 2) == [
        [20.0, 5.0, 15.0],
        [15.0, 0.0, 10.0],
        [5.0, 10.0, 0.0],
    ]


# --- routes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("blocks", [1, 2])
def test_exact_on_a_rectangular_layout_equals_the_rectangular_optimum(implementation, blocks):
    rng = random.Random(blocks)
    for _ in range(15):
        layout, points, graph, faces, depot = random_layout_instance(rng, rng.randint(1, 9), blocks)
        optimum = route(layout, points, "optimal").length
        order, length = route_faces(graph, faces, depot, depot, "exact")
        assert sorted(order) == list(range(len(faces)))
        assert length == pytest.approx(optimum, abs=1e-9)
        assert length == pytest.approx(graph.walk_length([depot, *(faces[i] for i in order), depot]), abs=1e-9)


def test_search_is_never_below_the_rectangular_optimum_and_close_to_it(implementation):
    rng = random.Random(7)
    gaps = []
    for _ in range(12):
        layout, points, graph, faces, depot = random_layout_instance(rng, rng.randint(15, 30), 1)
        optimum = exact.optimal(layout, points)[1]
        order, length = route_faces(graph, faces, depot, depot, "search", budget_ms=5)
        assert sorted(order) == list(range(len(faces)))
        assert length == pytest.approx(graph.walk_length([depot, *(faces[i] for i in order), depot]), abs=1e-9)
        assert length >= optimum - 1e-9
        gaps.append(length / optimum - 1)
    assert sum(gaps) / len(gaps) < 0.02


def test_auto_is_exact_up_to_the_limit_and_address_keeps_the_order(implementation):
    rng = random.Random(11)
    layout, points, graph, faces, depot = random_layout_instance(rng, EXACT_MAX_FACES, 2)
    assert route_faces(graph, faces, depot, depot, "auto") == route_faces(graph, faces, depot, depot, "exact")
    order, length = route_faces(graph, faces, depot, depot, "address")
    assert order == list(range(len(faces)))
    assert length == pytest.approx(graph.walk_length([depot, *faces, depot]), abs=1e-9)
    assert set(GRAPH_METHODS) == {"auto", "exact", "search", "address"}


def test_start_and_end_differ(implementation):
    # A corridor 0 --- 1 --- 2: start at 0, end at 2; faces either side of node 1.
    graph = WalkGraph([(0, 0), (10, 0), (20, 0)], [(0, 1), (1, 2)])
    faces = [Face(1, 8.0), Face(0, 3.0), Face(1, 2.0)]
    for method in ("exact", "search", "auto"):
        assert route_faces(graph, faces, 0, 2, method) == ([1, 2, 0], 20.0)
    assert route_faces(graph, faces, 2, 0, "exact") == ([0, 2, 1], 20.0)


@pytest.mark.skipif(walkgraph._c() is None, reason="C extension not built")
def test_c_and_python_agree(monkeypatch):
    rng = random.Random(5)
    for _ in range(40):
        layout, points, c_graph, faces, depot = random_layout_instance(rng, rng.randint(1, 12), rng.randint(1, 3))
        # odd aisles one-way from front to back; start != end on the front cross aisle
        aisle_edges = layout.aisles * layout.blocks
        edges = [(*e[:2], "oneway") if i < aisle_edges and i // layout.blocks % 2 else e
                 for i, e in enumerate(c_graph.edges)]
        end = (layout.aisles - 1) * (layout.blocks + 1)
        c_graph = WalkGraph(c_graph.nodes, edges)
        with monkeypatch.context() as patch:
            patch.setattr(walkgraph, "_graph", None)
            py_graph = WalkGraph(c_graph.nodes, edges)
            py_matrix = py_graph.matrix(faces, depot, end)
            py_route = route_faces(py_graph, faces, depot, end, "exact")
        c_matrix = c_graph.matrix(faces, depot, end)
        assert [x for row in c_matrix for x in row] == pytest.approx([x for row in py_matrix for x in row], abs=1e-9)
        c_route = route_faces(c_graph, faces, depot, end, "exact")
        assert c_route[0] == py_route[0]
        assert c_route[1] == pytest.approx(py_route[1], abs=1e-9)


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("nodes", "edges", "message"), [
    ([], [], "nodes: a graph needs at least one node"),
    ([(0, 0), (1,)], [], r"nodes\[1\]: a node is \[x, y\]"),
    ([(0, 0), (1, float("nan"))], [], r"nodes\[1\]\[1\]: must be a finite number"),
    ([(0, 0), (1, 0)], [(0, 2)], r"edges\[0\]\[1\]: node 2 is outside 0..1"),
    ([(0, 0), (1, 0)], [(0, 1), (1, 1)], r"edges\[1\]: an edge joins two different nodes"),
    ([(0, 0), (1, 0)], [(0, 1, "up")], r"edges\[0\]\[2\]: only \"oneway\""),
    ([(0, 0), (1, 0)], [(0, "1")], r"edges\[0\]\[1\]: a node is an integer index"),
])
def test_bad_graphs_name_the_key(nodes, edges, message):
    with pytest.raises(GraphError, match=message):
        WalkGraph(nodes, edges)


def test_from_json_names_the_missing_key():
    with pytest.raises(GraphError, match="graph: lacks 'edges'"):
        WalkGraph.from_json({"nodes": [[0, 0]]})


def test_bad_routes_name_the_key(implementation):
    graph = WalkGraph([(0, 0), (10, 0), (10, 10)], [(0, 1), (1, 2, "oneway")])
    good = [Face(0, 5.0)]
    cases = [
        (dict(faces=[]), "faces: an empty pick list has no route"),
        (dict(faces=[Face(0, 10.5)]), r"faces\[0\]\.offset: 10\.5 m is off edge 0 \(its length is 10 m\)"),
        (dict(faces=[Face(0, -1.0)]), r"faces\[0\]\.offset: -1 m is off edge 0"),
        (dict(faces=[Face(2, 1.0)]), r"faces\[0\]\.edge: edge 2 is outside 0..1"),
        (dict(faces=[Face(0, 1.0), Face(0, 1.0)]), r"faces\[1\]: the same face as faces\[0\]"),
        (dict(start=3), "start: node 3 is outside 0..2"),
        (dict(end=-1), "end: node -1 is outside 0..2"),
        # The end node lies past the one-way edge: the face on it traps the picker.
        (dict(faces=[Face(1, 5.0)], end=0), r"faces\[0\]: no walk leads from it to end node 0"),
        (dict(start=2), r"faces\[0\]: no walk reaches it from start node 2"),
        (dict(method="fastest"), "method: unknown routing method 'fastest'"),
        (dict(budget_ms=0), "budget_ms: must be a positive number"),
        (dict(faces=[Face(0, float(i)) for i in range(EXACT_MAX_FACES + 1)], method="exact"),
         "faces: method 'exact' takes at most 12 faces"),
    ]
    for change, message in cases:
        args = dict(faces=good, start=0, end=0, method="auto", budget_ms=None) | change
        with pytest.raises(GraphError, match=message):
            route_faces(graph, args["faces"], args["start"], args["end"], args["method"], args["budget_ms"])
    assert issubclass(GraphError, LayoutError)


# --- faces walked past on the way ----------------------------------------------------------------


def test_faces_behind_the_first_on_a_one_way_edge_ride_with_it(implementation):
    # A loop: 0 -> 1 one-way (faces at 2, 5, 8 m), back 1 -> 2 -> 0 both ways (a face on 1-2).
    graph = WalkGraph([(0, 0), (10, 0), (10, 10)], [(0, 1, "oneway"), (1, 2), (2, 0)])
    faces = [Face(0, 8.0), Face(1, 4.0), Face(0, 2.0), Face(0, 5.0)]
    assert passed_on_the_way(graph, faces, 0, 0) == ([1, 2], {2: (2, 3, 0)})
    loop = 10 + 10 + math.hypot(10, 10)
    for method in ("exact", "search", "auto"):
        assert route_faces(graph, faces, 0, 0, method) == ([2, 3, 0, 1], pytest.approx(loop))


def test_faces_before_the_deepest_in_a_dead_end_ride_with_it(implementation):
    # A corridor 0 --- 1 --- 2 and a dead-end aisle 1 -> 3 (faces at 2, 5, 8 m from the corridor).
    graph = WalkGraph([(0, 0), (10, 0), (20, 0), (10, 10)], [(0, 1), (1, 2), (3, 1)])
    faces = [Face(2, 8.0), Face(2, 2.0), Face(1, 5.0), Face(2, 5.0)]  # edge 2 runs from the dead end
    kept, riders = passed_on_the_way(graph, faces, 0, 2)
    assert kept == [1, 2] and riders == {1: (0, 3, 1)}
    for method in ("exact", "search", "auto"):
        order, length = route_faces(graph, faces, 0, 2, method)
        assert order == [0, 3, 1, 2] and length == pytest.approx(20 + 2 * 8)
    # When the dead end is where the route ends, nothing rides: the walk need not come back.
    assert passed_on_the_way(graph, faces, 0, 3) == ([0, 1, 2, 3], {})
