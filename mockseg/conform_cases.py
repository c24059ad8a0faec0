"""The cases of ``mockseg conform``: the values each suite asks an SDK to send, and what should
happen to them.

A suite's cases are the documented examples first (the golden cases in ``fixtures/``), then
seeded draws from :mod:`mockseg.strategies`: the same seed, with the same Hypothesis, gives the
same cases. Only what a command line can carry is kept: ids and the timestamp as strings
without NUL, traits, context and integrations as JSON. With a tracking plan, valid and retry
cases stay on the plan, invalid cases take the plan's values wherever the rule they break is
not, and the ``plan`` suite breaks one constraint of the plan in each case.

Hypothesis and the strategies are imported when cases are built, not with this module, so that
importing :mod:`mockseg.conform` stays cheap.
"""

from __future__ import annotations

import json
import re
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mockseg.rules import is_date_time
from mockseg.validation import validate

if TYPE_CHECKING:
    from mockseg.plans import PlanViolation, TrackingPlan

__all__ = ["PLACEHOLDERS", "WRITE_KEY", "Case", "build_cases", "instant"]

WRITE_KEY = "conform-write-key"
#: Placeholders an argument may hold; a case with no value for one substitutes "".
PLACEHOLDERS = ("url", "writeKey", "userId", "anonymousId", "groupId", "traits", "context",
                "integrations", "timestamp", "messageId")
_JSON_FIELDS = ("traits", "context", "integrations")
#: Rules an SDK's command line can express (string ids, JSON traits/context/integrations).
_INVALID_RULES = ("1", "3", "4", "5", "7", "8", "9", "10", "11", "12", "13", "14", "15")
_EXPRESSIBLE = {"groupId", "userId", "anonymousId", "timestamp", "messageId", *_JSON_FIELDS}


@dataclass
class Case:
    """One conformance case: the values the SDK is asked to send, and what should happen."""

    suite: str  # "valid", "invalid", "retry" or "plan"
    index: int
    source: str  # "fixture valid/b2b-company-association", "seed 42 #3", "plan seed 42 #3"
    values: dict[str, Any]
    rule_field: str | None = None  # invalid, plan: the field the contract or the plan rejects...
    rule_message: str | None = None  # ...and its message (the plan's violation description)
    write_key: str = WRITE_KEY

    def placeholder(self, name: str, url: str) -> str:
        if name == "url":
            return url
        if name == "writeKey":
            return self.write_key
        value = self.values.get(name)
        if value is None:
            return ""
        if name in _JSON_FIELDS:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return str(value)

    def as_json(self, url: str) -> str:
        return json.dumps({"url": url, "writeKey": self.write_key, **self.values},
                          ensure_ascii=False)



def _draw(strategy: Any, count: int, seed: int) -> list[Any]:
    """``count`` examples from a strategy, the same for the same seed (and Hypothesis)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed
    from hypothesis.errors import Unsatisfiable

    drawn: list[Any] = []
    if count <= 0:
        return drawn

    @with_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example: Any) -> None:
        drawn.append(example)

    with suppress(Unsatisfiable):  # a plan whose messages are hard to draw: fewer cases
        collect()
    return drawn[:count]


def _values_of_message(message: dict[str, Any]) -> dict[str, Any]:
    return {name: message.get(name) for name in PLACEHOLDERS[2:] if message.get(name) is not None}


def _values_of_call(call: dict[str, Any]) -> dict[str, Any]:
    values = {
        "userId": call["user_id"], "anonymousId": call["anonymous_id"],
        "groupId": call["group_id"], "traits": call["traits"], "context": call["context"],
        "integrations": call["integrations"], "messageId": call["message_id"],
        "timestamp": call["timestamp"].isoformat() if call["timestamp"] else None,
    }
    return {name: (str(value) if name.endswith("Id") else value)
            for name, value in values.items() if value not in (None, "")}


def build_cases(suite: str, count: int, seed: int,
                plan: TrackingPlan | None = None) -> list[Case]:
    """The cases of a suite: documented examples first, then seeded draws (``count`` in all).

    With a tracking ``plan``, valid and retry cases follow it as well as the contract (the
    documented examples that do not are left out; the draws come from ``plan_messages``), and
    invalid cases carry the plan's values wherever the rule they break is not. The ``plan``
    suite (which needs a plan) breaks one constraint of the plan in each case.
    """
    if suite == "invalid":
        cases = _invalid_cases(count, seed, plan)
    elif suite == "plan":
        if plan is None:
            raise ValueError("the plan suite needs a tracking plan")
        cases = _off_plan_cases(count, seed, plan)
    else:
        cases = _valid_cases(suite, count, seed, plan)
    for index, case in enumerate(cases, 1):
        case.index = index
    return cases


def _invalid_cases(count: int, seed: int, plan: TrackingPlan | None) -> list[Case]:
    from mockseg import strategies
    from mockseg.golden import load_cases

    cases: list[Case] = []
    for golden in load_cases("invalid"):
        body = golden.body
        if (golden.path == "/v1/group" and isinstance(body, dict) and "field" in golden.expect
                and golden.expect["field"].split(".")[0] in _EXPRESSIBLE
                and _expressible(body)):
            cases.append(Case("invalid", 0, f"fixture {golden.name}", _values_of_message(body),
                              golden.expect["field"], golden.expect["message"]))
    drawn = _draw(strategies.invalid_group_payloads(rules=_INVALID_RULES), count * 3, seed)
    for n, invalid in enumerate(drawn):
        if invalid.field.split(".")[0] in _EXPRESSIBLE and _expressible(invalid.payload):
            cases.append(Case("invalid", 0, f"seed {seed} #{n}",
                              _values_of_message(invalid.payload), invalid.field,
                              invalid.message))
    cases = _spread(cases, count)
    if plan is not None:
        bases = _planned(plan, len(cases), seed)
        cases = [_onto(case, bases[n % len(bases)]) if bases else case
                 for n, case in enumerate(cases)]
    return cases


def _valid_cases(suite: str, count: int, seed: int, plan: TrackingPlan | None) -> list[Case]:
    from mockseg import strategies
    from mockseg.golden import load_cases

    cases: list[Case] = []
    if suite == "valid":
        for golden in load_cases("valid"):
            body = golden.body
            if golden.path == "/v1/group" and isinstance(body, dict) and _identified(body) \
                    and _expressible(body) \
                    and (plan is None or not _off_plan(plan, _values_of_message(body))):
                cases.append(Case(suite, 0, f"fixture {golden.name}", _values_of_message(body)))
        cases = cases[: max(count // 2, 1)]
    wanted = max(count - len(cases), 0)
    if plan is not None:
        cases += [Case(suite, 0, f"plan seed {seed} #{n}", values)
                  for n, values in enumerate(_planned(plan, wanted, seed))]
    else:
        calls = _draw(strategies.group_calls(), wanted * 2, seed)
        cases += [Case(suite, 0, f"seed {seed} #{n}", _values_of_call(call))
                  for n, call in enumerate(calls) if _expressible(_values_of_call(call))]
    return cases[:count]


def _off_plan_cases(count: int, seed: int, plan: TrackingPlan) -> list[Case]:
    """Calls that break one constraint of the plan that a command line can break."""
    from mockseg import strategies

    cases: list[Case] = []
    for n, broken in enumerate(_draw(strategies.plan_violations(plan, "group"), count * 3,
                                     seed)):
        if broken.field in _JSON_FIELDS:
            continue  # the SDK sends these objects whatever it is given (and its own library)
        values = _plan_values(broken.payload)
        if values is not None and [(v.field, v.description) for v in _off_plan(
                plan, values)] == [(broken.field, broken.message)]:
            cases.append(Case("plan", 0, f"plan seed {seed} #{n}", values, broken.field,
                              broken.message))
    return _spread(cases, count)


def _identified(message: dict[str, Any]) -> bool:
    """Whether the message has a groupId and a userId or anonymousId (not empty)."""
    return bool(message.get("groupId")) and bool(message.get("userId")
                                                 or message.get("anonymousId"))


def _off_plan(plan: TrackingPlan, values: dict[str, Any]) -> list[PlanViolation]:
    """The plan's violations by the call an SDK makes of a case's values: traits and context
    sent, ``{}`` for none, and ``context.library`` left to the SDK, which adds its own."""
    sent = {"type": "group", "traits": {}, "context": {}, **values}
    return [violation for violation in plan.check(sent, "group")
            if violation.path[:2] != ("context", "library")]


def _planned(plan: TrackingPlan, count: int, seed: int) -> list[dict[str, Any]]:
    """The values of up to ``count`` messages drawn from the plan that stay on it as an SDK
    sends them (a plan that leaves traits out is drawn without them, and an SDK sends ``{}``)."""
    from mockseg import strategies

    return _draw(strategies.plan_messages(plan, "group").map(_plan_values).filter(
        lambda values: values is not None and not _off_plan(plan, values)), count, seed)


def _plan_values(message: dict[str, Any]) -> dict[str, Any] | None:
    """A drawn message's values as a command line carries them: no empty ids, the timestamp in
    UTC to the millisecond (left out where a date type cannot hold it: a leap second); None if
    it cannot be carried."""
    values = {name: value for name, value in _values_of_message(message).items()
              if value != "" or name not in ("userId", "anonymousId", "messageId")}
    if "timestamp" in values:
        stamp = instant(values.pop("timestamp"))
        try:
            if stamp is not None and stamp.tzinfo is not None:
                values["timestamp"] = stamp.astimezone(UTC).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z")
        except OverflowError:  # an instant before year 1 or after 9999 in UTC
            pass
    return values if _identified(values) and _expressible(values) else None


def _onto(case: Case, planned: dict[str, Any]) -> Case:
    """An invalid case with the plan's values wherever the rule it breaks is not; unchanged if
    that would change the contract's first error."""
    root = re.split(r"[.\[]", case.rule_field or "")[0]
    own = ("userId", "anonymousId") if root in ("userId", "anonymousId") else (root,)
    values = {name: value for name, value in planned.items() if name not in own}
    values.update({name: case.values[name] for name in own if name in case.values})
    errors = [e for e in validate({"type": "group", **values}, "group") if e.severity == "error"]
    if not errors or (errors[0].field, errors[0].message) != (case.rule_field, case.rule_message):
        return case
    return replace(case, values=values, source=f"{case.source} on the plan")


def _expressible(message: dict[str, Any]) -> bool:
    """Whether a command line can carry the message: ids and timestamp as strings without NUL
    (an argument cannot hold one)."""
    return all(value is None or (isinstance(value, str) and "\x00" not in value)
               for value in (message.get(name) for name in ("userId", "anonymousId", "groupId",
                                                            "timestamp", "messageId")))


def _spread(cases: list[Case], count: int) -> list[Case]:
    """Up to ``count`` cases, taking the distinct rule messages first."""
    first: dict[str | None, Case] = {}
    for case in cases:
        first.setdefault(case.rule_message, case)
    rest = [case for case in cases if first[case.rule_message] is not case]
    return (list(first.values()) + rest)[:count]


def instant(text: Any) -> datetime | None:
    """The instant a contract date-time string names; None if it does not name one."""
    if not is_date_time(text):
        return None
    value = str(text).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
