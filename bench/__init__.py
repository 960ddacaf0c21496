"""Benchmarks that print tables (not tests). `python -m bench` runs them all.

Each benchmark builds its own database (a temporary SQLite file; on PostgreSQL a database
`<DATABASE_URL's name>_bench`, dropped afterwards) and never touches another one.
"""

import statistics
import time
from collections.abc import Callable, Iterable


def measure(operation: Callable[[object], object], arguments: Iterable, *, after: Callable | None = None,
            warmup: int = 100) -> list[float]:
    """Microseconds per call of `operation(argument)`; `after()` runs untimed between calls."""
    arguments = list(arguments)
    for argument in arguments[:warmup]:
        operation(argument)
        if after:
            after()
    samples = []
    for argument in arguments:
        start = time.perf_counter_ns()
        operation(argument)
        samples.append((time.perf_counter_ns() - start) / 1000)
        if after:
            after()
    return samples


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summary(samples: list[float]) -> dict:
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "mean": statistics.fmean(samples),
        "max": max(samples),
    }


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table, so the output can go into bench/README.md as it is."""
    cells = [[str(c) for c in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
