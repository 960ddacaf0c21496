"""Improvement: local search with moves and swaps, then re-splits of batch pairs (iterated local search)."""

import time
from collections import deque

from server.core.batching.construct import SHORTLIST
from server.core.batching.orders import EPS
from server.core.batching.problem import _key, _Problem


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
