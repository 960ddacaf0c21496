"""Pick-path routing: the visiting order and length of a picker's tour from a depot and back.

`route(layout, points, method="auto")` returns a `Route`; `route_length` only its length (the
hot path for batching and slotting). Methods register themselves in `METHODS` by name.
On a `GraphLayout` (any building) the three answer from `routing.graph.route_faces` with its
`GRAPH_METHODS`, start -> stops -> end.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from server.core.graph_layout import GraphLayout
from server.core.layout import Layout, LayoutError, PickPoint


@dataclass(frozen=True)
class Route:
    method: str
    length: float
    # Indices into the points given, in visiting order; each distinct point once.
    order: list[int]
    stops: list[PickPoint] = field(default_factory=list)
    # The walk as (x, y) vertices, depot to depot, for a handheld to draw.
    polyline: list[tuple[float, float]] = field(default_factory=list)


# A method takes the layout and the distinct points and returns (order, length).
RouteMethod = Callable[[Layout, list[PickPoint]], tuple[list[int], float]]
METHODS: dict[str, RouteMethod] = {}


def register(name: str):
    def add(method: RouteMethod) -> RouteMethod:
        METHODS[name] = method
        return method

    return add


def distinct(points: list[PickPoint], key=None) -> tuple[list[PickPoint], list[int]]:
    """Distinct points (picks sharing a point are visited once) and, for each, its first index;
    `key(point)` says which are the same (default: the coordinates)."""
    seen: dict = {}
    unique, first_index = [], []
    for index, point in enumerate(points):
        at = (point.x, point.y) if key is None else key(point)
        if at not in seen:
            seen[at] = len(unique)
            unique.append(point)
            first_index.append(index)
    return unique, first_index


def _check(layout: Layout, points: list[PickPoint], method: str) -> None:
    if not points:
        raise LayoutError("an empty pick list has no route")
    if method not in METHODS:
        raise LayoutError(f"unknown routing method {method!r}; known: {', '.join(sorted(METHODS))}")
    aisles, blocks, slots = layout.aisles, layout.blocks, layout.slots
    for p in points:
        if not (0 <= p.aisle < aisles and 0 <= p.block < blocks and 0 <= p.slot < slots):
            layout.point(p.aisle, p.block, p.slot)  # raises with the full message


def route(layout: Layout, points: list[PickPoint], method: str = "auto") -> Route:
    if isinstance(layout, GraphLayout):
        return _graph_route(layout, points, method)
    _check(layout, points, method)
    unique, first_index = distinct(points)
    order, length = METHODS[method](layout, unique)
    stops = [unique[i] for i in order]
    return Route(method, length, [first_index[i] for i in order], stops, polyline(layout, stops))


def route_length(layout: Layout, points: list[PickPoint], method: str = "auto") -> float:
    """The length only: the hot path of batching and slotting (microseconds for 1-2 blocks)."""
    if isinstance(layout, GraphLayout):
        faces, _ = _graph_faces(layout, points, method)
        if _plain(layout, method):
            return route_length(layout.rectangular[0], layout.rectangular_points(points), "optimal")
        return route_faces(layout.graph, faces, layout.start, layout.end, method)[1]
    if method in ("auto", "optimal") and layout.blocks <= exact.MAX_BLOCKS:
        return exact.optimal_length(layout, points)  # checks the points itself
    _check(layout, points, method)
    return METHODS[method](layout, distinct(points)[0])[1]


def polyline(layout: Layout, stops: list[PickPoint]) -> list[tuple[float, float]]:
    """The walk depot -> stops -> depot along aisle and cross-aisle centre lines (on a GraphLayout:
    start -> stops -> end along the graph)."""
    if isinstance(layout, GraphLayout):
        spots = [layout.start, *(layout.spot(p) for p in stops), layout.end]
        line = [layout.graph.xy(layout.start)]
        for a, b in zip(spots, spots[1:], strict=False):
            for vertex in layout.graph.path(a, b)[1:]:
                if vertex != line[-1]:
                    line.append(vertex)
        return line
    depot = layout.depot
    walk = [depot, *stops, depot]
    line = [(depot.x, depot.y)]
    for a, b in zip(walk, walk[1:], strict=False):
        for vertex in _leg(layout, a, b):
            if vertex != line[-1]:
                line.append(vertex)
    return line


def _leg(layout: Layout, a: PickPoint, b: PickPoint) -> list[tuple[float, float]]:
    """Corner points of one shortest leg from a to b (ending at b)."""
    if a.aisle == b.aisle:
        return [(b.x, b.y)]
    best = None
    for ya in layout._exits(a):
        for yb in layout._exits(b):
            walk = abs(a.y - ya) + abs(ya - yb) + abs(yb - b.y)
            if best is None or walk < best[0]:
                best = (walk, ya, yb)
    _, ya, yb = best
    if ya == yb:
        return [(a.x, ya), (b.x, yb), (b.x, b.y)]
    # Change cross aisle along a's own aisle (any aisle between gives the same length).
    return [(a.x, ya), (a.x, yb), (b.x, yb), (b.x, b.y)]


# --- any building: the graph router -----------------------------------------------------------------


def _graph_faces(layout: GraphLayout, points: list[PickPoint], method: str) -> tuple[list, list[int]]:
    """The distinct faces of `points` and, for each, its first index into `points`."""
    if not points:
        raise LayoutError("an empty pick list has no route")
    if method not in GRAPH_METHODS:
        raise LayoutError(f"unknown routing method {method!r} on a building plan; known: {', '.join(GRAPH_METHODS)}")
    for point in points:
        if point.block < 0:
            raise LayoutError(f"point (aisle {point.aisle}, block {point.block}, slot {point.slot}) is not a pick face")
    unique, first_index = distinct(points, layout.spot)
    return [layout.spot(p) for p in unique], first_index


def _plain(layout: GraphLayout, method: str) -> bool:
    """A plain rectangular hall of 1-2 blocks routed by "auto": the rectangular exact method answers."""
    return method == "auto" and layout.rectangular is not None and layout.rectangular[0].blocks <= exact.MAX_BLOCKS


def _graph_route(layout: GraphLayout, points: list[PickPoint], method: str) -> Route:
    faces, first_index = _graph_faces(layout, points, method)
    if _plain(layout, method):
        walk = route(layout.rectangular[0], layout.rectangular_points(points), "optimal")
        order, length = walk.order, walk.length
    else:
        order, length = route_faces(layout.graph, faces, layout.start, layout.end, method)
        order = [first_index[i] for i in order]
    stops = [points[i] for i in order]
    return Route(method, length, order, stops, polyline(layout, stops))


# --- a general baseline: nearest neighbour, then 2-opt on the shortest-path distances --------


@register("nn_2opt")
def nearest_neighbour_2opt(layout: Layout, points: list[PickPoint]) -> tuple[list[int], float]:
    nodes = [layout.depot, *points]
    d = layout.distance_matrix(nodes)
    n = len(nodes)
    tour, left = [0], set(range(1, n))
    while left:
        last = tour[-1]
        nxt = min(left, key=lambda j: d[last][j])
        tour.append(nxt)
        left.remove(nxt)
    tour.append(0)
    improved = True
    while improved:
        improved = False
        for i in range(1, n - 1):
            for j in range(i + 1, n):
                a, b, c, e = tour[i - 1], tour[i], tour[j], tour[j + 1]
                if d[a][c] + d[b][e] < d[a][b] + d[c][e] - 1e-9:
                    tour[i : j + 1] = reversed(tour[i : j + 1])
                    improved = True
    length = sum(d[a][b] for a, b in zip(tour, tour[1:], strict=False))
    return [i - 1 for i in tour[1:-1]], length


# The methods register themselves on import.
from server.core.routing import exact, heuristics, multiblock  # noqa: E402, F401
from server.core.routing.graph import GRAPH_METHODS, route_faces  # noqa: E402


@register("auto")
def auto(layout: Layout, points: list[PickPoint]) -> tuple[list[int], float]:
    if layout.blocks <= exact.MAX_BLOCKS:
        return exact.optimal(layout, points)
    return multiblock.multiblock(layout, points)
