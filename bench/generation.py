"""The ``strategies`` comparison: drawing valid group payloads with Hypothesis.

mockseg's ``group_payloads()`` against hypothesis-jsonschema's ``from_schema`` on the published
schema, each drawn by a ``@given`` test that only appends, with every health check on.

hypothesis-jsonschema 0.23.1 (its latest release) calls ``many.more()``, an internal of
Hypothesis that newer Hypothesis releases replaced with an iterator. When ``more`` is missing,
:func:`restore_many_more` adds it back, built on that iterator, and the comparison says so.
"""

from __future__ import annotations

import time
from typing import Any

from bench.harness import Context, Metric, Result, Side, Target, alternate, ratios

__all__ = ["restore_many_more", "run_strategies"]

_DONE = object()


def _more(self: Any) -> bool:
    """``many.more()`` as Hypothesis had it: draw one more element? (for hypothesis-jsonschema)"""
    elements = getattr(self, "_bench_elements", None)
    if elements is None:
        self.__enter__()
        elements = self._bench_elements = iter(self)
    return next(elements, _DONE) is not _DONE


def restore_many_more() -> bool:
    """Give Hypothesis's ``many`` its old ``more()`` if it lacks one; whether it was needed."""
    from hypothesis.internal.conjecture import utils

    if hasattr(utils.many, "more"):
        return False
    utils.many.more = _more  # type: ignore[attr-defined]
    return True


class _Side:
    """One strategy, drawn ``examples`` times per measurement by a ``@given`` test."""

    def __init__(self, label: str, strategy: Any, examples: int) -> None:
        self.label = label
        self.strategy = strategy
        self.examples = examples
        self.health_check: str | None = None
        self.short: list[int] = []
        self.invalid = 0
        self.drawn = 0

    def _draw(self, examples: int, *, checks: bool) -> list[Any]:
        from hypothesis import HealthCheck, given, settings

        drawn: list[Any] = []

        @settings(max_examples=examples, database=None, deadline=None,
                  suppress_health_check=[] if checks else list(HealthCheck))
        @given(self.strategy)
        def collect(payload: Any) -> None:
            drawn.append(payload)

        collect()
        return drawn

    def measure(self) -> float:
        """Seconds for one run of ``examples`` draws.

        A failed health check is remembered and the run repeated without health checks, so
        that a time is still reported.
        """
        from hypothesis.errors import FailedHealthCheck

        from mockseg.validation import validate

        started = time.perf_counter()
        try:
            drawn = self._draw(self.examples, checks=self.health_check is None)
        except FailedHealthCheck as failure:
            self.health_check = str(failure).strip().splitlines()[0]
            started = time.perf_counter()
            drawn = self._draw(self.examples, checks=False)
        seconds = time.perf_counter() - started
        if len(drawn) < self.examples:  # report the time per ``examples`` draws all the same
            self.short.append(len(drawn))
            seconds = seconds * self.examples / max(len(drawn), 1)
        self.drawn += len(drawn)
        self.invalid += sum(1 for payload in drawn
                            if any(v.severity == "error" for v in validate(payload, "group")))
        return seconds

    def warm(self) -> None:
        self._draw(5, checks=False)


def run_strategies(ctx: Context) -> Result:
    """Seconds to draw N valid group payloads: mockseg's strategy vs hypothesis-jsonschema."""
    from hypothesis_jsonschema import from_schema

    from mockseg.schema import load_group_schema
    from mockseg.strategies import group_payloads

    result = Result("strategies", "draw valid group payloads: group_payloads() vs from_schema()")
    examples = ctx.count(full=1_000, smoke=20)
    if restore_many_more():
        result.notes.append("hypothesis-jsonschema needs many.more(), which this Hypothesis "
                            "lacks; bench/generation.py adds it back for the run")
    started = time.perf_counter()
    schema_strategy = from_schema(load_group_schema())
    result.notes.append(f"from_schema() itself took {time.perf_counter() - started:.2f} s "
                        "(not in the figures)")
    ours = _Side("mockseg group_payloads()", group_payloads(), examples)
    theirs = _Side("hypothesis-jsonschema from_schema()", schema_strategy, examples)
    for side in (ours, theirs):
        side.warm()
    result.repeats = ctx.repeats(full=3)
    figures = alternate([(ours.label, ours.measure), (theirs.label, theirs.measure)],
                        result.repeats)
    result.sides = [Side(f"{side.label}, {examples:,} draws", "s", figures[side.label])
                    for side in (ours, theirs)]
    failures: dict[str, list[str]] = {}
    for side in (ours, theirs):
        failed = failures[side.label] = []
        if side.health_check is not None:
            failed.append(f"{side.label} failed a health check: {side.health_check}")
        if side.short:
            failed.append(f"{side.label} drew only {min(side.short)} of {examples} examples "
                          "(its figure is scaled up to all of them)")
        result.notes.append(f"{side.label}: {side.invalid} of {side.drawn:,} payloads drawn "
                            "are invalid by mockseg's validate()")
        result.notes.extend(failed)
    # mockseg's strategy failing a health check fails the target; the baseline's is a note.
    failure = "; ".join(failures[ours.label]) or None
    result.metrics = [Metric("from_schema / group_payloads (speed-up)", "x",
                             ratios(figures[theirs.label], figures[ours.label]),
                             Target(">=", 2.0), failure)]
    return result
