"""Run the benchmarks side by side with the stdlib (and waitress where it applies).

Usage: ``python tools/bench.py [NAME ...]`` runs ``tools/bench_NAME.py`` for each
NAME, or every ``tools/bench_*.py`` when none is named. Each prints its own table
with the ratios against the reference implementation.
"""

import runpy
import sys
from pathlib import Path

_TOOLS = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    """Run the named benchmarks (all when *names* is empty); return an exit status."""
    available = {p.stem.removeprefix("bench_"): p for p in sorted(_TOOLS.glob("bench_*.py"))}
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {sorted(available)}", file=sys.stderr)
        return 2
    for name in names or list(available):
        print(f"== {name} ==", flush=True)
        runpy.run_path(str(available[name]), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
