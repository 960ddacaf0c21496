"""make_batches: check the request, build the problem, run the chosen method."""

import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

from server.core.batching.construct import _fcfs, _near_savings, _savings, _seed
from server.core.batching.orders import METHODS, STARTS, BatchingError, BatchPlan, Cart, Order
from server.core.batching.problem import _Problem
from server.core.batching.search import _Search
from server.core.graph_layout import GraphLayout
from server.core.layout import Layout
from server.core.routing import GRAPH_METHODS
from server.core.routing import METHODS as ROUTERS


def make_batches(orders: Sequence[Order], cart: Cart, layout: Layout | GraphLayout, method: str = "improve", *,
                 cells: Mapping | None = None, now: Any = None, horizon: Any = None, seed: int = 0,
                 router: str = "auto", start: str = "near_savings", rounds: int = 40,
                 max_evaluations: int | None = None, time_limit: float | None = None) -> BatchPlan:
    """Batch `orders` (in arrival order) into carts; see the module docstring for the methods.

    "improve" runs up to `rounds` re-split rounds after its first local optimum, and stops early
    after `max_evaluations` router calls or `time_limit` seconds (a time limit makes the result
    depend on the machine; without one the plan depends only on the input and `seed`).
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise BatchingError(f"unknown batching method {method!r}; known: {', '.join(METHODS)}")
    if start not in STARTS:
        raise BatchingError(f"unknown start method {start!r}; known: {', '.join(STARTS)}")
    known = GRAPH_METHODS if isinstance(layout, GraphLayout) else sorted(ROUTERS)
    if router not in known:
        raise BatchingError(f"unknown routing method {router!r}; known: {', '.join(known)}")
    problem = _Problem(orders, cart, layout, cells, now, horizon, router)
    if method == "fcfs":
        batches = _fcfs(problem)
    elif method == "seed":
        batches = _seed(problem)
    elif method == "savings":
        batches = _savings(problem)
    else:
        first = {"fcfs": _fcfs, "seed": _seed, "savings": _savings, "near_savings": _near_savings}[start](problem)
        deadline = None if time_limit is None else started + time_limit
        batches = _Search(problem, first, random.Random(seed), max_evaluations, deadline).run(rounds)
    return problem.plan(method, batches, time.perf_counter() - started)
