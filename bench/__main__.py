"""`python -m bench [NAME ...] [-- options]`: run benchmarks and print their tables.

Names: scan (scan classification and stock lookups on SQLite/PostgreSQL), routing, slotting,
slot_index (the putaway index built from the database, 10,000 cells),
batching, camera, stations (station agents -> server events/s), pick_scan (one pick scan, 100,000 cells),
wave (orders reserved and released as one wave), pack (stable weight at a real station agent -> shipping
label's first byte at the printer emulator). Without names, all of them.
Options after `--` go to the benchmark(s) named, e.g.
`python -m bench scan -- --cells 2000 --quants 20000 --skus 1000 --samples 300`.
"""

import importlib
import os
import platform
import sys

BENCHMARKS = {
    "scan": "bench.scan_stock",
    "routing": "bench.routing",
    "slotting": "bench.slotting",
    "slot_index": "bench.slot_index",
    "batching": "bench.batching",
    "camera": "bench.camera",
    "stations": "bench.stations",
    "pick_scan": "bench.pick_scan",
    "wave": "bench.wave",
    "pack": "bench.pack",
}


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main(argv: list[str]) -> int:
    names, options = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    print(f"Machine: {machine()}")
    for name in names or list(BENCHMARKS):
        print()
        importlib.import_module(BENCHMARKS[name]).run(options)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
