"""Order batching: group open orders into batches, one cart trip each, with the shortest total walk.

`make_batches(orders, cart, layout, method=...)` returns a `BatchPlan`: batches of order ids,
each within the cart's capacity (orders, items, volume, totes), with its route length and the
total. Methods:

- "fcfs": first come, first served; fill a cart in arrival order, start a new one when the next
  order does not fit.
- "seed": seed batching (de Koster, van der Poort & Wolters 1999; Ho & Tseng 2006). A new cart
  starts with the order that spans the most sub-aisles; then the order that adds the least walk
  joins, until nothing fits. Candidates are shortlisted by the sub-aisles they would add, then
  weighed by the route length they add.
- "savings": Clarke & Wright savings, variant (ii): start with one order per batch, merge the two
  batches whose merge saves most walk (route(A) + route(B) - route(A + B)), capacity permitting,
  and recompute the savings of the merged batch.
- "improve": start from savings weighed only between each batch and its 10 nearest batches
  ("near_savings", a fifth of the router calls; or `start=`), then local search that moves and
  swaps orders between batches (candidates shortlisted by sub-aisles, weighed by the router), then
  `rounds` re-splits of two similar batches, each followed by local search and kept only if the
  total got shorter (iterated local search). The result is never longer than its start.

Carrier cutoffs: with `now` and `horizon`, an order whose cutoff is at or before `now + horizon` is
urgent. Urgent orders are batched first, among themselves (spare room in their last cart may take
other orders); the batches that hold urgent orders come first in the plan, earliest cutoff first,
and no method moves an urgent order into a batch that started without urgent orders, so the
number of early batches never grows. The other batches follow by earliest cutoff, then arrival.

Every batch's length is `route_length(layout, points, router)` over the batch's distinct pick
points (microseconds for 1-2 blocks with the exact router). Lengths are memoised per set of
orders, and `BatchPlan.evaluations` counts the router calls actually made.
"""

import heapq
import random
import time
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.core.layout import Layout, LayoutError, PickPoint
from server.core.routing import METHODS as ROUTERS
from server.core.routing import route_length

EPS = 1e-9


class BatchingError(ValueError):
    """Orders or a cart that cannot be batched."""


@dataclass(frozen=True)
class OrderLine:
    """One line of an order: where to pick (a PickPoint, an (aisle, block, slot) triple, or a cell
    id looked up in `cells`) and how many units."""

    point: Any
    quantity: int = 1


@dataclass(frozen=True)
class Order:
    id: Hashable
    lines: Sequence  # OrderLine or (point, quantity) pairs
    volume: float = 0.0
    totes: int = 1
    cutoff: Any = None  # carrier cutoff: a number or a datetime, comparable with now + horizon
    items: int | None = None  # default: the sum of the line quantities


@dataclass(frozen=True)
class Cart:
    """What one picker's cart carries; None means no limit."""

    orders: int = 10
    items: int | None = None
    volume: float | None = None
    totes: int | None = None


@dataclass(frozen=True)
class Batch:
    orders: tuple  # order ids
    length: float  # the route length of the cart's trip
    urgent: bool  # holds an order close to its cutoff
    items: int
    volume: float
    totes: int


@dataclass(frozen=True)
class BatchPlan:
    method: str
    batches: tuple[Batch, ...]
    total: float
    evaluations: int  # router calls made (memoised lengths not counted)
    seconds: float


CONSTRUCTIONS = ("fcfs", "seed", "savings")
METHODS = (*CONSTRUCTIONS, "improve")
STARTS = (*CONSTRUCTIONS, "near_savings")  # "near_savings": savings over each batch's nearest batches


def make_batches(orders: Sequence[Order], cart: Cart, layout: Layout, method: str = "improve", *,
                 cells: Mapping | None = None, now: Any = None, horizon: Any = None, seed: int = 0,
                 router: str = "auto", start: str = "near_savings", rounds: int = 40,
                 max_evaluations: int | None = None, time_limit: float | None = None) -> BatchPlan:
    """Batch `orders` (in arrival order) into carts; see the module docstring for the methods.

    "improve" runs up to `rounds` re-split rounds after its first local optimum, and stops early
    after `max_evaluations` router calls or `time_limit` seconds (a time limit makes the result
    depend on the machine; without one the plan depends only on the input and `seed`).
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise BatchingError(f"unknown batching method {method!r}; known: {', '.join(METHODS)}")
    if start not in STARTS:
        raise BatchingError(f"unknown start method {start!r}; known: {', '.join(STARTS)}")
    if router not in ROUTERS:
        raise BatchingError(f"unknown routing method {router!r}; known: {', '.join(sorted(ROUTERS))}")
    problem = _Problem(orders, cart, layout, cells, now, horizon, router)
    if method == "fcfs":
        batches = _fcfs(problem)
    elif method == "seed":
        batches = _seed(problem)
    elif method == "savings":
        batches = _savings(problem)
    else:
        first = {"fcfs": _fcfs, "seed": _seed, "savings": _savings, "near_savings": _near_savings}[start](problem)
        deadline = None if time_limit is None else started + time_limit
        batches = _Search(problem, first, random.Random(seed), max_evaluations, deadline).run(rounds)
    return problem.plan(method, batches, time.perf_counter() - started)


# --- the problem: orders as point sets and sub-aisle masks, capacities, memoised route lengths ---


class _Problem:
    def __init__(self, orders, cart, layout, cells, now, horizon, router):
        self.layout, self.router = layout, router
        self.cap = _check_cart(cart)
        self.ids, self.points, self.order_points, self.masks = [], [], [], []
        self.loads, self.urgent, self.cutoffs = [], [], []
        index: dict[tuple[int, int, int], int] = {}
        seen = set()
        due = now + horizon if now is not None and horizon is not None else None
        for order in orders:
            if not isinstance(order, Order):
                raise BatchingError(f"not an Order: {order!r}")
            if order.id in seen:
                raise BatchingError(f"order {order.id!r} appears twice")
            seen.add(order.id)
            if not order.lines:
                raise BatchingError(f"order {order.id!r} has no lines")
            mine, mask, quantity = set(), 0, 0
            for line in order.lines:
                point, qty = _line(order, line)
                pick = self._resolve(order, point, cells)
                key = (pick.aisle, pick.block, pick.slot)
                if key not in index:
                    index[key] = len(self.points)
                    self.points.append(pick)
                mine.add(index[key])
                mask |= 1 << (pick.block * layout.aisles + pick.aisle)
                quantity += qty
            items = quantity if order.items is None else order.items
            load = (1, items, order.volume, order.totes)
            for name, value, limit in zip(("items", "volume", "totes"), load[1:], self.cap[1:], strict=True):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise BatchingError(f"order {order.id!r}: {name} must be a number >= 0 (got {value!r})")
                if limit is not None and value > limit:
                    raise BatchingError(f"order {order.id!r} is bigger than a cart: {name} {value} > {limit}")
            try:
                urgent = due is not None and order.cutoff is not None and order.cutoff <= due
            except TypeError:
                raise BatchingError(f"order {order.id!r}: cutoff {order.cutoff!r} is not comparable "
                                    f"with now + horizon ({due!r})") from None
            self.ids.append(order.id)
            self.order_points.append(tuple(sorted(mine)))
            self.masks.append(mask)
            self.loads.append(load)
            self.urgent.append(urgent)
            self.cutoffs.append(order.cutoff)
        self.n = len(self.ids)
        self.limits = [(k, limit) for k, limit in enumerate(self.cap) if limit is not None]
        self.cache: dict[int, float] = {}
        self.evaluations = 0

    def _resolve(self, order, point, cells) -> PickPoint:
        if cells is not None and isinstance(point, Hashable) and point in cells:
            point = cells[point]
        try:
            if isinstance(point, PickPoint):
                return self.layout.point(point.aisle, point.block, point.slot)
            if isinstance(point, tuple | list) and len(point) == 3 and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in point):
                return self.layout.point(*point)
        except LayoutError as error:
            raise BatchingError(f"order {order.id!r}: {error}") from None
        raise BatchingError(f"order {order.id!r}: unknown pick point or cell {point!r}")

    # Capacity: a load is (orders, items, volume, totes).
    def fits(self, load, extra, less=None) -> bool:
        """Whether a cart loaded with `load` takes `extra` (after giving up `less`)."""
        for k, limit in self.limits:  # noqa: SIM110 (a plain loop is faster here)
            if load[k] + extra[k] - (less[k] if less else 0) > limit + EPS:
                return False
        return True

    def load_of(self, members):
        return tuple(sum(self.loads[i][k] for i in members) for k in range(4))

    def cost(self, key: int, members) -> float:
        """Route length of a batch; `key` is its orders as a bit mask (the memo key)."""
        length = self.cache.get(key)
        if length is None:
            if not members:
                return 0.0
            picks = set()
            for i in members:
                picks.update(self.order_points[i])
            length = route_length(self.layout, [self.points[p] for p in sorted(picks)], self.router)
            self.cache[key] = length
            self.evaluations += 1
        return length

    def batch_cost(self, members) -> float:
        return self.cost(_key(members), members)

    def plan(self, method, batches, seconds) -> BatchPlan:
        made = []
        for members in batches:
            if not members:
                continue
            members = sorted(members)
            load = self.load_of(members)
            cutoffs = [self.cutoffs[i] for i in members if self.cutoffs[i] is not None]
            batch = Batch(tuple(self.ids[i] for i in members), self.batch_cost(members),
                          any(self.urgent[i] for i in members), load[1], load[2], load[3])
            # Urgent batches first, then by earliest cutoff (none last), then by first arrival.
            made.append(((not batch.urgent, (0, min(cutoffs)) if cutoffs else (1,), members[0]), batch))
        made.sort(key=lambda entry: entry[0])
        ordered = tuple(batch for _, batch in made)
        return BatchPlan(method, ordered, sum(b.length for b in ordered), self.evaluations, seconds)


def _key(members) -> int:
    key = 0
    for i in members:
        key |= 1 << i
    return key


def _line(order, line):
    if isinstance(line, OrderLine):
        point, qty = line.point, line.quantity
    elif isinstance(line, tuple | list) and len(line) == 2:
        point, qty = line
    else:
        raise BatchingError(f"order {order.id!r}: a line is an OrderLine or a (point, quantity) pair, not {line!r}")
    if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
        raise BatchingError(f"order {order.id!r}: quantity must be a whole number >= 1 (got {qty!r})")
    return point, qty


def _check_cart(cart) -> tuple:
    if not isinstance(cart, Cart):
        raise BatchingError(f"not a Cart: {cart!r}")
    if isinstance(cart.orders, bool) or not isinstance(cart.orders, int) or cart.orders < 1:
        raise BatchingError(f"a cart must carry at least one order (orders={cart.orders!r})")
    for name in ("items", "volume", "totes"):
        value = getattr(cart, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
            raise BatchingError(f"cart capacity {name} must be above zero or None for no limit (got {value!r})")
    return (cart.orders, cart.items, cart.volume, cart.totes)


# --- constructions ---------------------------------------------------------------------------------


def _by_priority(problem: _Problem) -> list[int]:
    """Orders in arrival order, urgent ones first."""
    return sorted(range(problem.n), key=lambda i: not problem.urgent[i])


def _fcfs(problem: _Problem) -> list[list[int]]:
    batches, members, load = [], [], (0, 0, 0, 0)
    for i in _by_priority(problem):
        if members and not problem.fits(load, problem.loads[i]):
            batches.append(members)
            members, load = [], (0, 0, 0, 0)
        members.append(i)
        load = tuple(a + b for a, b in zip(load, problem.loads[i], strict=True))
    if members:
        batches.append(members)
    return batches


SHORTLIST = 6  # candidates weighed with the router per decision


def _seed(problem: _Problem) -> list[list[int]]:
    masks = problem.masks
    left = _by_priority(problem)
    batches = []
    while left:
        urgent_left = [i for i in left if problem.urgent[i]]
        pool = urgent_left or left
        # Seed: the order spanning the most sub-aisles (ties: first arrived).
        seed = max(pool, key=lambda i: (masks[i].bit_count(), -i))
        members, key, mask, load = [seed], 1 << seed, masks[seed], problem.loads[seed]
        left.remove(seed)
        while True:
            fitting = [i for i in left if problem.fits(load, problem.loads[i])]
            if not fitting:
                break
            urgent = [i for i in fitting if problem.urgent[i]]
            fitting = urgent or fitting
            # Shortlist by sub-aisles added (then shared), weigh by route length added.
            short = sorted(fitting, key=lambda i: ((masks[i] & ~mask).bit_count(), -(masks[i] & mask).bit_count(), i))
            base = problem.cost(key, members)
            best = min(short[:SHORTLIST], key=lambda i: (problem.cost(key | 1 << i, [*members, i]) - base, i))
            members.append(best)
            key |= 1 << best
            mask |= masks[best]
            load = tuple(a + b for a, b in zip(load, problem.loads[best], strict=True))
            left.remove(best)
        batches.append(members)
    return batches


def _savings(problem: _Problem, neighbours: int | None = None) -> list[list[int]]:
    urgent = [i for i in range(problem.n) if problem.urgent[i]]
    others = [i for i in range(problem.n) if not problem.urgent[i]]
    batches = _merge_by_savings(problem, [[i] for i in urgent], neighbours)
    return _merge_by_savings(problem, batches + [[i] for i in others], neighbours)


def _merge_by_savings(problem: _Problem, batches: list[list[int]], neighbours: int | None) -> list[list[int]]:
    """Clarke-Wright (ii). With `neighbours`, a batch's savings are weighed with the router only
    for the batches nearest to it by shared and adjacent sub-aisles (far pairs save little)."""
    live: dict[int, tuple] = {}  # batch number -> (members, key, load, length, sub-aisle mask)
    heap: list = []
    numbers = iter(range(1 << 62))
    for members in batches:
        _add_batch(problem, live, heap, members, next(numbers), neighbours)
    while True:
        while heap:
            _, a, b = heapq.heappop(heap)
            if a in live and b in live:
                _add_batch(problem, live, heap, live.pop(a)[0] + live.pop(b)[0], next(numbers), neighbours)
        if neighbours is None:
            break
        # Part-full carts that were not each other's neighbours: weigh all their pairs, so the
        # nearest-only start does not leave more carts than it must.
        neighbours = None
        rest = [live.pop(number)[0] for number in sorted(live)]
        for members in rest:
            _add_batch(problem, live, heap, members, next(numbers), None)
    return [entry[0] for _, entry in sorted(live.items())]


def _add_batch(problem, live, heap, members, number, neighbours):
    """Add a batch and the savings of merging it with the live batches it fits with."""
    key, load = _key(members), problem.load_of(members)
    mask = 0
    for i in members:
        mask |= problem.masks[i]
    length = problem.cost(key, members)
    partners = [other for other, entry in live.items() if problem.fits(load, entry[2])]
    if neighbours is not None and len(partners) > neighbours:
        near = mask | mask << 1 | mask >> 1
        partners.sort(key=lambda other: (-(2 * (mask & live[other][4]).bit_count()
                                           + (near & live[other][4]).bit_count()), other))
        partners = partners[:neighbours]
    for other in partners:
        their, their_key, _, their_length, _ = live[other]
        saving = length + their_length - problem.cost(key | their_key, members + their)
        heapq.heappush(heap, (-saving, other, number))
    live[number] = (members, key, load, length, mask)


def _near_savings(problem: _Problem) -> list[list[int]]:
    return _savings(problem, NEIGHBOURS)


NEIGHBOURS = 10  # savings weighed per batch by "improve"'s start


# --- improvement: local search with moves and swaps, then re-splits of batch pairs ---------------


class _Budget(Exception):
    pass


class _Search:
    KB = 5  # batches looked at per order (by sub-aisles the order would add)
    M = 4  # moves weighed with the router per order

    def __init__(self, problem: _Problem, batches, rng, max_evaluations, deadline):
        self.p, self.rng = problem, rng
        self.max_evaluations, self.deadline = max_evaluations, deadline
        self.batches = [list(b) for b in batches if b]
        # Batches that may hold urgent orders: those that start with one. Fixed from here on.
        self.prio = [any(problem.urgent[i] for i in b) for b in self.batches]
        self.where = [0] * problem.n
        for b, members in enumerate(self.batches):
            for i in members:
                self.where[i] = b
        self.keys = [_key(b) for b in self.batches]
        self.loads = [problem.load_of(b) for b in self.batches]
        self.masks = [self._mask(b) for b in self.batches]
        self.without: dict[int, dict[int, int]] = {}

    def _without(self, b) -> dict[int, int]:
        """For each order of batch b, the sub-aisle mask of the others."""
        key = self.keys[b]
        found = self.without.get(key)
        if found is None:
            members = self.batches[b]
            found = {q: self._mask([i for i in members if i != q]) for q in members}
            self.without[key] = found
        return found

    def _mask(self, members):
        mask = 0
        for i in members:
            mask |= self.p.masks[i]
        return mask

    def cost(self, key, members):
        if self.p.evaluations >= (self.max_evaluations or float("inf")) and key not in self.p.cache:
            raise _Budget
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _Budget
        return self.p.cost(key, members)

    def total(self) -> float:
        return sum(self.p.cost(k, b) for k, b in zip(self.keys, self.batches, strict=True))

    def run(self, rounds: int) -> list[list[int]]:
        best = None
        try:
            self.local_search()
            best, best_total = self.snapshot(), self.total()
            for _ in range(rounds):
                touched = self.resplit()
                if touched:
                    self.local_search(touched)
                total = self.total()
                if total < best_total - EPS:
                    best, best_total = self.snapshot(), total
                else:
                    self.restore(best)
        except _Budget:
            # Out of budget: the current state is whole (moves are applied after they are weighed).
            if best is not None and self.total() > best_total:
                self.restore(best)
        return [list(b) for b in self.batches]

    def snapshot(self):
        return ([list(b) for b in self.batches], list(self.keys), list(self.loads), list(self.masks), list(self.where))

    def restore(self, state):
        batches, keys, loads, masks, where = state
        self.batches = [list(b) for b in batches]
        self.keys, self.loads, self.masks, self.where = list(keys), list(loads), list(masks), list(where)

    def _set(self, b, members):
        self.batches[b] = members
        self.keys[b] = _key(members)
        self.loads[b] = self.p.load_of(members)
        self.masks[b] = self._mask(members)
        for i in members:
            self.where[i] = b

    # Orders are weighed from a queue (all of them at first); when a move or swap changes two
    # batches, their orders are queued again. Each order gets the best improving move or swap
    # among a shortlist.
    def local_search(self, queue=None):
        p, masks = self.p, self.p.masks
        swap_free = all(k == 0 for k, _ in p.limits)  # only the order count is limited
        if queue is None:
            queue = list(range(p.n))
            self.rng.shuffle(queue)
        queue = deque(queue)
        queued = set(queue)
        while queue:
            o = queue.popleft()
            queued.discard(o)
            a = self.where[o]
            members_a = self.batches[a]
            if len(members_a) == 1 and len(self.batches) == 1:
                continue
            bit = 1 << o
            rest_a = [i for i in members_a if i != o]
            cost_a = self.cost(self.keys[a], members_a)
            cost_rest_a = self.cost(self.keys[a] ^ bit, rest_a)
            gain = cost_a - cost_rest_a
            if gain <= EPS:
                continue
            om = masks[o]
            mask_rest_a = self._without(a)[o]
            load_a, load_o = self.loads[a], p.loads[o]
            targets = [b for b in range(len(self.batches)) if b != a and (self.prio[b] or not p.urgent[o])]
            targets.sort(key=lambda b: ((om & ~self.masks[b]).bit_count(), b))
            candidates = []
            for b in targets[: self.KB]:
                if p.fits(self.loads[b], p.loads[o]):
                    candidates.append(((om & ~self.masks[b]).bit_count() - (om & ~mask_rest_a).bit_count(), b, -1))
                without = self._without(b)
                for q in self.batches[b]:
                    if p.urgent[q] and not self.prio[a]:
                        continue
                    if not swap_free:
                        load_q = p.loads[q]
                        if not (p.fits(self.loads[b], load_o, load_q) and p.fits(load_a, load_q, load_o)):
                            continue
                    rest_b = without[q]
                    score = ((om & ~rest_b).bit_count() - (masks[q] & ~rest_b).bit_count()
                             + (masks[q] & ~mask_rest_a).bit_count() - (om & ~mask_rest_a).bit_count())
                    candidates.append((score, b, q))
            candidates.sort()
            best = None
            for _, b, q in candidates[: self.M]:
                members_b = self.batches[b]
                cost_b = self.cost(self.keys[b], members_b)
                if q < 0:
                    delta = self.cost(self.keys[b] | bit, [*members_b, o]) - cost_b - gain
                else:
                    qbit = 1 << q
                    new_a = [*rest_a, q]
                    new_b = [i for i in members_b if i != q] + [o]
                    delta = (self.cost(self.keys[a] ^ bit | qbit, new_a) + self.cost(self.keys[b] ^ qbit | bit, new_b)
                             - cost_a - cost_b)
                if delta < -EPS and (best is None or delta < best[0]):
                    best = (delta, b, q)
            if best is None:
                continue
            _, b, q = best
            if q < 0:
                self._set(a, rest_a)
                self._set(b, [*self.batches[b], o])
            else:
                self._set(a, [*rest_a, q])
                self._set(b, [i for i in self.batches[b] if i != q] + [o])
            for i in self.batches[a] + self.batches[b]:
                if i not in queued:
                    queued.add(i)
                    queue.append(i)
        self._drop_empty()

    def _drop_empty(self):
        keep = [b for b in range(len(self.batches)) if self.batches[b]]
        if len(keep) == len(self.batches):
            return
        self.batches = [self.batches[b] for b in keep]
        self.keys = [self.keys[b] for b in keep]
        self.loads = [self.loads[b] for b in keep]
        self.masks = [self.masks[b] for b in keep]
        self.prio = [self.prio[b] for b in keep]
        for b, members in enumerate(self.batches):
            for i in members:
                self.where[i] = b

    # Perturbation: pool the orders of a batch and a similar one (same priority) and split them
    # anew by seed batching from a random seed; kept if the local search then finds a shorter total.
    def resplit(self):
        p = self.p
        if len(self.batches) < 2:
            return None
        a = self.rng.randrange(len(self.batches))
        others = [b for b in range(len(self.batches)) if b != a and self.prio[b] == self.prio[a]]
        if not others:
            return None
        others.sort(key=lambda b: (-(self.masks[a] & self.masks[b]).bit_count(), b))
        b = self.rng.choice(others[:3])
        pool = sorted(self.batches[a] + self.batches[b])
        first = self.rng.choice(pool)
        left = [i for i in pool if i != first]
        members, key, mask, load = [first], 1 << first, p.masks[first], p.loads[first]
        while True:
            fitting = [i for i in left if p.fits(load, p.loads[i])]
            if not fitting:
                break
            base = self.cost(key, members)
            fitting.sort(key=lambda i: ((p.masks[i] & ~mask).bit_count(), i))
            best = min(fitting[:SHORTLIST], key=lambda i: (self.cost(key | 1 << i, [*members, i]) - base, i))
            members.append(best)
            key, mask = key | 1 << best, mask | p.masks[best]
            load = tuple(x + y for x, y in zip(load, p.loads[best], strict=True))
            left.remove(best)
        if not p.fits(p.load_of(left), (0, 0, 0, 0)):
            return None  # the rest does not fit one cart: keep the pair as it was
        self._set(a, members)
        self._set(b, left)
        self._drop_empty()
        return pool
