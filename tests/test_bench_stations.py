"""`python -m bench stations` end to end at a tiny size on SQLite (werkzeug server: starts fastest),
so the benchmark cannot rot."""

from bench import stations


def test_station_bench_runs_end_to_end_on_sqlite():
    lines = []
    report = stations.main(agents=2, processes=1, warmup=0.3, duration=0.7, batch=20, server_kind="werkzeug",
                           backend="sqlite", overhead_events=60, rate_guess=200.0,
                           out=lambda *args: lines.append(" ".join(map(str, args))))
    text = "\n".join(lines)
    assert "Database: SQLite" in text and "events/s" in text and "Outbox.put" in text
    for scenario in ("one agent", "2 agents at once"):
        assert report[scenario]["events"] > 0, text
        assert not report[scenario]["fatal"]
    assert len(report["overhead"]) >= 3
