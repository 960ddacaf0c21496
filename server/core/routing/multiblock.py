"""Near-optimal routing for any number of blocks, meant for three and more ("multiblock").

The shortest-path distances between the depot and the picks come from the geometry in closed
form. The start is the combined heuristic's order; then a local search of 2-opt and Or-opt
moves (segments of up to SEGMENT stops, either way round) over neighbour lists, processed from
a queue of active nodes; then an iterated local search of double-bridge kicks, each repaired by
the same local search, a kick kept when the tour is no longer. Deterministic (a fixed seed).

Two implementations. The optional C extension `_multiblock` (_multiblock.c, built by setup.py
when a compiler is there) builds the matrix and runs the search: 20 + 2n kicks for n picks,
every other one a small double bridge (three cuts within ten stops), the others cutting anywhere
in the tour; about 0.2 ms for 30 picks. Without it, pure Python: n/3 small kicks, about 1 ms for
30 picks and weaker (bench/README.md).
"""

import random
from array import array

from server.core.layout import Layout, PickPoint
from server.core.routing import register
from server.core.routing.heuristics import _combined_block, _multi_block, node_matrix

EPS = 1e-9
NEIGHBOURS = 8
SEGMENT = 10
C_KICKS_BASE, C_KICKS_PER_PICK = 20, 2  # the C path's kicks: base + per pick
_STARTS = (_combined_block,)  # more starts cost more than they gain after the kicks


def tour_cost(d: list[list[float]], t: list[int]) -> float:
    return sum(d[a][b] for a, b in zip(t, t[1:], strict=False)) + d[t[-1]][t[0]]


def neighbour_lists(d: list[list[float]], k: int | None = None) -> list[list[int]]:
    k = k or NEIGHBOURS
    m = len(d)
    return [[j for j in sorted(range(m), key=d[i].__getitem__)[: k + 1] if j != i][:k] for i in range(m)]


def local_search(d, neigh, t: list[int], active) -> float:
    """2-opt and Or-opt from the active nodes until none improves; changes `t` in place and
    returns the total gain."""
    m = len(t)
    if m < 4:
        return 0.0
    total = 0.0
    pos = [0] * m
    for k, v in enumerate(t):
        pos[v] = k
    queue = list(active)
    queued = [False] * m
    for v in queue:
        queued[v] = True
    while queue:
        a = queue.pop()
        queued[a] = False
        move = _two_opt(d, neigh, t, pos, a, m) or _or_opt(d, neigh, t, pos, a, m)
        if move:
            gain, touched = move
            total += gain
            for k, v in enumerate(t):
                pos[v] = k
            for v in touched:
                if not queued[v]:
                    queued[v] = True
                    queue.append(v)
    return total


def _reverse(t: list[int], u: int, v: int) -> None:
    """Reverse the cyclic run of positions u..v (as a cycle, the same as its complement)."""
    if u <= v:
        t[u : v + 1] = t[u : v + 1][::-1]
    else:
        t[v + 1 : u] = t[v + 1 : u][::-1]


def _two_opt(d, neigh, t, pos, a, m):
    i = pos[a]
    da = d[a]
    # a and its successor b; new edges (a, c) and (b, succ c).
    b = t[(i + 1) % m]
    dab = da[b]
    for c in neigh[a]:
        dac = da[c]
        if dac >= dab:
            break
        j = pos[c]
        e = t[(j + 1) % m]
        if c == b or e == a:
            continue
        delta = dac + d[b][e] - dab - d[c][e]
        if delta < -EPS:
            _reverse(t, (i + 1) % m, j)
            return -delta, (a, b, c, e)
    # a and its predecessor b; new edges (a, c) and (b, pred c).
    b = t[i - 1]
    dab = da[b]
    for c in neigh[a]:
        dac = da[c]
        if dac >= dab:
            break
        j = pos[c]
        e = t[j - 1]
        if c == b or e == a:
            continue
        delta = dac + d[b][e] - dab - d[c][e]
        if delta < -EPS:
            _reverse(t, i, (j - 1) % m)
            return -delta, (a, b, c, e)
    return None


def _or_opt(d, neigh, t, pos, a, m):
    """Move a segment that starts at a (1..SEGMENT stops) elsewhere, either way round."""
    i = pos[a]
    p = t[i - 1]
    dp = d[p]
    dps = dp[a]
    s = a
    for length in range(1, min(SEGMENT, m - 3) + 1):
        e = t[(i + length - 1) % m]
        nx = t[(i + length) % m]
        gain = dps + d[e][nx] - dp[nx]
        if gain <= EPS:
            continue
        limit = gain - EPS
        best = None
        for end, other in ((s, e), (e, s)) if length > 1 else ((s, s),):
            dend, dother = d[end], d[other]
            for c in neigh[end]:
                dc = dend[c]
                if dc >= limit:
                    break
                j = pos[c]
                if (j - i) % m < length:
                    continue  # inside the segment
                dcc = d[c]
                cn = t[(j + 1) % m]
                if cn == s:
                    cn = nx
                cp = t[j - 1]
                if cp == e:
                    cp = p
                # c, end ... other, cn   |   cp, other ... end, c
                after = dc + dother[cn] - dcc[cn]
                if after < limit:
                    best, limit = (after, c, True, end), after
                before = dother[cp] + dc - dcc[cp]
                if before < limit:
                    best, limit = (before, c, False, end), before
        if best is not None:
            cost, c, after, end = best
            segment = [t[(i + k) % m] for k in range(length)]
            rest = [t[(i + length + k) % m] for k in range(m - length)]
            if (segment[0] == end) != after:
                segment.reverse()
            # After c the segment starts with `end`; before c it ends with `end`.
            at = rest.index(c) + (1 if after else 0)
            rest[at:at] = segment
            t[:] = rest
            at = t.index(c)
            return gain - cost, (p, nx, s, e, c, t[(at + 1) % m], t[at - 1])
    return None


def _double_bridge(d, t: list[int], rng: random.Random, window: int):
    """A small double bridge: three cuts within a window. Returns the new tour, its change in
    length and the nodes at the new edges."""
    m = len(t)
    start = rng.randrange(m)
    t = t[start:] + t[:start]
    x, y, z = sorted(rng.sample(range(1, min(window, m - 1) + 1), 3))
    a, b, c, e, f, g = t[x - 1], t[x], t[y - 1], t[y], t[z - 1], t[z % m]
    # a|b .. c|e .. f|g  ->  a e .. f b .. c g
    delta = d[a][e] + d[f][b] + d[c][g] - d[a][b] - d[c][e] - d[f][g]
    return t[:x] + t[y:z] + t[x:y] + t[z:], delta, (a, b, c, e, f, g)


def improve(d: list[list[float]], start: list[int], kicks: int, seed: int = 1) -> list[int]:
    """Local search from `start`, then `kicks` rounds of iterated local search."""
    neigh = neighbour_lists(d)
    best = list(start)
    local_search(d, neigh, best, range(len(best)))
    if len(best) < 8:
        return best
    rng = random.Random(seed)
    current, behind = best, 0.0  # behind: how much longer current is than best
    for _ in range(kicks):
        kicked, delta, ends = _double_bridge(d, current, rng, 10)
        delta -= local_search(d, neigh, kicked, ends)
        if behind + delta < EPS:
            current, behind = kicked, behind + delta
            if behind < -EPS:
                best, behind = current, 0.0
    return best


def _start(layout: Layout, points: list[PickPoint], d) -> list[int]:
    best, best_cost = None, float("inf")
    for visit in _STARTS:
        t = [0] + [i + 1 for i in _multi_block(layout, points, visit)]
        cost = tour_cost(d, t)
        if cost < best_cost:
            best, best_cost = t, cost
    return best


def kicks_for(n: int) -> int:
    """Double-bridge kicks for n picks: 10 at 30 picks (about 1 ms here, bench/README.md)."""
    return max(3, n // 3)


try:
    from server.core.routing import _multiblock as _c
except ImportError:  # the optional C extension was not built
    _c = None


def c_kicks_for(n: int) -> int:
    """Double-bridge kicks for n picks in C: 80 at 30 picks (about 0.2 ms, bench/README.md)."""
    return int(C_KICKS_BASE + C_KICKS_PER_PICK * n)


def flat(d: list[list[float]]) -> array:
    """A matrix as the C extension takes it: m*m doubles, row-major."""
    return array("d", [v for row in d for v in row])


def _multiblock_python(layout: Layout, points: list[PickPoint]) -> tuple[list[int], float]:
    d = node_matrix(layout, points)
    tour = improve(d, _start(layout, points, d), kicks_for(len(points)))
    at = tour.index(0)
    tour = tour[at:] + tour[:at]
    return [v - 1 for v in tour[1:]], tour_cost(d, tour)


def _multiblock_c(layout: Layout, points: list[PickPoint]) -> tuple[list[int], float]:
    depot = layout.depot
    ys = layout.cross_aisle_y
    d = _c.node_matrix(
        [depot.x] + [p.x for p in points], [depot.y] + [p.y for p in points],
        [-1] + [p.block for p in points], [(a + b) / 2 for a, b in zip(ys, ys[1:], strict=False)],
        layout.block_length,
    )
    start = [0] + [i + 1 for i in _multi_block(layout, points, _combined_block)]
    tour, length = _c.improve(d, start, c_kicks_for(len(points)), 1)
    at = tour.index(0)
    return [v - 1 for v in tour[at + 1 :] + tour[:at]], length


@register("multiblock")
def multiblock(layout: Layout, points: list[PickPoint]) -> tuple[list[int], float]:
    """A near-optimal tour over distinct pick points: (visiting order, length). In C when the
    extension is built, else in Python."""
    if _c is not None:
        return _multiblock_c(layout, points)
    return _multiblock_python(layout, points)
