"""Order batching: group open orders into batches, one cart trip each, with the shortest total walk.

`make_batches(orders, cart, layout, method=...)` returns a `BatchPlan`: batches of order ids,
each within the cart's capacity (orders, items, volume, totes), with its route length and the
total. Methods:

- "fcfs": first come, first served; fill a cart in arrival order, start a new one when the next
  order does not fit.
- "seed": seed batching (de Koster, van der Poort & Wolters 1999; Ho & Tseng 2006). A new cart
  starts with the order that spans the most sub-aisles; then the order that adds the least walk
  joins, until nothing fits. Candidates are shortlisted by the sub-aisles they would add, then
  weighed by the route length they add.
- "savings": Clarke & Wright savings, variant (ii): start with one order per batch, merge the two
  batches whose merge saves most walk (route(A) + route(B) - route(A + B)), capacity permitting,
  and recompute the savings of the merged batch.
- "improve": start from savings weighed only between each batch and its 10 nearest batches
  ("near_savings", a fifth of the router calls; or `start=`), then local search that moves and
  swaps orders between batches (candidates shortlisted by sub-aisles, weighed by the router), then
  `rounds` re-splits of two similar batches, each followed by local search and kept only if the
  total got shorter (iterated local search). The result is never longer than its start.

Carrier cutoffs: with `now` and `horizon`, an order whose cutoff is at or before `now + horizon` is
urgent. Urgent orders are batched first, among themselves (spare room in their last cart may take
other orders); the batches that hold urgent orders come first in the plan, earliest cutoff first,
and no method moves an urgent order into a batch that started without urgent orders, so the
number of early batches never grows. The other batches follow by earliest cutoff, then arrival.

Every batch's length is `route_length(layout, points, router)` over the batch's distinct pick
points (microseconds for 1-2 blocks with the exact router). Lengths are memoised per set of
orders, and `BatchPlan.evaluations` counts the router calls actually made.

Modules: orders (the types), planner (make_batches), problem, construct (the constructions),
search (the improvement).
"""

from server.core.batching.orders import (
    CONSTRUCTIONS,
    EPS,
    METHODS,
    STARTS,
    Batch,
    BatchingError,
    BatchPlan,
    Cart,
    Order,
    OrderLine,
)
from server.core.batching.planner import make_batches

__all__ = ["CONSTRUCTIONS", "EPS", "METHODS", "STARTS", "Batch", "BatchPlan", "BatchingError", "Cart", "Order",
           "OrderLine", "make_batches"]
