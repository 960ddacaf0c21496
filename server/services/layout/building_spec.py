"""The building keys of a layout spec: halls placed on a plan, aisle rules, columns, corridors,
named points and where pickers start and drop. Read into `server.core.building.Building` and
compiled into its walkable graph (`Plan`); every bad key named, as the rest of the spec.

A spec without `[[halls]]` has no building: the warehouse is one rectangular grid as before.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cached_property

from server.core.building import (
    AisleRule,
    Anchor,
    Building,
    Column,
    Corridor,
    Hall,
    NamedPoint,
    Plan,
    compile_building,
)

HALL_KEYS = {"code", "origin", "rotation", "aisles", "blocks", "bays", "aisle_pitch_m", "slot_length_m",
             "cross_aisle_width_m"}
AISLE_KEYS = {"aisle", "blocks", "closed", "oneway"}
COLUMN_KEYS = {"hall", "cross_aisle", "between"}
CORRIDOR_KEYS = {"name", "from", "to", "via", "oneway"}
POINT_KEYS = {"code", "name", "at"}
ANCHOR_KEYS = {"hall", "cross_aisle", "aisle", "offset_m"}
BUILDING_KEYS = ("halls", "aisles", "columns", "corridors", "points")
ONEWAY = {"up", "down"}
MAX_HALLS = 50
MAX_ITEMS = 2000  # aisle rules, columns, corridors, points each


@dataclass
class BuildingSpec:
    """What the building keys say: the compiled plan, point names, the warehouse's start and drop."""

    building: Building
    plan: Plan
    names: dict[str, str]  # point code -> name
    start: str
    drop: str
    halls: dict[str, Hall] = field(default_factory=dict)

    @cached_property
    def plan_text(self) -> str:
        """The plan as stored: canonical JSON (so a second apply of the same spec changes nothing)."""
        return plan_text(self.plan)

    @property
    def plan_hash(self) -> str:
        return hashlib.sha256(self.plan_text.encode()).hexdigest()

    @property
    def counts(self) -> dict[str, int]:
        """Halls, nodes, edges, one-way edges and points of the plan."""
        graph = self.plan.graph
        return {"halls": len(self.halls), "nodes": len(graph.nodes), "edges": len(graph.edges),
                "oneway": sum(1 for _u, _v, one in graph.edges if one), "points": len(self.plan.points)}

    def hall_of(self, aisle: int) -> Hall | None:
        for hall in self.halls.values():
            if aisle in hall.aisles:
                return hall
        return None


def plan_text(plan: Plan) -> str:
    return json.dumps(plan.to_json(), sort_keys=True, separators=(",", ":"))


def has_building(data: dict) -> bool:
    return isinstance(data, dict) and any(key in data for key in BUILDING_KEYS)


def _real(c, data: dict, key: str, where: str, default: float | None = None) -> float | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        c.error(f"{where}.{key}", "must be a number")
        return default
    return float(value)


def _pair(c, data: dict, key: str, where: str, *, whole: bool = False, required: bool = True):
    value = data.get(key)
    if value is None:
        if required:
            c.error(f"{where}.{key}", "missing")
        return None
    return _pair_of(c, value, f"{where}.{key}", whole=whole)


def _pair_of(c, value, key: str, *, whole: bool = False):
    kinds = int if whole else int | float
    if (
        isinstance(value, list) and len(value) == 2
        and all(isinstance(v, kinds) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        return (value[0], value[1]) if whole else (float(value[0]), float(value[1]))
    c.error(key, "must be [first, last] whole numbers" if whole else "must be [x, y] in metres")
    return None


def _count(c, data: dict, key: str, where: str, minimum: int = 0):
    value = data.get(key)
    if value is None:
        c.error(f"{where}.{key}", "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        c.error(f"{where}.{key}", f"must be a whole number >= {minimum}")
        return None
    return value


def _items(c, data: dict, key: str, allowed: set):
    items = list(c.tables(data, key, allowed))
    if len(items) > (MAX_HALLS if key == "halls" else MAX_ITEMS):
        c.error(key, f"more than {MAX_HALLS if key == 'halls' else MAX_ITEMS} tables")
        return []
    return items


def parse_building(c, data: dict, geometry: dict) -> BuildingSpec | None:
    """The building keys of spec `data` (None without `[[halls]]`); errors go to checker `c`."""
    geo = data.get("geometry") if isinstance(data.get("geometry"), dict) else {}
    if not has_building(data):
        for key in ("start", "drop"):
            if key in geo:
                c.error(f"geometry.{key}", "needs [[halls]] and [[points]]")
        return None
    if "halls" not in data:
        c.error("halls", "missing: [[aisles]], [[columns]], [[corridors]] and [[points]] need [[halls]]")
        return None
    errors_before = len(c.errors)
    halls = _halls(c, data, geometry)
    rules = _aisle_rules(c, data, halls)
    columns = _columns(c, data, halls)
    corridors = _corridors(c, data, halls)
    points, names = _points(c, data, halls)
    start = c.text(geo, "start", "geometry", required=False, max_len=32)
    drop = c.text(geo, "drop", "geometry", required=False, max_len=32)
    if not points and not c.errors[errors_before:]:
        c.error("points", "missing: with [[halls]] give at least one [[points]] (where pickers start)")
    for key, code in (("start", start), ("drop", drop)):
        if code is not None and points and code not in names:
            c.error(f"geometry.{key}", f"no point {code!r} in [[points]] (known: {', '.join(sorted(names))})")
    if len(c.errors) > errors_before or not halls:
        return None
    start = start or points[0].code
    drop = drop or start
    building = Building(halls=tuple(halls.values()), aisles=tuple(rules), columns=tuple(columns),
                        corridors=tuple(corridors), points=tuple(points))
    try:
        plan = compile_building(building)
    except ValueError as error:  # BuildingError (names its key) or the graph's own
        key = getattr(error, "key", None)
        message = getattr(error, "message", None)
        if key is None:
            key, _sep, message = str(error).partition(": ")
            key, message = (key, message) if message else ("halls", key)
        c.error(spec_key(key), message or str(error))
        return None
    return BuildingSpec(building, plan, names, start, drop, halls)


# The core's field names -> the spec's keys, in the keys of the compiler's errors.
SPEC_WORDS = {"slots": "bays", "aisle_pitch": "aisle_pitch_m", "slot_length": "slot_length_m",
              "cross_aisle_width": "cross_aisle_width_m", "closed_back": "closed", "offset": "offset_m"}


def spec_key(key: str) -> str:
    """A compiler error's key (`corridors[0].start.offset`) as the spec names it (`corridors[0].from.offset_m`)."""
    parts = key.split(".")
    out = []
    for i, part in enumerate(parts):
        word = SPEC_WORDS.get(part, part)
        if i == 1 and parts[0].startswith("corridors["):
            word = {"start": "from", "end": "to"}.get(word, word)
        out.append(word)
    return ".".join(out)


def _halls(c, data: dict, geometry: dict) -> dict[str, Hall]:
    halls: dict[str, Hall] = {}
    owner: dict[int, str] = {}
    for where, h in _items(c, data, "halls", HALL_KEYS):
        code = c.text(h, "code", where, max_len=32)
        if code in halls:
            c.error(f"{where}.code", f"hall {code!r} appears twice")
        origin = _pair(c, h, "origin", where, required=False) or (0.0, 0.0)
        rotation = _real(c, h, "rotation", where, 0.0)
        aisles = c.span(h, "aisles", where)
        for aisle in aisles:
            if aisle in owner:
                c.error(f"{where}.aisles", f"aisle {aisle} is already in hall {owner[aisle]!r}")
                break
        if aisles and aisles.start < 1:
            c.error(f"{where}.aisles", "aisle numbers start at 1")
        blocks = c.whole(h, "blocks", where, default=1)
        bays = c.whole(h, "bays", where)
        if bays is None and "bays" not in h:
            c.error(f"{where}.bays", "missing")
        sizes = {key: c.number(h, key, where, geometry[key])
                 for key in ("aisle_pitch_m", "slot_length_m", "cross_aisle_width_m")}
        if code is None or not aisles or not bays or code in halls:
            continue
        for aisle in aisles:
            owner.setdefault(aisle, code)
        halls[code] = Hall(code=code, aisles=tuple(aisles), blocks=blocks or 1, slots=bays, origin=origin,
                           rotation=rotation, aisle_pitch=sizes["aisle_pitch_m"], slot_length=sizes["slot_length_m"],
                           cross_aisle_width=sizes["cross_aisle_width_m"])
    return halls


def _hall_of(halls: dict[str, Hall], aisle: int) -> Hall | None:
    return next((hall for hall in halls.values() if aisle in hall.aisles), None)


def _aisle_rules(c, data: dict, halls: dict[str, Hall]) -> list[AisleRule]:
    rules, seen = [], set()
    for where, a in _items(c, data, "aisles", AISLE_KEYS):
        aisle = _count(c, a, "aisle", where, minimum=1)
        hall = _hall_of(halls, aisle) if aisle is not None else None
        if aisle is not None and hall is None and halls:
            c.error(f"{where}.aisle", f"aisle {aisle} is in no hall")
        if aisle in seen:
            c.error(f"{where}.aisle", f"aisle {aisle} has two [[aisles]] tables")
        seen.add(aisle)
        blocks = _pair(c, a, "blocks", where, whole=True, required=False)
        if blocks is not None and hall is not None and not 1 <= blocks[0] <= blocks[1] <= hall.blocks:
            c.error(f"{where}.blocks", f"must be [first, last] within the hall's blocks 1..{hall.blocks}")
        closed = a.get("closed")
        if closed is not None and closed != "back":
            c.error(f"{where}.closed", 'must be "back" (a wall behind the aisle\'s last block)')
        oneway = a.get("oneway")
        if oneway is not None and oneway not in ONEWAY:
            c.error(f"{where}.oneway", 'must be "up" (front to back) or "down"')
        if hall is not None:
            rules.append(AisleRule(aisle=aisle, blocks=blocks, closed_back=closed == "back",
                                   oneway=oneway if oneway in ONEWAY else None))
    return rules


def _hall_ref(c, data: dict, where: str, halls: dict[str, Hall]) -> Hall | None:
    code = c.text(data, "hall", where, max_len=32)
    if code is None:
        return None
    if code not in halls:
        if halls:
            c.error(f"{where}.hall", f"no hall {code!r} in [[halls]]")
        return None
    return halls[code]


def _cross_aisle(c, data: dict, where: str, hall: Hall | None) -> int | None:
    cross = _count(c, data, "cross_aisle", where, minimum=0)
    if cross is not None and hall is not None and cross > hall.blocks:
        c.error(f"{where}.cross_aisle", f"hall {hall.code!r} has cross aisles 0 (front) .. {hall.blocks} (back)")
        return None
    return cross


def _columns(c, data: dict, halls: dict[str, Hall]) -> list[Column]:
    columns = []
    for where, x in _items(c, data, "columns", COLUMN_KEYS):
        hall = _hall_ref(c, x, where, halls)
        cross = _cross_aisle(c, x, where, hall)
        between = _pair(c, x, "between", where, whole=True)
        if between is not None and hall is not None:
            a, b = sorted(between)
            if a not in hall.aisles or b not in hall.aisles or hall.aisles.index(b) - hall.aisles.index(a) != 1:
                c.error(f"{where}.between", f"must be two adjacent aisles of hall {hall.code!r}")
                continue
            if cross is not None:
                columns.append(Column(hall=hall.code, cross_aisle=cross, between=(a, b)))
    return columns


def _anchor(c, data, where: str, halls: dict[str, Hall]) -> Anchor | None:
    a = c.table(data, where, ANCHOR_KEYS)
    if not a:
        return None
    hall = _hall_ref(c, a, where, halls)
    cross = _cross_aisle(c, a, where, hall)
    aisle = _count(c, a, "aisle", where, minimum=1)
    if aisle is not None and hall is not None and aisle not in hall.aisles:
        c.error(f"{where}.aisle", f"aisle {aisle} is not in hall {hall.code!r}")
        return None
    offset = _real(c, a, "offset_m", where, 0.0)
    if hall is None or cross is None or aisle is None:
        return None
    return Anchor(hall=hall.code, cross_aisle=cross, aisle=aisle, offset=offset)


def _corridors(c, data: dict, halls: dict[str, Hall]) -> list[Corridor]:
    corridors = []
    for where, x in _items(c, data, "corridors", CORRIDOR_KEYS):
        name = c.text(x, "name", where, required=False, default="", max_len=64)
        start = _anchor(c, x.get("from"), f"{where}.from", halls)
        end = _anchor(c, x.get("to"), f"{where}.to", halls)
        via, raw = [], x.get("via", [])
        if not isinstance(raw, list):
            c.error(f"{where}.via", "must be a list of [x, y] points")
            raw = []
        for i, point in enumerate(raw):
            xy = _pair_of(c, point, f"{where}.via[{i}]")
            if xy is not None:
                via.append(xy)
        oneway = x.get("oneway", False)
        if not isinstance(oneway, bool):
            c.error(f"{where}.oneway", "must be true or false")
        if start is not None and end is not None:
            corridors.append(Corridor(start=start, end=end, via=tuple(via), oneway=oneway is True, name=name))
    return corridors


def _points(c, data: dict, halls: dict[str, Hall]) -> tuple[list[NamedPoint], dict[str, str]]:
    points, names = [], {}
    for where, x in _items(c, data, "points", POINT_KEYS):
        code = c.text(x, "code", where, max_len=32)
        if code in names:
            c.error(f"{where}.code", f"point {code!r} appears twice")
            continue
        name = c.text(x, "name", where, required=False, default=code, max_len=64)
        at = _anchor(c, x.get("at"), f"{where}.at", halls)
        if "at" not in x:
            c.error(f"{where}.at", "missing")
        if code is not None and at is not None:
            points.append(NamedPoint(code=code, at=at))
            names[code] = name
    return points, names


def check_places(c, building: BuildingSpec, where: str, aisles, blocks, bays: int) -> None:
    """An area's racks stand in the plan: each aisle in a hall, its blocks and bays within the hall's."""
    for aisle in aisles:
        hall = building.hall_of(aisle)
        if hall is None:
            c.error(f"{where}.aisles", f"aisle {aisle} is in no hall (halls: {', '.join(building.halls)})")
            return
        if blocks and (blocks.start < 1 or blocks.stop - 1 > hall.blocks):
            c.error(f"{where}.blocks", f"hall {hall.code!r} has blocks 1..{hall.blocks}")
            return
        if bays > hall.slots:
            c.error(f"{where}.bays", f"hall {hall.code!r} has {hall.slots} bays a block")
            return
        for block in blocks:
            try:
                building.plan.face(aisle, block, 1)
                building.plan.face(aisle, block, bays)
            except LookupError as error:
                c.error(f"{where}.blocks", f"aisle {aisle} block {block}: {error}")
                return


def check_cell_place(c, building: BuildingSpec, where: str, aisle: int, block: int, slot: int) -> None:
    """A single cell placed for routing stands on a face of the plan."""
    if not (aisle and block and slot):
        return
    try:
        building.plan.face(aisle, block, slot)
    except LookupError:
        c.error(f"{where}.aisle", f"aisle {aisle} block {block} slot {slot} is not on the building plan")


def zone_ends(c, z: dict, where: str, building: BuildingSpec | None, planned: bool) -> dict:
    """A zone's `start` and `drop` point codes (None: the warehouse's). `planned`: the spec has
    building keys (when they were refused, `building` is None and the codes go unchecked)."""
    ends = {}
    for key in ("start", "drop"):
        code = c.text(z, key, where, required=False, max_len=32)
        if code is not None and building is None and planned:
            code = None
        elif code is not None and building is None:
            c.error(f"{where}.{key}", "needs [[halls]] and [[points]]")
            code = None
        elif code is not None and code not in building.names:
            c.error(f"{where}.{key}", f"no point {code!r} in [[points]] (known: {', '.join(sorted(building.names))})")
            code = None
        ends[f"{key}_point"] = code
    return ends


def describe(building: BuildingSpec | None) -> list[str]:
    """What the plan is, for `cellwms layout apply --dry-run`."""
    if building is None:
        return ["plan: none (one rectangular grid)"]
    counts = building.counts
    halls = ", ".join(f"{h.code} (aisles {h.aisles[0]}-{h.aisles[-1]}, {h.blocks} block(s))"
                      for h in building.halls.values())
    points = ", ".join(f"{code} ({building.names[code]})" if building.names[code] != code else code
                       for code in building.plan.points)
    return [
        f"plan: {counts['halls']} hall(s): {halls}",
        f"plan: {counts['nodes']} nodes, {counts['edges']} edges ({counts['oneway']} one-way)",
        f"plan: points {points}; start {building.start}, drop {building.drop}",
    ]
