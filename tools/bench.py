"""Run the benchmarks side by side with the stdlib (and waitress where it applies).

Usage: ``python tools/bench.py [--markdown PAGE] [NAME ...]`` runs
``tools/bench_NAME.py`` for each NAME, or every ``tools/bench_*.py`` when none is
named. Each prints its own table with the ratios against the reference
implementation. With ``--markdown PAGE`` the tables are also written to PAGE (the
documentation's benchmark page is made this way).
"""

import argparse
import contextlib
import datetime
import io
import os
import platform
import runpy
import sys
from pathlib import Path

_TOOLS = Path(__file__).resolve().parent


_TERMINAL = sys.stdout


class _Tee(io.StringIO):
    def write(self, text: str) -> int:
        _TERMINAL.write(text)
        _TERMINAL.flush()
        return super().write(text)


def _page(sections: list[tuple[str, str]]) -> str:
    when = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%d")
    lines = [
        "# Benchmarks",
        "",
        (
            f"Made by `hatch run bench --markdown ...` on {when}: {os.cpu_count()} cores, "
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{platform.machine()}. Each table runs ours and the reference side by side in "
            "one run; each table says how its ratio reads."
        ),
        "",
    ]
    for name, output in sections:
        lines += [f"## {name}", "", "```text", output.rstrip(), "```", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all when none is named); return an exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="also write the tables to this page")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    available = {p.stem.removeprefix("bench_"): p for p in sorted(_TOOLS.glob("bench_*.py"))}
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {sorted(available)}")
    sections = []
    for name in args.names or list(available):
        print(f"== {name} ==", flush=True)
        captured = _Tee()
        with contextlib.redirect_stdout(captured):
            try:
                runpy.run_path(str(available[name]), run_name="__main__")
            except SystemExit as stop:  # a benchmark script may end with sys.exit(main())
                if stop.code:
                    raise
        sections.append((name, captured.getvalue()))
    if args.markdown:
        args.markdown.write_text(_page(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
