"""`cellwms bench route|generate|score`: routing benchmark files (docs/benchmarks.md); `cellwms bench wave`:
the wave release benchmark (docs/waves.md); `cellwms bench pack`: weight to label at a pack station.

The benchmark code lives in `bench/` of a source checkout; these commands load it from there.
"""

import statistics
import sys
from pathlib import Path

import click

from server.core.layout import LayoutError


def _bench():
    """bench.instances and bench.routing, from the checkout this server runs from."""
    try:
        from bench import instances, routing
    except ImportError:
        root = Path(__file__).resolve().parents[2]
        if not (root / "bench" / "instances.py").is_file():
            raise click.ClickException("the benchmark code (bench/) comes with a source checkout of cellwms") from None
        sys.path.insert(0, str(root))
        from bench import instances, routing
    return instances, routing


def _csv(kind):
    def convert(ctx, param, value):
        try:
            return [kind(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise click.BadParameter(f"a comma-separated list, not {value!r}") from None

    return convert


@click.group("bench")
def bench_group():
    """Benchmarks: routing instances, results and scores."""


@bench_group.command("route")
@click.option("--instances", "instances_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Instance file (JSON Lines), rectangular or graph (docs/benchmarks.md).")
@click.option("--method", default="auto", show_default=True, help="A routing method (auto = the server's choice).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Result file to write (JSON Lines).")
@click.option("--repeat", default=5, show_default=True, type=click.IntRange(1), help="Timed calls per instance.")
def route(instances_path, method, out, repeat):
    """Route every instance with METHOD; write lengths, orders and median microseconds."""
    instances, routing = _bench()
    graphs = _bench_module("graph_instances")
    from server.core.routing import GRAPH_METHODS, METHODS
    from server.core.walkgraph import GraphError

    if method not in METHODS and method not in GRAPH_METHODS:
        raise click.BadParameter(f"unknown method {method!r}; known: {', '.join(sorted(METHODS))} "
                                 f"(graph instances: {', '.join(GRAPH_METHODS)})", param_hint="--method")
    try:
        items = graphs.read_instances(instances_path)
    except (LayoutError, instances.InstanceError, OSError) as e:
        raise click.ClickException(str(e)) from None
    results = []
    for instance in items:
        graph = isinstance(instance, graphs.GraphInstance)
        known = GRAPH_METHODS if graph else tuple(sorted(METHODS))
        if method not in known:
            raise click.BadParameter(f"{method!r} does not route {'graph' if graph else 'rectangular'} instance "
                                     f"{instance.id}; known: {', '.join(known)}", param_hint="--method")
        try:
            results.append(routing.run_graph(instance, method, repeat) if graph
                           else routing.run_ours(instance, method, repeat))
        except (LayoutError, GraphError) as e:
            raise click.ClickException(f"{instance.id}: {e}") from None
    instances.write_jsonl(out, results)
    us = statistics.median(r.us for r in results) if results else 0.0
    click.echo(f"{len(results)} routes by {method} -> {out} (median {us:.1f} µs per route)")


@bench_group.command("generate")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Instance file to write.")
@click.option("--kind", default=None, help="Graph instances of this kind of building: two_halls, unequal, "
              "dead_ends, columns, start_end, one_way, mixed (without it: rectangular ones over the grid).")
@click.option("--aisles", default="5,10,15,20,25,30", show_default=True, callback=_csv(int))
@click.option("--blocks", default="1,2,3,4", show_default=True, callback=_csv(int))
@click.option("--picks", default="5,10,20,30,50,100", show_default=True, callback=_csv(int))
@click.option("--storage", default="uniform,abc", show_default=True, callback=_csv(str))
@click.option("--per-cell", default=10, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=2024, show_default=True, type=int)
def generate(out, kind, aisles, blocks, picks, storage, per_cell, seed):
    """Write generated instances over the grid (ABC: 20% of slots nearest the depot get 80% of picks),
    or with --kind graph instances of generated buildings (picks, per cell and seed as given)."""
    instances, _ = _bench()
    if kind is not None:
        graphs = _bench_module("graph_instances")
        if kind not in graphs.KINDS:
            raise click.BadParameter(f"unknown kind {kind!r}; known: {', '.join(graphs.KINDS)}", param_hint="--kind")
        if bad := [n for n in picks if n < 1]:
            raise click.BadParameter(f"picks must be >= 1 (got {bad[0]})", param_hint="--picks")
        items = graphs.generate(kind, picks, per_cell, seed)
        graphs.write_jsonl(out, items)
        click.echo(f"{len(items)} {kind} graph instances -> {out}")
        return
    if bad := [s for s in storage if s not in instances.STORAGE]:
        raise click.BadParameter(f"unknown storage {', '.join(bad)}; known: uniform, abc", param_hint="--storage")
    try:
        items = instances.generate(aisles, blocks, picks, storage, per_cell, seed)
    except LayoutError as e:
        raise click.ClickException(str(e)) from None
    instances.write_jsonl(out, items)
    click.echo(f"{len(items)} instances -> {out}")


@bench_group.command("score")
@click.option("--instances", "instances_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--results", "results_path", required=True, type=click.Path(exists=True, dir_okay=False))
def score(instances_path, results_path):
    """Recompute every length from its order (either format); fail on a wrong length or an incomplete order."""
    instances, _ = _bench()
    graphs = _bench_module("graph_instances")
    try:
        scores = graphs.score_file(graphs.read_instances(instances_path), instances.read_results(results_path))
    except (LayoutError, instances.InstanceError, OSError) as e:
        raise click.ClickException(str(e)) from None
    bad = [s for s in scores if s.errors]
    for s in bad:
        click.echo(f"{s.id}: {'; '.join(s.errors)}", err=True)
    total = sum(s.length for s in scores)
    click.echo(f"{len(scores)} results, total length {total:.1f}, {len(bad)} with errors")
    if bad:
        sys.exit(1)


@bench_group.command("pick-scan", context_settings={"ignore_unknown_options": True})
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def pick_scan(options):
    """The server-side time of one pick scan (p50/p99) on a warehouse of 100,000 cells (bench/README.md).

    Options as `python -m bench pick_scan -- --help` lists them (--cells, --samples, --backend, ...)."""
    _bench()  # bench/ importable from the checkout
    from bench import pick_scan as bench_pick_scan

    bench_pick_scan.run(list(options))
@bench_group.command("wave")
@click.option("--orders", "count", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Orders to create, reserve and release.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--database", default=None, help="Database URL to use (empty or the demo's); default a fresh SQLite file.")
def wave(count, as_json, database):
    """Reserve N orders on the demo warehouse and release them as one wave: time and walked metres."""
    import json

    wave_bench = _bench_module("wave")
    with wave_bench.fresh_database(database) as (_label, url):
        result = wave_bench.measure(count, url)
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key}: {value}")


@bench_group.command("pack")
@click.option("--orders", "count", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Orders packed, one parcel each.")
@click.option("--backend", type=click.Choice(["sqlite", "postgresql"]), default="sqlite", show_default=True,
              help="postgresql: a fresh database on DATABASE_URL's server, dropped afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def pack(count, backend, as_json):
    """Pack N orders through a real station agent and server on loopback: the time from the stable
    weight at the agent to the shipping label's first byte at the printer emulator (bench/README.md)."""
    import json
    import os

    if backend == "postgresql" and not os.environ.get("DATABASE_URL"):
        raise click.ClickException("--backend postgresql needs DATABASE_URL")
    pack_bench = _bench_module("pack")
    try:
        result = pack_bench.measure(backend, count)
    except pack_bench.BenchError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key in ("backend", "orders", "p50_ms", "p95_ms", "max_ms", "target_p95_ms"):
            click.echo(f"{key}: {result[key]}")


def _bench_module(name: str):
    """bench.<name>, from the checkout this server runs from."""
    import importlib

    try:
        return importlib.import_module(f"bench.{name}")
    except ImportError:
        _bench()  # puts the checkout on sys.path, or says it is missing
        return importlib.import_module(f"bench.{name}")


commands = [bench_group]
