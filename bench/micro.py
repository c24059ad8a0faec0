"""In-process comparisons: ``validate`` (per-message cost) and ``memory`` (journal bytes)."""

from __future__ import annotations

import gc
import io
import json
import re
import time
import timeit
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Context, Metric, Result, Side, Target, alternate, ratios
from bench.payloads import auth_header, b2b_body, b2b_bytes

__all__ = ["run_memory", "run_validate"]

_ROOT = Path(__file__).resolve().parent.parent


def _calibrated(timer: timeit.Timer, seconds: float) -> int:
    """The loop count that makes one measurement last at least ``seconds``."""
    number = 1
    while True:
        if timer.timeit(number) >= seconds:
            return number
        number *= 2


def _per_op(timer: timeit.Timer, number: int) -> Callable[[], float]:
    def measure() -> float:
        return timer.timeit(number) / number * 1e6

    return measure


def run_validate(ctx: Context) -> Result:
    """``validate()`` of the B2B example vs ``json.loads`` of its bytes vs jsonschema."""
    import jsonschema

    from mockseg.schema import load_group_schema
    from mockseg.validation import validate

    result = Result("validate", "validate() of the B2B example vs json.loads vs jsonschema")
    body, data = b2b_body(), b2b_bytes()
    validator = jsonschema.Draft202012Validator(load_group_schema())
    violations = validate(body)
    if any(v.severity == "error" for v in violations):
        raise RuntimeError(f"validate() rejects the B2B example: {violations}")
    if violations:
        result.notes.append(f"validate() reports {len(violations)} warning(s) for the example")
    if list(validator.iter_errors(body)):
        raise RuntimeError("the published schema rejects the B2B example")
    if json.loads(data) != body:
        raise RuntimeError("the example's bytes do not decode to its body")
    names = {"validate": validate, "loads": json.loads, "body": body, "data": data,
             "validator": validator}
    statements = [
        ("mockseg validate()", "validate(body)"),
        ("json.loads(bytes)", "loads(data)"),
        ("jsonschema iter_errors", "list(validator.iter_errors(body))"),
    ]
    seconds = ctx.count(full=0.2, smoke=0.005)
    sides = []
    for label, statement in statements:
        timer = timeit.Timer(statement, globals=names)
        number = _calibrated(timer, seconds)
        result.notes.append(f"{label}: {number:,} loops per measurement")
        sides.append((label, _per_op(timer, number)))
    result.repeats = ctx.repeats(full=7)
    figures = alternate(sides, result.repeats)
    ours, loads, schema = (figures[label] for label, _ in statements)
    result.sides = [Side(label, "us/op", figures[label]) for label, _ in statements]
    result.metrics = [
        Metric("validate / json.loads", "x", ratios(ours, loads), Target("<=", 2.0)),
        Metric("jsonschema / validate (speed-up)", "x", ratios(schema, ours), Target(">=", 20)),
    ]
    return result


# --- memory -----------------------------------------------------------------------------------


def _fresh(text: str) -> str:
    """A new string object equal to ``text``: a server parses every request's headers anew."""
    return text.encode("utf-8").decode("utf-8")


def _environ_factory(data: bytes) -> Callable[[], dict[str, Any]]:
    """Environs of ``POST /v1/group`` with ``data``, as werkzeug's server would build them."""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path="/v1/group", method="POST", data=data, content_type="application/json",
        headers=[("Authorization", auth_header()), ("User-Agent", "analytics-python/2.4.0")],
    )
    try:
        template = builder.get_environ()
    finally:
        builder.close()
    text_keys = [key for key, value in template.items()
                 if isinstance(value, str) and (key.startswith("HTTP_") or key.startswith(
                     "CONTENT_"))]

    def make() -> dict[str, Any]:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(data)
        for key in text_keys:
            environ[key] = _fresh(template[key])
        return environ

    return make


def run_memory(ctx: Context) -> Result:
    """Bytes the journal holds per recorded B2B call, against the call's JSON text."""
    from mockseg import MockSegment

    result = Result("memory", "journal bytes per recorded B2B call (tracemalloc)")
    calls = ctx.count(full=100_000, smoke=1_000)
    data = b2b_bytes()
    result.repeats = ctx.repeats(full=1, smoke=1)
    per_record: list[float] = []
    for _ in range(result.repeats):
        size, seconds, top = _record_and_measure(MockSegment, data, calls)
        per_record.append(size / calls)
        result.notes.append(f"{calls:,} calls recorded in {seconds:.1f} s under tracemalloc")
        result.notes.extend(top)
        gc.collect()
    result.sides = [Side("journal bytes per record", "B", per_record),
                    Side("JSON text of the call", "B", [float(len(data))] * len(per_record))]
    result.metrics = [Metric("bytes per record / JSON length", "x",
                             [value / len(data) for value in per_record], Target("<=", 3.0))]
    return result


def _short(path: str) -> str:
    """A source path without the prefix that says only where Python is installed."""
    for marker in ("/site-packages/", f"{_ROOT}/"):
        if marker in path:
            return path.split(marker, 1)[1]
    match = re.search(r"/lib/python3\.\d+/(.*)$", path)
    return f"<stdlib>/{match[1]}" if match else path


def _record_and_measure(factory: Any, data: bytes, calls: int) -> tuple[int, float, list[str]]:
    """Post ``calls`` copies of ``data`` through a fresh fake's app; the retained bytes."""
    fake = factory()
    app = fake.app
    make_environ = _environ_factory(data)
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    b"".join(app(make_environ(), start_response))  # warm werkzeug's and mockseg's caches
    fake.reset()
    statuses.clear()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        started = time.perf_counter()
        for _ in range(calls):
            b"".join(app(make_environ(), start_response))
        seconds = time.perf_counter() - started
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    accepted = fake.stats.get("accepted")
    if len(fake.journal) != calls or accepted != calls or set(statuses) != {"200 OK"}:
        raise RuntimeError(f"expected {calls} accepted records; the journal holds "
                           f"{len(fake.journal)} ({accepted} accepted), statuses {set(statuses)}")
    differences = after.compare_to(before, "filename")
    total = sum(difference.size_diff for difference in differences)
    top = [f"  {difference.size_diff / calls:8.0f} B/record  "
           f"{difference.count_diff / calls:5.1f} blocks/record  "
           f"{_short(difference.traceback[0].filename)}"
           for difference in differences[:6]]
    del fake, app, before, after, differences
    return total, seconds, ["where the bytes are (tracemalloc, by file):", *top]
