"""The harness's own parts: results, alternation, statistics, the printed tables, the machine.

A comparison measures two or more *sides* once per repeat, in turn (A, B, A, B, ...), so that
drift of the machine hits every side alike. Each repeat yields one figure per side; a *metric*
is computed per repeat from those figures (a ratio, or a value such as ms) and summarised as
its minimum, median and maximum over the repeats. Metrics with a target get PASS or FAIL.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal, TypeVar

__all__ = [
    "Context",
    "Metric",
    "Result",
    "Side",
    "Target",
    "alternate",
    "clean_env",
    "machine",
    "print_result",
    "python",
    "ratios",
    "summary_lines",
]

#: Packages whose versions the results record.
PACKAGES = (
    "mockseg", "werkzeug", "pytest", "pytest-httpserver", "hypothesis",
    "hypothesis-jsonschema", "jsonschema", "requests", "urllib3", "segment-analytics-python",
)
SUMMARY_HEADING = "Summary"
N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Target:
    """A bound a metric's median must meet: ``<= 2.0`` or ``>= 20``."""

    op: Literal["<=", ">="]
    bound: float

    def met(self, value: float) -> bool:
        return value <= self.bound if self.op == "<=" else value >= self.bound

    def __str__(self) -> str:
        return f"{self.op} {_number(self.bound)}"


@dataclass
class Side:
    """One side's figure in each repeat, e.g. mockseg's requests/s."""

    label: str
    unit: str
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)


@dataclass
class Metric:
    """A figure per repeat derived from the sides (a ratio, or a value), maybe with a target.

    ``failure`` says why a target fails whatever the number (a side failed a health check).
    """

    label: str
    unit: str
    values: list[float]
    target: Target | None = None
    failure: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        if self.failure is not None or not self.values:
            return "FAIL"
        return "PASS" if self.target.met(self.median) else "FAIL"

    def spread(self) -> str:
        """``median (min .. max)`` with the unit."""
        if not self.values:
            return "-"
        low, high = min(self.values), max(self.values)
        return f"{_number(self.median)}{self.unit} ({_number(low)} .. {_number(high)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "unit": self.unit, "values": self.values,
            "min": min(self.values, default=None), "median": _median(self.values),
            "max": max(self.values, default=None),
            "target": str(self.target) if self.target else None,
            "verdict": self.verdict, "failure": self.failure,
        }


@dataclass
class Result:
    """What one comparison measured, or the error that stopped it."""

    name: str
    title: str
    repeats: int = 0
    sides: list[Side] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "repeats": self.repeats,
            "seconds": round(self.seconds, 2),
            "sides": [{"label": s.label, "unit": s.unit, "values": s.values,
                       "median": _median(s.values)} for s in self.sides],
            "metrics": [m.to_dict() for m in self.metrics],
            "notes": self.notes, "error": self.error,
        }


@dataclass
class Context:
    """The run's settings, as each comparison sees them."""

    smoke: bool
    repeats_override: int | None = None
    log: Callable[[str], None] = print

    def repeats(self, full: int, smoke: int = 2) -> int:
        """``--repeats`` if given, else this comparison's default for the mode."""
        if self.repeats_override is not None:
            return self.repeats_override
        return smoke if self.smoke else full

    def count(self, full: N, smoke: N) -> N:
        """Iterations, messages or tests per measurement for the mode."""
        return smoke if self.smoke else full


def alternate(
    sides: Sequence[tuple[str, Callable[[], float]]], repeats: int
) -> dict[str, list[float]]:
    """Measure every side once per repeat, in turn: A, B, A, B, ...; figures per side."""
    figures: dict[str, list[float]] = {name: [] for name, _ in sides}
    for _ in range(repeats):
        for name, measure in sides:
            figures[name].append(measure())
    return figures


def ratios(top: Sequence[float], bottom: Sequence[float]) -> list[float]:
    """``top[i] / bottom[i]`` for each repeat."""
    return [a / b if b else float("inf") for a, b in zip(top, bottom, strict=True)]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _number(value: float) -> str:
    """A figure with about three significant digits."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def print_result(result: Result, log: Callable[[str], None] = print) -> None:
    """The comparison's block: each side's median figure, then each metric's spread."""
    if result.error is not None:
        log(f"  ERROR: {result.error}")
        return
    log(f"  {result.repeats} repeat(s), {result.seconds:.1f} s")
    width = max([len(s.label) for s in result.sides] + [len(m.label) for m in result.metrics]
                + [10])
    for side in result.sides:
        log(f"  {side.label:<{width}}  median {_number(side.median):>9} {side.unit}")
    for metric in result.metrics:
        target = f"target {metric.target}" if metric.target else ""
        low = _number(min(metric.values)) if metric.values else "-"
        mid = _number(metric.median) if metric.values else "-"
        high = _number(max(metric.values)) if metric.values else "-"
        log(f"  {metric.label:<{width}}  min {low:>8}  median {mid:>8}  max {high:>8}"
            f" {metric.unit:<3} {target:<14} {metric.verdict}")
        if metric.failure:
            log(f"  {'':<{width}}  ({metric.failure})")
    for note in result.notes:
        log(f"  note: {note}")


def summary_lines(results: Sequence[Result]) -> list[str]:
    """The closing table, as Markdown: one row per metric (targets first in each comparison)."""
    rows = [("comparison", "metric", "median (min .. max)", "target", "verdict")]
    for result in results:
        if result.error is not None:
            rows.append((result.name, "-", "-", "-", "ERROR"))
            continue
        ordered = sorted(result.metrics, key=lambda metric: metric.target is None)
        for metric in ordered:
            rows.append((result.name, metric.label, metric.spread(),
                         str(metric.target) if metric.target else "-", metric.verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """Where and when the numbers were taken, and with which package versions."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "system": platform.system(),
        "load": [round(load, 2) for load in os.getloadavg()] if hasattr(os, "getloadavg")
        else None,
        "packages": versions,
    }


def clean_env() -> dict[str, str]:
    """The environment for child pytest runs: without the parent pytest's own variables."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("PYTEST_", "HYPOTHESIS_"))}


def python() -> str:
    """The interpreter the harness runs on; its children use it too."""
    return sys.executable
