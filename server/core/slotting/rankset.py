"""A sorted set of small ints (cell ranks) in chunks: add, discard and "first n" in a few µs.

The same idea as `sortedcontainers.SortedList`, cut down to what the slotting index needs and
kept here so that server.core depends on nothing.
"""

from bisect import bisect_left, insort

_LOAD = 256  # a chunk splits above 2 * _LOAD members


class RankSet:
    __slots__ = ("_chunks", "_maxes", "_len")

    def __init__(self, ranks=()):
        ordered = sorted(set(ranks))
        self._chunks = [ordered[i:i + _LOAD] for i in range(0, len(ordered), _LOAD)]
        self._maxes = [chunk[-1] for chunk in self._chunks]
        self._len = len(ordered)

    def __len__(self) -> int:
        return self._len

    def __iter__(self):
        for chunk in self._chunks:
            yield from chunk

    def __contains__(self, rank: int) -> bool:
        i = bisect_left(self._maxes, rank)
        if i == len(self._maxes):
            return False
        chunk = self._chunks[i]
        j = bisect_left(chunk, rank)
        return chunk[j] == rank

    def add(self, rank: int) -> None:
        """Add a rank that is not yet in the set (the caller keeps track of membership)."""
        maxes = self._maxes
        if not maxes:
            self._chunks.append([rank])
            maxes.append(rank)
            self._len = 1
            return
        i = bisect_left(maxes, rank)
        if i == len(maxes):
            i -= 1
            self._chunks[i].append(rank)
            maxes[i] = rank
        else:
            insort(self._chunks[i], rank)
        self._len += 1
        chunk = self._chunks[i]
        if len(chunk) > 2 * _LOAD:
            self._chunks[i:i + 1] = [chunk[:_LOAD], chunk[_LOAD:]]
            maxes[i:i + 1] = [chunk[_LOAD - 1], chunk[-1]]

    def discard(self, rank: int) -> None:
        """Remove a rank that is in the set."""
        maxes = self._maxes
        i = bisect_left(maxes, rank)
        chunk = self._chunks[i]
        del chunk[bisect_left(chunk, rank)]
        self._len -= 1
        if not chunk:
            del self._chunks[i]
            del maxes[i]
        elif maxes[i] == rank:
            maxes[i] = chunk[-1]

    def first(self, n: int) -> list[int]:
        """The n smallest ranks (fewer if the set is smaller)."""
        chunks = self._chunks
        if not chunks:
            return []
        head = chunks[0]
        if len(head) >= n:
            return head[:n]
        out = list(head)
        for chunk in chunks[1:]:
            out.extend(chunk[: n - len(out)])
            if len(out) >= n:
                break
        return out
