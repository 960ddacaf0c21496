"""A building plan (halls, aisle rules, columns, corridors, named points) compiled into one
walkable graph (server.core.walkgraph.WalkGraph) with every cell's pick face on it.

Each hall is a rectangular grid in its own frame, exactly as `Layout` (aisle i of the hall at
x = i * pitch, cross aisle c at y = c * (slots * L + W) + W / 2, cell slot s of block b at
y = (b - 1) * (slots * L + W) + W + (s - 0.5) * L), placed on the plan by origin and rotation.
The graph has a node at each (aisle, cross aisle), one edge per aisle and spanned block (the
block's faces on it), cross-aisle edges between adjacent aisles (none where a column stands),
anchor nodes splitting cross aisles (or on a stub beyond the outer aisle), corridors through their
`via` points, and the named points on their anchors. Only what is walkable both ways from the
start points is kept; a face or point that is not is an error.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from server.core.layout import Layout
from server.core.walkgraph import Face, WalkGraph

_EPS = 1e-9


class BuildingError(ValueError):
    """A building plan that cannot be compiled; `key` names the value at fault."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class Hall:
    code: str
    aisles: tuple[int, ...]
    blocks: int = 1
    slots: int = 30
    origin: tuple[float, float] = (0.0, 0.0)
    rotation: float = 0.0
    aisle_pitch: float = 3.0
    slot_length: float = 1.0
    cross_aisle_width: float = 2.0

    @property
    def block_length(self) -> float:
        return self.slots * self.slot_length + self.cross_aisle_width

    def cross_aisle_y(self, c: int) -> float:
        return c * self.block_length + self.cross_aisle_width / 2

    def depth(self) -> float:
        return self.blocks * self.block_length + self.cross_aisle_width

    def place(self, x: float, y: float) -> tuple[float, float]:
        """Local hall coordinates -> building plan."""
        if not self.rotation:
            return (self.origin[0] + x, self.origin[1] + y)
        a = math.radians(self.rotation)
        c, s = math.cos(a), math.sin(a)
        return (self.origin[0] + c * x - s * y, self.origin[1] + s * x + c * y)


@dataclass(frozen=True)
class AisleRule:
    aisle: int
    blocks: tuple[int, int] | None = None
    closed_back: bool = False
    oneway: str | None = None


@dataclass(frozen=True)
class Column:
    hall: str
    cross_aisle: int
    between: tuple[int, int]


@dataclass(frozen=True)
class Anchor:
    hall: str
    cross_aisle: int
    aisle: int
    offset: float = 0.0


@dataclass(frozen=True)
class Corridor:
    start: Anchor
    end: Anchor
    via: tuple[tuple[float, float], ...] = ()
    oneway: bool = False
    name: str = ""


@dataclass(frozen=True)
class NamedPoint:
    code: str
    at: Anchor


@dataclass(frozen=True)
class Building:
    halls: tuple[Hall, ...]
    aisles: tuple[AisleRule, ...] = ()
    columns: tuple[Column, ...] = ()
    corridors: tuple[Corridor, ...] = ()
    points: tuple[NamedPoint, ...] = ()


# --- value checks ------------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int(value, key: str, low: int | None = None, high: int | None = None) -> int:
    if not _is_int(value):
        raise BuildingError(key, f"must be a whole number (got {value!r})")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise BuildingError(key, f"must be in {span} (got {value})")
    return value


def _number(value, key: str, positive: bool = False) -> float:
    if not _is_number(value):
        raise BuildingError(key, f"must be a number (got {value!r})")
    if positive and not value > 0:
        raise BuildingError(key, f"must be a positive number (got {value!r})")
    return float(value)


def _pair(value, key: str) -> tuple[float, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise BuildingError(key, f"must be a pair [x, y] (got {value!r})")
    return (_number(value[0], f"{key}[0]"), _number(value[1], f"{key}[1]"))


def _sequence(value, key: str, kind: type) -> tuple:
    if not isinstance(value, tuple | list):
        raise BuildingError(key, f"must be a list (got {type(value).__name__})")
    for k, item in enumerate(value):
        if not isinstance(item, kind):
            raise BuildingError(f"{key}[{k}]", f"must be a {kind.__name__} (got {type(item).__name__})")
    return tuple(value)


def _code(value, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BuildingError(key, f"must be a non-empty text (got {value!r})")
    return value


# --- the compiler --------------------------------------------------------------------------------


class _Graph:
    """Nodes and edges as plain lists while compiling."""

    def __init__(self):
        self.nodes: list[tuple[float, float]] = []
        self.edges: list[tuple[int, int, bool]] = []

    def node(self, xy: tuple[float, float]) -> int:
        self.nodes.append(xy)
        return len(self.nodes) - 1

    def edge(self, u: int, v: int, oneway: bool = False) -> int:
        self.edges.append((u, v, oneway))
        return len(self.edges) - 1


@dataclass(frozen=True)
class _AisleSpan:
    """Where an aisle's cells lie in the graph."""

    hall: str
    first: int  # blocks spanned, 1-based
    last: int
    edges: tuple[int, ...]  # one per spanned block
    reverse: bool  # edges run back -> front (one-way "down")


def _check_halls(building: Building) -> tuple[dict[str, int], dict[int, tuple[int, int]]]:
    """{hall code: index}, {aisle number: (hall index, position in the hall)}."""
    halls = _sequence(building.halls, "halls", Hall)
    if not halls:
        raise BuildingError("halls", "a building needs at least one hall")
    hall_index: dict[str, int] = {}
    aisle_at: dict[int, tuple[int, int]] = {}
    for h, hall in enumerate(halls):
        key = f"halls[{h}]"
        code = _code(hall.code, f"{key}.code")
        if code in hall_index:
            raise BuildingError(f"{key}.code", f"hall {code!r} appears twice (halls[{hall_index[code]}])")
        hall_index[code] = h
        aisles = hall.aisles
        if not isinstance(aisles, tuple | list) or not aisles:
            raise BuildingError(f"{key}.aisles", f"must list at least one aisle number (got {aisles!r})")
        for i, number in enumerate(aisles):
            _int(number, f"{key}.aisles[{i}]")
            if number in aisle_at:
                other = aisle_at[number][0]
                raise BuildingError(f"{key}.aisles[{i}]", f"aisle {number} is in two halls "
                                    f"({halls[other].code!r} and {code!r})" if other != h
                                    else f"aisle {number} appears twice in hall {code!r}")
            aisle_at[number] = (h, i)
        _int(hall.blocks, f"{key}.blocks", 1)
        _int(hall.slots, f"{key}.slots", 1)
        _pair(hall.origin, f"{key}.origin")
        _number(hall.rotation, f"{key}.rotation")
        for name in ("aisle_pitch", "slot_length", "cross_aisle_width"):
            _number(getattr(hall, name), f"{key}.{name}", positive=True)
    return hall_index, aisle_at


def _check_rules(building, halls, aisle_at) -> dict[int, AisleRule]:
    rules: dict[int, tuple[int, AisleRule]] = {}
    for k, rule in enumerate(_sequence(building.aisles, "aisles", AisleRule)):
        key = f"aisles[{k}]"
        number = _int(rule.aisle, f"{key}.aisle")
        if number not in aisle_at:
            raise BuildingError(f"{key}.aisle", f"aisle {number} is in no hall")
        if number in rules:
            raise BuildingError(f"{key}.aisle", f"aisle {number} has a rule already (aisles[{rules[number][0]}])")
        hall = halls[aisle_at[number][0]]
        if rule.blocks is not None:
            if not isinstance(rule.blocks, tuple | list) or len(rule.blocks) != 2:
                raise BuildingError(f"{key}.blocks", f"must be [first, last] (got {rule.blocks!r})")
            first = _int(rule.blocks[0], f"{key}.blocks[0]", 1, hall.blocks)
            _int(rule.blocks[1], f"{key}.blocks[1]", first, hall.blocks)
        if not isinstance(rule.closed_back, bool):
            raise BuildingError(f"{key}.closed_back", f"must be true or false (got {rule.closed_back!r})")
        if rule.oneway not in (None, "up", "down"):
            raise BuildingError(f"{key}.oneway", f"must be 'up' or 'down' (got {rule.oneway!r})")
        rules[number] = (k, rule)
    return {number: rule for number, (_, rule) in rules.items()}


def _check_anchor(anchor, key: str, halls, hall_index, aisle_at) -> tuple[int, int, float]:
    """(hall index, cross aisle, position along the cross aisle in hall x)."""
    if not isinstance(anchor, Anchor):
        raise BuildingError(key, f"must be an anchor (got {type(anchor).__name__})")
    code = _code(anchor.hall, f"{key}.hall")
    if code not in hall_index:
        raise BuildingError(f"{key}.hall", f"unknown hall {code!r}; known: {', '.join(hall_index)}")
    h = hall_index[code]
    hall = halls[h]
    c = _int(anchor.cross_aisle, f"{key}.cross_aisle", 0, hall.blocks)
    number = _int(anchor.aisle, f"{key}.aisle")
    if number not in aisle_at or aisle_at[number][0] != h:
        raise BuildingError(f"{key}.aisle", f"aisle {number} is not in hall {code!r}")
    offset = _number(anchor.offset, f"{key}.offset")
    return h, c, aisle_at[number][1] * hall.aisle_pitch + offset


def compile_building(building: Building) -> "Plan":
    """The walkable graph of a building; BuildingError naming the key at fault."""
    if not isinstance(building, Building):
        raise BuildingError("building", f"must be a Building (got {type(building).__name__})")
    hall_index, aisle_at = _check_halls(building)
    halls = building.halls
    rules = _check_rules(building, halls, aisle_at)

    blocked: dict[tuple[int, int, int], str] = {}  # (hall, cross aisle, left position) -> key
    for k, column in enumerate(_sequence(building.columns, "columns", Column)):
        key = f"columns[{k}]"
        code = _code(column.hall, f"{key}.hall")
        if code not in hall_index:
            raise BuildingError(f"{key}.hall", f"unknown hall {code!r}; known: {', '.join(hall_index)}")
        h = hall_index[code]
        c = _int(column.cross_aisle, f"{key}.cross_aisle", 0, halls[h].blocks)
        if not isinstance(column.between, tuple | list) or len(column.between) != 2:
            raise BuildingError(f"{key}.between", f"must be two aisle numbers (got {column.between!r})")
        at = []
        for j, number in enumerate(column.between):
            _int(number, f"{key}.between[{j}]")
            if number not in aisle_at or aisle_at[number][0] != h:
                raise BuildingError(f"{key}.between[{j}]", f"aisle {number} is not in hall {code!r}")
            at.append(aisle_at[number][1])
        if abs(at[0] - at[1]) != 1:
            raise BuildingError(f"{key}.between", f"aisles {column.between[0]} and {column.between[1]} "
                                f"are not next to each other in hall {code!r}")
        blocked[(h, c, min(at))] = key

    # Anchors of corridors and points: where they sit on which cross aisle.
    corridors = _sequence(building.corridors, "corridors", Corridor)
    points = _sequence(building.points, "points", NamedPoint)
    anchors: list[tuple[str, int, int, float]] = []  # (key, hall, cross aisle, position)
    for k, corridor in enumerate(corridors):
        for end in ("start", "end"):
            anchors.append((f"corridors[{k}].{end}",
                            *_check_anchor(getattr(corridor, end), f"corridors[{k}].{end}", halls, hall_index, aisle_at)))
    codes: dict[str, int] = {}
    for k, point in enumerate(points):
        code = _code(point.code, f"points[{k}].code")
        if code in codes:
            raise BuildingError(f"points[{k}].code", f"point {code!r} appears twice (points[{codes[code]}])")
        codes[code] = k
        anchors.append((f"points[{k}].at", *_check_anchor(point.at, f"points[{k}].at", halls, hall_index, aisle_at)))

    g = _Graph()
    cross_node: dict[tuple[int, int, int], int] = {}  # (hall, cross aisle, aisle position) -> node
    anchor_node: dict[str, int] = {}
    for h, hall in enumerate(halls):
        pitch, count = hall.aisle_pitch, len(hall.aisles)
        for c in range(hall.blocks + 1):
            y = hall.cross_aisle_y(c)
            # Stations along the cross aisle: the aisles, then its anchors.
            stations: list[tuple[float, int]] = []
            for i in range(count):
                cross_node[(h, c, i)] = g.node(hall.place(i * pitch, y))
                stations.append((i * pitch, cross_node[(h, c, i)]))
            for key, ah, ac, t in anchors:
                if (ah, ac) != (h, c):
                    continue
                near = min(stations, key=lambda s, t=t: abs(s[0] - t))
                if abs(near[0] - t) <= _EPS:
                    anchor_node[key] = near[1]
                    continue
                left = math.floor(t / pitch)
                if 0 <= left < count - 1 and (h, c, left) in blocked:
                    raise BuildingError(key, f"lies where {blocked[(h, c, left)]} blocks the cross aisle")
                anchor_node[key] = g.node(hall.place(t, y))
                stations.append((t, anchor_node[key]))
            stations.sort()
            for (t0, u), (t1, v) in zip(stations, stations[1:], strict=False):
                left = math.floor(t0 / pitch + _EPS)
                if 0 <= left < count - 1 and (h, c, left) in blocked and t1 <= (left + 1) * pitch + _EPS:
                    continue
                g.edge(u, v)

    spans: dict[int, _AisleSpan] = {}
    for number, (h, i) in aisle_at.items():
        hall = halls[h]
        rule = rules.get(number, AisleRule(number))
        first, last = rule.blocks or (1, hall.blocks)
        x = i * hall.aisle_pitch
        edges = []
        for b in range(first, last + 1):
            front = cross_node[(h, b - 1, i)]
            if b == last and rule.closed_back:
                back = g.node(hall.place(x, b * hall.block_length))  # the rack's end, a dead end
            else:
                back = cross_node[(h, b, i)]
            u, v = (back, front) if rule.oneway == "down" else (front, back)
            edges.append(g.edge(u, v, rule.oneway is not None))
        spans[number] = _AisleSpan(hall.code, first, last, tuple(edges), rule.oneway == "down")

    for k, corridor in enumerate(corridors):
        key = f"corridors[{k}]"
        if not isinstance(corridor.oneway, bool):
            raise BuildingError(f"{key}.oneway", f"must be true or false (got {corridor.oneway!r})")
        if not isinstance(corridor.name, str):
            raise BuildingError(f"{key}.name", f"must be a text (got {corridor.name!r})")
        via = _sequence(corridor.via, f"{key}.via", tuple | list)
        chain = [anchor_node[f"{key}.start"]]
        for j, xy in enumerate(via):
            chain.append(g.node(_pair(xy, f"{key}.via[{j}]")))
        chain.append(anchor_node[f"{key}.end"])
        for j, (u, v) in enumerate(zip(chain, chain[1:], strict=False)):
            if math.dist(g.nodes[u], g.nodes[v]) <= _EPS:
                where = f"{key}.via[{j}]" if j < len(via) else f"{key}.end"
                raise BuildingError(where, "is the same point as the one before it")
            g.edge(u, v, corridor.oneway)

    named = {point.code: anchor_node[f"points[{k}].at"] for k, point in enumerate(points)}
    keys = {number: f"halls[{h}].aisles[{i}]" for number, (h, i) in aisle_at.items()}
    keys.update({rule.aisle: f"aisles[{k}]" for k, rule in enumerate(building.aisles)})
    return _prune(g, spans, named, keys, building)


def _reach(count: int, arcs: Iterable[tuple[int, int]], root: int) -> set[int]:
    out: list[list[int]] = [[] for _ in range(count)]
    for u, v in arcs:
        out[u].append(v)
    seen, stack = {root}, [root]
    while stack:
        for v in out[stack.pop()]:
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return seen


def _prune(g: _Graph, spans: dict[int, _AisleSpan], named: dict[str, int], keys: dict[int, str],
           building: Building) -> "Plan":
    """Keep what is walkable from the first point (or the first face) and back; refuse a face
    or a point that is not."""
    arcs = [(u, v) for u, v, _ in g.edges] + [(v, u) for u, v, oneway in g.edges if not oneway]
    root_name = next(iter(named), None)
    first_aisle = min(spans)
    root = named[root_name] if root_name else g.edges[spans[first_aisle].edges[0]][0]
    there = _reach(len(g.nodes), arcs, root)
    back = _reach(len(g.nodes), [(v, u) for u, v in arcs], root)
    where = f"point {root_name!r}" if root_name else f"the front of aisle {first_aisle}"
    keep = there & back
    for k, (code, node) in enumerate(named.items()):
        if node not in there:
            raise BuildingError(f"points[{k}]", f"point {code!r} cannot be reached from {where}")
        if node not in back:
            raise BuildingError(f"points[{k}]", f"there is no way back from point {code!r} to {where}")
    for number, span in sorted(spans.items()):
        for b, e in zip(range(span.first, span.last + 1), span.edges, strict=True):
            u, v, oneway = g.edges[e]
            key = keys[number]
            entered = u in there or (not oneway and v in there)
            left = v in back or (not oneway and u in back)
            if not entered:
                raise BuildingError(key, f"aisle {number} block {b} cannot be reached from {where}")
            if not left:
                raise BuildingError(key, f"there is no way back from aisle {number} block {b} to {where}")
    new_node = {old: new for new, old in enumerate(sorted(keep))}
    nodes = [g.nodes[old] for old in sorted(keep)]
    new_edge, edges = {}, []
    for e, (u, v, oneway) in enumerate(g.edges):
        if u in new_node and v in new_node:
            new_edge[e] = len(edges)
            edges.append((new_node[u], new_node[v], "oneway") if oneway else (new_node[u], new_node[v]))
    graph = WalkGraph(nodes, edges)
    spans = {n: _AisleSpan(s.hall, s.first, s.last, tuple(new_edge[e] for e in s.edges), s.reverse)
             for n, s in spans.items()}
    return Plan(graph, {code: new_node[node] for code, node in named.items()}, spans, building)


# --- the compiled plan ---------------------------------------------------------------------------


class Plan:
    """The compiled walkable graph of a building, with where every cell's face lies on it."""

    def __init__(self, graph: WalkGraph, points: dict[str, int], spans: dict[int, _AisleSpan], building: Building):
        self.graph = graph
        self.points = dict(points)
        self.building = building
        self._spans = dict(spans)
        self._halls = {hall.code: hall for hall in building.halls}
        self.aisle_numbers = tuple(sorted(spans))

    def face(self, aisle: int, block: int, slot: int) -> Face:
        """The pick face of cell (aisle number, block, slot), block and slot 1-based."""
        span = self._spans.get(aisle)
        if span is None:
            raise LookupError(f"aisle {aisle} is not in the building plan")
        hall = self._halls[span.hall]
        if not span.first <= block <= span.last:
            raise LookupError(f"aisle {aisle} spans blocks {span.first}..{span.last}, not block {block}")
        if not (_is_int(slot) and 1 <= slot <= hall.slots):
            raise LookupError(f"hall {hall.code!r} has slots 1..{hall.slots}, not slot {slot}")
        edge = span.edges[block - span.first]
        along = hall.cross_aisle_width / 2 + (slot - 0.5) * hall.slot_length
        if span.reverse:
            along = self.graph.lengths[edge] - along
        return Face(edge, along)

    def cells(self) -> list[tuple[int, int, int]]:
        """Every cell (aisle number, block, slot; 1-based) of the plan, in address order."""
        out = []
        for number in self.aisle_numbers:
            span = self._spans[number]
            slots = self._halls[span.hall].slots
            out += [(number, b, s) for b in range(span.first, span.last + 1) for s in range(1, slots + 1)]
        return out

    def span(self, aisle: int) -> tuple[int, int]:
        """(first, last) blocks an aisle spans, 1-based."""
        span = self._spans[aisle]
        return (span.first, span.last)

    def hall_of(self, aisle: int) -> str:
        span = self._spans.get(aisle)
        if span is None:
            raise LookupError(f"aisle {aisle} is not in the building plan")
        return span.hall

    def hall(self, code: str) -> Hall:
        return self._halls[code]

    def halls(self) -> list[dict]:
        """Each hall's floor on the plan, for drawing."""
        out = []
        for hall in self.building.halls:
            half, right = hall.aisle_pitch / 2, (len(hall.aisles) - 1) * hall.aisle_pitch + hall.aisle_pitch / 2
            corners = [hall.place(x, y) for x, y in ((-half, 0.0), (right, 0.0), (right, hall.depth()), (-half, hall.depth()))]
            out.append({"code": hall.code, "corners": corners, "aisles": list(hall.aisles)})
        return out

    def racks(self) -> list[dict]:
        """A rack on each side of each aisle and spanned block, for drawing."""
        out = []
        for number in self.aisle_numbers:
            span = self._spans[number]
            hall = self._halls[span.hall]
            x = hall.aisles.index(number) * hall.aisle_pitch
            p = hall.aisle_pitch
            for b in range(span.first, span.last + 1):
                y0 = (b - 1) * hall.block_length + hall.cross_aisle_width
                y1 = y0 + hall.slots * hall.slot_length
                for side, (x0, x1) in (("L", (x - 0.5 * p, x - 0.2 * p)), ("R", (x + 0.2 * p, x + 0.5 * p))):
                    corners = [hall.place(px, py) for px, py in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
                    out.append({"aisle": number, "block": b, "side": side, "corners": corners})
        return out

    def to_json(self) -> dict:
        return {
            "building": building_to_json(self.building),
            "graph": self.graph.to_json(),
            "points": dict(self.points),
            "aisles": [{"aisle": n, "hall": s.hall, "blocks": [s.first, s.last], "edges": list(s.edges),
                        "reverse": s.reverse} for n, s in sorted(self._spans.items())],
        }

    @classmethod
    def from_json(cls, d: dict) -> "Plan":
        if not isinstance(d, dict):
            raise BuildingError("plan", "must be a JSON object")
        for name in ("building", "graph", "points", "aisles"):
            if name not in d:
                raise BuildingError(f"plan.{name}", "is missing")
        building = building_from_json(d["building"])
        graph = WalkGraph.from_json(d["graph"])
        if not isinstance(d["points"], dict):
            raise BuildingError("plan.points", "must be an object of point code -> node")
        points = {}
        for code, node in d["points"].items():
            points[code] = _int(node, f"plan.points.{code}", 0, len(graph.nodes) - 1)
        spans = {}
        for k, row in enumerate(_sequence(d["aisles"], "plan.aisles", dict)):
            try:
                first, last = row["blocks"]
                edges = tuple(_int(e, f"plan.aisles[{k}].edges", 0, len(graph.edges) - 1) for e in row["edges"])
                spans[_int(row["aisle"], f"plan.aisles[{k}].aisle")] = _AisleSpan(
                    str(row["hall"]), first, last, edges, bool(row["reverse"]))
            except (KeyError, TypeError, ValueError) as e:
                if isinstance(e, BuildingError):
                    raise
                raise BuildingError(f"plan.aisles[{k}]", f"malformed ({e!r})") from None
        return cls(graph, points, spans, building)


# --- JSON of a building --------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def building_to_json(building: Building) -> dict:
    return _plain(building)


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


def _make(cls, data, key: str, nested: dict | None = None):
    if not isinstance(data, dict):
        raise BuildingError(key, f"must be an object (got {type(data).__name__})")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise BuildingError(f"{key}.{unknown[0]}", "is not a known key")
    values = {}
    for name, value in data.items():
        if nested and name in nested:
            maker = nested[name]
            values[name] = maker(value, f"{key}.{name}")
        else:
            values[name] = _tupled(value)
    try:
        return cls(**values)
    except TypeError as e:
        raise BuildingError(key, f"malformed ({e})") from None


def _many(cls, nested=None):
    def make(data, key):
        if not isinstance(data, list):
            raise BuildingError(key, "must be a list")
        return tuple(_make(cls, item, f"{key}[{k}]", nested) for k, item in enumerate(data))
    return make


def _anchor(data, key):
    return _make(Anchor, data, key)


def building_from_json(d: dict) -> Building:
    return _make(Building, d, "building", {
        "halls": _many(Hall), "aisles": _many(AisleRule), "columns": _many(Column),
        "corridors": _many(Corridor, {"start": _anchor, "end": _anchor}),
        "points": _many(NamedPoint, {"at": _anchor}),
    })


def building_from_layout(layout: Layout) -> Building:
    """The building of a rectangular Layout: one hall "H", aisle numbers 1..A (routing aisle i is
    aisle i + 1), the point "depot" at the depot (and "depot-1".. at the extra depots)."""
    hall = Hall("H", tuple(range(1, layout.aisles + 1)), layout.blocks, layout.slots,
                aisle_pitch=layout.aisle_pitch, slot_length=layout.slot_length,
                cross_aisle_width=layout.cross_aisle_width)
    points = [NamedPoint("depot", Anchor("H", 0, layout.depot_aisle + 1))]
    points += [NamedPoint(f"depot-{k}", Anchor("H", 0, a + 1)) for k, a in enumerate(layout.extra_depot_aisles, 1)]
    return Building((hall,), points=tuple(points))
