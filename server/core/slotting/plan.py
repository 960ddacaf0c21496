"""Re-slotting: from order history, which SKUs to move to which pick cells so pickers walk less.

1. Velocity: picks (order lines) per SKU; velocity classes A/B/C by share of all picks.
2. Co-picking: how often two SKUs are in one order.
3. Target layouts: SKUs by velocity (and, as a variant, chained by co-picking inside a velocity
   class so that SKUs ordered together sit side by side) onto cells ordered by walking cost
   (nearest the depot first, or aisle by aisle from the depot's aisle).
4. Moves: fast movers first, each SKU goes into its target cell; if another SKU is there, the two
   swap. A SKU already in a better cell than its target stays.
5. The router judges: the mean `route_length` of a sample of historical orders with the current
   cells and with each variant's cells; the best variant wins, and if none beats the current
   storage the plan has no moves.

The plan treats pick cells as one SKU each and as interchangeable unless `fits(sku, cell_id)`
says otherwise (e.g. cell type or capacity).
"""

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from server.core.layout import Layout
from server.core.routing import route_length
from server.core.slotting.cells import BLOCKED, CellSpec, SlottingError


@dataclass(frozen=True)
class Move:
    """Take SKU out of from_cell and put it into to_cell; for a swap, other_sku goes the other way."""

    sku: Hashable
    from_cell: Hashable
    to_cell: Hashable
    other_sku: Hashable | None = None
    # Picks x metres (one way, from the depot) saved by this step: a rough ranking of the steps.
    gain: float = 0.0

    @property
    def is_swap(self) -> bool:
        return self.other_sku is not None


@dataclass
class ReslottingPlan:
    moves: list[Move]
    before: dict  # sku -> cell now
    after: dict  # sku -> cell once the moves are done
    velocity: Counter  # sku -> picks in the history
    storage: str  # which target layout won, or "current" when no moves pay
    mean_route_before: float
    mean_route_after: float
    sample_size: int
    variants: dict = field(default_factory=dict)  # variant -> mean route length

    @property
    def gain(self) -> float:
        """Share of the mean route length the plan saves (0.25 = 25% less walking)."""
        return 1 - self.mean_route_after / self.mean_route_before if self.mean_route_before else 0.0


def velocity(orders: Iterable[Sequence[Hashable]]) -> Counter:
    """Picks per SKU: the number of orders with a line of it."""
    picks: Counter = Counter()
    for order in orders:
        picks.update(set(order))
    return picks


def velocity_classes(picks: Mapping[Hashable, int], shares: tuple[float, float] = (0.8, 0.95)) -> dict:
    """SKU -> "A" (the fastest SKUs making the first 80% of picks), "B" (up to 95%), "C"."""
    total = sum(picks.values())
    classes, running = {}, 0
    for sku, count in sorted(picks.items(), key=lambda item: (-item[1], str(item[0]))):
        share = running / total if total else 1.0
        classes[sku] = "A" if share < shares[0] else "B" if share < shares[1] else "C"
        running += count
    return classes


def co_picking(orders: Iterable[Sequence[Hashable]], max_lines: int = 30) -> dict:
    """sku -> Counter(other sku -> orders with both). Orders longer than max_lines are cut."""
    pairs: dict = defaultdict(Counter)
    for order in orders:
        skus = list(dict.fromkeys(order))[:max_lines]
        for a_index, a in enumerate(skus):
            for b in skus[a_index + 1:]:
                pairs[a][b] += 1
                pairs[b][a] += 1
    return pairs


def _chained(ordered: list, classes: dict, pairs: dict, min_together: int = 2) -> list:
    """Within each velocity class, follow each SKU by the SKU most often ordered with it."""
    out, placed = [], set()
    for cls in ("A", "B", "C"):
        members = [sku for sku in ordered if classes.get(sku) == cls]
        in_class = set(members)
        pointer = 0
        current = None
        while True:
            nxt = None
            if current is not None:
                best = 0
                for partner, together in pairs.get(current, {}).items():
                    if together >= min_together and together > best and partner in in_class and partner not in placed:
                        best, nxt = together, partner
            if nxt is None:
                while pointer < len(members) and members[pointer] in placed:
                    pointer += 1
                if pointer == len(members):
                    break
                nxt = members[pointer]
            out.append(nxt)
            placed.add(nxt)
            current = nxt
    return out


def plan_reslotting(
    layout: Layout,
    cells: Iterable[CellSpec],
    assignment: Mapping[Hashable, Hashable],
    orders: Sequence[Sequence[Hashable]],
    *,
    sample: int = 200,
    max_moves: int | None = None,
    fits: Callable[[Hashable, Hashable], bool] | None = None,
    method: str = "auto",
    seed: int = 0,
) -> ReslottingPlan:
    """Moves that cut the mean route length of `orders` most.

    cells: the pick cells to plan over (blocked ones neither give nor take SKUs); assignment:
    sku -> its pick cell now (one SKU per cell); orders: the history, each a list of SKUs.
    """
    cells = list(cells)
    by_id = {cell.id: cell for cell in cells}
    if len(by_id) != len(cells):
        raise SlottingError("a cell appears twice in the re-slotting cells")
    occupant: dict = {}
    for sku, cell_id in assignment.items():
        if cell_id not in by_id:
            raise SlottingError(f"SKU {sku!r} is in cell {cell_id!r}, which is not among the cells given")
        if cell_id in occupant:
            raise SlottingError(f"cell {cell_id!r} holds both {occupant[cell_id]!r} and {sku!r}; "
                                "re-slotting plans one SKU per pick cell")
        occupant[cell_id] = sku
    if not orders:
        raise SlottingError("re-slotting needs order history (got no orders)")
    if isinstance(max_moves, int) and max_moves < 0:
        raise SlottingError(f"max_moves must be >= 0 (got {max_moves})")

    points = {}
    distance = {}
    for cell in cells:
        key = (cell.aisle, cell.block, cell.slot)
        if key not in points:
            points[key] = layout.point(*key)
        distance[cell.id] = min(layout.distance(depot, points[key]) for depot in layout.depots)
    point_of = {cell.id: points[(cell.aisle, cell.block, cell.slot)] for cell in cells}

    picks = velocity(orders)
    moving = [sku for sku in sorted(assignment, key=lambda s: (-picks[s], str(s)))
              if picks[sku] > 0 and by_id[assignment[sku]].status != BLOCKED]
    classes = velocity_classes({sku: picks[sku] for sku in moving})
    pairs = co_picking(orders)
    open_cells = [cell for cell in cells if cell.status != BLOCKED]
    depot_x = layout.depot.x
    orders_of_cells = {
        "distance": sorted(open_cells, key=lambda c: (distance[c.id], c.level, str(c.id))),
        "aisle": sorted(open_cells, key=lambda c: (c.block, abs(point_of[c.id].x - depot_x), point_of[c.id].x,
                                                   c.slot, c.level, str(c.id))),
    }
    sku_orders = {"velocity": moving, "velocity+co-picking": _chained(moving, classes, pairs)}

    rng = random.Random(seed)
    history = [order for order in orders if order]
    chosen = history if len(history) <= sample else rng.sample(history, sample)

    def mean_route(cell_of: Mapping) -> float:
        lengths = []
        for order in chosen:
            stops = [point_of[cell_of[sku]] for sku in order if sku in cell_of]
            if stops:
                lengths.append(route_length(layout, stops, method))
        return sum(lengths) / len(lengths) if lengths else 0.0

    before = dict(assignment)
    best = ("current", [], before, mean_route(before))
    variants = {"current": best[3]}
    for cell_name, cell_order in orders_of_cells.items():
        position = {cell.id: k for k, cell in enumerate(cell_order)}
        for sku_name, sku_order in sku_orders.items():
            moves, after = _moves(sku_order, cell_order, position, before, occupant, distance, picks, fits, max_moves)
            if not moves:
                continue
            name = f"{sku_name} by {cell_name}"
            variants[name] = mean_route(after)
            if variants[name] < best[3] - 1e-9:
                best = (name, moves, after, variants[name])
    storage, moves, after, mean_after = best
    return ReslottingPlan(moves, before, after, picks, storage, variants["current"], mean_after, len(chosen), variants)


def _moves(sku_order, cell_order, position, before, occupant, distance, picks, fits, max_moves):
    """Steps that bring SKUs (in sku_order) to cells (in cell_order), fast movers first."""
    cell_of = dict(before)
    occupant = dict(occupant)
    fixed = set()
    moves = []
    for sku, target in zip(sku_order, (cell.id for cell in cell_order), strict=False):
        if max_moves is not None and len(moves) >= max_moves:
            break
        fixed.add(sku)
        here = cell_of[sku]
        if position.get(here, len(position)) <= position[target]:
            continue  # already as good as its target
        other = occupant.get(target)
        if other in fixed:
            continue
        if fits is not None and (not fits(sku, target) or (other is not None and not fits(other, here))):
            continue
        gain = picks[sku] * (distance[here] - distance[target])
        if other is not None:
            gain += picks[other] * (distance[target] - distance[here])
            cell_of[other] = here
            occupant[here] = other
        else:
            del occupant[here]
        cell_of[sku] = target
        occupant[target] = sku
        moves.append(Move(sku, here, target, other, gain))
    return moves, cell_of
