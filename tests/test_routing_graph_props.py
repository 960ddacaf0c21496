"""Properties of graph routing on random small graphs (some one-way edges, faces on them, start !=
end), against an oracle written here independently: each face splits its edge into two, Floyd-
Warshall over the split graph, then every permutation of the faces."""

import math
import random
from contextlib import contextmanager
from itertools import permutations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core import walkgraph
from server.core.routing.graph import route_faces
from server.core.walkgraph import Face, GraphError, WalkGraph

IMPLEMENTATIONS = ["c", "python"] if walkgraph._c() is not None else ["python"]
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def implementation(name: str):
    """Graphs built inside use the C extension or the pure-Python fallback."""
    saved = walkgraph._graph
    walkgraph._graph = False if name == "c" else None
    try:
        yield
    finally:
        walkgraph._graph = saved


def build(pick, trap: bool, most_faces: int = 6):
    """(nodes, edges, faces, start, end) from `pick(lo, hi)`, an integer in [lo, hi]. Without
    `trap` the graph is strongly connected (a ring through every node, then chords)."""
    n = pick(2, 6)
    spots = random.Random(pick(0, 10**6)).sample([(x, y) for x in range(6) for y in range(6)], n)
    nodes = [(float(x) * 2, float(y) * 1.5) for x, y in spots]
    edges = []
    for i in range(n if n > 2 else 1):
        u, v = i, (i + 1) % n
        edges.append((u, v, "oneway") if pick(0, 2) == 0 else (u, v))
    if n == 2 and edges[0][2:] and not trap:
        edges.append((1, 0, "oneway"))
    for _ in range(pick(0, 3)):
        u, v = pick(0, n - 1), pick(0, n - 1)
        if u != v:
            edges.append((u, v, "oneway") if pick(0, 1) else (u, v))
    if trap:  # a one-way spur to a new node: a face on it can be reached but not left
        nodes.append((20.0, 20.0))
        edges.append((pick(0, n - 1), n, "oneway"))
    graph = WalkGraph(nodes, edges)
    faces = set()
    for _ in range(pick(1, most_faces)):
        e = pick(0, len(edges) - 1)
        faces.add(Face(e, graph.lengths[e] * pick(0, 8) / 8))
    faces = sorted(faces)
    start, end = pick(0, n - 1), pick(0, n - 1)
    return nodes, edges, faces, start, end


@st.composite
def instances(draw, trap: bool = False):
    return build(lambda lo, hi: draw(st.integers(lo, hi)), trap)


def oracle(nodes, edges, faces, start, end):
    """(shortest length, spot-to-spot distance function) by brute force on the split graph."""
    points = list(nodes)
    arcs = []
    face_vertex = {}
    for e, (u, v, *one) in enumerate(edges):
        length = math.dist(nodes[u], nodes[v])
        on_edge = sorted((f.offset, i) for i, f in enumerate(faces) if f.edge == e)
        chain, at = [u], [0.0]
        for offset, i in on_edge:
            face_vertex[i] = len(points)
            points.append(None)
            chain.append(face_vertex[i])
            at.append(offset)
        chain.append(v)
        at.append(length)
        for a, b, x, y in zip(chain, chain[1:], at, at[1:], strict=False):
            arcs.append((a, b, y - x))
            if not one:
                arcs.append((b, a, y - x))
    size = len(points)
    dist = [[0.0 if i == j else math.inf for j in range(size)] for i in range(size)]
    for a, b, w in arcs:
        dist[a][b] = min(dist[a][b], w)
    for k in range(size):
        dk = dist[k]
        for i in range(size):
            di, dik = dist[i], dist[i][k]
            if dik == math.inf:
                continue
            for j in range(size):
                if dik + dk[j] < di[j]:
                    di[j] = dik + dk[j]
    best = math.inf
    for order in permutations(range(len(faces))):
        walk = [start, *(face_vertex[i] for i in order), end]
        best = min(best, sum(dist[a][b] for a, b in zip(walk, walk[1:], strict=False)))
    return best


def _along(graph: WalkGraph, edge: int, point) -> tuple[float, float]:
    """(metres along the edge from its first node, metres off its line) of a point."""
    u, v, _ = graph.edges[edge]
    (x0, y0), (x1, y1), length = graph.nodes[u], graph.nodes[v], graph.lengths[edge]
    dx, dy = point[0] - x0, point[1] - y0
    return (dx * (x1 - x0) + dy * (y1 - y0)) / length, abs(dx * (y1 - y0) - dy * (x1 - x0)) / length


def on_some_edge(graph: WalkGraph, p, q) -> bool:
    """p -> q runs along an edge, in a direction the edge allows."""
    for edge, ((_, _, oneway), length) in enumerate(zip(graph.edges, graph.lengths, strict=True)):
        if length == 0:
            continue
        (sp, off_p), (sq, off_q) = _along(graph, edge, p), _along(graph, edge, q)
        if off_p > 1e-9 or off_q > 1e-9 or not -1e-9 <= min(sp, sq) <= max(sp, sq) <= length + 1e-9:
            continue
        if not oneway or sq >= sp - 1e-9:
            return True
    return False


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@SETTINGS
@given(instances())
def test_exact_equals_the_oracle(impl, case):
    nodes, edges, faces, start, end = case
    with implementation(impl):
        graph = WalkGraph(nodes, edges)
        expected = oracle(nodes, edges, faces, start, end)
        order, length = route_faces(graph, faces, start, end, "exact")
    assert sorted(order) == list(range(len(faces)))
    assert length == pytest.approx(expected, abs=1e-9)
    assert length == pytest.approx(graph.walk_length([start, *(faces[i] for i in order), end]), abs=1e-12)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@SETTINGS
@given(instances())
def test_search_is_never_below_the_oracle(impl, case):
    nodes, edges, faces, start, end = case
    with implementation(impl):
        graph = WalkGraph(nodes, edges)
        order, length = route_faces(graph, faces, start, end, "search")
    assert sorted(order) == list(range(len(faces)))
    assert length >= oracle(nodes, edges, faces, start, end) - 1e-9


def test_search_mostly_finds_the_oracle():
    rng = random.Random(15)
    hits = total = 0
    for _ in range(60):
        nodes, edges, faces, start, end = build(rng.randint, False, 7)
        graph = WalkGraph(nodes, edges)
        length = route_faces(graph, faces, start, end, "search")[1]
        hits += length <= oracle(nodes, edges, faces, start, end) + 1e-9
        total += 1
    assert hits >= 0.9 * total


@SETTINGS
@given(instances(trap=True))
def test_an_unreachable_face_or_end_is_refused(case):
    nodes, edges, faces, start, end = case
    graph = WalkGraph(nodes, edges)
    expected = oracle(nodes, edges, faces, start, end)
    if expected == math.inf:
        with pytest.raises(GraphError, match=r"faces(\[\d+\])?: no walk"):
            route_faces(graph, faces, start, end, "exact")
    else:
        assert route_faces(graph, faces, start, end, "exact")[1] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@SETTINGS
@given(instances(), st.data())
def test_paths_follow_edges_forward_and_are_as_long_as_the_distance(impl, case, data):
    nodes, edges, faces, start, end = case
    with implementation(impl):
        graph = WalkGraph(nodes, edges)
        spots = [*range(len(nodes)), *faces]
        for _ in range(4):
            a, b = data.draw(st.sampled_from(spots)), data.draw(st.sampled_from(spots))
            metres = graph.distance(a, b)
            if metres == math.inf:
                with pytest.raises(GraphError, match="no walk"):
                    graph.path(a, b)
                continue
            line = graph.path(a, b)
            assert line[0] == graph.xy(a) and line[-1] == graph.xy(b)
            assert all(on_some_edge(graph, p, q) for p, q in zip(line, line[1:], strict=False))
            assert sum(math.dist(p, q) for p, q in zip(line, line[1:], strict=False)) == pytest.approx(metres, abs=1e-9)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@SETTINGS
@given(instances())
def test_the_walk_goes_from_start_to_end(impl, case):
    nodes, edges, faces, start, end = case
    with implementation(impl):
        graph = WalkGraph(nodes, edges)
        order, length = route_faces(graph, faces, start, end, "auto")
        spots = [start, *(faces[i] for i in order), end]
        line = [graph.xy(start)]
        for a, b in zip(spots, spots[1:], strict=False):
            line.extend(graph.path(a, b)[1:])
    assert line[0] == nodes[start] and line[-1] == nodes[end]
    assert sum(math.dist(p, q) for p, q in zip(line, line[1:], strict=False)) == pytest.approx(length, abs=1e-9)
