"""Routing benchmark instances and results (docs/benchmarks.md): a generator over
the literature's grid, JSON Lines readers and writers, and a scorer that recomputes every length
from its order."""

import json
import random
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from server.core.layout import Layout, LayoutError, PickPoint

AISLES = (5, 10, 15, 20, 25, 30)
BLOCKS = (1, 2, 3, 4)
PICKS = (5, 10, 20, 30, 50, 100)
STORAGE = ("uniform", "abc")
# Slots per aisle over all blocks: more cross aisles cut the same aisle into shorter blocks.
AISLE_SLOTS = 60
TOLERANCE = 1e-6


class InstanceError(ValueError):
    """A malformed instance or result line."""


@dataclass(frozen=True)
class Instance:
    id: str
    layout: Layout
    picks: list[tuple[int, int, int]]

    def points(self) -> list[PickPoint]:
        return self.layout.points(self.picks)

    def to_json(self) -> dict:
        return {"id": self.id, "layout": self.layout.to_bench(), "picks": [list(p) for p in self.picks]}

    @classmethod
    def from_json(cls, data: dict) -> "Instance":
        if not isinstance(data, dict):
            raise InstanceError("an instance is a JSON object")
        try:
            layout = Layout.from_bench(data["layout"])
            picks = [tuple(int(v) for v in pick) for pick in data["picks"]]
            ident = str(data["id"])
        except LayoutError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise InstanceError(f"malformed instance: {e!r}") from None
        if any(len(p) != 3 for p in picks):
            raise InstanceError(f"instance {ident}: a pick is [aisle, block, slot]")
        if not picks:
            raise LayoutError(f"instance {ident}: an empty pick list has no route")
        layout.points(picks)  # LayoutError for a point outside the layout
        return cls(ident, layout, picks)


@dataclass(frozen=True)
class Result:
    id: str
    method: str
    length: float
    order: list[int]
    us: float | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "method": self.method, "length": round(self.length, 6), "order": self.order,
                "us": None if self.us is None else round(self.us, 2)}

    @classmethod
    def from_json(cls, data: dict) -> "Result":
        if not isinstance(data, dict):
            raise InstanceError("a result is a JSON object")
        try:
            return cls(str(data["id"]), str(data["method"]), float(data["length"]),
                       [int(i) for i in data["order"]], None if data.get("us") is None else float(data["us"]))
        except (KeyError, TypeError, ValueError) as e:
            raise InstanceError(f"malformed result: {e!r}") from None


# --- files --------------------------------------------------------------------------------------


def _read(path, parse):
    """Parse every non-blank line; errors name the file and line."""
    items = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                items.append(parse(json.loads(line)))
            except json.JSONDecodeError as e:
                raise InstanceError(f"{path}:{number}: not JSON ({e.msg})") from None
            except (InstanceError, LayoutError) as e:
                raise type(e)(f"{path}:{number}: {e}") from None
    return items


def read_instances(path) -> list[Instance]:
    return _read(path, Instance.from_json)


def read_results(path) -> list[Result]:
    return _read(path, Result.from_json)


def write_jsonl(path, items) -> None:
    Path(path).write_text("".join(json.dumps(item.to_json()) + "\n" for item in items), encoding="utf-8")


# --- generator ----------------------------------------------------------------------------------


def generate(aisles=AISLES, blocks=BLOCKS, picks=PICKS, storage=STORAGE, per_cell: int = 10,
             seed: int = 2024, aisle_slots: int = AISLE_SLOTS, abc_share: float = 0.2,
             abc_picks: float = 0.8) -> list[Instance]:
    """`per_cell` instances for every (aisles, blocks, picks, storage). ABC: the `abc_share` of
    slots nearest the depot receive `abc_picks` of the picks. Picks are distinct slots."""
    rng = random.Random(seed)
    instances = []
    for a, b, n, store in product(aisles, blocks, picks, storage):
        layout = Layout(aisles=a, blocks=b, slots=max(1, aisle_slots // b), depot_aisle=0)
        slots = [(x, y, z) for x in range(a) for y in range(b) for z in range(layout.slots)]
        n = min(n, len(slots))
        if store == "abc":
            depot = layout.depot
            slots.sort(key=lambda s: layout.distance(depot, layout.point(*s)))
            cut = max(1, round(abc_share * len(slots)))
        for k in range(per_cell):
            if store == "abc":
                near, far = slots[:cut], slots[cut:]
                chosen_picks = []
                for _ in range(n):
                    zone = near if (near and rng.random() < abc_picks) or not far else far
                    chosen_picks.append(zone.pop(rng.randrange(len(zone))))
            else:
                chosen_picks = rng.sample(slots, n)
            ident = f"b{b}-a{a}-n{n}-{'u' if store == 'uniform' else 'abc'}-{k:04d}"
            instances.append(Instance(ident, layout, chosen_picks))
    return instances


# --- scorer -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    id: str
    method: str
    length: float  # recomputed from the order
    claimed: float
    us: float | None
    errors: tuple[str, ...]


def score(instance: Instance, result: Result) -> Score:
    """Recompute a result's length from its order; list what is wrong with it."""
    errors = []
    if result.id != instance.id:
        errors.append(f"result for {result.id!r} where {instance.id!r} was expected")
    points = instance.points()
    wanted = {(p.x, p.y) for p in points}
    seen: set = set()
    stops = []
    for i in result.order:
        if not 0 <= i < len(points):
            errors.append(f"order index {i} is not a pick")
            continue
        key = (points[i].x, points[i].y)
        if key in seen:
            continue  # a twin of a point already visited
        seen.add(key)
        stops.append(points[i])
    if seen != wanted:
        errors.append(f"order misses {len(wanted - seen)} of {len(wanted)} points")
    length = instance.layout.tour_length(stops)
    if abs(length - result.length) > TOLERANCE * max(1.0, length):
        errors.append(f"claimed length {result.length} but the order walks {length}")
    return Score(instance.id, result.method, length, result.length, result.us, tuple(errors))


def score_file(instances: list[Instance], results: list[Result]) -> list[Score]:
    if len(results) != len(instances):
        raise InstanceError(f"{len(results)} results for {len(instances)} instances")
    return [score(i, r) for i, r in zip(instances, results, strict=True)]
