"""What batching takes and gives: orders and their lines, the cart, batches and the plan."""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

EPS = 1e-9


class BatchingError(ValueError):
    """Orders or a cart that cannot be batched."""

@dataclass(frozen=True)
class OrderLine:
    """One line of an order: where to pick (a PickPoint, an (aisle, block, slot) triple, or a cell
    id looked up in `cells`) and how many units."""

    point: Any
    quantity: int = 1


@dataclass(frozen=True)
class Order:
    id: Hashable
    lines: Sequence  # OrderLine or (point, quantity) pairs
    volume: float = 0.0
    totes: int = 1
    cutoff: Any = None  # carrier cutoff: a number or a datetime, comparable with now + horizon
    items: int | None = None  # default: the sum of the line quantities


@dataclass(frozen=True)
class Cart:
    """What one picker's cart carries; None means no limit."""

    orders: int = 10
    items: int | None = None
    volume: float | None = None
    totes: int | None = None


@dataclass(frozen=True)
class Batch:
    orders: tuple  # order ids
    length: float  # the route length of the cart's trip
    urgent: bool  # holds an order close to its cutoff
    items: int
    volume: float
    totes: int


@dataclass(frozen=True)
class BatchPlan:
    method: str
    batches: tuple[Batch, ...]
    total: float
    evaluations: int  # router calls made (memoised lengths not counted)
    seconds: float


CONSTRUCTIONS = ("fcfs", "seed", "savings")
METHODS = (*CONSTRUCTIONS, "improve")
STARTS = (*CONSTRUCTIONS, "near_savings")  # "near_savings": savings over each batch's nearest batches
