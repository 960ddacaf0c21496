"""Order batching benchmark: FCFS, seed, Clarke-Wright savings and the improvement method on
generated order sets. `python -m bench batching -- [options]`; prints Markdown tables.
"""

import argparse
import random
import statistics
import time

from bench import table
from server.core.batching import METHODS, Cart, Order, OrderLine, make_batches
from server.core.layout import Layout
from server.core.routing import METHODS as ROUTERS


def orders_for(layout: Layout, count: int, rng: random.Random, *, lines=(1, 5), storage="uniform",
               urgent_share=0.0) -> list[Order]:
    """`count` orders of 1-5 lines; uniform storage, or ABC (20% of slots, nearest the depot,
    take 80% of the picks)."""
    slots = [(a, b, s) for a in range(layout.aisles) for b in range(layout.blocks) for s in range(layout.slots)]
    if storage == "abc":
        depot = layout.depot
        slots.sort(key=lambda t: (layout.distance(depot, layout.point(*t)), t))
        fast = slots[: len(slots) // 5]
    orders = []
    for n in range(count):
        picks = []
        for _ in range(rng.randint(*lines)):
            pool = fast if storage == "abc" and rng.random() < 0.8 else slots
            picks.append(OrderLine(rng.choice(pool), rng.randint(1, 3)))
        cutoff = 0.5 if rng.random() < urgent_share else 8.0
        orders.append(Order(f"SO{n:04d}", picks, volume=rng.uniform(2, 20), totes=1, cutoff=cutoff))
    return orders


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench batching")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--cart", type=int, default=10, help="orders per cart")
    parser.add_argument("--aisles", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--slots", type=int, default=40, help="slots per aisle and block")
    parser.add_argument("--storage", choices=("uniform", "abc"), default="uniform")
    parser.add_argument("--instances", type=int, default=5)
    parser.add_argument("--router", default="optimal" if "optimal" in ROUTERS else "auto")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--rounds", type=int, default=40, help="re-split rounds of 'improve'")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds for 'improve'")
    parser.add_argument("--urgent-share", type=float, default=0.0, help="share of orders due within the horizon")
    args = parser.parse_args(argv)

    layout = Layout(aisles=args.aisles, blocks=args.blocks, slots=args.slots)
    cart = Cart(orders=args.cart)
    methods = args.methods.split(",")
    results = {m: [] for m in methods}
    for instance in range(args.instances):
        orders = orders_for(layout, args.orders, random.Random(instance), storage=args.storage,
                            urgent_share=args.urgent_share)
        for method in methods:
            start, cpu = time.perf_counter(), time.process_time()
            plan = make_batches(orders, cart, layout, method, router=args.router, seed=instance,
                                rounds=args.rounds, time_limit=args.time_limit, now=0.0, horizon=1.0)
            results[method].append((plan.total, time.perf_counter() - start, plan.evaluations, len(plan.batches),
                                    sum(b.urgent for b in plan.batches), time.process_time() - cpu))

    print(f"### Order batching: {args.orders} orders of 1-5 lines, carts of {args.cart} orders, "
          f"{args.aisles} aisles x {args.blocks} block(s) x {args.slots} slots, {args.storage} storage, "
          f"router {args.router!r}, {args.instances} instances, mean per instance")
    print()
    def gap(totals, base):
        if base not in results:
            return "-"
        against = [r[0] for r in results[base]]
        return f"{statistics.fmean(t / f - 1 for t, f in zip(totals, against, strict=True)) * 100:+.1f}%"

    rows = []
    for method in methods:
        totals = [r[0] for r in results[method]]
        seconds = [r[1] for r in results[method]]
        rows.append([method, round(statistics.fmean(totals)), gap(totals, "fcfs"), gap(totals, "savings"),
                     f"{statistics.fmean(seconds):.3f}", f"{max(seconds):.3f}",
                     f"{max(r[5] for r in results[method]):.3f}",
                     round(statistics.fmean(r[2] for r in results[method])),
                     f"{statistics.fmean(r[3] for r in results[method]):.1f}",
                     f"{statistics.fmean(r[4] for r in results[method]):.1f}"])
    print(table(["method", "total walk m", "vs FCFS", "vs savings", "mean s", "max s", "max CPU s", "route evaluations",
                 "batches", "urgent batches"], rows))
    if "improve" in results and "savings" in results:
        wins = sum(a[0] < b[0] for a, b in zip(results["improve"], results["savings"], strict=True))
        print()
        print(f"improve shorter than savings on {wins} of {args.instances} instances")
