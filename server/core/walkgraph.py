"""A walkable graph of straight segments: any layout (halls, doors, corridors, one-way aisles).

Nodes are points (x, y) in metres; an edge is a straight segment between two nodes, walkable both
ways or, when one-way, only from its first node to its second. A pick face (`Face`) is a point on
an edge, `offset` metres from the edge's first node; a face on a one-way edge is passed only in
the edge's direction. The format is /work/shared/bench/routing-graph-instances.md's.

The node-to-node table (directed shortest walks and a predecessor for each) is computed once per
graph, on first use: by `server.core.routing._graph` (C) when it is built, else by Dijkstra in
Python (same distances). A face's distance to another spot is then O(1): the best combination of
its edge's ends (only the forward end on a one-way edge), or the direct run along a shared edge
in an allowed direction.
"""

import heapq
import math
from array import array
from collections.abc import Sequence
from typing import NamedTuple

from server.core.layout import LayoutError

INF = math.inf
# A face may lie this far outside [0, length] (rounding of stored offsets).
OFFSET_SLACK = 1e-9


def _c():
    """The C extension, or None when it is not built (imported on first use: importing the
    routing package here would be circular)."""
    global _graph
    if _graph is False:
        try:
            from server.core.routing import _graph as module
        except ImportError:
            module = None
        _graph = module
    return _graph


_graph = False


class GraphError(LayoutError):
    """A graph, face or spot that cannot exist; the message starts with the key at fault."""


class Face(NamedTuple):
    """A pick face: a point on an edge, `offset` metres from the edge's first node."""

    edge: int
    offset: float


Spot = int | Face


def _number(value, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GraphError(f"{key}: must be a finite number (got {value!r})")
    return float(value)


def _index(value, size: int, key: str, what: str = "node") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphError(f"{key}: a {what} is an integer index (got {value!r})")
    if not 0 <= value < size:
        raise GraphError(f"{key}: {what} {value} is outside 0..{size - 1}")
    return value


class WalkGraph:
    """Nodes, edges (u, v, oneway) and their lengths; directed shortest walks between spots."""

    def __init__(self, nodes, edges):
        if not isinstance(nodes, Sequence) or not nodes:
            raise GraphError("nodes: a graph needs at least one node")
        parsed_nodes = []
        for i, node in enumerate(nodes):
            if not isinstance(node, Sequence) or isinstance(node, str) or len(node) != 2:
                raise GraphError(f"nodes[{i}]: a node is [x, y] (got {node!r})")
            parsed_nodes.append((_number(node[0], f"nodes[{i}][0]"), _number(node[1], f"nodes[{i}][1]")))
        if not isinstance(edges, Sequence):
            raise GraphError("edges: must be a list of [u, v] or [u, v, \"oneway\"]")
        n = len(parsed_nodes)
        parsed_edges = []
        for i, edge in enumerate(edges):
            key = f"edges[{i}]"
            if not isinstance(edge, Sequence) or isinstance(edge, str) or len(edge) not in (2, 3):
                raise GraphError(f"{key}: an edge is [u, v] or [u, v, \"oneway\"] (got {edge!r})")
            u = _index(edge[0], n, f"{key}[0]")
            v = _index(edge[1], n, f"{key}[1]")
            if u == v:
                raise GraphError(f"{key}: an edge joins two different nodes (both are {u})")
            oneway = False
            if len(edge) == 3:
                if edge[2] not in ("oneway", True, False):
                    raise GraphError(f"{key}[2]: only \"oneway\" may follow the two nodes (got {edge[2]!r})")
                oneway = edge[2] in ("oneway", True)
            parsed_edges.append((u, v, oneway))
        self.nodes: tuple[tuple[float, float], ...] = tuple(parsed_nodes)
        self.edges: tuple[tuple[int, int, bool], ...] = tuple(parsed_edges)
        self.lengths: tuple[float, ...] = tuple(
            math.dist(self.nodes[u], self.nodes[v]) for u, v, _ in self.edges
        )
        self.has_oneway = any(oneway for _, _, oneway in self.edges)
        degree = [0] * n
        for u, v, _ in self.edges:
            degree[u] += 1
            degree[v] += 1
        # Two-way edges that end in a node touching no other edge (an aisle closed by a wall):
        # edge -> that node.
        self.dead_ends: dict[int, int] = {
            e: (v if degree[v] == 1 else u)
            for e, (u, v, oneway) in enumerate(self.edges)
            if not oneway and (degree[u] == 1) != (degree[v] == 1)
        }
        self._dist: array | None = None  # n*n directed node distances, row-major
        self._pred: array | None = None  # n*n: the node before b on a shortest walk a -> b (-1: none)
        self._arrays: tuple | None = None

    # --- JSON ---------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, d: dict) -> "WalkGraph":
        """From {"nodes": [[x, y], ...], "edges": [[u, v] | [u, v, "oneway"], ...]}."""
        if not isinstance(d, dict):
            raise GraphError(f"graph: must be an object with nodes and edges (got {type(d).__name__})")
        for key in ("nodes", "edges"):
            if key not in d:
                raise GraphError(f"graph: lacks {key!r}")
        return cls(d["nodes"], d["edges"])

    def to_json(self) -> dict:
        return {
            "nodes": [list(p) for p in self.nodes],
            "edges": [[u, v, "oneway"] if oneway else [u, v] for u, v, oneway in self.edges],
        }

    # --- spots --------------------------------------------------------------------------------

    def check_node(self, node, key: str = "node") -> int:
        return _index(node, len(self.nodes), key)

    def check_face(self, face: Face, key: str = "face") -> None:
        """GraphError unless `face` is [edge, offset] with 0 <= offset <= the edge's length."""
        if not isinstance(face, Sequence) or isinstance(face, str) or len(face) != 2:
            raise GraphError(f"{key}: a face is [edge, offset] (got {face!r})")
        edge = _index(face[0], len(self.edges), f"{key}.edge", "edge")
        offset = _number(face[1], f"{key}.offset")
        length = self.lengths[edge]
        if not -OFFSET_SLACK <= offset <= length + OFFSET_SLACK:
            raise GraphError(
                f"{key}.offset: {offset:g} m is off edge {edge} (its length is {length:g} m)"
            )

    def xy(self, spot: Spot) -> tuple[float, float]:
        if isinstance(spot, int):
            return self.nodes[spot]
        edge, offset = spot
        u, v, _ = self.edges[edge]
        length = self.lengths[edge]
        (x0, y0), (x1, y1) = self.nodes[u], self.nodes[v]
        if length == 0:
            return (x0, y0)
        f = min(max(offset / length, 0.0), 1.0)
        return (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)

    # --- the node table -------------------------------------------------------------------------

    def _edge_arrays(self) -> tuple[array, array, array, array]:
        """First nodes, second nodes, one-way flags and lengths of the edges, as C reads them."""
        if self._arrays is None:
            self._arrays = (
                array("i", (e[0] for e in self.edges)), array("i", (e[1] for e in self.edges)),
                array("b", (e[2] for e in self.edges)), array("d", self.lengths),
            )
        return self._arrays

    def _table(self) -> tuple[array, array]:
        if self._dist is None:
            n = len(self.nodes)
            dist = array("d", bytes(8 * n * n))
            pred = array("i", bytes(4 * n * n))
            if _c() is not None:
                _graph.all_pairs(n, *self._edge_arrays(), dist, pred)
            else:
                _all_pairs_python(n, *self._edge_arrays(), dist, pred)
            self._dist, self._pred = dist, pred
        return self._dist, self._pred

    def node_distance(self, a: int, b: int) -> float:
        """Directed shortest walk from node a to node b; math.inf if there is none."""
        return self._table()[0][a * len(self.nodes) + b]

    # --- spots to spots -------------------------------------------------------------------------

    def _exits(self, spot: Spot) -> tuple[tuple[int, float], ...]:
        """(node, metres) ways to leave a spot for a node of the graph."""
        if isinstance(spot, int):
            return ((spot, 0.0),)
        edge, t = spot
        u, v, oneway = self.edges[edge]
        rest = self.lengths[edge] - t
        return ((v, rest),) if oneway else ((u, t), (v, rest))

    def _entries(self, spot: Spot) -> tuple[tuple[int, float], ...]:
        """(node, metres) ways to reach a spot from a node of the graph."""
        if isinstance(spot, int):
            return ((spot, 0.0),)
        edge, t = spot
        u, v, oneway = self.edges[edge]
        return ((u, t),) if oneway else ((u, t), (v, self.lengths[edge] - t))

    def _direct(self, a: Spot, b: Spot) -> float:
        """The run from face a to face b along their shared edge (inf if none or against one-way)."""
        if isinstance(a, int) or isinstance(b, int) or a[0] != b[0]:
            return INF
        if self.edges[a[0]][2]:
            return float(b[1] - a[1]) if b[1] >= a[1] else INF
        return float(abs(b[1] - a[1]))

    def _best(self, a: Spot, b: Spot) -> tuple[float, int, int]:
        """(metres, exit node, entry node) of a shortest walk a -> b; nodes -1 for the direct run."""
        dist = self._table()[0]
        n = len(self.nodes)
        best, best_x, best_y = self._direct(a, b), -1, -1
        for x, cx in self._exits(a):
            row = x * n
            for y, cy in self._entries(b):
                walk = cx + dist[row + y] + cy
                if walk < best:
                    best, best_x, best_y = walk, x, y
        return best, best_x, best_y

    def distance(self, a: Spot, b: Spot) -> float:
        """Directed shortest walk from spot a to spot b (one-way edges respected); inf if none."""
        return self._best(a, b)[0]

    def matrix(self, faces: Sequence[Face], start: int, end: int) -> list[list[float]]:
        """(n+1) x (n+1) asymmetric distances: index 0 is the depot (row 0 from `start`, column 0
        to `end`, [0][0] = start -> end), index i is faces[i - 1]."""
        flat, m = self.flat_matrix(faces, start, end), len(faces) + 1
        return [flat[i * m : (i + 1) * m].tolist() for i in range(m)]

    def flat_matrix(self, faces: Sequence[Face], start: int, end: int) -> array:
        """matrix() as one row-major array of doubles (what the C solvers read)."""
        self.check_node(start, "start")
        self.check_node(end, "end")
        face_edges, face_offsets = self._face_arrays(faces)
        if _c() is None:
            faces = [Face(e, t) for e, t in zip(face_edges, face_offsets, strict=True)]
            return array("d", (x for row in _face_matrix_python(self, faces, start, end) for x in row))
        m = len(faces) + 1
        out = array("d", bytes(8 * m * m))
        _graph.face_matrix(
            len(self.nodes), self._table()[0], *self._edge_arrays(), face_edges, face_offsets, start, end, out
        )
        return out

    def _face_arrays(self, faces: Sequence[Face]) -> tuple[array, array]:
        """Checked faces as arrays of edges and offsets (the common case without a call each)."""
        face_edges, face_offsets = array("i"), array("d")
        lengths, count = self.lengths, len(self.edges)
        for i, face in enumerate(faces):
            try:
                edge, offset = face
                ok = type(edge) is int and 0 <= edge < count and type(offset) in (float, int)
                ok = ok and -OFFSET_SLACK <= offset <= lengths[edge] + OFFSET_SLACK
            except (TypeError, ValueError):
                ok = False
            if not ok:
                self.check_face(face, f"faces[{i}]")  # raises with the key at fault
            face_edges.append(edge)
            face_offsets.append(offset)
        return face_edges, face_offsets

    def path(self, a: Spot, b: Spot) -> list[tuple[float, float]]:
        """Vertices of one shortest walk a -> b: xy(a) first, xy(b) last, never against a one-way
        edge. GraphError if b cannot be reached from a."""
        metres, x, y = self._best(a, b)
        if metres == INF:
            raise GraphError(f"path: no walk leads from {a!r} to {b!r}")
        line = [self.xy(a)]
        if x >= 0:
            pred = self._table()[1]
            n = len(self.nodes)
            chain = [y]
            while chain[-1] != x:
                chain.append(pred[x * n + chain[-1]])
            line.extend(self.nodes[node] for node in reversed(chain))
        line.append(self.xy(b))
        out = [line[0]]
        for p in line[1:]:
            if p != out[-1]:
                out.append(p)
        return out

    def walk_length(self, spots: Sequence[Spot]) -> float:
        """Sum of distance() between consecutive spots."""
        return sum(self.distance(a, b) for a, b in zip(spots, spots[1:], strict=False))


# --- pure-Python versions of the C helpers ----------------------------------------------------


def _all_pairs_python(n, us, vs, oneway, lengths, dist, pred) -> None:
    """Dijkstra from every node (binary heap), directed; fills dist (inf: none) and pred (-1)."""
    out: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for u, v, one, w in zip(us, vs, oneway, lengths, strict=True):
        out[u].append((v, w))
        if not one:
            out[v].append((u, w))
    for s in range(n):
        d = [INF] * n
        p = [-1] * n
        d[s] = 0.0
        heap = [(0.0, s)]
        while heap:
            du, u = heapq.heappop(heap)
            if du > d[u]:
                continue
            for v, w in out[u]:
                nd = du + w
                if nd < d[v]:
                    d[v] = nd
                    p[v] = u
                    heapq.heappush(heap, (nd, v))
        dist[s * n : (s + 1) * n] = array("d", d)
        pred[s * n : (s + 1) * n] = array("i", p)


def _face_matrix_python(graph: WalkGraph, faces: list[Face], start: int, end: int) -> list[list[float]]:
    spots_from: list[Spot] = [start, *faces]
    spots_to: list[Spot] = [end, *faces]
    m = len(spots_from)
    matrix = [[0.0] * m for _ in range(m)]
    for i in range(m):
        row, a = matrix[i], spots_from[i]
        for j in range(m):
            if i != j or i == 0:
                row[j] = graph.distance(a, spots_to[j])
    return matrix
