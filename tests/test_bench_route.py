"""Routing benchmark files: generator, instance/result round trip, the scorer, and `cellwms bench`."""

import json
import random

import pytest

from bench.graph_instances import KINDS, GraphInstance, score_graph
from bench.graph_instances import generate as generate_graph
from bench.graph_instances import read_instances as read_any
from bench.graph_instances import walk as graph_walk
from bench.graph_instances import write_jsonl as write_graph_jsonl
from bench.instances import (
    Instance,
    InstanceError,
    Result,
    generate,
    read_instances,
    read_results,
    score,
    write_jsonl,
)
from server import create_app
from server.core.layout import LayoutError
from server.core.walkgraph import Face, WalkGraph

SPEC_EXAMPLE = {
    "id": "b2-a10-n20-0007",
    "layout": {"aisles": 10, "blocks": 2, "slots": 30, "slot_length": 1.0,
               "aisle_pitch": 5.0, "cross_aisle_width": 2.0, "depot_aisle": 0},
    "picks": [[3, 0, 12], [3, 1, 4], [7, 0, 29]],
}


@pytest.fixture
def cli(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.db'}", "TESTING": True,
                      "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "test"})
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["bench", *[str(a) for a in args]])


def test_generator_covers_the_grid_with_distinct_picks_in_the_layout():
    items = generate(aisles=(5, 30), blocks=(1, 4), picks=(5, 100), per_cell=2, seed=1)
    assert len(items) == 2 * 2 * 2 * 2 * 2
    assert len({i.id for i in items}) == len(items)
    for instance in items:
        assert len(set(instance.picks)) == len(instance.picks)
        assert len(instance.points()) == len(instance.picks)  # every pick inside the layout
    again = generate(aisles=(5, 30), blocks=(1, 4), picks=(5, 100), per_cell=2, seed=1)
    assert [i.to_json() for i in again] == [i.to_json() for i in items]


def test_abc_storage_puts_most_picks_near_the_depot():
    uniform = generate(aisles=(20,), blocks=(2,), picks=(50,), storage=("uniform",), per_cell=5)
    abc = generate(aisles=(20,), blocks=(2,), picks=(50,), storage=("abc",), per_cell=5)

    def mean_distance(items):
        values = [i.layout.distance(i.layout.depot, p) for i in items for p in i.points()]
        return sum(values) / len(values)

    assert mean_distance(abc) < 0.6 * mean_distance(uniform)


def test_instance_and_result_round_trip(tmp_path):
    instance = Instance.from_json(SPEC_EXAMPLE)
    assert instance.to_json() == SPEC_EXAMPLE
    path = tmp_path / "instances.jsonl"
    items = [instance, *generate(aisles=(10,), blocks=(3,), picks=(20,), per_cell=2)]
    write_jsonl(path, items)
    assert [i.to_json() for i in read_instances(path)] == [i.to_json() for i in items]

    results = [Result("b2-a10-n20-0007", "optimal", 123.0, [2, 0, 1], 41.7), Result("x", "sshape", 1.5, [0], None)]
    write_jsonl(tmp_path / "results.jsonl", results)
    assert read_results(tmp_path / "results.jsonl") == results
    line = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[0])
    assert line == {"id": "b2-a10-n20-0007", "method": "optimal", "length": 123.0, "order": [2, 0, 1], "us": 41.7}


def test_scorer_recomputes_and_flags_wrong_lengths_and_orders():
    instance = Instance.from_json(SPEC_EXAMPLE)
    points = instance.points()
    true = instance.layout.tour_length([points[i] for i in (2, 0, 1)])
    good = score(instance, Result(instance.id, "m", true, [2, 0, 1]))
    assert good.errors == () and good.length == pytest.approx(true)
    wrong = score(instance, Result(instance.id, "m", true - 1, [2, 0, 1]))
    assert wrong.length == pytest.approx(true)
    assert any("claimed length" in e for e in wrong.errors)
    assert any("misses 1 of 3" in e for e in score(instance, Result(instance.id, "m", true, [2, 0])).errors)
    assert any("not a pick" in e for e in score(instance, Result(instance.id, "m", true, [2, 0, 1, 9])).errors)
    # A twin pick (same point) may be listed with its twin or left out.
    twin = Instance("t", instance.layout, [*instance.picks, instance.picks[0]])
    assert score(twin, Result("t", "m", true, [2, 0, 1])).errors == ()
    assert score(twin, Result("t", "m", true, [2, 0, 3, 1])).errors == ()


@pytest.mark.parametrize("bad, message", [
    ({**SPEC_EXAMPLE, "picks": []}, "empty pick list"),
    ({**SPEC_EXAMPLE, "picks": [[10, 0, 0]]}, "outside the layout"),
    ({**SPEC_EXAMPLE, "layout": {**SPEC_EXAMPLE["layout"], "aisles": 0}}, "at least one of aisles"),
    ({**SPEC_EXAMPLE, "picks": [[1, 0]]}, "a pick is"),
    ({"id": "x"}, "malformed"),
])
def test_bad_instances_give_clear_errors(bad, message):
    with pytest.raises((LayoutError, InstanceError), match=message):
        Instance.from_json(bad)


def test_cellwms_bench_generate_route_score(cli, tmp_path):
    instances, results = tmp_path / "i.jsonl", tmp_path / "r.jsonl"
    made = cli("generate", "--out", instances, "--aisles", "6", "--blocks", "1,3", "--picks", "4,12", "--per-cell", "1")
    assert made.exit_code == 0, made.output
    assert "8 instances" in made.output
    route_score_and_tamper(cli, instances, results, ("auto", "multiblock", "sshape", "combined"), 8)


def route_score_and_tamper(cli, instances, results, methods, count):
    """Route the file with each method and score it clean; then a claimed length off by 1 m fails."""
    for method in methods:
        routed = cli("route", "--instances", instances, "--method", method, "--out", results, "--repeat", "2")
        assert routed.exit_code == 0, routed.output
        assert f"{count} routes by {method}" in routed.output
        lines = [json.loads(line) for line in results.read_text().splitlines()]
        assert [r["id"] for r in lines] == [json.loads(i)["id"] for i in instances.read_text().splitlines()]
        assert all(r["method"] == method and r["us"] > 0 for r in lines)
        scored = cli("score", "--instances", instances, "--results", results)
        assert scored.exit_code == 0 and "0 with errors" in scored.output, scored.output

    lines = results.read_text().splitlines()
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "length": first["length"] + 1})
    results.write_text("\n".join(lines) + "\n")
    scored = cli("score", "--instances", instances, "--results", results)
    assert scored.exit_code == 1 and "claimed length" in scored.output


def test_cellwms_bench_route_bad_input(cli, tmp_path):
    path = tmp_path / "bad.jsonl"
    out = tmp_path / "r.jsonl"

    def route_file(lines, method="auto"):
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return cli("route", "--instances", path, "--method", method, "--out", out)

    for lines, message in [
        ([{**SPEC_EXAMPLE, "picks": []}], "bad.jsonl:1: instance b2-a10-n20-0007: an empty pick list"),
        ([SPEC_EXAMPLE, {**SPEC_EXAMPLE, "picks": [[3, 2, 0]]}], "bad.jsonl:2: point (aisle 3, block 2, slot 0) is outside"),
        ([{**SPEC_EXAMPLE, "layout": {**SPEC_EXAMPLE["layout"], "aisles": 0}}], "at least one of aisles"),
    ]:
        result = route_file(lines)
        assert result.exit_code != 0 and message in result.output, result.output
        assert "Traceback" not in result.output
    unknown = route_file([SPEC_EXAMPLE], method="zigzag")
    assert unknown.exit_code == 2 and "unknown method 'zigzag'" in unknown.output
    path.write_text("{not json\n")
    assert "not JSON" in cli("route", "--instances", path, "--out", out).output
    wrong_blocks = route_file([{**SPEC_EXAMPLE, "layout": {**SPEC_EXAMPLE["layout"], "blocks": 3}}], "optimal")
    assert wrong_blocks.exit_code == 1 and "1 or 2 blocks" in wrong_blocks.output
    missing = cli("route", "--instances", tmp_path / "nope.jsonl", "--out", out)
    assert missing.exit_code == 2 and "does not exist" in missing.output


# --- graph instances (any building) -----------------------------------------------------------

GRAPH_EXAMPLE = {"id": "rooms-n20-03",
                 "graph": {"nodes": [[0.0, 1.0], [3.0, 1.0], [0.0, 15.0]], "edges": [[0, 1], [0, 2, "oneway"]]},
                 "faces": [[1, 2.5], [1, 3.5]], "start": 0, "end": 1, "picks": [0, 1, 1]}


def test_graph_instance_round_trip_and_either_format(tmp_path):
    instance = GraphInstance.from_json(GRAPH_EXAMPLE)
    assert instance.to_json() == GRAPH_EXAMPLE
    assert instance.edges == ((0, 1, False), (0, 2, True)) and instance.faces == ((1, 2.5), (1, 3.5))
    path = tmp_path / "both.jsonl"
    path.write_text(json.dumps(SPEC_EXAMPLE) + "\n\n" + json.dumps(GRAPH_EXAMPLE) + "\n")
    rectangular, graph = read_any(path)
    assert isinstance(rectangular, Instance) and graph == instance
    items = generate_graph("mixed", picks=(5, 40), per_cell=2, seed=3)
    write_graph_jsonl(tmp_path / "g.jsonl", items)
    assert read_any(tmp_path / "g.jsonl") == items


@pytest.mark.parametrize("change, message", [
    ({"faces": [[1, 2.5], [2, 1.0]]}, "faces[1]: edge 2 is not in edges (0..1)"),
    ({"faces": [[1, 14.5]]}, "faces[0]: offset 14.5 is off edge 1 (length 14)"),
    ({"faces": [[1, "a"]]}, "faces[0]: [edge, offset]"),
    ({"picks": [0, 2]}, "picks[1]: a face index 0..1 (got 2)"),
    ({"picks": []}, "picks: an empty pick list has no route"),
    ({"start": 3}, "start: a node 0..2 (got 3)"),
    ({"end": -1}, "end: a node 0..2 (got -1)"),
    ({"graph": {"nodes": [[0, 1], [3, 1]], "edges": [[0, 2]]}}, "graph.edges[0]: node 2 is not in nodes (0..1)"),
    ({"graph": {"nodes": [[0, 1], [3, 1]], "edges": [[0, 1, "both"]]}}, "graph.edges[0]: [u, v] or [u, v, \"oneway\"]"),
    ({"graph": {"nodes": [[0, 1], [3]], "edges": []}}, "graph.nodes[1]: a point [x, y]"),
    ({"graph": {"nodes": [[0, 1], [3, 1]], "edges": [[1, 1]]}}, "graph.edges[0]: an edge joins two different nodes"),
    ({"graph": []}, "graph: an object with lists"),
])
def test_bad_graph_instances_name_the_line_and_the_key(tmp_path, change, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GRAPH_EXAMPLE) + "\n" + json.dumps({**GRAPH_EXAMPLE, **change}) + "\n")
    with pytest.raises(InstanceError) as caught:
        read_any(path)
    assert str(caught.value).startswith(f"{path}:2: instance rooms-n20-03: {message}"), str(caught.value)
    path.write_text(json.dumps({k: v for k, v in GRAPH_EXAMPLE.items() if k != "start"}) + "\n")
    with pytest.raises(InstanceError, match=r"bad.jsonl:1: start: missing"):
        read_any(path)


def test_graph_scorer_walks_its_own_shortest_paths():
    # A square: 0 (0,0) -> 1 (10,0) one-way, 1 - 2 (10,10), 2 - 3 (0,10), 3 - 0.
    square = GraphInstance.from_json({
        "id": "sq", "graph": {"nodes": [[0, 0], [10, 0], [10, 10], [0, 10]],
                              "edges": [[0, 1, "oneway"], [1, 2], [2, 3], [3, 0]]},
        "faces": [[0, 2.0], [0, 8.0], [2, 5.0]], "start": 0, "end": 3, "picks": [0, 1, 2, 1]})
    # 0 -> face 0 (2) -> face 1 (6) -> on to node 1 (2), up to 2 (10), to face 2 (5) -> on to node 3 (5).
    assert score_graph(square, Result("sq", "m", 30.0, [0, 1, 2])).errors == ()
    assert score_graph(square, Result("sq", "m", 30.0, [0, 3, 1, 2])).errors == ()  # a twin listed
    # Face 1 before face 0 is against the one-way edge: round the square (2 + 10 + 10 + 10 + 2) back to 0.
    backwards = score_graph(square, Result("sq", "m", 0.0, [1, 0, 2]))
    assert backwards.length == pytest.approx(8 + 34 + 6 + 2 + 10 + 5 + 5)
    assert any("claimed length 0.0 but the order walks" in e for e in backwards.errors)
    assert any("misses 1 of 3 faces" in e for e in score_graph(square, Result("sq", "m", 0.0, [0, 1])).errors)
    assert any("order index 7 is not a pick" in e for e in score_graph(square, Result("sq", "m", 30.0, [0, 1, 2, 7])).errors)
    assert any("result for 'x'" in e for e in score_graph(square, Result("x", "m", 30.0, [0, 1, 2])).errors)
    cut = GraphInstance.from_json({**square.to_json(), "graph": {"nodes": [[0, 0], [10, 0], [10, 10], [0, 10]],
                                                                 "edges": [[0, 1, "oneway"], [1, 2], [2, 3]]}})
    assert score_graph(cut, Result("sq", "m", 30.0, [0, 1, 2])).errors == ()
    assert any("cannot be walked" in e for e in score_graph(cut, Result("sq", "m", 30.0, [1, 0, 2])).errors)


def test_the_scorer_agrees_with_the_walk_graph_on_generated_buildings():
    rng = random.Random(4)
    for kind in KINDS:
        for instance in generate_graph(kind, picks=(8,), per_cell=2, seed=9):
            graph = WalkGraph.from_json(instance.graph_json())
            order = list(range(len(instance.faces)))
            rng.shuffle(order)
            spots = [instance.start, *(Face(*instance.faces[f]) for f in order), instance.end]
            assert graph_walk(instance, order) == pytest.approx(graph.walk_length(spots), abs=1e-6)


def test_generated_buildings_of_every_kind():
    for kind in KINDS:
        items = generate_graph(kind, picks=(5, 12, 100), per_cell=3, seed=1)
        assert len(items) == 9 and len({i.id for i in items}) == 9
        assert [i.to_json() for i in generate_graph(kind, picks=(5, 12, 100), per_cell=3, seed=1)] == \
            [i.to_json() for i in items]
        for instance in items:
            distinct = {instance.faces[p] for p in instance.picks}
            assert len(distinct) == len(instance.faces) <= len(instance.picks)
            assert len(instance.picks) in (5, 12, 100)
            assert len(instance.nodes) >= 10  # 10..30 aisles, each with its cross-aisle nodes
        assert any(len(set(i.picks)) <= 12 for i in items)
        edges = [e for i in items for e in i.edges]
        if kind in ("one_way", "mixed"):
            assert any(oneway for _, _, oneway in edges)
        if kind == "start_end":
            assert all(i.start != i.end for i in items)
        if kind in ("two_halls", "mixed"):  # a door: an edge that is neither an aisle nor a cross aisle
            assert any(all(abs(a - b) > 1e-6 for a, b in zip(i.nodes[u], i.nodes[v], strict=True))
                       for i in items for u, v, _ in i.edges)
    with pytest.raises(InstanceError, match="unknown kind 'castle'"):
        generate_graph("castle")


def test_cellwms_bench_graph_generate_route_score(cli, tmp_path):
    instances, results = tmp_path / "g.jsonl", tmp_path / "r.jsonl"
    made = cli("generate", "--kind", "one_way", "--out", instances, "--picks", "4,9", "--per-cell", "2")
    assert made.exit_code == 0 and "4 one_way graph instances" in made.output, made.output
    route_score_and_tamper(cli, instances, results, ("auto", "exact", "search", "address"), 4)

    wrong = cli("route", "--instances", instances, "--method", "sshape", "--out", results)
    assert wrong.exit_code == 2 and "'sshape' does not route graph instance one_way-n4-0000" in wrong.output
    both = tmp_path / "both.jsonl"
    both.write_text(json.dumps(SPEC_EXAMPLE) + "\n" + instances.read_text())
    routed = cli("route", "--instances", both, "--out", results, "--repeat", "1")
    assert routed.exit_code == 0 and "5 routes by auto" in routed.output
    assert cli("score", "--instances", both, "--results", results).exit_code == 0
    bad_kind = cli("generate", "--kind", "castle", "--out", instances)
    assert bad_kind.exit_code == 2 and "unknown kind 'castle'" in bad_kind.output


def test_a_generated_graph_instance_depends_only_on_its_own_seed_kind_picks_and_number():
    alone = generate_graph("columns", picks=(50,), per_cell=2, seed=5)
    among = generate_graph("columns", picks=(10, 50), per_cell=3, seed=5)
    assert [i.to_json() for i in among if i.id in {a.id for a in alone}] == [i.to_json() for i in alone]
    assert generate_graph("columns", picks=(50,), per_cell=1, seed=6)[0].to_json() != alone[0].to_json()
