"""Routing on a walkable graph: the visiting order of pick faces from a start node to an end node.

`route_faces(graph, faces, start, end, method)` builds the asymmetric (n+1) x (n+1) matrix of
`WalkGraph.matrix` (index 0 is the depot: its row leaves `start`, its column reaches `end`, so the
path start -> faces -> end is a tour on it) and solves it:

- "exact": Held-Karp over subsets (at most EXACT_MAX_FACES faces);
- "search": local search with moves that respect asymmetry, then kicks within the time budget;
- "auto": exact up to EXACT_MAX_FACES faces, else search;
- "address": the faces in the order given (the baseline).

Before either, faces that any walk to another face passes are set aside as its riders
(`passed_on_the_way`: the faces after the first on a one-way edge, the faces before the deepest in
a dead-end aisle) and put back in walking order: exact, and fewer faces to order (more lists fall
to Held-Karp).

The search, compiled: on a graph without one-way edges (distances the same both ways),
`_multiblock.improve_path`, the rectangular router's 2-opt, Or-opt and double-bridge kicks with
the start and end joined by a fixed edge; kicks go on until the budget ends. With one-way edges,
`_graph.search` (server/core/routing/_graph.c): nearest-neighbour lists each way, a greedy start,
3-opt segment insertion and 2-opt at their true asymmetric cost under the Lin-Kernighan gain
criterion, then double-bridge kicks until the budget or IDLE_KICKS_PER_FACE * n idle kicks.
The C extension also builds the matrix and runs the same Held-Karp as the Python one here (same
tie-breaks). Without the extensions the search is nearest neighbour, Or-opt (1-3 stops) and
2-opt, then kicks while the budget lasts: much weaker.

The default budget, DEFAULT_BUDGET_MS = 1 ms for the whole call (matrix and checks included), is
set by the time target (median <= 1 ms at 80 faces). Measured figures: bench/README.md (graph
routing). Pass `budget_ms` for a shorter walk where time allows (one route per pick list, not
the batching inner loop).
"""

import math
import random
import time
from array import array
from collections.abc import Sequence

from server.core import walkgraph
from server.core.walkgraph import Face, GraphError, WalkGraph

EXACT_MAX_FACES = 12
GRAPH_METHODS: tuple[str, ...] = ("auto", "exact", "search", "address")
# Default time budget of one route_faces call with "search" (and "auto" above EXACT_MAX_FACES),
# milliseconds: the face matrix and checks come out of it, and WRAP_UP_MS is kept for the answer.
DEFAULT_BUDGET_MS = 1.0
WRAP_UP_MS = 0.05
INF = math.inf
EPS = 1e-9
SEED = 1
IDLE_KICKS_PER_FACE = 20
# Where the graph has no one-way edge, the search is _multiblock's (symmetric distances): kicks
# until the budget ends, at most this many.
MAX_KICKS = 100_000
# Stand-in for "no walk" inside the search, so that deltas stay finite (metres).
NO_WALK = 1e9


def route_faces(
    graph: WalkGraph, faces: Sequence[Face], start: int, end: int,
    method: str = "auto", budget_ms: float | None = None,
) -> tuple[list[int], float]:
    """(visiting order as indices into faces, length of start -> faces in that order -> end)."""
    began = time.perf_counter()
    if method not in GRAPH_METHODS:
        raise GraphError(f"method: unknown routing method {method!r}; known: {', '.join(GRAPH_METHODS)}")
    if budget_ms is None:
        budget_ms = DEFAULT_BUDGET_MS
    elif isinstance(budget_ms, bool) or not isinstance(budget_ms, int | float) or not budget_ms > 0:
        raise GraphError(f"budget_ms: must be a positive number of milliseconds (got {budget_ms!r})")
    if not faces:
        raise GraphError("faces: an empty pick list has no route")
    n = len(faces)
    if method == "exact" and n > EXACT_MAX_FACES:
        raise GraphError(f"faces: method 'exact' takes at most {EXACT_MAX_FACES} faces (got {n})")
    if method == "address":
        d = graph.flat_matrix(faces, start, end)  # checks start, end and every face
        _check_distinct(faces)
        _check_reachable(d, n + 1, range(n), start, end)
        return list(range(n)), _length(d, n + 1, range(1, n + 1))
    for i, face in enumerate(faces):
        graph.check_face(face, f"faces[{i}]")
    _check_distinct(faces)
    kept, riders = passed_on_the_way(graph, faces, start, end)
    n = len(kept)
    d = graph.flat_matrix([faces[i] for i in kept], start, end)  # checks start and end
    m = n + 1
    _check_reachable(d, m, kept, start, end)
    c = walkgraph._c()
    if n == 1:
        tour = [1]
    elif method == "exact" or (method == "auto" and n <= EXACT_MAX_FACES):
        tour = c.held_karp(d, m) if c is not None else held_karp(_rows(d, m))
    elif c is not None:
        left_ms = max(budget_ms - (time.perf_counter() - began) * 1000 - WRAP_UP_MS, 0.0)
        if not graph.has_oneway and _multiblock is not None:
            tour = _multiblock.improve_path(d, m, left_ms, MAX_KICKS, SEED)
        else:
            groups = array("i", [-1, *(faces[i][0] for i in kept)])
            tour = c.search(d, m, left_ms, idle_kicks(n), SEED, groups)
    else:
        tour = search(_rows(d, m), budget_ms - (time.perf_counter() - began) * 1000, SEED)
    length = _length(d, m, tour) if tour is not None else INF
    if length == INF:
        raise GraphError("faces: no walk visits every face from start to end")
    order = []
    for i in tour:
        face = kept[i - 1]
        order.extend(riders.get(face, (face,)))
    return order, length


def passed_on_the_way(graph: WalkGraph, faces: Sequence[Face], start: int, end: int):
    """The faces a route must still choose an order for, and the ones walked past on the way to
    them: (kept: indices into faces, riders: kept index -> the faces picked in walking order when
    the route reaches it, itself included). Exact, because a walk cannot avoid them:

    - on a one-way edge, a walk to any face goes on past every face after it to the edge's end, so
      the first face carries the rest;
    - on a two-way edge into a dead end (a node touching no other edge, neither start nor end), a
      walk to the deepest face passes every other one, so the deepest face carries them.

    The route's length is the same with or without the riders."""
    by_edge: dict[int, list[int]] = {}
    for i, face in enumerate(faces):
        edge = face[0]
        if graph.edges[edge][2] or (edge in graph.dead_ends and graph.dead_ends[edge] not in (start, end)):
            by_edge.setdefault(edge, []).append(i)
    if not by_edge:
        return list(range(len(faces))), {}
    riders: dict[int, tuple[int, ...]] = {}
    carried: set[int] = set()
    for edge, members in by_edge.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: faces[i][1])  # along the edge from its first node
        if not graph.edges[edge][2]:
            if graph.dead_ends[edge] == graph.edges[edge][0]:
                members.reverse()  # the dead end is the first node: walking in is towards it
            riders[members[-1]] = tuple(members)  # the deepest carries, picked on the way in
            carried.update(members[:-1])
        else:
            riders[members[0]] = tuple(members)
            carried.update(members[1:])
    return [i for i in range(len(faces)) if i not in carried], riders


def _check_reachable(d, m: int, kept, start: int, end: int) -> None:
    for i in range(1, m):
        if d[i] == INF:
            raise GraphError(f"faces[{kept[i - 1]}]: no walk reaches it from start node {start}")
        if d[i * m] == INF:
            raise GraphError(f"faces[{kept[i - 1]}]: no walk leads from it to end node {end}")


try:
    from server.core.routing import _multiblock
except ImportError:  # built with the package when a compiler is there
    _multiblock = None


def idle_kicks(n: int) -> int:
    """The search stops after this many kicks in a row that found nothing shorter."""
    return IDLE_KICKS_PER_FACE * n


def _rows(d, m: int) -> list[list[float]]:
    return [d[i * m : (i + 1) * m].tolist() for i in range(m)]


def _check_distinct(faces: Sequence[Face]) -> None:
    seen: dict[tuple[int, float], int] = {}
    for i, face in enumerate(faces):
        key = (face[0], float(face[1]))
        if key in seen:
            raise GraphError(f"faces[{i}]: the same face as faces[{seen[key]}] (visit each face once)")
        seen[key] = i


def _length(d, m: int, tour: Sequence[int]) -> float:
    """Walk 0 -> tour -> 0 on the flat matrix d (m x m)."""
    length, last = 0.0, 0
    for i in tour:
        length += d[last * m + i]
        last = i
    return length + d[last * m]


# --- exact: Held-Karp ----------------------------------------------------------------------------


def held_karp(d: list[list[float]]) -> list[int] | None:
    """An optimal order of 1..n on the asymmetric matrix d (0 = depot), by dynamic programming over
    subsets: best[mask][j] = shortest walk from the depot through `mask`, ending at j. None if no
    walk visits them all. The C version (_graph.held_karp) runs the same loops and tie-breaks."""
    n = len(d) - 1
    full = (1 << n) - 1
    best = [[INF] * n for _ in range(full + 1)]
    back = [[-1] * n for _ in range(full + 1)]
    for j in range(n):
        best[1 << j][j] = d[0][j + 1]
    for mask in range(1, full + 1):
        row = best[mask]
        for j in range(n):
            here = row[j]
            if here == INF or not mask >> j & 1:
                continue
            dj = d[j + 1]
            for k in range(n):
                if mask >> k & 1:
                    continue
                nxt = mask | 1 << k
                walk = here + dj[k + 1]
                if walk < best[nxt][k]:
                    best[nxt][k] = walk
                    back[nxt][k] = j
    last = min(range(n), key=lambda j: best[full][j] + d[j + 1][0])
    if best[full][last] + d[last + 1][0] == INF:
        return None
    order, mask = [], full
    while last >= 0:
        order.append(last + 1)
        last, mask = back[mask][last], mask & ~(1 << last)
    return order[::-1]


# --- search: local search and kicks -------------------------------------------------------------


def search(d: list[list[float]], budget_ms: float, seed: int = 1) -> list[int]:
    """A good order of 1..n: nearest neighbour, local search, then double-bridge kicks (each kept
    when it shortens the walk) until the budget is spent."""
    n = len(d) - 1
    d = [[NO_WALK if x == INF else x for x in row] for row in d]
    deadline = time.perf_counter() + budget_ms / 1000
    tour, left = [0], set(range(1, n + 1))
    while left:
        last = d[tour[-1]]
        nxt = min(left, key=lambda j: (last[j], j))
        tour.append(nxt)
        left.remove(nxt)
    tour.append(0)
    _local_search(d, tour)
    best_length = _rows_length(d, tour)
    rng = random.Random(seed)
    while n >= 8 and time.perf_counter() < deadline:
        a, b, c = sorted(rng.sample(range(1, n + 2), 3))
        trial = tour[:a] + tour[b:c] + tour[a:b] + tour[c:]
        _local_search(d, trial)
        trial_length = _rows_length(d, trial)
        if trial_length < best_length - EPS:
            tour, best_length = trial, trial_length
    return tour[1:-1]


def _rows_length(d: list[list[float]], t: list[int]) -> float:
    return sum(d[a][b] for a, b in zip(t, t[1:], strict=False))


def _local_search(d: list[list[float]], t: list[int]) -> None:
    """Improve t = [0, ..., 0] in place until no segment insertion or 2-opt move shortens it."""
    improved = True
    while improved:
        improved = _or_opt(d, t) or _two_opt(d, t)


def _or_opt(d: list[list[float]], t: list[int]) -> bool:
    """Move a segment of 1..3 stops elsewhere, same direction; True if one move was made."""
    n = len(t) - 2
    for size in (1, 2, 3):
        for i in range(1, n - size + 2):
            j = i + size - 1
            p, a, b, q = t[i - 1], t[i], t[j], t[j + 1]
            gain = d[p][a] + d[b][q] - d[p][q]
            if gain <= EPS:
                continue
            for k in range(0, n + 1):
                if i - 1 <= k <= j:
                    continue
                x, y = t[k], t[k + 1]
                if d[x][a] + d[b][y] - d[x][y] < gain - EPS:
                    segment = t[i : j + 1]
                    del t[i : j + 1]
                    at = k + 1 if k < i else k + 1 - size
                    t[at:at] = segment
                    return True
    return False


def _two_opt(d: list[list[float]], t: list[int]) -> bool:
    """Reverse t[i..j] when that shortens the walk, with the reversed segment's true cost."""
    m = len(t)
    forward, backward = [0.0] * m, [0.0] * m
    for k in range(1, m):
        forward[k] = forward[k - 1] + d[t[k - 1]][t[k]]
        backward[k] = backward[k - 1] + d[t[k]][t[k - 1]]
    for i in range(1, m - 2):
        p, a = t[i - 1], t[i]
        for j in range(i + 1, m - 1):
            b, q = t[j], t[j + 1]
            old = d[p][a] + (forward[j] - forward[i]) + d[b][q]
            new = d[p][b] + (backward[j] - backward[i]) + d[a][q]
            if new < old - EPS:
                t[i : j + 1] = t[i : j + 1][::-1]
                return True
    return False
