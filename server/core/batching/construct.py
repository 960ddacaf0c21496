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
    live: dict[int, tuple] = {}  # batch number -> (members, key, load, length, sub-aisle mask), numbers ascending
    on_aisle: dict[int, list[int]] = {}  # sub-aisle bit -> batch numbers (with ones merged since)
    heap: list = []
    numbers = iter(range(1 << 62))
    for members in batches:
        _add_batch(problem, live, on_aisle, heap, members, next(numbers), neighbours)
    while True:
        while heap:
            _, a, b = heapq.heappop(heap)
            if a in live and b in live:
                _add_batch(problem, live, on_aisle, heap, live.pop(a)[0] + live.pop(b)[0], next(numbers), neighbours)
        if neighbours is None:
            break
        # Part-full carts that were not each other's neighbours: weigh all their pairs, so the
        # nearest-only start does not leave more carts than it must.
        neighbours = None
        rest = [live.pop(number)[0] for number in sorted(live)]
        for members in rest:
            _add_batch(problem, live, on_aisle, heap, members, next(numbers), None)
    return [entry[0] for _, entry in sorted(live.items())]


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _add_batch(problem, live, on_aisle, heap, members, number, neighbours):
    """Add a batch and the savings of merging it with the live batches it fits with (with
    `neighbours`: the nearest that fit, by 2 x shared + adjacent sub-aisles, then number)."""
    key, load = _key(members), problem.load_of(members)
    mask = 0
    for i in members:
        mask |= problem.masks[i]
    length = problem.cost(key, members)
    full = not problem.fits(load, problem.least_load)  # no order, so no batch, fits any more
    if full:
        partners = []
    elif neighbours is None:
        partners = [other for other, entry in live.items() if problem.fits(load, entry[2])]
    else:
        partners = _nearest(problem, live, on_aisle, load, mask, neighbours)
    for other in partners:
        their, their_key, _, their_length, _ = live[other]
        saving = length + their_length - problem.cost(key | their_key, members + their)
        heapq.heappush(heap, (-saving, other, number))
    live[number] = (members, key, load, length, mask)
    if not full:
        for bit in _bits(mask):
            on_aisle.setdefault(bit, []).append(number)


def _nearest(problem, live, on_aisle, load, mask, neighbours) -> list[int]:
    """The first `neighbours` live batches that fit with `load`, by (-(2 x shared + adjacent
    sub-aisles), number): those on or next to the mask's sub-aisles through the index, then the
    rest in number order (score 0)."""
    score: dict[int, int] = {}
    for bit in _bits(mask | mask << 1 | mask >> 1):
        weight = 3 if mask >> bit & 1 else 1
        numbers = on_aisle.get(bit)
        if not numbers:
            continue
        numbers[:] = [other for other in numbers if other in live]  # merged ones leave
        for other in numbers:
            score[other] = score.get(other, 0) + weight
    partners = []
    ranked = [(-points, other) for other, points in score.items()]
    heapq.heapify(ranked)  # taken best first until enough fit: no full sort
    while ranked:
        _, other = heapq.heappop(ranked)
        if problem.fits(load, live[other][2]):
            partners.append(other)
            if len(partners) == neighbours:
                return partners
    for other, entry in live.items():
        if other not in score and problem.fits(load, entry[2]):
            partners.append(other)
            if len(partners) == neighbours:
                break
    return partners


def _near_savings(problem: _Problem) -> list[list[int]]:
    return _savings(problem, NEIGHBOURS)


NEIGHBOURS = 10  # savings weighed per batch by "improve"'s start
