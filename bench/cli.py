"""``python bench/run.py [--smoke] [--only NAME[,NAME]] [--repeats N] [--json FILE]``."""

from __future__ import annotations

import argparse
import json
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.generation import run_strategies
from bench.harness import (
    SUMMARY_HEADING,
    Context,
    Result,
    machine,
    print_result,
    summary_lines,
)
from bench.journals import run_sqlite_journal
from bench.micro import run_memory, run_validate
from bench.prism import run_prism
from bench.scaling import run_scaling
from bench.servers import (
    run_intercept,
    run_start_stop,
    run_throughput_batch,
    run_throughput_group,
)
from bench.suites import run_fixture_suite, run_plugin_load
from bench.watchers import run_watchers

__all__ = ["COMPARISONS", "main"]

#: Every comparison, in the order they run (and the order of the issue's targets).
COMPARISONS: dict[str, Callable[[Context], Result]] = {
    "validate": run_validate,
    "throughput-batch": run_throughput_batch,
    "throughput-group": run_throughput_group,
    "sqlite-journal": run_sqlite_journal,
    "scaling": run_scaling,
    "fixture-suite": run_fixture_suite,
    "start-stop": run_start_stop,
    "intercept": run_intercept,
    "strategies": run_strategies,
    "memory": run_memory,
    "plugin-load": run_plugin_load,
    "watchers": run_watchers,
    "prism": run_prism,
}


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in COMPARISONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown comparison(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(COMPARISONS)}")
    return names


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Benchmark mockseg against its peers, both sides in one run, alternating.")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny counts: proves the harness works in seconds (CI)")
    parser.add_argument("--only", type=_names, metavar="NAME[,NAME]",
                        help=f"run only these comparisons: {', '.join(COMPARISONS)}")
    parser.add_argument("--repeats", type=_positive, metavar="N",
                        help="repeats per comparison (default: each comparison's own)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="save the results as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen comparisons; 0 unless the harness itself broke (targets may fail)."""
    args = parse(argv)
    ctx = Context(smoke=args.smoke, repeats_override=args.repeats)
    where = machine()
    print(f"mockseg benchmarks ({'smoke' if args.smoke else 'full'}) - {where['date']}")
    print(f"  {where['cpus']} CPU(s), {where['cpu']}; Python {where['python']}; "
          f"{where['system']} {where['kernel']}; load average {where['load']}")
    print("  " + ", ".join(f"{name} {version}" for name, version in where["packages"].items()
                           if version))
    results: list[Result] = []
    started = time.perf_counter()
    for name in args.only or list(COMPARISONS):
        print(f"\n== {name}", flush=True)
        began = time.perf_counter()
        try:
            result = COMPARISONS[name](ctx)
        except Exception as exc:
            traceback.print_exc()
            result = Result(name, name, error=f"{type(exc).__name__}: {exc}".splitlines()[0])
        result.seconds = time.perf_counter() - began
        print(f"   {result.title}")
        print_result(result)
        results.append(result)
    total = time.perf_counter() - started
    print(f"\n{SUMMARY_HEADING} ({'smoke' if args.smoke else 'full'} run, {total:.0f} s; "
          "medians over repeats)\n")
    for line in summary_lines(results):
        print(line)
    broken = [result.name for result in results if result.error is not None]
    if args.json is not None:
        args.json.write_text(json.dumps({
            "machine": where, "smoke": args.smoke, "repeats": args.repeats,
            "seconds": round(total, 1), "results": [result.to_dict() for result in results],
        }, indent=2) + "\n", "utf-8")
        print(f"\nresults saved to {args.json}")
    if broken:
        print(f"\nthe harness broke in: {', '.join(broken)}")
        return 1
    return 0
