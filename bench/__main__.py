"""`python -m bench`: run every benchmark and print its table.

Options: --cells N --quants N --skus N --samples N --backend sqlite|postgresql (repeatable).
PostgreSQL runs when DATABASE_URL is set, in a database of its own (`<name>_bench`, dropped after).
"""

import argparse
import os
import platform

from bench import scan_stock


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--quants", type=int, default=1_000_000)
    parser.add_argument("--skus", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=2000, help="timed calls per operation")
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    print()
    print("## Scan classification and stock lookups (in-process)")
    print()
    print(scan_stock.main(args.cells, args.quants, args.skus, args.samples,
                          tuple(args.backend or ("sqlite", "postgresql"))))


if __name__ == "__main__":
    main()
