"""The batching problem: orders as point sets and sub-aisle masks, capacities, memoised route lengths."""

from collections.abc import Hashable

from server.core.batching.orders import EPS, Batch, BatchingError, BatchPlan, Cart, Order, OrderLine
from server.core.layout import LayoutError, PickPoint
from server.core.routing import route_length


class _Problem:
    def __init__(self, orders, cart, layout, cells, now, horizon, router):
        self.layout, self.router = layout, router
        self.cap = _check_cart(cart)
        self.ids, self.points, self.order_points, self.masks = [], [], [], []
        self.loads, self.urgent, self.cutoffs = [], [], []
        index: dict[tuple[int, int, int], int] = {}
        seen = set()
        due = now + horizon if now is not None and horizon is not None else None
        for order in orders:
            if not isinstance(order, Order):
                raise BatchingError(f"not an Order: {order!r}")
            if order.id in seen:
                raise BatchingError(f"order {order.id!r} appears twice")
            seen.add(order.id)
            if not order.lines:
                raise BatchingError(f"order {order.id!r} has no lines")
            mine, mask, quantity = set(), 0, 0
            for line in order.lines:
                point, qty = _line(order, line)
                pick = self._resolve(order, point, cells)
                key = (pick.aisle, pick.block, pick.slot)
                if key not in index:
                    index[key] = len(self.points)
                    self.points.append(pick)
                mine.add(index[key])
                mask |= 1 << (pick.block * layout.aisles + pick.aisle)
                quantity += qty
            items = quantity if order.items is None else order.items
            load = (1, items, order.volume, order.totes)
            for name, value, limit in zip(("items", "volume", "totes"), load[1:], self.cap[1:], strict=True):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise BatchingError(f"order {order.id!r}: {name} must be a number >= 0 (got {value!r})")
                if limit is not None and value > limit:
                    raise BatchingError(f"order {order.id!r} is bigger than a cart: {name} {value} > {limit}")
            try:
                urgent = due is not None and order.cutoff is not None and order.cutoff <= due
            except TypeError:
                raise BatchingError(f"order {order.id!r}: cutoff {order.cutoff!r} is not comparable "
                                    f"with now + horizon ({due!r})") from None
            self.ids.append(order.id)
            self.order_points.append(tuple(sorted(mine)))
            self.masks.append(mask)
            self.loads.append(load)
            self.urgent.append(urgent)
            self.cutoffs.append(order.cutoff)
        self.n = len(self.ids)
        # Each capacity's smallest order: a batch that cannot take this load takes no order.
        self.least_load = tuple(min(load[k] for load in self.loads) for k in range(4)) if self.loads else (0,) * 4
        self.limits = [(k, limit) for k, limit in enumerate(self.cap) if limit is not None]
        self.cache: dict[int, float] = {}
        self.evaluations = 0

    def _resolve(self, order, point, cells) -> PickPoint:
        if cells is not None and isinstance(point, Hashable) and point in cells:
            point = cells[point]
        try:
            if isinstance(point, PickPoint):
                return self.layout.point(point.aisle, point.block, point.slot)
            if isinstance(point, tuple | list) and len(point) == 3 and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in point):
                return self.layout.point(*point)
        except LayoutError as error:
            raise BatchingError(f"order {order.id!r}: {error}") from None
        raise BatchingError(f"order {order.id!r}: unknown pick point or cell {point!r}")

    # Capacity: a load is (orders, items, volume, totes).
    def fits(self, load, extra, less=None) -> bool:
        """Whether a cart loaded with `load` takes `extra` (after giving up `less`)."""
        for k, limit in self.limits:  # noqa: SIM110 (a plain loop is faster here)
            if load[k] + extra[k] - (less[k] if less else 0) > limit + EPS:
                return False
        return True

    def load_of(self, members):
        return tuple(sum(self.loads[i][k] for i in members) for k in range(4))

    def cost(self, key: int, members) -> float:
        """Route length of a batch; `key` is its orders as a bit mask (the memo key)."""
        length = self.cache.get(key)
        if length is None:
            if not members:
                return 0.0
            picks = set()
            for i in members:
                picks.update(self.order_points[i])
            length = route_length(self.layout, [self.points[p] for p in sorted(picks)], self.router)
            self.cache[key] = length
            self.evaluations += 1
        return length

    def batch_cost(self, members) -> float:
        return self.cost(_key(members), members)

    def plan(self, method, batches, seconds) -> BatchPlan:
        made = []
        for members in batches:
            if not members:
                continue
            members = sorted(members)
            load = self.load_of(members)
            cutoffs = [self.cutoffs[i] for i in members if self.cutoffs[i] is not None]
            batch = Batch(tuple(self.ids[i] for i in members), self.batch_cost(members),
                          any(self.urgent[i] for i in members), load[1], load[2], load[3])
            # Urgent batches first, then by earliest cutoff (none last), then by first arrival.
            made.append(((not batch.urgent, (0, min(cutoffs)) if cutoffs else (1,), members[0]), batch))
        made.sort(key=lambda entry: entry[0])
        ordered = tuple(batch for _, batch in made)
        return BatchPlan(method, ordered, sum(b.length for b in ordered), self.evaluations, seconds)


def _key(members) -> int:
    key = 0
    for i in members:
        key |= 1 << i
    return key


def _line(order, line):
    if isinstance(line, OrderLine):
        point, qty = line.point, line.quantity
    elif isinstance(line, tuple | list) and len(line) == 2:
        point, qty = line
    else:
        raise BatchingError(f"order {order.id!r}: a line is an OrderLine or a (point, quantity) pair, not {line!r}")
    if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
        raise BatchingError(f"order {order.id!r}: quantity must be a whole number >= 1 (got {qty!r})")
    return point, qty


def _check_cart(cart) -> tuple:
    if not isinstance(cart, Cart):
        raise BatchingError(f"not a Cart: {cart!r}")
    if isinstance(cart.orders, bool) or not isinstance(cart.orders, int) or cart.orders < 1:
        raise BatchingError(f"a cart must carry at least one order (orders={cart.orders!r})")
    for name in ("items", "volume", "totes"):
        value = getattr(cart, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
            raise BatchingError(f"cart capacity {name} must be above zero or None for no limit (got {value!r})")
    return (cart.orders, cart.items, cart.volume, cart.totes)
