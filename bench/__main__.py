"""`python -m bench [log replay intake]`: run the benchmarks and print the final table.

Every figure sits beside the raw engine it is built on, measured in the same
run; the verdict is on the ratio (or on an absolute ceiling for latencies).
Exit status 0 even on a MISS: benchmarks inform, tests decide.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import platform
import sys
import time
import traceback

from bench.broker import stop_broker
from bench.common import Result
from hotline.runtime import tune_gc

BENCHMARKS = {  # name on the command line -> module
    "log": "bench.log_append",
    "replay": "bench.replay",
    "replay-boards": "bench.replay_boards",
    "intake": "bench.intake",
    "decider": "bench.decider",
    "routing": "bench.routing",
    "ticket-list": "bench.ticket_list",
    "supervision": "bench.supervision",
    "callback": "bench.callback",
    "contact-queue": "bench.contact_queue",
    "knowledge": "bench.knowledge",
    "analytics": "bench.analytics",
    "analytics-year": "bench.analytics_year",
    "reports": "bench.reports",
    "hotspots": "bench.hotspots",
    "peer": "bench.peer",
    "console": "bench.console",
}
ALIASES = {"log_append": "log", "append": "log"}


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("ms", "s"):
        return f"{value:,.1f} {unit}"
    if unit == "MRR":  # a score from 0 to 1
        return f"{value:.3f}"
    return f"{value:,.0f}/s"


def shown_ratio(r: Result) -> str:
    """Throughputs as a share of raw; latencies as a multiple of it."""
    ratio = r.ratio
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x" if r.unit == "ms" else f"{ratio:.0%}"


def table(results: list[tuple[str, Result]]) -> str:
    return layout(table_rows(results))


def table_rows(results: list[tuple[str, Result]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("benchmark", "ours", "raw", "ratio", "target", "")]
    for _, r in results:
        rows.append((r.name, fmt(r.ours, r.unit), fmt(r.raw, r.unit), shown_ratio(r), r.target,
                     r.verdict))
    return rows


def layout(rows: list[tuple[str, ...]]) -> str:
    header = rows[0]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:5], widths[1:5],
                                                                          strict=True)]
        lines.append("  ".join(cells + [row[5]]))
        if n == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


async def main(names: list[str]) -> int:
    results: list[tuple[str, Result]] = []
    failed = []
    started = time.monotonic()
    try:
        for name in names:
            print(f"\n== {name} ==", flush=True)
            t0 = time.monotonic()
            try:
                module = importlib.import_module(BENCHMARKS[name])
                tune_gc()  # each starts on the collector settings `hotline run` serves with
                for r in await module.run():
                    results.append((name, r))
            except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
                traceback.print_exc()
                failed.append(name)
            print(f"-- {name}: {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        stop_broker()
    print(f"\nhotline benchmarks ({platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{time.monotonic() - started:.0f} s); ratio = ours / raw engine, same run")
    print(table(results))
    notes = [(r.name, r.note) for _, r in results if r.note]
    if notes:
        print("\nnotes:")
        for name, note in notes:
            print(f"  {name}: {note}")
    if failed:
        print(f"\nFAILED to run: {', '.join(failed)}")
        return 1
    return 0


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): "
                                                  f"{' '.join(BENCHMARKS)}")
    args = parser.parse_args()
    names = [ALIASES.get(n, n) for n in args.names] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main(names)))


if __name__ == "__main__":
    cli()
