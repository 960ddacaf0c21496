"""Routing heuristics of the order-picking literature, for any number of blocks.

- "sshape" (traversal), "largest_gap" and "combined" for multiple blocks follow Roodbergen & de
  Koster (2001), "Routing methods for warehouses with multiple cross aisles": go up the left-most
  aisle with picks (picking on the way) to the front of the farthest block with picks, then handle
  the blocks one by one back towards the depot, each time starting at the end (left or right
  subaisle with picks) nearest to where the picker stands, and leaving the block by its front.
  - S-shape: every subaisle with picks is traversed, alternating up and down; if the picker would
    end a block at its back, the last subaisle is entered and left from the front instead.
  - Largest gap: the first and last subaisles of a block are traversed, the others are entered
    from the back and from the front as far as their largest gap (the part never walked).
  - Combined: each subaisle is either traversed or entered and left from the side the picker is
    on, chosen by dynamic programming over the side (front/back) per block.
- "midpoint": like largest gap, with the split at the middle of the subaisle.
- "return": every subaisle is entered and left from the cross aisle nearest the depot (its
  block's front); blocks from the front to the back, each swept from the nearer end.

A heuristic fixes the visiting order. The length returned is that of the order walked along
shortest paths between consecutive stops (what any scorer recomputes), which can be shorter
than the heuristic's own walk when its walk makes a detour.
"""

from server.core.layout import Layout, PickPoint
from server.core.routing import register

# --- geometry in closed form (the same distances as Layout.distance, without its loops) ------


def node_matrix(layout: Layout, points: list[PickPoint]) -> list[list[float]]:
    """Distances between node 0 (the depot) and nodes 1..n (the points).

    |dx| + |dy| holds between different blocks and within one aisle; between different aisles of
    one block the walk leaves by the nearer cross aisle: |dx| + L - |u1 + u2|, where L is the
    block length and u a point's offset from the block's middle."""
    depot = layout.depot
    xs = [depot.x] + [p.x for p in points]
    ys = [depot.y] + [p.y for p in points]
    d = [[abs(xi - x) + abs(yi - y) for x, y in zip(xs, ys, strict=True)] for xi, yi in zip(xs, ys, strict=True)]
    length = layout.block_length
    mids = [(a + b) / 2 for a, b in zip(layout.cross_aisle_y, layout.cross_aisle_y[1:], strict=False)]
    blocks: dict[int, list[int]] = {}
    for k, p in enumerate(points, 1):
        blocks.setdefault(p.block, []).append(k)
    for b, nodes in blocks.items():
        if len(nodes) < 2:
            continue
        mid = mids[b]
        us = [ys[k] - mid for k in nodes]
        bx = [xs[k] for k in nodes]
        for k, xk, uk in zip(nodes, bx, us, strict=True):
            row = d[k]
            for j, xj, uj in zip(nodes, bx, us, strict=True):
                if xj != xk:
                    s = uk + uj
                    row[j] = abs(xk - xj) + length - (s if s >= 0 else -s)
    return d


def leg(layout: Layout, p: PickPoint, q: PickPoint) -> float:
    """Layout.distance in closed form: the same aisle or different blocks walk |dy|; the same
    block in different aisles leaves by whichever of the block's cross aisles is shorter."""
    dx = abs(p.x - q.x)
    if p.aisle == q.aisle or p.block != q.block:
        return dx + abs(p.y - q.y)
    ys = layout.cross_aisle_y
    s = p.y + q.y
    return dx + min(s - 2 * ys[p.block], 2 * ys[p.block + 1] - s)


def order_length(layout: Layout, points: list[PickPoint], order: list[int]) -> float:
    depot = layout.depot
    walk = [depot, *(points[i] for i in order), depot]
    return sum(leg(layout, a, b) for a, b in zip(walk, walk[1:], strict=False))


# --- shared structure ---------------------------------------------------------------------------


def _subaisles(points: list[PickPoint]) -> dict[tuple[int, int], list[int]]:
    """(block, aisle) -> indices of its points, front to back."""
    sub: dict[tuple[int, int], list[int]] = {}
    for i, p in enumerate(points):
        sub.setdefault((p.block, p.aisle), []).append(i)
    for indices in sub.values():
        indices.sort(key=lambda i: points[i].y)
    return sub


def _sweep(aisles: list[int], at: int) -> list[int]:
    """The block's subaisles from the end nearest to aisle `at` to the other end."""
    aisles = sorted(aisles)
    return aisles if abs(at - aisles[0]) <= abs(aisles[-1] - at) else aisles[::-1]


def _multi_block(layout: Layout, points: list[PickPoint], visit) -> list[int]:
    """Roodbergen & de Koster's frame: up the left pick aisle to the farthest block, then the
    blocks back to front. `visit(layout, points, block, sweep, sub, from_back)` returns the block's order."""
    sub = _subaisles(points)
    left = min(p.aisle for p in points)
    far = max(p.block for p in points)
    order: list[int] = []
    for b in range(far):  # picked on the way up the left pick aisle
        order += sub.pop((b, left), [])
    at = left
    blocks: dict[int, list[int]] = {}
    for b, a in sub:
        blocks.setdefault(b, []).append(a)
    for b in range(far, -1, -1):
        if b not in blocks:
            continue
        part = visit(layout, points, b, _sweep(blocks[b], at), sub, b != far)
        order += part
        at = points[part[-1]].aisle
    return order


def _sshape_block(layout, points, b, sweep, sub, from_back):
    part = []
    for k, a in enumerate(sweep):
        indices = sub[(b, a)]
        # Entered from the front: up, down, up, ...; from the back: down, up, ... A last subaisle
        # entered from the front is entered and left from the front: up, too.
        up = (k % 2 == 0) != from_back
        part += indices if up else indices[::-1]
    return part


def _gap_block(split):
    def visit(layout, points, b, sweep, sub, from_back):
        lo, hi = layout.cross_aisle_y[b], layout.cross_aisle_y[b + 1]
        first, last = sub[(b, sweep[0])], sub[(b, sweep[-1])]
        if len(sweep) == 1:
            return first[::-1] if from_back else list(first)
        parts = [split(points, sub[(b, a)], lo, hi) for a in sweep[1:-1]]
        if from_back:
            lower0, upper0 = split(points, first, lo, hi)
            out = upper0[::-1]
        else:
            lower0, out = [], list(first)  # the first subaisle is walked up to the back
        for _, upper in parts:  # along the back: each subaisle down to its gap and back up
            out += upper[::-1]
        out += last[::-1]  # the last subaisle walked down to the front
        for lower, _ in reversed(parts):  # along the front: each subaisle up to its gap
            out += lower
        return out + lower0

    return visit


def _largest_gap_split(points, indices, lo, hi):
    ys = [lo] + [points[i].y for i in indices] + [hi]
    gaps = [ys[k + 1] - ys[k] for k in range(len(ys) - 1)]
    k = gaps.index(max(gaps))  # picks before gap k from the front, the rest from the back
    return indices[:k], indices[k:]


def _midpoint_split(points, indices, lo, hi):
    mid = (lo + hi) / 2
    lower = [i for i in indices if points[i].y < mid]
    return lower, indices[len(lower):]


def _combined_block(layout, points, b, sweep, sub, from_back):
    """Per subaisle traverse or enter-and-return, by DP over the side; leave by the front."""
    lo, hi = layout.cross_aisle_y[b], layout.cross_aisle_y[b + 1]
    inf = float("inf")
    cost = [inf, inf]  # 0: at the front cross aisle, 1: at the back
    cost[1 if from_back else 0] = 0.0
    choices = []
    for a in sweep:
        indices = sub[(b, a)]
        ymin, ymax = points[indices[0]].y, points[indices[-1]].y
        through = hi - lo
        ret = (2 * (ymax - lo), 2 * (hi - ymin))
        new, came = [inf, inf], [None, None]
        for side in (0, 1):
            if cost[side] == inf:
                continue
            for end, extra in ((side, ret[side]), (1 - side, through)):
                if cost[side] + extra < new[end]:
                    new[end], came[end] = cost[side] + extra, side
        cost = new
        choices.append(came)
    part, side = [], 0  # end at the front
    for a, came in zip(reversed(sweep), reversed(choices), strict=True):
        start = came[side]
        indices = sub[(b, a)]
        part.append(indices if start == 0 else indices[::-1])
        side = start
    return [i for indices in reversed(part) for i in indices]


def _return_order(layout: Layout, points: list[PickPoint]) -> list[int]:
    sub = _subaisles(points)
    blocks: dict[int, list[int]] = {}
    for b, a in sub:
        blocks.setdefault(b, []).append(a)
    order, at = [], layout.depot_aisle
    for b in sorted(blocks):
        for a in _sweep(blocks[b], at):
            order += sub[(b, a)]
            at = a
    return order


def _heuristic(visit):
    def method(layout: Layout, points: list[PickPoint]) -> tuple[list[int], float]:
        order = _multi_block(layout, points, visit)
        return order, order_length(layout, points, order)

    return method


sshape = register("sshape")(_heuristic(_sshape_block))
largest_gap = register("largest_gap")(_heuristic(_gap_block(_largest_gap_split)))
midpoint = register("midpoint")(_heuristic(_gap_block(_midpoint_split)))
combined = register("combined")(_heuristic(_combined_block))


@register("return")
def return_(layout: Layout, points: list[PickPoint]) -> tuple[list[int], float]:
    order = _return_order(layout, points)
    return order, order_length(layout, points, order)


HEURISTICS = ("sshape", "return", "midpoint", "largest_gap", "combined")
