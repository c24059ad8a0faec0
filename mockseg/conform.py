"""``mockseg conform``: check an SDK written in any language against the group contract.

mockseg starts its own server, draws cases (the documented examples, then seeded draws from the
strategies), runs the author's command once per case with the case's values substituted into
its arguments (or as JSON on its stdin), waits for the call to arrive and compares it with what
was asked. Each case gets its own scoped view of the server, so cases can run in parallel. The
cases are built in :mod:`mockseg.conform_cases`; this module runs them, checks what arrived and
reports.

Suites: the default one sends valid calls; ``--invalid`` sends calls that break one rule and
reports what the SDK did with them; ``--retry`` injects 503 and 429 answers and checks that the
SDK retries with the same messageId and loses nothing; ``--stateful N`` runs N sequences of
:mod:`mockseg.stateful`'s delivery machine (calls, valid and invalid, among planned answers from
Segment's retry table), one run of the command a call, and shrinks a failure to its shortest
sequence.

With a tracking plan (``tracking_plan=``), the server checks each call against it too: valid and
retry cases are drawn from the plan (``plan_messages``), and pass only if the call arrived with
no violation; invalid cases keep the plan's values wherever the broken rule is not; the ``plan``
suite sends calls that break one constraint of the plan (``plan_violations``) and notes what the
SDK did with them, which is never a failure: an SDK need not enforce the plan.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO
from xml.etree import ElementTree

from mockseg.assertions import MISSING, compare, describe_violations, value_at
from mockseg.conform_cases import PLACEHOLDERS, Case, build_cases, instant
from mockseg.conform_cases import WRITE_KEY as WRITE_KEY  # re-exported for mockseg.stateful
from mockseg.journal import Record
from mockseg.mocksegment import MockSegment, ScopedMockSegment

if TYPE_CHECKING:
    from mockseg.plans import TrackingPlan

__all__ = ["PLACEHOLDERS", "Case", "Result", "build_cases", "run_command", "run_conformance"]

_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
#: How long to keep listening after the command exits, for late or duplicated calls.
_SETTLE = 0.3


@dataclass
class Result:
    """What happened in one case."""

    case: Case
    passed: bool
    outcome: str  # a short verdict: "ok", "refused before sending", "dropped", ...
    differences: list[tuple[str, Any, Any]] = field(default_factory=list)  # field, got, expected
    detail: str = ""
    seconds: float = 0.0
    #: The arrived call's violations of the tracking plan: type, field, description, sent.
    violations: list[dict[str, Any]] = field(default_factory=list)
    #: Shown in the report although it passed (the plan suite's informational findings).
    note: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.case.suite, "index": self.case.index, "source": self.case.source,
            "passed": self.passed, "outcome": self.outcome, "seconds": round(self.seconds, 3),
            "differences": [{"field": f, "got": _show(g), "expected": _show(e)}
                            for f, g, e in self.differences],
            "violations": self.violations, "detail": self.detail, "values": self.case.values,
        }


def _show(value: Any) -> Any:
    return "<missing>" if value is MISSING else value


# --- running a case ---------------------------------------------------------------------------


def _argv(command: Sequence[str], case: Case, url: str) -> list[str]:
    return [_PLACEHOLDER.sub(lambda m: case.placeholder(m.group(1), url), arg) for arg in command]


def run_command(command: Sequence[str], case: Case, url: str, timeout: float,
                case_file: bool) -> tuple[int | None, str]:
    """Run the command for one case sent to ``url``; its exit code (None on timeout, 127 if it
    cannot run) and output tail."""
    try:
        done = subprocess.run(
            _argv(command, case, url), input=case.as_json(url) if case_file else None,
            capture_output=True, text=True, timeout=timeout, check=False,
            stdin=None if case_file else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, f"the command did not finish within {timeout:g}s"
    except (OSError, ValueError) as exc:
        return 127, f"cannot run the command: {exc}"
    output = (done.stdout + done.stderr).strip()
    return done.returncode, output[-800:]


def _arrivals(view: ScopedMockSegment, wanted: int, timeout: float) -> list[Record]:
    """The group calls that arrived, after waiting for ``wanted`` and a short settle."""
    view.journal.wait(wanted, timeout, view._where({"type": "group"}))
    time.sleep(_SETTLE)
    return view.select(type="group")


def compare_call(case: Case, record: Record) -> list[tuple[str, Any, Any]]:
    """Field-by-field differences between what was asked and what arrived (volatile fields,
    such as sentAt and _metadata, are ignored)."""
    payload = record.payload if isinstance(record.payload, dict) else {}
    expected = case.values
    found: list[tuple[str, Any, Any]] = []
    for name in ("groupId", "userId", "anonymousId"):
        want = expected.get(name) or None
        got = payload.get(name) or None
        if got != want:
            found.append((name, payload.get(name, MISSING), expected.get(name, MISSING)))
    found += compare(payload.get("traits") or {}, expected.get("traits") or {}, "traits",
                     subset=False)
    context = payload.get("context")
    for key, value in (expected.get("context") or {}).items():
        if key != "library":
            got = context.get(key, MISSING) if isinstance(context, dict) else MISSING
            found += compare(got, value, f"context.{key}", subset=False)
    found += compare(payload.get("integrations") or {}, expected.get("integrations") or {},
                     "integrations", subset=True)
    # What a client must add.
    if payload.get("type") != "group":
        found.append(("type", payload.get("type", MISSING), "group"))
    message_id = payload.get("messageId")
    if expected.get("messageId") is not None:
        if message_id != expected["messageId"]:
            found.append(("messageId", message_id, expected["messageId"]))
    elif not isinstance(message_id, str) or not message_id:
        found.append(("messageId", payload.get("messageId", MISSING), "a messageId string"))
    stamp = instant(payload.get("timestamp"))
    if stamp is None:
        found.append(("timestamp", payload.get("timestamp", MISSING), "an ISO 8601 date-time"))
    elif expected.get("timestamp") is not None:
        want = instant(expected["timestamp"])
        if want is None or want.tzinfo is None or stamp.tzinfo is None or \
                abs((stamp - want).total_seconds()) >= 0.001:
            found.append(("timestamp", payload["timestamp"], expected["timestamp"]))
    library = context.get("library") if isinstance(context, dict) else None
    if not (isinstance(library, dict) and isinstance(library.get("name"), str)
            and isinstance(library.get("version"), str)):
        found.append(("context.library", library if library is not None else MISSING,
                      "{name, version} strings"))
    return found


def _violations(call: Record) -> list[dict[str, Any]]:
    """The call's violations of the tracking plan, each with the value the payload has there."""
    return [{**violation.to_dict(), "sent": _show(value_at(call.payload, violation.field))}
            for violation in call.violations]


def _violation_lines(call: Record) -> str:
    """One line per violation: field, description, and the payload's value there."""
    return "\n".join("violation " + line.strip() for line in describe_violations(call))


def _as_asked(case: Case, call: Record, after: str = "") -> Result | None:
    """A failure if the call differs from the case or breaks the tracking plan, else None."""
    differences = compare_call(case, call)
    if not differences and not call.violations:
        return None
    verdict = {(True, False): "differs", (False, True): "off the plan",
               (True, True): "differs and off the plan"}[bool(differences), bool(call.violations)]
    return Result(case, False, verdict + after, differences, detail=_violation_lines(call),
                  violations=_violations(call))


def _check_valid(case: Case, code: int | None, output: str, calls: list[Record]) -> Result:
    if not calls:
        reason = "timed out" if code is None else f"exited {code}"
        return Result(case, False, "nothing arrived", detail=f"the command {reason}: {output}")
    if len(calls) > 1:
        return Result(case, False, f"arrived {len(calls)} times", detail="\n".join(
            f"#{r.id} messageId={r.message_id!r} duplicate_of={r.duplicate_of}" for r in calls))
    [call] = calls
    if call.status != "accepted":
        errors = "; ".join(f"{e.field}: {e.message}" for e in call.errors)
        return Result(case, False, "rejected", compare_call(case, call),
                      detail="\n".join(filter(None, (errors, _violation_lines(call)))),
                      violations=_violations(call))
    failed = _as_asked(case, call)
    if failed is not None:
        return failed
    if code != 0:
        return Result(case, False, f"command exited {code}", detail=output)
    return Result(case, True, "ok")


def _check_invalid(case: Case, code: int | None, output: str, calls: list[Record]) -> Result:
    expected = f"{case.rule_field}: {case.rule_message}"
    if not calls:
        return Result(case, True, "refused before sending", detail=expected)
    if any(call.status == "accepted" for call in calls):
        return Result(case, False, "the fake accepted it", detail=expected)
    if code == 0:
        return Result(case, False, "treated the 400 as success",
                      detail=f"sent it, got 400 ({expected}), and the command exited 0")
    return Result(case, True, "sent it and got the 400", detail=expected)


def _check_retry(case: Case, code: int | None, output: str, calls: list[Record]) -> Result:
    accepted = [call for call in calls if call.status == "accepted"]
    if len(calls) <= 1:
        return Result(case, False, "did not retry",
                      detail=f"{len(calls)} attempt(s) after a 503; nothing accepted")
    ids = {call.message_id for call in calls}
    if len(ids) > 1:
        return Result(case, False, "new messageId on retry",
                      detail="attempts carried messageIds " + ", ".join(map(repr, sorted(
                          map(str, ids)))))
    if not accepted:
        return Result(case, False, "lost", detail=f"{len(calls)} attempts, none accepted")
    if len(accepted) > 1:
        return Result(case, False, f"accepted {len(accepted)} times")
    failed = _as_asked(case, accepted[0], " after retry")
    if failed is not None:
        return failed
    return Result(case, True, f"ok after {len(calls) - 1} retries")


#: What the plan suite expects of an SDK that is not the plan's enforcer.
SENT_AS_ASKED = "sent it; violation recorded"


def _check_off_plan(case: Case, code: int | None, output: str, calls: list[Record]) -> Result:
    """Informational: what the SDK did with a call off the plan (an SDK need not enforce it)."""
    expected = f"expected {case.rule_field}: {case.rule_message}"
    if not calls:
        return Result(case, True, "refused before sending", detail=expected)
    if len(calls) > 1 or calls[0].status != "accepted":
        return Result(case, True, f"arrived {len(calls)} times" if len(calls) > 1 else "rejected",
                      detail=expected, note=True)
    [call] = calls
    recorded = [(re.sub(r"^batch\[\d+\]\.", "", v.field), v.description) for v in call.violations]
    differences = compare_call(case, call)
    if not differences and recorded == [(case.rule_field, case.rule_message)]:
        return Result(case, True, SENT_AS_ASKED, violations=_violations(call))
    return Result(case, True, "sent it changed" if differences else "other violations recorded",
                  differences, detail="\n".join(filter(None, (expected, _violation_lines(call)))),
                  violations=_violations(call), note=True)


_CHECKS: dict[str, Callable[[Case, int | None, str, list[Record]], Result]] = {
    "valid": _check_valid, "invalid": _check_invalid, "retry": _check_retry,
    "plan": _check_off_plan}


def run_case(server: MockSegment, command: Sequence[str], case: Case, timeout: float,
             case_file: bool) -> Result:
    """Run one case in its own scope and judge it."""
    started = time.monotonic()
    with server.scoped() as view:
        if case.suite == "retry":
            view.fail_next(1, status=503)
            view.fail_next(1, status=429, retry_after=1)
        code, output = run_command(command, case, view.url, timeout, case_file)
        wanted = 3 if case.suite == "retry" else 1
        calls = _arrivals(view, wanted, 0.5 if code is not None else 0)
        result = _CHECKS[case.suite](case, code, output, calls)
    result.seconds = time.monotonic() - started
    return result


# --- reporting --------------------------------------------------------------------------------


def _progress(out: TextIO, done: int, total: int, failed: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
              + (f"  {failed} failed" if failed else ""))
    if done == total:
        out.write("\n")
    out.flush()


def _describe(result: Result, seed: int) -> str:
    case = result.case
    lines = [f"{'NOTE' if result.passed else 'FAIL'} {case.suite} case {case.index} "
             f"({case.source}; --seed {seed}): {result.outcome}"]
    for name, got, expected in result.differences:
        lines.append(f"    {name}: expected {expected!r}, got {got!r}")
    if result.detail:
        shown = 40 if case.suite == "stateful" else 12  # the steps of a shrunk sequence
        lines += [f"    {line}" for line in result.detail.splitlines()[:shown]]
    if case.values:
        lines.append(f"    values: {json.dumps(case.values, ensure_ascii=False)[:300]}")
    return "\n".join(lines)


def summary_table(results: Sequence[Result]) -> str:
    rows = [("suite", "cases", "passed", "failed", "outcomes")]
    for suite in dict.fromkeys(r.case.suite for r in results):
        mine = [r for r in results if r.case.suite == suite]
        outcomes: dict[str, int] = {}
        for r in mine:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        rows.append((suite, str(len(mine)), str(sum(r.passed for r in mine)),
                     str(sum(not r.passed for r in mine)),
                     ", ".join(f"{k} x{v}" for k, v in outcomes.items())))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip() for row in rows)


def write_junit(results: Sequence[Result], path: str, seed: int) -> None:
    suites = ElementTree.Element("testsuites", name="mockseg conform")
    for suite in dict.fromkeys(r.case.suite for r in results):
        mine = [r for r in results if r.case.suite == suite]
        element = ElementTree.SubElement(
            suites, "testsuite", name=f"conform.{suite}", tests=str(len(mine)),
            failures=str(sum(not r.passed for r in mine)),
            time=f"{sum(r.seconds for r in mine):.3f}")
        for result in mine:
            case = ElementTree.SubElement(
                element, "testcase", classname=f"conform.{suite}",
                name=f"case {result.case.index}: {result.case.source}",
                time=f"{result.seconds:.3f}")
            if not result.passed:
                failure = ElementTree.SubElement(case, "failure", message=result.outcome)
                failure.text = _describe(result, seed)
    ElementTree.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def run_conformance(
    command: Sequence[str],
    *,
    suites: Iterable[str] = ("valid",),
    cases: int = 20,
    seed: int = 0,
    jobs: int = 1,
    timeout: float = 10.0,
    case_file: bool = False,
    junit_xml: str | None = None,
    json_path: str | None = None,
    stateful: int = 0,
    tracking_plan: TrackingPlan | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run the suites against ``command``; print the report; 0 only when every case passed.

    ``stateful``: also run that many sequences of the delivery machine, one after another
    (``jobs`` does not apply), each command run allowed twice ``timeout``. ``tracking_plan``:
    check each call against it too, and draw the cases from it (see :func:`build_cases`);
    the ``"plan"`` suite needs it.
    """
    from hypothesis.errors import InvalidArgument

    if "plan" in suites and tracking_plan is None:
        err.write("mockseg conform: the plan suite needs a tracking plan\n")
        return 2
    try:
        queue = [case for suite in suites
                 for case in build_cases(suite, cases, seed, tracking_plan)]
    except InvalidArgument as exc:  # a plan the strategies cannot draw from
        err.write(f"mockseg conform: {exc}\n")
        return 2
    if not queue and stateful <= 0:
        err.write("mockseg conform: no cases to run\n")
        return 2
    total = len(queue) + max(stateful, 0)
    results: list[Result] = []

    def done(result: Result) -> None:
        results.append(result)
        _progress(err, len(results), total, sum(not r.passed for r in results))

    with MockSegment(mode="strict", write_keys=[WRITE_KEY],
                     tracking_plan=tracking_plan) as server:
        what = [f"{len(queue)} case(s)"] * bool(queue)
        what += [f"{stateful} stateful sequence(s)"] * (stateful > 0)
        against = f", tracking plan {tracking_plan.source}" if tracking_plan else ""
        out.write(f"mockseg conform: {' and '.join(what)}, seed {seed}{against}, "
                  f"server {server.url}\n")
        out.flush()
        _progress(err, 0, total, 0)
        with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
            pending = [pool.submit(run_case, server, command, case,
                                   timeout * (2 if case.suite == "retry" else 1), case_file)
                       for case in queue]
            for future in pending:
                done(future.result())
        if stateful > 0:
            from mockseg.stateful._sequences import run_sequences

            before = len(results)
            ran = run_sequences(server, command, stateful, seed=seed, timeout=timeout * 2,
                                case_file=case_file, progress=done)
            results[before:] = ran  # the failure, shrunk, in place of its first sighting
            if len(results) < total:
                err.write("  (stopped at the first failing sequence)\n")
    for result in results:
        if not result.passed or result.note:
            out.write(_describe(result, seed) + "\n")
    out.write("\n" + summary_table(results) + "\n")
    failed = sum(not r.passed for r in results)
    out.write(f"\n{len(results) - failed} passed, {failed} failed\n")
    if junit_xml:
        write_junit(results, junit_xml, seed)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump({"seed": seed, "command": list(command),
                       "tracking_plan": tracking_plan.source if tracking_plan else None,
                       "results": [r.to_dict() for r in results]}, handle, indent=2,
                      ensure_ascii=False, default=str)
    return 0 if failed == 0 else 1
