"""Routing instances on a walkable graph (../shared/bench/routing-graph-instances.md, docs/benchmarks.md):
reader and writer, a scorer with its own Dijkstra (independent of server.core.walkgraph), and a
generator of real buildings compiled by server.core.building.

Kinds: two_halls (two halls at right angles joined by doors), unequal (racks of unequal length),
dead_ends (aisles closed at the back), columns (columns in cross aisles), start_end (carts taken at
one point, totes dropped at another), one_way (narrow one-way aisles), mixed (all of them).
A generated instance lists its faces in address order (aisle, block, slot), so the router's
`address` method walks them as a pick list sorted by location does.
"""

import heapq
import json
import math
import random
from dataclasses import dataclass, replace

from bench.instances import TOLERANCE, Instance, InstanceError, Result, Score, _read
from bench.instances import score as score_rectangular
from server.core.building import (
    AisleRule,
    Anchor,
    Building,
    BuildingError,
    Column,
    Corridor,
    Hall,
    NamedPoint,
    compile_building,
)

KINDS = ("two_halls", "unequal", "dead_ends", "columns", "start_end", "one_way", "mixed")
PICKS = (5, 10, 20, 50, 80, 100)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class GraphInstance:
    id: str
    nodes: tuple[tuple[float, float], ...]
    edges: tuple[tuple[int, int, bool], ...]  # (u, v, oneway)
    faces: tuple[tuple[int, float], ...]  # (edge, offset from u)
    start: int
    end: int
    picks: tuple[int, ...]  # indices into faces

    def graph_json(self) -> dict:
        return {"nodes": [list(p) for p in self.nodes],
                "edges": [[u, v, "oneway"] if oneway else [u, v] for u, v, oneway in self.edges]}

    def to_json(self) -> dict:
        return {"id": self.id, "graph": self.graph_json(), "faces": [[e, o] for e, o in self.faces],
                "start": self.start, "end": self.end, "picks": list(self.picks)}

    def length(self, edge: int) -> float:
        u, v, _ = self.edges[edge]
        return math.dist(self.nodes[u], self.nodes[v])

    @classmethod
    def from_json(cls, data: dict) -> "GraphInstance":
        if not isinstance(data, dict):
            raise InstanceError("an instance is a JSON object")
        for key in ("id", "graph", "faces", "start", "end", "picks"):
            if key not in data:
                raise InstanceError(f"{key}: missing")
        ident = str(data["id"])
        graph = data["graph"]
        if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list) or not isinstance(graph.get("edges"), list):
            raise InstanceError(f"instance {ident}: graph: an object with lists `nodes` and `edges`")
        nodes = []
        for k, node in enumerate(graph["nodes"]):
            if not (isinstance(node, list) and len(node) == 2 and all(_is_number(v) for v in node)):
                raise InstanceError(f"instance {ident}: graph.nodes[{k}]: a point [x, y] (got {node!r})")
            nodes.append((float(node[0]), float(node[1])))
        edges = []
        for k, edge in enumerate(graph["edges"]):
            if not (isinstance(edge, list) and len(edge) in (2, 3) and all(_is_int(v) for v in edge[:2])
                    and (len(edge) == 2 or edge[2] == "oneway")):
                raise InstanceError(f"instance {ident}: graph.edges[{k}]: [u, v] or [u, v, \"oneway\"] (got {edge!r})")
            u, v = edge[:2]
            for end in (u, v):
                if not 0 <= end < len(nodes):
                    raise InstanceError(f"instance {ident}: graph.edges[{k}]: node {end} is not in nodes (0..{len(nodes) - 1})")
            if u == v:
                raise InstanceError(f"instance {ident}: graph.edges[{k}]: an edge joins two different nodes")
            edges.append((u, v, len(edge) == 3))
        made = cls(ident, tuple(nodes), tuple(edges), (), 0, 0, ())
        faces = []
        for k, face in enumerate(_list(data["faces"], ident, "faces")):
            if not (isinstance(face, list) and len(face) == 2 and _is_int(face[0]) and _is_number(face[1])):
                raise InstanceError(f"instance {ident}: faces[{k}]: [edge, offset] (got {face!r})")
            edge, offset = face
            if not 0 <= edge < len(edges):
                raise InstanceError(f"instance {ident}: faces[{k}]: edge {edge} is not in edges (0..{len(edges) - 1})")
            length = made.length(edge)
            if not -TOLERANCE <= offset <= length + TOLERANCE:
                raise InstanceError(f"instance {ident}: faces[{k}]: offset {offset} is off edge {edge} (length {length:g})")
            faces.append((edge, float(offset)))
        ends = []
        for key in ("start", "end"):
            node = data[key]
            if not (_is_int(node) and 0 <= node < len(nodes)):
                raise InstanceError(f"instance {ident}: {key}: a node 0..{len(nodes) - 1} (got {node!r})")
            ends.append(node)
        picks = _list(data["picks"], ident, "picks")
        if not picks:
            raise InstanceError(f"instance {ident}: picks: an empty pick list has no route")
        for k, pick in enumerate(picks):
            if not (_is_int(pick) and 0 <= pick < len(faces)):
                raise InstanceError(f"instance {ident}: picks[{k}]: a face index 0..{len(faces) - 1} (got {pick!r})")
        return cls(ident, made.nodes, made.edges, tuple(faces), ends[0], ends[1], tuple(picks))


def _list(value, ident: str, key: str) -> list:
    if not isinstance(value, list):
        raise InstanceError(f"instance {ident}: {key}: a list (got {type(value).__name__})")
    return value


def parse_any(data) -> Instance | GraphInstance:
    """Either format: an instance with `graph` is a graph one."""
    if isinstance(data, dict) and "graph" in data:
        return GraphInstance.from_json(data)
    return Instance.from_json(data)


def read_instances(path) -> list[Instance | GraphInstance]:
    """Instances of either format; errors name the file and line."""
    return _read(path, parse_any)


# --- the scorer: its own shortest paths ---------------------------------------------------------


class _Walks:
    """Shortest walks on an instance's graph, by Dijkstra from each node asked for (memoised)."""

    def __init__(self, instance: GraphInstance):
        self.instance = instance
        self.out: list[list[tuple[int, float]]] = [[] for _ in instance.nodes]
        for k, (u, v, oneway) in enumerate(instance.edges):
            length = instance.length(k)
            self.out[u].append((v, length))
            if not oneway:
                self.out[v].append((u, length))
        self.tables: dict[int, list[float]] = {}

    def from_node(self, source: int) -> list[float]:
        table = self.tables.get(source)
        if table is None:
            table = [math.inf] * len(self.out)
            table[source] = 0.0
            heap = [(0.0, source)]
            while heap:
                d, u = heapq.heappop(heap)
                if d > table[u]:
                    continue
                for v, w in self.out[u]:
                    if d + w < table[v]:
                        table[v] = d + w
                        heapq.heappush(heap, (d + w, v))
            self.tables[source] = table
        return table

    def leaves(self, spot) -> list[tuple[int, float]]:
        """(node, metres) a spot (a node, or a face (edge, offset)) can walk to first."""
        if isinstance(spot, int):
            return [(spot, 0.0)]
        edge, offset = spot
        u, v, oneway = self.instance.edges[edge]
        length = self.instance.length(edge)
        return [(v, length - offset)] + ([] if oneway else [(u, offset)])

    def arrivals(self, spot) -> list[tuple[int, float]]:
        """(node, metres) a spot can be reached from last."""
        if isinstance(spot, int):
            return [(spot, 0.0)]
        edge, offset = spot
        u, v, oneway = self.instance.edges[edge]
        return [(u, offset)] + ([] if oneway else [(v, self.instance.length(edge) - offset)])

    def distance(self, a, b) -> float:
        best = math.inf
        same_edge = not isinstance(a, int) and not isinstance(b, int) and a[0] == b[0]
        if same_edge and (b[1] >= a[1] or not self.instance.edges[a[0]][2]):
            best = abs(b[1] - a[1])
        for node, before in self.leaves(a):
            table = self.from_node(node)
            for target, after in self.arrivals(b):
                best = min(best, before + table[target] + after)
        return best


def walk(instance: GraphInstance, face_order) -> float:
    """The walk start -> faces (indices) in order -> end."""
    walks = _Walks(instance)
    spots = [instance.start, *(instance.faces[f] for f in face_order), instance.end]
    return sum(walks.distance(a, b) for a, b in zip(spots, spots[1:], strict=False))


def score_graph(instance: GraphInstance, result: Result) -> Score:
    """Recompute a result's length from its order; list what is wrong with it."""
    errors = []
    if result.id != instance.id:
        errors.append(f"result for {result.id!r} where {instance.id!r} was expected")
    wanted = {instance.faces[p] for p in instance.picks}
    seen: set = set()
    order = []
    for i in result.order:
        if not 0 <= i < len(instance.picks):
            errors.append(f"order index {i} is not a pick")
            continue
        face = instance.picks[i]
        if instance.faces[face] in seen:
            continue  # a twin of a face already visited
        seen.add(instance.faces[face])
        order.append(face)
    if seen != wanted:
        errors.append(f"order misses {len(wanted - seen)} of {len(wanted)} faces")
    length = walk(instance, order)
    if math.isinf(length):
        errors.append("the order cannot be walked (a face or the end is unreachable)")
    elif abs(length - result.length) > TOLERANCE * max(1.0, length):
        errors.append(f"claimed length {result.length} but the order walks {length}")
    return Score(instance.id, result.method, length, result.length, result.us, tuple(errors))


def score(instance, result: Result) -> Score:
    """Either format."""
    if isinstance(instance, GraphInstance):
        return score_graph(instance, result)
    return score_rectangular(instance, result)


def score_file(instances, results) -> list[Score]:
    if len(results) != len(instances):
        raise InstanceError(f"{len(results)} results for {len(instances)} instances")
    return [score(i, r) for i, r in zip(instances, results, strict=True)]


# --- the generator: buildings of each kind -------------------------------------------------------


def _hall(rng: random.Random, code: str, first: int, count: int, blocks: int, **place) -> Hall:
    return Hall(code, tuple(range(first, first + count)), blocks=blocks, slots=rng.randint(20, 40),
                aisle_pitch=rng.choice((2.5, 3.0, 3.5)), slot_length=rng.choice((1.0, 1.2, 1.4)),
                cross_aisle_width=rng.choice((2.0, 2.5, 3.0)), **place)


def _width(hall: Hall) -> float:
    return (len(hall.aisles) - 1) * hall.aisle_pitch


def _two_halls(rng: random.Random, total: int, blocks_a: int, blocks_b: int) -> tuple[list, list]:
    """Hall A at the origin; hall B turned -90 degrees to its right, its front cross aisle facing A,
    its last aisle level with A's front cross aisle; one or two doors between."""
    count_a = rng.randint(max(3, total // 3), max(3, 2 * total // 3))
    a = _hall(rng, "A", 1, count_a, blocks_a)
    b = _hall(rng, "B", 101, max(3, total - count_a), blocks_b)
    front_a = a.cross_aisle_y(0)
    ox = _width(a) + rng.uniform(6.0, 15.0)
    b = replace(b, origin=(ox, _width(b) + front_a), rotation=-90.0)  # local (x, y) -> (ox + y, oy - x)
    corridors = [Corridor(Anchor("A", 0, a.aisles[-1], 2.0), Anchor("B", 0, b.aisles[-1]),
                          via=((ox - 0.5, front_a),), name="door 1")]
    if rng.random() < 0.5:  # from beyond A's back cross aisle to the front of B's first aisle
        corridors.append(Corridor(Anchor("A", a.blocks, a.aisles[-1], 2.0), Anchor("B", 0, b.aisles[0]), name="door 2"))
    return [a, b], corridors


def _building(kind: str, rng: random.Random) -> Building:
    total = rng.randint(10, 30)
    blocks = rng.randint(2, 3) if kind == "unequal" else rng.randint(1, 3)
    halls, corridors, rules, columns = [], [], [], []
    if kind in ("two_halls", "mixed"):
        halls, corridors = _two_halls(rng, total, rng.randint(1, 2), rng.randint(1, 2))
    else:
        halls = [_hall(rng, "A", 1, total, blocks if kind != "one_way" else rng.randint(1, 2))]
    aisles = [(hall, n) for hall in halls for n in hall.aisles]
    ruled: dict[int, dict] = {}
    if kind in ("unequal", "mixed"):
        for hall, n in aisles:
            if hall.blocks > 1 and rng.random() < 0.5:
                ruled.setdefault(n, {})["blocks"] = (1, rng.randint(1, hall.blocks - 1))
    if kind in ("dead_ends", "mixed"):
        for _, n in aisles:
            if rng.random() < (0.4 if kind == "dead_ends" else 0.2):
                ruled.setdefault(n, {})["closed_back"] = True
    if kind in ("one_way", "mixed"):
        way = rng.choice(("up", "down"))
        for _, n in aisles:
            if (kind == "one_way" or rng.random() < 0.4) and not ruled.get(n, {}).get("closed_back"):
                ruled.setdefault(n, {})["oneway"] = way
                way = "down" if way == "up" else "up"
    if kind in ("columns", "mixed"):
        for hall in halls:
            for c in range(hall.blocks + 1):
                for left, right in zip(hall.aisles, hall.aisles[1:], strict=False):
                    if rng.random() < (0.2 if kind == "columns" else 0.1):
                        columns.append(Column(hall.code, c, (left, right)))
    first = halls[0]
    points = [NamedPoint("start", Anchor("A", 0, first.aisles[0], -2.0))]
    if kind in ("start_end", "mixed"):
        last = halls[-1]
        c = rng.choice((0, last.blocks)) if kind == "start_end" else 0
        points.append(NamedPoint("drop", Anchor(last.code, c, last.aisles[-1], 2.0)))
    rules = [AisleRule(n, **spec) for n, spec in sorted(ruled.items())]
    return Building(tuple(halls), tuple(rules), tuple(columns), tuple(corridors), tuple(points))


def generate(kind: str, picks=PICKS, per_cell: int = 5, seed: int = 2024, repeat_share: float = 0.1,
             attempts: int = 50) -> list[GraphInstance]:
    """`per_cell` instances of `kind` for each pick count; a share of the picks repeat a face.
    Instance k of n picks depends only on (seed, kind, n, k)."""
    if kind not in KINDS:
        raise InstanceError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    instances = []
    for n in picks:
        for k in range(per_cell):
            rng = random.Random(f"{seed}-{kind}-{n}-{k}")  # the same instance whatever else is asked for
            for _ in range(attempts):
                try:
                    plan = compile_building(_building(kind, rng))
                    break
                except BuildingError:
                    continue  # a column or a one-way aisle cut something off: another building
            else:
                raise InstanceError(f"no walkable {kind} building in {attempts} attempts")
            cells = plan.cells()
            distinct = max(1, min(len(cells), round(n * (1 - repeat_share))))
            chosen = sorted(rng.sample(cells, distinct))  # address order
            picked = list(range(distinct)) + [rng.randrange(distinct) for _ in range(n - distinct)]
            rng.shuffle(picked)
            graph = plan.graph
            start = plan.points["start"]
            end = plan.points.get("drop", start)
            instances.append(GraphInstance(
                f"{kind}-n{n}-{k:04d}", graph.nodes, tuple((u, v, bool(o)) for u, v, o in graph.edges),
                tuple((plan.face(*c).edge, plan.face(*c).offset) for c in chosen), start, end, tuple(picked)))
    return instances


def write_jsonl(path, items) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item.to_json()) + "\n")
