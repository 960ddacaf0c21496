"""Exact pick-path routing for one block (Ratliff & Rosenthal 1983) and two blocks (Roodbergen &
de Koster 2001): method "optimal".

A picker's tour is a connected multigraph on the aisle graph, with even degrees, that holds the
depot and every pick point; an optimal one uses each edge at most twice. We build it aisle by
aisle, left to right, as the papers do. Between aisles the state of the partial tour is, for
each of the B + 1 cross aisles, how often the tour crosses the cut there (0, 1 or 2: none,
odd, even) and which of the crossing edges are already connected to each other on the left.
Every component must reach the cut, and holds an even number of odd crossings. For one block
that gives 5 classes with edges plus the empty one (Ratliff & Rosenthal's 7 also count the
finished tour, which we test after the last aisle); for two blocks, 23 front/middle/back
degree-and-connectivity classes plus the empty one.

Within an aisle, the part of block b between cross aisles b and b + 1 is covered in one of six
ways, each the cheapest of its kind (the papers' vertical options):
  NONE    no edges (only if it holds no pick)
  SINGLE  traversed once (odd degree at both ends, ends connected)
  DOUBLE  traversed twice (even, connected)
  BOTTOM  in and out from the lower end up to the farthest pick
  TOP     in and out from the upper end down to the farthest pick
  BOTH    in and out from both ends, leaving out the largest gap between two picks
Then the cross-aisle edges to the next aisle are chosen: once where the node's degree is odd,
none or twice where it is even. The transition tables are generated here, from these rules, for
any number of blocks; the DP runs over the aisles between the leftmost and rightmost of depot
and picks. The chosen subgraph is then walked as an Euler tour from the depot; the visiting
order is the order of first visits, so its length equals the optimum.

`_exact` (server/core/routing/_exact.c) is an optional C extension with the same algorithm and
the same tables (identical lengths and orders); without it the pure-Python version runs.
"""

from itertools import product

from server.core.layout import Layout, LayoutError, PickPoint
from server.core.routing import register

NONE, SINGLE, DOUBLE, BOTTOM, TOP, BOTH = range(6)
TYPES = 6
INF = float("inf")
MAX_BLOCKS = 2


# --- transition tables ---------------------------------------------------------------------------


def _canon(v, lab) -> tuple:
    """A state: degree classes (0, 1 odd, 2 even) per cross aisle, then labels numbered by first use."""
    names: dict[int, int] = {}
    out = []
    for x, label in zip(v, lab, strict=True):
        if x:
            out.append(names.setdefault(label, len(names) + 1))
        else:
            out.append(0)
    return tuple(v) + tuple(out)


def _vertical(state: tuple, n: int, b: int, t: int) -> tuple:
    """The state after covering block b of the current aisle with vertical option t."""
    v, lab = list(state[:n]), list(state[n:])
    fresh = [n + 1]

    def add(c: int, odd: bool) -> None:
        if v[c] == 0:
            lab[c] = fresh[0]
            fresh[0] += 1
        v[c] = (2 if v[c] == 1 else 1) if odd else (v[c] or 2)

    def merge(c: int, d: int) -> None:
        old, new = lab[d], lab[c]
        for i in range(n):
            if v[i] and lab[i] == old:
                lab[i] = new

    lo, hi = b, b + 1
    if t in (SINGLE, DOUBLE):
        add(lo, t == SINGLE)
        add(hi, t == SINGLE)
        merge(lo, hi)
    elif t == BOTTOM:
        add(lo, False)
    elif t == TOP:
        add(hi, False)
    elif t == BOTH:
        add(lo, False)
        add(hi, False)
    return _canon(v, lab)


def _horizontal(state: tuple, n: int) -> list[tuple[tuple, tuple]]:
    """(next state, crossing multiplicities) for each valid choice of edges to the next aisle."""
    v, lab = state[:n], state[n:]
    out = []
    for h in product(*([1] if x == 1 else [0, 2] for x in v)):
        if not any(h):
            continue
        if {lab[c] for c in range(n) if v[c]} != {lab[c] for c in range(n) if v[c] and h[c]}:
            continue  # a component would be cut off from the rest of the tour
        new = [(lab[c] if v[c] else n + 1 + c) if h[c] else 0 for c in range(n)]
        out.append((_canon(h, new), h))
    return out


class _Tables:
    def __init__(self, blocks: int):
        n = blocks + 1
        self.empty = (0,) * (2 * n)
        states, index = [self.empty], {self.empty: 0}

        def state_id(state: tuple) -> int:
            if state not in index:
                index[state] = len(states)
                states.append(state)
            return index[state]

        # Close the state set under all moves (breadth first, so the numbering is fixed).
        vert: dict[int, list[list[int]]] = {}
        horiz: dict[int, list[tuple[int, int, tuple]]] = {}
        i = 0
        while i < len(states):
            state = states[i]
            vert[i] = [[state_id(_vertical(state, n, b, t)) for t in range(TYPES)] for b in range(blocks)]
            horiz[i] = [(state_id(s), sum(h), h) for s, h in _horizontal(state, n)]
            i += 1
        self.n = n
        self.states = states
        # vert[b][s][t] -> next state; horiz[s] -> [(next, crossings, multiplicities)].
        self.vert = [[tuple(vert[s][b]) for s in range(len(states))] for b in range(blocks)]
        self.horiz = [tuple(horiz[s]) for s in range(len(states))]
        # A tour can end here: all degrees even, one component.
        self.close = [
            all(x != 1 for x in s[:n]) and len({x for x in s[n:] if x}) == 1 for s in states
        ]
        # The front cross aisle's node has edges (the depot, when this is its aisle).
        self.depot = [s[0] != 0 for s in states]


_TABLES: dict[int, _Tables] = {}


def tables(blocks: int) -> _Tables:
    if blocks not in _TABLES:
        _TABLES[blocks] = _Tables(blocks)
    return _TABLES[blocks]


# --- the dynamic programme -----------------------------------------------------------------------


def _segments(layout: Layout, points: list[PickPoint]) -> dict[tuple[int, int], list[tuple[float, int]]]:
    """Picks per (aisle, block): (offset above the block's lower cross aisle, index), sorted."""
    ys = layout.cross_aisle_y
    seg: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for i, p in enumerate(points):
        seg.setdefault((p.aisle, p.block), []).append((p.y - ys[p.block], i))
    for picks in seg.values():
        picks.sort()
    return seg


def _costs(picks, length: float) -> list[float]:
    """Cost of each vertical option for one block of one aisle (inf where it does not apply)."""
    if not picks:
        return [0.0, length, 2 * length, INF, INF, INF]
    low, high = picks[0][0], picks[-1][0]
    both = INF
    if len(picks) > 1:
        gap = max(picks[k + 1][0] - picks[k][0] for k in range(len(picks) - 1))
        both = 2 * (length - gap)
    return [INF, length, 2 * length, 2 * high, 2 * (length - low), both]


def _check_blocks(layout: Layout) -> None:
    if layout.blocks > MAX_BLOCKS:
        raise LayoutError(
            f"the exact method routes layouts of 1 or 2 blocks, not {layout.blocks}; use 'multiblock'"
        )


def solve_python(layout: Layout, points: list[PickPoint], want_order: bool = True):
    """(order, length) of an optimal tour over distinct points; order is None without want_order."""
    _check_blocks(layout)
    if not points:
        return [], 0.0
    blocks, depot = layout.blocks, layout.depot_aisle
    tab = tables(blocks)
    vert, horiz, count = tab.vert, tab.horiz, len(tab.states)
    length, pitch = layout.block_length, layout.aisle_pitch
    seg = _segments(layout, points)
    aisles = [a for a, _ in seg]
    lo, hi = min(depot, *aisles), max(depot, *aisles)

    cost = [INF] * count
    cost[0] = 0.0
    back = []  # per stage: parent state and choice for each state
    for a in range(lo, hi + 1):
        for b in range(blocks):
            sc = _costs(seg.get((a, b)), length)
            options = [(t, w) for t, w in enumerate(sc) if w != INF]
            table = vert[b]
            new, par = [INF] * count, [None] * count
            for s in range(count):
                c = cost[s]
                if c == INF:
                    continue
                row = table[s]
                for t, w in options:
                    x = c + w
                    ns = row[t]
                    if x < new[ns]:
                        new[ns] = x
                        par[ns] = (s, t)
            cost = new
            back.append(("v", a, b, par))
        if a == hi:
            break
        at_depot = a == depot
        new, par = [INF] * count, [None] * count
        for s in range(count):
            c = cost[s]
            if c == INF:
                continue
            off_depot = at_depot and not tab.depot[s]
            for k, (ns, crossings, h) in enumerate(horiz[s]):
                if off_depot and not h[0]:
                    continue  # the depot must be on the tour
                x = c + crossings * pitch
                if x < new[ns]:
                    new[ns] = x
                    par[ns] = (s, k)
        cost = new
        back.append(("h", a, None, par))

    best, state = INF, -1
    for s in range(count):
        if tab.close[s] and (hi != depot or tab.depot[s]) and cost[s] < best:
            best, state = cost[s], s
    if not want_order:
        return None, best

    types: dict[tuple[int, int], int] = {}
    crossings: dict[int, tuple] = {}
    for kind, a, b, par in reversed(back):
        s, choice = par[state]
        if kind == "v":
            types[a, b] = choice
        else:
            crossings[a] = horiz[s][choice][2]
        state = s
    return _euler_order(layout, points, seg, types, crossings, lo, hi), best


def _euler_order(layout, points, seg, types, crossings, lo, hi) -> list[int]:
    """First visits of the picks on an Euler tour of the chosen subgraph, from the depot."""
    n = layout.blocks + 1
    first_pick = layout.aisles * n  # nodes: cross-aisle intersections a * n + c, then picks
    adj: list[list[int]] = [[] for _ in range(first_pick + len(points))]
    ends: list[int] = []  # edge e joins ends[2e] and ends[2e + 1]

    def path(nodes: list[int], times: int) -> None:
        for _ in range(times):
            for u, w in zip(nodes, nodes[1:], strict=False):
                e = len(ends) >> 1
                ends.extend((u, w))
                adj[u].append(e)
                adj[w].append(e)

    for a in range(lo, hi + 1):
        for b in range(layout.blocks):
            t = types[a, b]
            picks = seg.get((a, b), [])
            chain = [first_pick + i for _, i in picks]
            bottom, top = a * n + b, a * n + b + 1
            if t in (SINGLE, DOUBLE):
                path([bottom, *chain, top], 1 if t == SINGLE else 2)
            elif t == BOTTOM:
                path([bottom, *chain], 2)
            elif t == TOP:
                path([top, *reversed(chain)], 2)
            elif t == BOTH:
                g = max(range(len(picks) - 1), key=lambda k: picks[k + 1][0] - picks[k][0])
                path([bottom, *chain[: g + 1]], 2)
                path([*chain[g + 1 :], top], 2)
        if a < hi:
            for c, times in enumerate(crossings[a]):
                path([a * n + c, (a + 1) * n + c], times)

    # Hierholzer's algorithm; any Euler circuit will do.
    used = bytearray(len(ends) >> 1)
    pos = [0] * len(adj)
    seen = bytearray(len(points))
    order: list[int] = []
    stack = [layout.depot_aisle * n]
    while stack:
        u = stack[-1]
        edges, k = adj[u], pos[u]
        while k < len(edges) and used[edges[k]]:
            k += 1
        pos[u] = k
        if k == len(edges):
            stack.pop()
            if u >= first_pick and not seen[u - first_pick]:
                seen[u - first_pick] = 1
                order.append(u - first_pick)
            continue
        e = edges[k]
        used[e] = 1
        stack.append(ends[2 * e] if ends[2 * e + 1] == u else ends[2 * e + 1])
    return order


# --- the C extension and the registered method ----------------------------------------------


try:
    from server.core.routing import _exact
except ImportError:  # the optional C extension was not built
    _exact = None
_c_ready = False


def _load_tables_into_c() -> None:
    """Give the extension the same tables the Python version uses (once, on first use)."""
    global _c_ready
    for blocks in range(1, MAX_BLOCKS + 1):
        tab = tables(blocks)
        entries = [e for row in tab.horiz for e in row]
        starts = [0]
        for row in tab.horiz:
            starts.append(starts[-1] + len(row))
        _exact.set_tables(
            LayoutError, blocks, len(tab.states),
            bytes(x for b in range(blocks) for row in tab.vert[b] for x in row),
            b"".join(x.to_bytes(2, "little") for x in starts),
            bytes(ns for ns, _, _ in entries),
            bytes(crossings for _, crossings, _ in entries),
            bytes(x for _, _, h in entries for x in h),
            bytes(tab.close), bytes(tab.depot),
        )
    _c_ready = True


def solve_c(layout: Layout, points: list[PickPoint], want_order: bool = True):
    """As solve_python, in C (needs the extension)."""
    _check_blocks(layout)
    if not points:
        return [], 0.0
    if not _c_ready:
        _load_tables_into_c()
    result = _exact.solve(
        points if isinstance(points, list) else list(points), layout.aisles, layout.blocks,
        layout.depot_aisle, layout.block_length, layout.aisle_pitch, layout.cross_aisle_y, want_order,
        layout.slots,
    )
    return result if want_order else (None, result)


solve = solve_c if _exact is not None else solve_python


@register("optimal")
def optimal(layout: Layout, points: list[PickPoint]) -> tuple[list[int], float]:
    """An optimal tour over distinct pick points: (visiting order, length)."""
    return solve(layout, points)


def optimal_length(layout: Layout, points: list[PickPoint]) -> float:
    """route_length(layout, points, "optimal") without the registry's overhead: the same checks
    (LayoutError for no points, a point outside the layout, more than 2 blocks), no order, and
    no deduplication (picks sharing a point leave the length unchanged)."""
    if not points:
        raise LayoutError("an empty pick list has no route")
    if _exact is None:
        for p in points:
            layout.point(p.aisle, p.block, p.slot)
    return solve(layout, points, False)[1]
