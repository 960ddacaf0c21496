"""Routing benchmark: our methods against OR-Tools (guided local search) and LKH (elkai), side by
side, on generated instances (or an instance file). `python -m bench routing -- --help`.
`--graph`: on generated buildings of every kind (bench/graph_instances.py), start -> picks -> end.

Every length is recomputed from the order with the geometry (bench.instances.score); the gap of a
method is its length over the best length any method found on that instance. Our methods' time
is the median of `--repeat` calls after one warm-up call, the Layout and points built beforehand
(the method builds its own distance matrix); the solvers' time is one call on a distance matrix
built beforehand (plus model building for OR-Tools).
"""

import argparse
import importlib.util
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
    ap.add_argument("--solvers", type=_csv(str), default=["ortools", "lkh"], help="--graph: which of ortools,lkh run")
    ap.add_argument("--full", action="store_true", help="the whole literature grid (long)")
    ap.add_argument("--graph", action="store_true", help="graph instances of every kind instead (any building)")
    ap.add_argument("--kinds", type=_csv(str), default=None, help="--graph: kinds (default all)")
    ap.add_argument("--graph-picks", type=_csv(int), default=None, help="--graph: pick counts (default 5,10,20,50,80,100)")
    ap.add_argument("--budget-ms", type=float, default=None, help="--graph: our search's budget (default the router's)")
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


def lkh_tour(matrix, runs: int) -> tuple[list[int], float] | None:
    """LKH's tour on an integer matrix (node 0 first, not repeated) and its microseconds; None without elkai."""
    try:
        import elkai
    except ImportError:
        return None
    start = time.perf_counter_ns()
    tour = elkai.DistanceMatrix(matrix).solve_tsp(runs=runs)
    return tour[:-1], (time.perf_counter_ns() - start) / 1000


def ortools_tour(matrix, limit_ms: int) -> tuple[list[int], float] | None:
    """OR-Tools' (guided local search) tour from node 0 and its microseconds; None without OR-Tools."""
    try:
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    except ImportError:
        return None
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
    return tour, (time.perf_counter_ns() - start) / 1000


SOLVER_MODULES = {"lkh": "elkai", "ortools": "ortools"}


def _solver(instance, name, matrix, first, trivial, solve) -> Result | None:
    """A solver's result on `matrix`; None when the solver is not installed."""
    if importlib.util.find_spec(SOLVER_MODULES[name]) is None:
        return None
    if trivial:
        return trivial
    solved = solve(matrix)
    if solved is None:
        return None
    tour, us = solved
    return Result(instance.id, name, 0.0, _from_tour(tour, first), us)


def run_lkh(instance: Instance, runs: int) -> Result | None:
    matrix, first = _matrix(instance)
    return _solver(instance, "lkh", matrix, first, _trivial(instance, matrix, first, "lkh"),
                   lambda m: lkh_tour(m, runs))


def run_ortools(instance: Instance, limit_ms: int) -> Result | None:
    matrix, first = _matrix(instance)
    return _solver(instance, "ortools", matrix, first, _trivial(instance, matrix, first, "ortools"),
                   lambda m: ortools_tour(m, limit_ms))


# --- the run ---------------------------------------------------------------------------------------


def solve_and_score(instance, results: list[Result], solvers, score_one, missing: set) -> list:
    """Add the solvers' results to ours and score them all; a wrong order or length of ours is an
    error (the solvers claim no length: they are scored on their order only)."""
    for name, solve in solvers:
        result = solve(instance)
        if result is None:
            missing.add(name)
        else:
            results.append(result)
    scores = []
    for result in results:
        s = score_one(instance, result)
        if s.errors and not (result.method in ("lkh", "ortools") and all("claimed" in e for e in s.errors)):
            raise AssertionError(f"{instance.id} {result.method}: {'; '.join(s.errors)}")
        scores.append(s)
    return scores


def evaluate(instances: list[Instance], args) -> tuple[list[str], dict]:
    """{(blocks, picks): {method: ([gaps %], [us])}}, after checking every result."""
    columns = list(args.methods)
    solvers = [] if args.no_solvers else [("ortools", lambda i: run_ortools(i, args.ortools_ms)),
                                          ("lkh", lambda i: run_lkh(i, args.lkh_runs))]
    groups: dict = defaultdict(lambda: defaultdict(lambda: ([], [])))
    missing = set()
    for instance in instances:
        results = [run_ours(instance, m, args.repeat) for m in args.methods if applies(m, instance)]
        scores = solve_and_score(instance, results, solvers, score, missing)
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
    if args.graph:
        return run_graph_bench(args)
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


# --- graph instances (any building) -------------------------------------------------------------


def _graph_faces(instance):
    """The instance's WalkGraph, its distinct faces (in face-index order: address order for generated
    instances) and, for each, its first index into picks."""
    from server.core.walkgraph import Face, WalkGraph

    graph = WalkGraph.from_json(instance.graph_json())
    first: dict = {}
    for index, pick in enumerate(instance.picks):
        first.setdefault(instance.faces[pick], (pick, index))
    ordered = sorted(first.values())
    return graph, [Face(*instance.faces[pick]) for pick, _ in ordered], [index for _, index in ordered]


def run_graph(instance, method: str, repeat: int, budget_ms: float | None = None) -> Result:
    """Route one graph instance with route_faces: order over the picks, median microseconds."""
    from server.core.routing.graph import route_faces

    graph, faces, first = _graph_faces(instance)
    order, length = route_faces(graph, faces, instance.start, instance.end, method, budget_ms)  # warm-up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        order, length = route_faces(graph, faces, instance.start, instance.end, method, budget_ms)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return Result(instance.id, method, length, [first[i] for i in order], statistics.median(samples))


def _graph_matrix(instance):
    """Integer (mm) asymmetric matrix: index 0 is start (row) and end (column), i the faces."""
    graph, faces, first = _graph_faces(instance)
    d = graph.matrix(faces, instance.start, instance.end)
    return [[round(v * SCALE) for v in row] for row in d], first


def _graph_trivial(instance, matrix, first, name):
    n = len(first)
    if n == 1:
        return Result(instance.id, name, 0.0, list(first), 0.0)
    if n == 2:  # both orders by hand: the matrix is asymmetric
        forward = matrix[0][1] + matrix[1][2] + matrix[2][0]
        backward = matrix[0][2] + matrix[2][1] + matrix[1][0]
        return Result(instance.id, name, 0.0, list(first) if forward <= backward else first[::-1], 0.0)
    return None


def run_graph_lkh(instance, runs: int) -> Result | None:
    matrix, first = _graph_matrix(instance)
    return _solver(instance, "lkh", matrix, first, _graph_trivial(instance, matrix, first, "lkh"),
                   lambda m: lkh_tour(m, runs))


def run_graph_ortools(instance, limit_ms: int) -> Result | None:
    matrix, first = _graph_matrix(instance)
    return _solver(instance, "ortools", matrix, first, _graph_trivial(instance, matrix, first, "ortools"),
                   lambda m: ortools_tour(m, limit_ms))


def evaluate_graph(instances_by_kind: dict, args) -> tuple[list[str], dict, dict]:
    """{(kind, picks): {method: ([gaps %], [us])}} and {kind: [(distinct faces, {method: gap})]},
    every result scored by bench.graph_instances' own Dijkstra."""
    from bench.graph_instances import score_graph

    solvers = [] if args.no_solvers else [
        (name, solve) for name, solve in (("lkh", lambda i: run_graph_lkh(i, args.lkh_runs)),
                                          ("ortools", lambda i: run_graph_ortools(i, args.ortools_ms)))
        if name in args.solvers]
    groups: dict = defaultdict(lambda: defaultdict(lambda: ([], [])))
    small: dict = defaultdict(list)
    missing = set()
    for kind, instances in instances_by_kind.items():
        for instance in instances:
            results = [run_graph(instance, "auto", args.repeat, args.budget_ms), run_graph(instance, "address", 1)]
            scores = solve_and_score(instance, results, solvers, score_graph, missing)
            best = min(s.length for s in scores)
            gaps = {s.method: 100 * (s.length / best - 1) if best > 0 else 0.0 for s in scores}
            for s in scores:
                groups[(kind, len(instance.picks))][s.method][0].append(gaps[s.method])
                groups[(kind, len(instance.picks))][s.method][1].append(s.us)
            small[kind].append((len(set(instance.faces[p] for p in instance.picks)), gaps))
    columns = ["auto"] + [name for name, _ in solvers if name not in missing] + ["address"]
    if missing:
        print(f"(skipped, not installed: {', '.join(sorted(missing))}; pip install -e '.[bench]')")
    return columns, groups, small


def graph_tables(columns: list[str], groups: dict, small: dict) -> str:
    out = []
    for title, pick in (("mean gap to the best length found, %", lambda g, u: statistics.fmean(g)),
                        ("p95 gap to the best length found, %", lambda g, u: p95(g)),
                        ("median µs per route", lambda g, u: statistics.median(u))):
        rows = []
        for (kind, picks), by_method in sorted(groups.items(), key=lambda kv: (_kind_rank(kv[0][0]), kv[0][1])):
            n = len(next(iter(by_method.values()))[0])
            row = [kind, picks, n]
            for column in columns:
                gaps, us = by_method.get(column, ([], []))
                if "µs" in title and column == "address":
                    row.append("-")
                else:
                    row.append(_cell(pick(gaps, us), title) if gaps else "-")
            rows.append(row)
        out.append(f"{title}:\n\n" + table(["kind", "picks", "n", *columns], rows))
    rows = []
    for kind, entries in sorted(small.items(), key=lambda kv: _kind_rank(kv[0])):
        few = [gaps for faces, gaps in entries if faces <= 12]
        rows.append([kind, len(entries), len(few),
                     f"{max((g['auto'] for g in few), default=0.0):.3f}" if few else "-",
                     f"{statistics.fmean(g['auto'] for _, g in entries):.3f}",
                     f"{statistics.fmean(g['address'] for _, g in entries):.1f}",
                     f"{max(g['address'] for _, g in entries):.1f}"])
    out.append("per kind: ours (auto) on <= 12 distinct faces (max excess over the best, %), and the address-order "
               "baseline's excess (a pick list sorted by location), %:\n\n"
               + table(["kind", "n", "n <= 12 faces", "auto max excess <= 12", "auto mean gap", "address mean excess",
                        "address max excess"], rows))
    return "\n\n".join(out)


def _kind_rank(kind: str) -> int:
    from bench.graph_instances import KINDS

    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def run_graph_bench(args) -> None:
    from bench.graph_instances import KINDS, PICKS, generate

    kinds = args.kinds or list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        sys.exit(f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    picks = args.graph_picks or list(PICKS)
    by_kind = {kind: generate(kind, picks, args.per_cell, args.seed) for kind in kinds}
    total = sum(len(v) for v in by_kind.values())
    print(f"## Routing on buildings ({total} graph instances: kinds {', '.join(kinds)}; picks {picks}; "
          f"{args.per_cell} per cell; seed {args.seed})")
    budget = "the router's default budget" if args.budget_ms is None else f"budget {args.budget_ms:g} ms"
    named = [text for name, text in (("ortools", f"OR-Tools GLS {args.ortools_ms} ms limit"),
                                     ("lkh", f"LKH (elkai) {args.lkh_runs} runs")) if name in args.solvers]
    solvers = "" if args.no_solvers or not named else f"; {'; '.join(named)}, on the same start/end matrix"
    print(f"ours: route_faces auto ({budget}), median of {args.repeat} calls after a warm-up{solvers}; "
          "every length rescored by bench.graph_instances' own Dijkstra\n")
    started = time.perf_counter()
    columns, groups, small = evaluate_graph(by_kind, args)
    print(graph_tables(columns, groups, small))
    print(f"\n({time.perf_counter() - started:.0f} s)")
