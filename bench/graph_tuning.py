"""Tuning the graph router (server.core.routing.graph): ours against LKH (elkai) on random
warehouse-like graphs. `python -m bench.graph_tuning --help`.

A generated warehouse is one rectangular hall of aisles and cross aisles with the irregularities
of issue 15 drawn at random: one-way aisles, dead ends (an aisle's back end walled off), columns
(a cross-aisle segment between two aisles blocked) and start != end on the front cross aisle;
only strongly connected graphs are kept. Faces are random distinct slots. Our time is the median
of `--repeat` in-process calls of route_faces with the graph's node table built beforehand (the
call builds its own face matrix); LKH solves the same asymmetric matrix (millimetres, the depot
row leaving the start and column reaching the end: the path problem as a tour), `--lkh-runs` runs.
"""

import argparse
import json
import os
import random
import statistics
import time

from server.core.routing import graph as routing_graph
from server.core.walkgraph import Face, WalkGraph

SCALE = 1000  # LKH takes integers: millimetres
NO_WALK = 10**9


def warehouse(rng: random.Random) -> tuple[WalkGraph, dict, int, int, int]:
    """A random hall: (graph, (aisle, block) -> (edge, from_front), slots, start, end)."""
    while True:
        aisles, blocks, slots = rng.randint(6, 20), rng.randint(1, 4), rng.randint(10, 30)
        pitch, slot_length, width = rng.choice([2.5, 3.0, 4.0]), 1.0, 2.0
        span = slots * slot_length + width
        cross = blocks + 1
        nodes = [(a * pitch, c * span + width / 2) for a in range(aisles) for c in range(cross)]
        edges, aisle_edge = [], {}
        oneway = {a: rng.choice(["up", "down"]) for a in range(aisles) if rng.random() < 0.25}
        for a in range(aisles):
            for b in range(blocks):
                lo, hi = a * cross + b, a * cross + b + 1
                if oneway.get(a) == "down":
                    aisle_edge[a, b] = (len(edges), False)
                    edges.append((hi, lo, "oneway"))
                else:
                    aisle_edge[a, b] = (len(edges), True)
                    edges.append((lo, hi, "oneway") if a in oneway else (lo, hi))
        dead = {a for a in range(aisles) if rng.random() < 0.15 and a not in oneway}
        for a in range(aisles - 1):
            for c in range(cross):
                if c == blocks and (a in dead or a + 1 in dead):
                    continue  # the back wall of a dead-end aisle
                if 0 < c < blocks and rng.random() < 0.1:
                    continue  # a column
                edges.append((a * cross + c, (a + 1) * cross + c))
        graph = WalkGraph(nodes, edges)
        if all(graph.node_distance(0, v) < float("inf") and graph.node_distance(v, 0) < float("inf")
               for v in range(len(nodes))):
            start = rng.randrange(aisles) * cross
            end = start if rng.random() < 0.5 else rng.randrange(aisles) * cross
            return graph, aisle_edge, slots, start, end


def instance(rng: random.Random, picks: int):
    graph, aisle_edge, slots, start, end = warehouse(rng)
    cells = sorted(aisle_edge)
    chosen = set()
    picks = min(picks, len(cells) * slots)
    while len(chosen) < picks:
        chosen.add((rng.choice(cells), rng.randrange(slots)))
    faces = []
    for cell, slot in sorted(chosen):
        edge, from_front = aisle_edge[cell]
        y = 1.0 + (slot + 0.5)  # cross-aisle half width plus the slot centre
        faces.append(Face(edge, y if from_front else graph.lengths[edge] - y))
    return graph, faces, start, end


def lkh(graph: WalkGraph, faces, start: int, end: int, runs: int) -> float:
    import elkai

    d = graph.matrix(faces, start, end)
    ints = [[NO_WALK if x == float("inf") else round(x * SCALE) for x in row] for row in d]
    tour = elkai.DistanceMatrix(ints).solve_tsp(runs=runs)
    if tour[0] != 0:
        raise SystemExit("elkai: tour does not start at the depot")
    return sum(d[a][b] for a, b in zip(tour, tour[1:], strict=False))


def measure(graph: WalkGraph, faces, start: int, end: int, args) -> tuple[float, float]:
    """(gap to LKH, median microseconds) of one instance."""
    graph.node_distance(0, 0)  # the node table, built beforehand
    order, length = routing_graph.route_faces(graph, faces, start, end, args.method, args.budget_ms)
    check = graph.walk_length([start, *(faces[i] for i in order), end])
    assert abs(check - length) < 1e-6, (check, length)
    samples = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        routing_graph.route_faces(graph, faces, start, end, args.method, args.budget_ms)
        samples.append(time.perf_counter() - t0)
    return length / lkh(graph, faces, start, end, args.lkh_runs) - 1, statistics.median(samples) * 1e6


def from_file(path: str):
    """(row label, graph, faces, start, end) for each instance of a graph bench file."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                faces = [Face(e, float(o)) for e, o in d["faces"]]
                yield (d["id"].split("-")[0], len(faces)), WalkGraph.from_json(d["graph"]), faces, d["start"], d["end"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.graph_tuning", description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", help="a graph bench file (JSON Lines) instead of generated halls")
    ap.add_argument("--picks", default="10,20,40,60,80,100")
    ap.add_argument("--per-size", type=int, default=30)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--lkh-runs", type=int, default=10)
    ap.add_argument("--budget-ms", type=float, default=None, help="route_faces budget (default: its own)")
    ap.add_argument("--method", default="auto")
    args = ap.parse_args(argv)
    rows: dict[tuple, list[tuple[float, float]]] = {}
    if args.instances:
        for label, graph, faces, start, end in from_file(args.instances):
            rows.setdefault(label, []).append(measure(graph, faces, start, end, args))
    else:
        rng = random.Random(args.seed)
        for picks in (int(p) for p in args.picks.split(",")):
            for _ in range(args.per_size):
                rows.setdefault(("halls", picks), []).append(measure(*instance(rng, picks), args))
    print(f"load average {os.getloadavg()[0]:.2f}; method {args.method}, budget {args.budget_ms or 'default'} ms")
    print(f"{'kind':>10} {'faces':>5} {'n':>4} {'mean gap %':>10} {'p95 gap %':>10} {'max gap %':>10} "
          f"{'worse':>5} {'median us':>10} {'p95 us':>8}")
    for (kind, size), results in sorted(rows.items()):
        gaps = sorted(r[0] for r in results)
        times = sorted(r[1] for r in results)
        p95 = gaps[min(len(gaps) - 1, int(0.95 * len(gaps)))]
        print(f"{kind:>10} {size:>5} {len(gaps):>4} {100 * statistics.mean(gaps):>10.3f} {100 * p95:>10.3f} "
              f"{100 * gaps[-1]:>10.3f} {sum(g > 1e-9 for g in gaps):>5} {statistics.median(times):>10.0f} "
              f"{times[min(len(times) - 1, int(0.95 * len(times)))]:>8.0f}")


if __name__ == "__main__":
    main()
