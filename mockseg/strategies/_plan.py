"""Messages drawn from a tracking plan: valid under both contracts, or breaking one constraint.

The plan's part of a message (``traits``, ``properties``, ``context``, whatever its rules name
at the top level) is drawn by hypothesis-jsonschema from the rule and COMMON schemas; the rest
(ids, timestamps, SDK fields) comes from mockseg's own strategies for Segment's contract. Where
the two disagree (a trait the plan leaves free but Segment types, say), the offending value is
removed, and a draw that still breaks either contract is discarded.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis_jsonschema import from_schema
from jsonschema import Draft7Validator

from mockseg.jsoncodec import dumps
from mockseg.plans import (
    PlanRule,
    PlanSource,
    PlanViolation,
    TrackingPlan,
    TrackingPlanError,
    describe,
    format_field,
    load_plan,
)
from mockseg.plans._constraints import (
    BREAKABLE_VIOLATIONS,
    Constraint,
    breakable,
    constraints_in,
)
from mockseg.plans._schemas import closed, merge
from mockseg.plans._violations import canonical
from mockseg.rules import MESSAGE_TYPES
from mockseg.strategies._invalid import InvalidCase
from mockseg.strategies._valid import batches, group_payloads
from mockseg.validation import validate

__all__ = ["BREAKABLE_VIOLATIONS", "plan_messages", "plan_violations"]

Draw = st.DrawFn
Strategy = st.SearchStrategy
Path = tuple[str | int, ...]
_MAX_BODY: Final = 32_768
_FORMATS: Final = Draft7Validator.FORMAT_CHECKER
#: Fields whose removal would leave no valid message: a conflict there discards the draw.
_IDENTITY: Final = frozenset({"type", "groupId", "userId", "anonymousId", "event",
                              "previousId"})


# --- hypothesis-jsonschema on current Hypothesis ---------------------------------------------

_DONE: Final = object()


def _more(self: Any) -> bool:
    """``many.more()`` as Hypothesis had it ("draw one more element?"), on today's iterator."""
    elements = self.__dict__.get("_mockseg_elements")
    if elements is None:
        self.__enter__()
        elements = self.__dict__["_mockseg_elements"] = iter(self)
    if next(elements, _DONE) is _DONE:
        self.__exit__(None)
        return False
    return True


def _restore_many_more() -> None:
    """hypothesis-jsonschema 0.23.1 (its latest release, and its main branch) draws objects with
    ``many.more()``, an internal Hypothesis has replaced with an iterator: give it back."""
    from hypothesis.internal.conjecture import utils

    if not hasattr(utils.many, "more"):
        utils.many.more = _more  # type: ignore[attr-defined]


# --- arguments ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Target:
    """What one kind of message is checked against: its rule (if any) and COMMON."""

    kind: str
    rule: PlanRule | None
    common: PlanRule | None
    fixed: tuple[tuple[str, str], ...]  # ("event", "Order Completed"), ("name", ...)
    version: int | None  # for context.protocols.event_version; None: may be left out


def _check_plan(plan: PlanSource | TrackingPlan) -> TrackingPlan:
    try:
        return plan if isinstance(plan, TrackingPlan) else load_plan(plan)
    except TrackingPlanError as exc:
        raise InvalidArgument(f"cannot use the tracking plan: {exc}") from None


def _targets(plan: TrackingPlan, kind: object, event: object) -> tuple[_Target, ...]:
    if kind not in MESSAGE_TYPES:
        raise InvalidArgument(f"type must be one of {', '.join(MESSAGE_TYPES)}, not {kind!r}")
    if event is not None and (kind != "track" or not isinstance(event, str)):
        raise InvalidArgument(f"event= is a track event's name (a string), for type='track' "
                              f"only; got {event!r} for type={kind!r}")
    assert isinstance(kind, str)
    rule_type = {"track": "TRACK", "page": "PAGE", "screen": "SCREEN", "group": "GROUP",
                 "identify": "IDENTIFY"}.get(kind)
    if kind == "track":
        events = plan.events if event is None else (event,)
        if not events:
            raise InvalidArgument("the plan has no TRACK rule: pass event= to draw an event")
        if event is not None and event not in plan.events:
            raise InvalidArgument(f"event {event!r} is not in the plan; it names "
                                  f"{', '.join(map(repr, plan.events))}")
        keys: list[str | None] = list(events)
    elif kind in ("page", "screen"):
        keys = [rule.key for rule in plan.rules if rule.type == rule_type] or [None]
    else:
        keys = [None]
    targets = []
    for key in dict.fromkeys(keys):
        versions = plan.versions(rule_type, key) if rule_type else ()
        for rule in versions or (None,):
            stub: dict[str, Any] = {"type": kind}
            fixed = (("event" if kind == "track" else "name", key),) if key is not None else ()
            stub.update(fixed)
            version = None if rule is None or rule is versions[0] else rule.version
            if version is not None:
                stub["context"] = {"protocols": {"event_version": version}}
            _, common = plan.rules_for(stub, kind)
            targets.append(_Target(kind, rule, common, fixed, version))
    return tuple(targets)


# --- valid messages -------------------------------------------------------------------------


def _schemas(target: _Target) -> list[Any]:
    return [rule.schema for rule in (target.rule, target.common) if rule is not None]


@cache
def _plan_part(rule: PlanRule | None, common: PlanRule | None,
               version: int | None) -> Strategy[Any]:
    """The plan's part of a message: its rules' schemas, and ``event_version`` if given."""
    schemas = [applied.schema for applied in (rule, common) if applied is not None]
    if version is not None:
        schemas.append(_versioned(version))
    try:
        return from_schema(closed(functools.reduce(merge, schemas, {"type": "object"})))
    except Exception as exc:  # hypothesis-jsonschema cannot draw from this schema
        raise InvalidArgument(f"cannot draw from the plan's schemas: {exc}") from None


def _versioned(version: int) -> dict[str, Any]:
    """A schema for ``context.protocols.event_version`` equal to ``version``."""
    def required(name: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": [name], "properties": {name: schema}}

    return required("context", required("protocols", required("event_version",
                                                                {"const": version})))


def _named(target: _Target) -> set[str]:
    """The top-level fields the plan's rules name (under ``properties`` or ``required``)."""
    names: set[str] = set()
    for schema in _schemas(target):
        if isinstance(schema, Mapping):
            names |= set(schema.get("properties", {})) | set(schema.get("required", []))
    return names


@cache
def _envelope(kind: str, with_traits: bool) -> Strategy[dict[str, Any]]:
    """A valid message of ``kind`` under Segment's contract, from mockseg's own strategies."""
    if kind == "group":
        return group_payloads(with_traits=None if with_traits else False)
    return batches(min_size=1, max_size=1, types=[kind]).map(lambda body: body["batch"][0])


def _locate(node: Any, field: str) -> Path | None:
    """The path of a mockseg field (``traits.a[0].b``) in ``node``, or None."""
    if not field:
        return ()
    if field.startswith("[") and isinstance(node, list) and "]" in field:
        index, rest = field[1:].split("]", 1)
        if index.isdigit() and int(index) < len(node):
            inner = _locate(node[int(index)], rest.removeprefix("."))
            return None if inner is None else (int(index), *inner)
        return None
    if isinstance(node, dict):
        for key in sorted((key for key in node if isinstance(key, str)), key=len, reverse=True):
            if field == key or field.startswith((key + ".", key + "[")):
                inner = _locate(node[key], field[len(key):].removeprefix("."))
                if inner is not None:
                    return (key, *inner)
    return None


def _remove(message: dict[str, Any], path: Path) -> bool:
    """Remove the value at ``path`` (not an identity field); whether anything was removed."""
    if not path or path[0] in _IDENTITY:
        return False
    node: Any = message
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return True


def _fits(message: Any) -> bool:
    """Within the body limit, compact UTF-8 and as ``json.dumps`` sends it by default."""
    return max(len(dumps(message)), len(json.dumps(message))) <= _MAX_BODY


def _problems(plan: TrackingPlan, kind: str, message: dict[str, Any]) -> tuple[
        list[PlanViolation], list[str]]:
    errors = [e.field for e in validate(message, kind) if e.severity == "error"]
    return plan.check(message, kind), errors


@st.composite
def _valid(draw: Draw, plan: TrackingPlan, target: _Target) -> dict[str, Any]:
    version = target.version
    if version is None and target.rule is not None and draw(st.booleans()) and len(
            plan.versions(target.rule.type, target.rule.key)) > 1:
        version = target.rule.version  # the lowest, named explicitly
    part = draw(_plan_part(target.rule, target.common, version))  # first: the richer draw
    named = _named(target) | ({"context"} if version is not None else set())
    envelope = draw(_envelope(target.kind, "traits" not in named))
    message = {key: value for key, value in envelope.items() if key not in named}
    if isinstance(part, dict):
        message.update(copy.deepcopy({key: part[key] for key in named if key in part}))
    message.update(target.fixed)
    for _ in range(6):
        violations, errors = _problems(plan, target.kind, message)
        if not violations and not errors:
            break
        paths = [v.path for v in violations if v.type != "Required"]
        paths += [path for field in errors if (path := _locate(message, field)) is not None]
        if not paths or not all(_remove(message, path) for path in dict.fromkeys(paths)):
            break
    violations, errors = _problems(plan, target.kind, message)
    assume(not violations and not errors and _fits(message))
    return message


def plan_messages(plan: PlanSource | TrackingPlan, type: str = "group", *,
                  event: str | None = None) -> Strategy[dict[str, Any]]:
    """Messages of ``type`` valid under both Segment's contract and the tracking ``plan``.

    ``plan`` is a :class:`~mockseg.plans.TrackingPlan` or what ``load_plan()`` reads (a path,
    the parsed JSON). For ``type="track"`` the event is each event the plan names, or only
    ``event``; every version of its rule occurs, chosen by ``context.protocols.event_version``
    (left out, sometimes, for the lowest). Page and screen rules with a key get that ``name``.
    Messages have no ``type`` field at times for group, as ``group_payloads()`` draws them: pass
    ``"group"`` as the kind when checking. Shrinks toward the plan's smallest valid part inside
    a minimal valid envelope.
    """
    compiled = _check_plan(plan)
    targets = _targets(compiled, type, event)
    _restore_many_more()
    return st.sampled_from(targets).flatmap(lambda target: _valid(compiled, target))


# --- one constraint broken ------------------------------------------------------------------


class _Skip(Exception):
    """This constraint cannot be broken in this message: try another."""


def _need(condition: object) -> None:
    if not condition:
        raise _Skip


def _types(schema: Mapping[str, Any]) -> list[str] | None:
    declared = schema.get("type")
    return [declared] if isinstance(declared, str) else declared


def _allows(schema: Mapping[str, Any], *names: str) -> bool:
    types = _types(schema)
    return types is None or any(name in types for name in names)


_SCALARS: Final = st.one_of(st.none(), st.booleans(), st.integers(-9, 9), st.text(max_size=3))
_OF_TYPE: Final[dict[str, Strategy[Any]]] = {
    "string": st.text(max_size=12),
    "integer": st.integers(-(10**6), 10**6),
    "number": st.integers(-(10**6), 10**6).map(lambda whole: whole + 0.5),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.lists(_SCALARS, max_size=2),
    "object": st.dictionaries(st.text(max_size=3), _SCALARS, max_size=1),
}


def _wrong_type(draw: Draw, schema: Mapping[str, Any]) -> Any:
    types = _types(schema) or []
    wrong = [name for name in _OF_TYPE if name not in types
             and not (name == "integer" and "number" in types)]
    _need(wrong)
    return draw(st.one_of(*(_OF_TYPE[name] for name in wrong)))


def _other_value(draw: Draw, schema: Mapping[str, Any], allowed: list[Any]) -> Any:
    """A value of a type ``schema`` allows (a string when any will do) not among ``allowed``."""
    types = [name for name in (_types(schema) or ["string"]) if name in _OF_TYPE]
    value = draw(st.one_of(*(_OF_TYPE[name] for name in types or ["string"])))
    _need(canonical(value) not in {canonical(item) for item in allowed})
    return value


def _break_value(draw: Draw, point: Constraint) -> tuple[Any, Any]:
    """A value at ``point.path`` breaking ``point.keyword``, and the keyword's value."""
    schema, keyword = point.schema, point.keyword
    limit = schema[keyword]
    step = draw(st.integers(0, 1000))
    if keyword == "type":
        return _wrong_type(draw, schema), limit
    if keyword in ("enum", "const"):
        return _other_value(draw, schema, limit if keyword == "enum" else [limit]), limit
    if keyword in ("pattern", "format", "minLength", "maxLength"):
        _need(_allows(schema, "string"))
        if keyword == "pattern":
            return draw(st.text(max_size=12).filter(
                lambda text: re.search(limit, text) is None)), limit
        if keyword == "format":
            _need(limit in _FORMATS.checkers)
            return draw(st.one_of(st.sampled_from(("", " ", "x", "not a " + limit, "://")),
                                  st.text(max_size=12)).filter(
                lambda text: not _FORMATS.conforms(text, limit))), limit
        _need(keyword == "maxLength" or limit >= 1)
        size = limit - 1 if keyword == "minLength" else limit + 1 + step % 4
        return draw(st.text(min_size=size, max_size=size)), limit
    _need(_allows(schema, "integer", "number"))
    if keyword == "multipleOf":
        _need(isinstance(limit, int) and limit >= 2)
        return limit * step + 1, limit
    below = {"minimum": math.floor(limit) - 1 - step, "exclusiveMinimum": math.floor(limit) - step}
    above = {"maximum": math.ceil(limit) + 1 + step, "exclusiveMaximum": math.ceil(limit) + step}
    return {**below, **above}[keyword], limit


def _at(message: dict[str, Any], path: Path) -> Any:
    node: Any = message
    for part in path:
        node = node[part]
    return node


def _parent(message: dict[str, Any], path: Path) -> Any:
    return _at(message, path[:-1])


def _break(draw: Draw, message: dict[str, Any], point: Constraint) -> PlanViolation:
    """Break ``point`` in ``message`` (in place); the violation that must follow."""
    path, keyword = point.path, point.keyword
    for where, schema in point.missing:
        drawn = draw(_from_json(schema))
        _need(isinstance(drawn, dict | list))
        _parent(message, where)[where[-1]] = drawn
    if keyword == "required":
        del _parent(message, path)[path[-1]]
        return _expected("Required", path)
    if keyword in ("additionalProperties", "minItems", "maxItems", "uniqueItems"):
        return _break_container(draw, _at(message, path), point)
    value, limit = _break_value(draw, point)
    _parent(message, path)[path[-1]] = value
    return _expected(point.violation, path, limit, value)


def _break_container(draw: Draw, node: Any, point: Constraint) -> PlanViolation:
    """Break an object's ``additionalProperties`` or an array's item count or uniqueness."""
    path, keyword, schema = point.path, point.keyword, point.schema
    if keyword == "additionalProperties":
        patterns = list(schema.get("patternProperties", {}))
        name = draw(st.text(min_size=1, max_size=8).filter(
            lambda key: key not in node and key not in schema.get("properties", {})
            and not any(re.search(pattern, key) for pattern in patterns)))
        node[name] = None
        return _expected("additional_property_not_allowed", (*path, name), name)
    limit = schema[keyword]
    if keyword == "minItems":
        _need(isinstance(limit, int) and 1 <= limit <= len(node))
        del node[limit - 1:]
    elif keyword == "maxItems":
        items = schema.get("items", True)
        extra = limit + 1 - len(node)
        node.extend(draw(st.lists(_from_json(json.dumps(items, sort_keys=True)), min_size=extra,
                                  max_size=extra)) if isinstance(items, Mapping | bool)
                    else [copy.deepcopy(node[0]) for _ in range(extra)] if node else [])
    else:
        _need(bool(node) and limit is True)
        node.append(copy.deepcopy(node[0]))
    return _expected(keyword, path, limit, list(node))


@cache
def _from_json(schema: str) -> Strategy[Any]:
    """Values valid under the schema given as JSON text (hashable, so cached)."""
    return from_schema(closed(json.loads(schema)))


def _expected(type_: str, path: Path, value: Any = None, instance: Any = None) -> PlanViolation:
    return PlanViolation(type_, format_field(path), describe(type_, path, value, instance), path)


#: Constraints tried per drawn message before the draw is given up.
_ATTEMPTS: Final = 8


@st.composite
def _invalid(draw: Draw, plan: TrackingPlan, target: _Target,
             wanted: frozenset[str]) -> InvalidCase:
    # Drawn first: a large base message leaves Hypothesis little room for later choices.
    start = draw(st.integers(0, 2**16))
    base = draw(_valid(plan, target))
    points: list[Constraint | None] = [point for schema in _schemas(target)
                                       for point in constraints_in(schema, base)
                                       if point.violation in wanted]
    if target.kind == "track" and plan.unplanned != "allow" and "unplanned" in wanted:
        points.append(None)  # the event itself: one the plan does not name
    for attempt in range(min(_ATTEMPTS, len(points))):
        message, point = copy.deepcopy(base), points[(start + attempt) % len(points)]
        try:
            expected = (_unplanned(draw, plan, message) if point is None
                        else _break(draw, message, point))
        except _Skip:
            continue
        found, errors = _problems(plan, target.kind, message)
        if (not errors and _fits(message) and len(found) == 1
                and (found[0].type, found[0].field) == (expected.type, expected.field)):
            return InvalidCase(message, expected.field, expected.description)
    assume(False)
    raise AssertionError("unreachable")  # pragma: no cover


def _unplanned(draw: Draw, plan: TrackingPlan, message: dict[str, Any]) -> PlanViolation:
    """Rename the event to one the plan does not name."""
    name = draw(st.text(min_size=1, max_size=12).filter(lambda event: event not in plan.events))
    message["event"] = name
    return _expected("unplanned", ("event",), name)


def _breakable(plan: TrackingPlan, target: _Target) -> set[str]:
    """The violation types a message of ``target`` can be made to have."""
    found = {"unplanned"} if target.kind == "track" and plan.unplanned != "allow" else set()
    return found | breakable(_schemas(target))


def plan_violations(plan: PlanSource | TrackingPlan, type: str = "group", *,
                    event: str | None = None,
                    constraints: Iterable[str] | None = None) -> Strategy[InvalidCase]:
    """Messages of ``type`` that break exactly one constraint of the tracking ``plan``.

    Each is an ``InvalidCase(payload, field, message)``: a message from ``plan_messages()``
    with one constraint broken (a required property removed, a value of the wrong type, out of
    its enum, range, length or pattern, an extra property, an array too short or too long, a
    repeated item; for track, also an event the plan does not name unless ``unplanned`` is
    ``allow``), still valid under Segment's contract. ``field`` and ``message`` are the one
    violation ``plan.check()`` must report, ``message`` worded as Protocols words it.
    ``constraints`` narrows the breaks to some violation types (``{"Required", "enum"}``; see
    ``BREAKABLE_VIOLATIONS``). Constraints under ``anyOf``, ``oneOf``, ``not``, ``if`` and
    ``$ref`` are not broken on purpose. Shrinks toward the plan's first constraint in a minimal
    valid message.
    """
    compiled = _check_plan(plan)
    if isinstance(constraints, str) or not (constraints is None
                                            or isinstance(constraints, Iterable)):
        raise InvalidArgument(f"constraints must be violation types like ['Required', 'enum'], "
                              f"not {constraints!r}")
    wanted = BREAKABLE_VIOLATIONS if constraints is None else frozenset(constraints)
    if unknown := sorted(wanted - BREAKABLE_VIOLATIONS):
        raise InvalidArgument(f"cannot break {', '.join(unknown)}: the types that can be "
                              f"broken are {', '.join(sorted(BREAKABLE_VIOLATIONS))}")
    targets = [target for target in _targets(compiled, type, event)
               if _breakable(compiled, target) & wanted]
    if not targets:
        raise InvalidArgument(f"the plan has no constraint a {type} message could break"
                              + ("" if constraints is None else f" of {sorted(wanted)}"))
    _restore_many_more()
    return st.sampled_from(targets).flatmap(lambda target: _invalid(compiled, target, wanted))
