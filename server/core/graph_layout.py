"""A compiled building plan (server.core.building.Plan) answering as a `Layout` does, so that
batching, slotting, waves, picking and putaway work on any building unchanged.

Points are addressed as Layout's: (aisle index, block, slot), 0-based, aisle index into
`plan.aisle_numbers`; each is a `FacePoint` carrying its face on the graph. A route starts at the
`start` node and ends at the `end` node (the same for a round trip); distances are directed.
"""

from dataclasses import dataclass
from functools import cached_property

from server.core.building import AisleRule, Plan
from server.core.layout import Layout, LayoutError, PickPoint
from server.core.walkgraph import Face


@dataclass(frozen=True, slots=True)
class FacePoint(PickPoint):
    """A pick point on the graph: `face` is its pick face, or a node (int) for a start/end point."""

    face: Face | int


class GraphLayout:
    def __init__(self, plan: Plan, start: str | int = "depot", end: str | int | None = None, *, _points=None):
        self.plan = plan
        self.graph = plan.graph
        self.start = self._node(start, "start")
        self.end = self.start if end is None else self._node(end, "end")
        # (aisle index, block, slot) -> FacePoint, shared by every layout of the same plan.
        self._points: dict[tuple[int, int, int], FacePoint] = {} if _points is None else _points

    def _node(self, where, key: str) -> int:
        if isinstance(where, str):
            if where not in self.plan.points:
                known = ", ".join(sorted(self.plan.points)) or "none"
                raise LayoutError(f"{key}: unknown point {where!r}; known: {known}")
            return self.plan.points[where]
        if isinstance(where, int) and not isinstance(where, bool):
            if not 0 <= where < len(self.graph.nodes):
                raise LayoutError(f"{key}: node {where} is not in the graph (0..{len(self.graph.nodes) - 1})")
            return where
        if isinstance(where, PickPoint):
            spot = self.spot(where)
            if isinstance(spot, int):
                return spot
            # A face: the end of its edge the picker steps off at (start) or comes on from (end).
            u, v, oneway = self.graph.edges[spot.edge]
            ends = [v] if oneway else [u, v]
            if key == "start":
                return min(ends, key=lambda n: self.graph.distance(spot, n))
            return min([u] if oneway else [u, v], key=lambda n: self.graph.distance(n, spot))
        raise LayoutError(f"{key}: a point code, a node or a point of this layout (got {where!r})")

    def with_ends(self, start=None, end=None) -> "GraphLayout":
        """The same building (and graph tables) with other start and end points."""
        start_node = self.start if start is None else self._node(start, "start")
        end_node = self.end if end is None else self._node(end, "end")
        return GraphLayout(self.plan, start_node, end_node, _points=self._points)

    # --- the sizes Layout has ----------------------------------------------------------------------

    @cached_property
    def aisles(self) -> int:
        return len(self.plan.aisle_numbers)

    @cached_property
    def blocks(self) -> int:
        return max(self.plan.hall(self.plan.hall_of(n)).blocks for n in self.plan.aisle_numbers)

    @cached_property
    def slots(self) -> int:
        return max(self.plan.hall(self.plan.hall_of(n)).slots for n in self.plan.aisle_numbers)

    @cached_property
    def depot_aisle(self) -> int:
        """The aisle (index) nearest the start point whose racks begin at block 1."""
        candidates = [i for i, n in enumerate(self.plan.aisle_numbers) if self.plan.span(n)[0] == 1] or \
            list(range(self.aisles))
        return min(candidates, key=lambda i: (self.graph.distance(self.start, self._first_face(i)), i))

    def _first_face(self, i: int) -> Face:
        number = self.plan.aisle_numbers[i]
        return self.plan.face(number, self.plan.span(number)[0], 1)

    def _end_point(self, node: int) -> FacePoint:
        x, y = self.graph.nodes[node]
        return FacePoint(self.depot_aisle, -1, -1, x, y, node)

    @cached_property
    def depot(self) -> FacePoint:
        """The start point (block and slot -1, as Layout's depot)."""
        return self._end_point(self.start)

    @cached_property
    def end_point(self) -> FacePoint:
        return self._end_point(self.end)

    @cached_property
    def depots(self) -> tuple[FacePoint, ...]:
        return (self.depot,) if self.end == self.start else (self.depot, self.end_point)

    # --- points ------------------------------------------------------------------------------------

    def point(self, aisle: int, block: int, slot: int) -> FacePoint:
        """The pick point of a slot (0-based, as Layout's); LayoutError if it is not in the plan."""
        key = (aisle, block, slot)
        point = self._points.get(key)
        if point is None:
            if not (isinstance(aisle, int) and 0 <= aisle < self.aisles):
                raise LayoutError(f"point (aisle {aisle}, block {block}, slot {slot}) is outside the layout "
                                  f"({self.aisles} aisles)")
            number = self.plan.aisle_numbers[aisle]
            try:
                face = self.plan.face(number, block + 1, slot + 1)
            except LookupError as error:
                raise LayoutError(f"point (aisle {aisle}, block {block}, slot {slot}) is outside the layout: "
                                  f"{error.args[0]}") from None
            x, y = self.graph.xy(face)
            point = self._points[key] = FacePoint(aisle, block, slot, x, y, face)
        return point

    def points(self, picks) -> list[FacePoint]:
        return [self.point(*pick) for pick in picks]

    def spot(self, p: PickPoint) -> Face | int:
        """Where a point is on the graph: a face, or a node for a start/end point."""
        if isinstance(p, FacePoint):
            return p.face
        if p.block < 0:
            return self.start
        return self.point(p.aisle, p.block, p.slot).face

    # --- distances -----------------------------------------------------------------------------------

    def distance(self, p: PickPoint, q: PickPoint) -> float:
        """The shortest walk from p to q (directed: one-way aisles and corridors)."""
        return self.graph.distance(self.spot(p), self.spot(q))

    def distance_matrix(self, points: list[PickPoint]) -> list[list[float]]:
        spots = [self.spot(p) for p in points]
        return [[0.0 if i == j else self.graph.distance(a, b) for j, b in enumerate(spots)]
                for i, a in enumerate(spots)]

    def tour_length(self, stops: list[PickPoint], depot: PickPoint | None = None) -> float:
        """Length of the walk start -> stops in order -> end (or depot -> stops -> depot)."""
        first, last = (self.start, self.end) if depot is None else (self.spot(depot),) * 2
        return self.graph.walk_length([first, *(self.spot(p) for p in stops), last])

    # --- a plain rectangular hall --------------------------------------------------------------------

    @cached_property
    def rectangular(self) -> tuple[Layout, dict[int, int]] | None:
        """(the same walking as a Layout, aisle index -> Layout aisle) when the building is one hall
        with no aisle rules, columns or corridors and the route starts and ends at one aisle's front:
        then the rectangular exact methods answer. None otherwise."""
        building = self.plan.building
        if len(building.halls) != 1 or building.columns or building.corridors or self.start != self.end:
            return None
        hall = building.halls[0]
        if any(rule != AisleRule(rule.aisle) and rule != AisleRule(rule.aisle, (1, hall.blocks))
               for rule in building.aisles):
            return None
        y0 = hall.cross_aisle_y(0)
        x, y = self.graph.nodes[self.start]
        depot = next((i for i in range(len(hall.aisles))
                      if max(abs(a - b) for a, b in zip(hall.place(i * hall.aisle_pitch, y0), (x, y), strict=True))
                      <= 1e-9), None)
        if depot is None:
            return None
        layout = Layout(aisles=len(hall.aisles), blocks=hall.blocks, slots=hall.slots, slot_length=hall.slot_length,
                        aisle_pitch=hall.aisle_pitch, cross_aisle_width=hall.cross_aisle_width, depot_aisle=depot)
        return layout, {i: hall.aisles.index(n) for i, n in enumerate(self.plan.aisle_numbers)}

    def rectangular_points(self, points: list[PickPoint]) -> list[PickPoint]:
        """The points as the `rectangular` Layout's (only when it is not None)."""
        layout, aisle = self.rectangular
        return [layout.point(aisle[p.aisle], p.block, p.slot) for p in points]

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """(x min, y min, x max, y max) of the walkable graph."""
        xs = [x for x, _ in self.graph.nodes]
        ys = [y for _, y in self.graph.nodes]
        return (min(xs), min(ys), max(xs), max(ys))
