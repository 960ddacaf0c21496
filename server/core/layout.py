"""The walking geometry of one warehouse: parallel aisles, blocks and cross aisles, depots.

The model is the order-picking literature's (Ratliff & Rosenthal 1983; Roodbergen & de Koster
2001), as docs/benchmarks.md defines it:

- aisle `a` (0 .. A-1) runs along x = a * P; pick faces on both sides are picked from its centre;
- B blocks lie between B + 1 cross aisles; cross aisle c (0 = front, B = back) has its centre
  line at y_c = c * (S * L + W) + W / 2;
- slot s (0 .. S-1) of block b is at y = b * (S * L + W) + W + (s + 0.5) * L;
- travel is along aisle centre lines and cross-aisle centre lines only;
- a depot stands on the front cross aisle at (D * P, y_0).

A `Layout` is immutable and precomputes what queries need; building one is cheap.
"""

from dataclasses import dataclass
from functools import cached_property


class LayoutError(ValueError):
    """A layout or a point that cannot exist in it."""


@dataclass(frozen=True, slots=True)
class PickPoint:
    """A point on an aisle's centre line: aisle, block, slot (and its coordinates)."""

    aisle: int
    block: int
    slot: int
    x: float
    y: float


@dataclass(frozen=True)
class Layout:
    aisles: int
    blocks: int = 1
    slots: int = 30
    slot_length: float = 1.0
    aisle_pitch: float = 5.0
    cross_aisle_width: float = 2.0
    depot_aisle: int = 0
    # More depots (aisle numbers on the front cross aisle), e.g. several drop-off points.
    extra_depot_aisles: tuple[int, ...] = ()

    def __post_init__(self):
        for name in ("aisles", "blocks", "slots"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LayoutError(f"a layout needs at least one of {name} (got {value!r})")
        for name in ("slot_length", "aisle_pitch", "cross_aisle_width"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
                raise LayoutError(f"{name} must be a positive number (got {value!r})")
        for depot in (self.depot_aisle, *self.extra_depot_aisles):
            if isinstance(depot, bool) or not isinstance(depot, int) or not 0 <= depot < self.aisles:
                raise LayoutError(f"depot aisle {depot!r} is outside aisles 0..{self.aisles - 1}")

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def from_bench(cls, spec: dict) -> "Layout":
        """From the `layout` object of a benchmark instance (docs/benchmarks.md)."""
        try:
            return cls(
                aisles=spec["aisles"],
                blocks=spec.get("blocks", 1),
                slots=spec["slots"],
                slot_length=spec.get("slot_length", 1.0),
                aisle_pitch=spec.get("aisle_pitch", 5.0),
                cross_aisle_width=spec.get("cross_aisle_width", 2.0),
                depot_aisle=spec.get("depot_aisle", 0),
            )
        except KeyError as missing:
            raise LayoutError(f"layout spec lacks {missing.args[0]!r}") from None

    def to_bench(self) -> dict:
        return {
            "aisles": self.aisles, "blocks": self.blocks, "slots": self.slots,
            "slot_length": self.slot_length, "aisle_pitch": self.aisle_pitch,
            "cross_aisle_width": self.cross_aisle_width, "depot_aisle": self.depot_aisle,
        }

    # --- geometry ----------------------------------------------------------------------------

    @cached_property
    def block_length(self) -> float:
        """Distance between the centre lines of two adjacent cross aisles."""
        return self.slots * self.slot_length + self.cross_aisle_width

    @cached_property
    def cross_aisle_y(self) -> tuple[float, ...]:
        """Centre line y of cross aisles 0 (front) .. blocks (back)."""
        return tuple(c * self.block_length + self.cross_aisle_width / 2 for c in range(self.blocks + 1))

    @cached_property
    def aisle_x(self) -> tuple[float, ...]:
        return tuple(a * self.aisle_pitch for a in range(self.aisles))

    @cached_property
    def depot(self) -> PickPoint:
        """The main depot, as a point on the front cross aisle (block -1, slot -1)."""
        return PickPoint(self.depot_aisle, -1, -1, self.aisle_x[self.depot_aisle], self.cross_aisle_y[0])

    @cached_property
    def depots(self) -> tuple[PickPoint, ...]:
        y0 = self.cross_aisle_y[0]
        return (self.depot,) + tuple(PickPoint(a, -1, -1, self.aisle_x[a], y0) for a in self.extra_depot_aisles)

    def slot_y(self, block: int, slot: int) -> float:
        return block * self.block_length + self.cross_aisle_width + (slot + 0.5) * self.slot_length

    def point(self, aisle: int, block: int, slot: int) -> PickPoint:
        """The pick point of a slot; LayoutError if it is not in the layout."""
        if not (0 <= aisle < self.aisles and 0 <= block < self.blocks and 0 <= slot < self.slots):
            raise LayoutError(
                f"point (aisle {aisle}, block {block}, slot {slot}) is outside the layout "
                f"({self.aisles} aisles, {self.blocks} blocks, {self.slots} slots)"
            )
        return PickPoint(aisle, block, slot, self.aisle_x[aisle], self.slot_y(block, slot))

    def points(self, picks) -> list[PickPoint]:
        """Pick points for [aisle, block, slot] triples."""
        return [self.point(*pick) for pick in picks]

    @cached_property
    def width(self) -> float:
        return (self.aisles - 1) * self.aisle_pitch

    @cached_property
    def depth(self) -> float:
        return self.cross_aisle_y[-1] + self.cross_aisle_width / 2

    # --- distances -----------------------------------------------------------------------------

    def distance(self, p: PickPoint, q: PickPoint) -> float:
        """Shortest walk between two points (pick points or depots) along the aisle graph."""
        if p.aisle == q.aisle:
            # Straight along the aisle's centre line, through any cross aisles between.
            return abs(p.y - q.y)
        dx = abs(p.x - q.x)
        best = float("inf")
        for yp in self._exits(p):
            for yq in self._exits(q):
                walk = abs(p.y - yp) + abs(yp - yq) + abs(yq - q.y)
                if walk < best:
                    best = walk
        return dx + best

    def _exits(self, p: PickPoint) -> tuple[float, ...]:
        """Cross-aisle centre lines a point can leave its aisle by."""
        if p.block < 0:  # a depot stands on the front cross aisle
            return (p.y,)
        return (self.cross_aisle_y[p.block], self.cross_aisle_y[p.block + 1])

    def distance_matrix(self, points: list[PickPoint]) -> list[list[float]]:
        n = len(points)
        matrix = [[0.0] * n for _ in range(n)]
        for i in range(n):
            for j in range(i + 1, n):
                matrix[i][j] = matrix[j][i] = self.distance(points[i], points[j])
        return matrix

    def tour_length(self, stops: list[PickPoint], depot: PickPoint | None = None) -> float:
        """Length of the walk depot -> stops in order -> depot."""
        depot = depot or self.depot
        walk = [depot, *stops, depot]
        return sum(self.distance(a, b) for a, b in zip(walk, walk[1:], strict=False))
