"""Routing on a walkable graph: the visiting order of pick faces from a start node to an end node.

`route_faces(graph, faces, start, end, method)` builds the asymmetric (n+1) x (n+1) matrix of
`WalkGraph.matrix` (index 0 is the depot: its row leaves `start`, its column reaches `end`) and
solves the asymmetric path problem on it:

- "exact": Held-Karp over subsets (at most EXACT_MAX_FACES faces);
- "search": a local search with moves that respect asymmetry (segment insertion without reversal,
  2-opt with the reversed segment's true cost), then kicks within the time budget;
- "auto": exact when it applies, else search;
- "address": the faces in the order given (the baseline).

This is the pure-Python first version.
"""

import math
import random
import time
from collections.abc import Sequence

from server.core.walkgraph import Face, GraphError, WalkGraph

EXACT_MAX_FACES = 12
GRAPH_METHODS: tuple[str, ...] = ("auto", "exact", "search", "address")
# Default time budget of "search" (and "auto" above EXACT_MAX_FACES), milliseconds.
DEFAULT_BUDGET_MS = 1.0
INF = math.inf
EPS = 1e-9
# Stand-in for "no walk" inside the search, so that deltas stay finite (metres).
NO_WALK = 1e9


def route_faces(
    graph: WalkGraph, faces: Sequence[Face], start: int, end: int,
    method: str = "auto", budget_ms: float | None = None,
) -> tuple[list[int], float]:
    """(visiting order as indices into faces, length of start -> faces in that order -> end)."""
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
    d = graph.matrix(faces, start, end)  # checks start, end and every face
    _check_distinct(faces)
    for i in range(1, n + 1):
        if d[0][i] == INF:
            raise GraphError(f"faces[{i - 1}]: cannot be reached from start node {start} (one-way edges)")
        if d[i][0] == INF:
            raise GraphError(f"faces[{i - 1}]: end node {end} cannot be reached from it (one-way edges)")
    if method == "address" or n == 1:
        tour = list(range(1, n + 1))
    elif method == "exact" or (method == "auto" and n <= EXACT_MAX_FACES):
        tour = held_karp(d)
    else:
        tour = search(d, budget_ms)
    length = _length(d, tour)
    if length == INF:
        raise GraphError("faces: no walk visits every face from start to end (one-way edges)")
    return [i - 1 for i in tour], length


def _check_distinct(faces: Sequence[Face]) -> None:
    seen: dict[tuple[int, float], int] = {}
    for i, face in enumerate(faces):
        key = (face[0], float(face[1]))
        if key in seen:
            raise GraphError(f"faces[{i}]: the same face as faces[{seen[key]}] (visit each face once)")
        seen[key] = i


def _length(d: list[list[float]], tour: Sequence[int]) -> float:
    """Walk 0 -> tour -> 0 on the matrix."""
    length, last = 0.0, 0
    for i in tour:
        length += d[last][i]
        last = i
    return length + d[last][0]


# --- exact: Held-Karp ----------------------------------------------------------------------------


def held_karp(d: list[list[float]]) -> list[int]:
    """An optimal order of 1..n on the asymmetric matrix d (0 = depot), by dynamic programming over
    subsets: best[mask][j] = shortest walk from the depot through `mask`, ending at j."""
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
    best_length = _length(d, tour[1:-1])
    rng = random.Random(seed)
    while n >= 8 and time.perf_counter() < deadline:
        a, b, c = sorted(rng.sample(range(1, n + 2), 3))
        trial = tour[:a] + tour[b:c] + tour[a:b] + tour[c:]
        _local_search(d, trial)
        trial_length = _length(d, trial[1:-1])
        if trial_length < best_length - EPS:
            tour, best_length = trial, trial_length
    return tour[1:-1]


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
