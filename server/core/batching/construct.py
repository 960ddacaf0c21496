"""Constructions: first come first served, seed batching, Clarke & Wright savings (also near savings)."""

import heapq

from server.core.batching.problem import _key, _Problem


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
