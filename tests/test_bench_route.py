"""Routing benchmark files: generator, instance/result round trip, the scorer, and `cellwms bench`."""

import json

import pytest

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
    for method in ("auto", "multiblock", "sshape", "combined"):
        routed = cli("route", "--instances", instances, "--method", method, "--out", results, "--repeat", "2")
        assert routed.exit_code == 0, routed.output
        assert f"8 routes by {method}" in routed.output
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
