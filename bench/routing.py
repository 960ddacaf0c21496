"""Routing benchmark: our methods against OR-Tools (guided local search) and LKH (elkai), side by
side, on generated instances (or an instance file). `python -m bench routing -- --help`.

Every length is recomputed from the order with the geometry (bench.instances.score); the gap of a
method is its length over the best length any method found on that instance. Our methods' time
is the median of `--repeat` calls after one warm-up call, the Layout and points built beforehand
(the method builds its own distance matrix); the solvers' time is one call on a distance matrix
built beforehand (plus model building for OR-Tools).
"""

import argparse
import statistics
import sys
import time
from collections import defaultdict

from bench import table
from bench.instances import AISLES, BLOCKS, PICKS, STORAGE, Instance, Result, generate, read_instances, score
from server.core.routing import METHODS, distinct
from server.core.routing import multiblock as _multiblock  # noqa: F401  (registers the methods)
from server.core.routing.heuristics import HEURISTICS

SCALE = 1000  # the solvers take integer distances: millimetres for metres


def _csv(kind):
    return lambda text: [kind(v) for v in text.split(",") if v]


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench routing --", description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", help="a JSON Lines instance file instead of generated instances")
    ap.add_argument("--aisles", type=_csv(int), default=[10, 30], help=f"default 10,30; literature grid {AISLES}")
    ap.add_argument("--blocks", type=_csv(int), default=list(BLOCKS))
    ap.add_argument("--picks", type=_csv(int), default=[10, 30, 100], help=f"default 10,30,100; grid {PICKS}")
    ap.add_argument("--storage", type=_csv(str), default=list(STORAGE))
    ap.add_argument("--per-cell", type=int, default=3, help="instances per (aisles, blocks, picks, storage)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per instance and method")
    ap.add_argument("--methods", type=_csv(str), default=["optimal", "multiblock", *HEURISTICS])
    ap.add_argument("--ortools-ms", type=int, default=200, help="OR-Tools time limit per instance (ms)")
    ap.add_argument("--lkh-runs", type=int, default=10)
    ap.add_argument("--no-solvers", action="store_true", help="skip OR-Tools and LKH")
    ap.add_argument("--full", action="store_true", help="the whole literature grid (long)")
    args = ap.parse_args(argv)
    if args.full:
        args.aisles, args.picks = list(AISLES), list(PICKS)
    return args


# --- our methods ---------------------------------------------------------------------------------


def run_ours(instance: Instance, method: str, repeat: int) -> Result:
    """Route one instance with a registered method: order over the picks, median microseconds."""
    points = instance.points()
    unique, first = distinct(points)
    fn = METHODS[method]
    order, length = fn(instance.layout, unique)  # warm-up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        order, length = fn(instance.layout, unique)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return Result(instance.id, method, length, [first[i] for i in order], statistics.median(samples))


def applies(method: str, instance: Instance) -> bool:
    return method != "optimal" or instance.layout.blocks <= 2


# --- general solvers on the same matrix ------------------------------------------------------------


def _matrix(instance: Instance):
    points, first = distinct(instance.points())
    nodes = [instance.layout.depot, *points]
    d = instance.layout.distance_matrix(nodes)
    return [[round(v * SCALE) for v in row] for row in d], first


def _from_tour(tour: list[int], first: list[int]) -> list[int]:
    at = tour.index(0)
    tour = tour[at:] + tour[:at]
    return [first[v - 1] for v in tour if v != 0]


def _trivial(instance, matrix, first, name):
    if len(matrix) <= 3:  # one or two points: any order is optimal
        return Result(instance.id, name, 0.0, list(first), 0.0)
    return None


def run_lkh(instance: Instance, runs: int) -> Result | None:
    try:
        import elkai
    except ImportError:
        return None
    matrix, first = _matrix(instance)
    trivial = _trivial(instance, matrix, first, "lkh")
    if trivial:
        return trivial
    start = time.perf_counter_ns()
    tour = elkai.DistanceMatrix(matrix).solve_tsp(runs=runs)
    us = (time.perf_counter_ns() - start) / 1000
    return Result(instance.id, "lkh", 0.0, _from_tour(tour[:-1], first), us)


def run_ortools(instance: Instance, limit_ms: int) -> Result | None:
    try:
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    except ImportError:
        return None
    matrix, first = _matrix(instance)
    trivial = _trivial(instance, matrix, first, "ortools")
    if trivial:
        return trivial
    start = time.perf_counter_ns()
    manager = pywrapcp.RoutingIndexManager(len(matrix), 1, 0)
    model = pywrapcp.RoutingModel(manager)
    transit = model.RegisterTransitCallback(
        lambda i, j: matrix[manager.IndexToNode(i)][manager.IndexToNode(j)]
    )
    model.SetArcCostEvaluatorOfAllVehicles(transit)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(limit_ms)
    solution = model.SolveWithParameters(params)
    tour, index = [], model.Start(0)
    while not model.IsEnd(index):
        tour.append(manager.IndexToNode(index))
        index = solution.Value(model.NextVar(index))
    us = (time.perf_counter_ns() - start) / 1000
    return Result(instance.id, "ortools", 0.0, _from_tour(tour, first), us)


# --- the run ---------------------------------------------------------------------------------------


def evaluate(instances: list[Instance], args) -> tuple[list[str], dict]:
    """{(blocks, picks): {method: ([gaps %], [us])}}, after checking every result."""
    columns = list(args.methods)
    solvers = [] if args.no_solvers else [("ortools", lambda i: run_ortools(i, args.ortools_ms)),
                                          ("lkh", lambda i: run_lkh(i, args.lkh_runs))]
    groups: dict = defaultdict(lambda: defaultdict(lambda: ([], [])))
    missing = set()
    for instance in instances:
        results = [run_ours(instance, m, args.repeat) for m in args.methods if applies(m, instance)]
        for name, solve in solvers:
            result = solve(instance)
            if result is None:
                missing.add(name)
            else:
                results.append(result)
        scores = []
        for result in results:
            s = score(instance, result)
            if s.errors and not (result.method in ("lkh", "ortools") and all("claimed" in e for e in s.errors)):
                raise AssertionError(f"{instance.id} {result.method}: {'; '.join(s.errors)}")
            scores.append(s)
        best = min(s.length for s in scores)
        key = (instance.layout.blocks, len(instance.picks))
        for s in scores:
            gaps, us = groups[key][s.method]
            gaps.append(100 * (s.length / best - 1) if best > 0 else 0.0)
            us.append(s.us)
    columns += [name for name, _ in solvers if name not in missing]
    if missing:
        print(f"(skipped, not installed: {', '.join(sorted(missing))}; pip install -e '.[bench]')")
    return columns, groups


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def tables(columns: list[str], groups: dict) -> str:
    out = []
    for title, pick in (("mean gap to the best length found, %", lambda g, u: statistics.fmean(g)),
                        ("p95 gap to the best length found, %", lambda g, u: p95(g)),
                        ("median µs per route", lambda g, u: statistics.median(u))):
        rows = []
        for (blocks, picks), by_method in sorted(groups.items()):
            n = len(next(iter(by_method.values()))[0])
            row = [blocks, picks, n]
            for column in columns:
                gaps, us = by_method.get(column, ([], []))
                row.append(_cell(pick(gaps, us), title) if gaps else "-")
            rows.append(row)
        out.append(f"{title}:\n\n" + table(["blocks", "picks", "n", *columns], rows))
    return "\n\n".join(out)


def _cell(value: float, title: str) -> str:
    if "µs" in title:
        return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
    return f"{value:.2f}"


def run(argv: list[str]) -> None:
    args = parse(argv)
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        sys.exit(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(sorted(METHODS))}")
    if args.instances:
        instances = read_instances(args.instances)
        source = args.instances
    else:
        instances = generate(args.aisles, args.blocks, args.picks, args.storage, args.per_cell, args.seed)
        source = (f"generated: aisles {args.aisles}, blocks {args.blocks}, picks {args.picks}, "
                  f"storage {args.storage}, {args.per_cell} per cell, seed {args.seed}")
    print(f"## Routing ({len(instances)} instances; {source})")
    print(f"ours: median of {args.repeat} calls after a warm-up; OR-Tools GLS {args.ortools_ms} ms limit; "
          f"LKH (elkai) {args.lkh_runs} runs\n")
    started = time.perf_counter()
    columns, groups = evaluate(instances, args)
    print(tables(columns, groups))
    print(f"\n({time.perf_counter() - started:.0f} s)")
