"""Reading a tracking plan: Segment's export formats, checked and compiled once.

The Public API's ``GET /tracking-plans/{trackingPlanId}/rules`` answers
``{"data": {"rules": [...], "pagination": {...}}}``; each rule is ``{"type", "key", "version",
"jsonSchema", "createdAt", "updatedAt", "deprecatedAt"}``. A plan may be that answer, a list of
such answers (one per page), ``{"rules": [...]}`` (the body of ``PUT .../rules``) or the bare
list of rules. Rules with a ``deprecatedAt`` are no longer part of the plan and are skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, Literal

from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError

from mockseg.plans._fast import fast_valid
from mockseg.plans._schemas import rewrite

__all__ = ["RULE_TYPES", "PlanRule", "PlanSource", "TrackingPlanError", "read_rules"]

RuleType = Literal["TRACK", "IDENTIFY", "GROUP", "PAGE", "SCREEN", "COMMON"]
RULE_TYPES: Final[tuple[RuleType, ...]] = ("TRACK", "IDENTIFY", "GROUP", "PAGE", "SCREEN",
                                           "COMMON")
#: Rules matched by key: a track rule by ``event``; page and screen rules by ``name``, if keyed.
_KEYED: Final = frozenset({"TRACK", "PAGE", "SCREEN"})
#: Draft-07's formats: each must have a checker, or the plan would pass what it should not.
_DRAFT7_FORMATS: Final = frozenset({
    "date-time", "date", "time", "email", "idn-email", "hostname", "idn-hostname", "ipv4",
    "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uri-template", "json-pointer",
    "relative-json-pointer", "regex"})
_FORMATS: Final = Draft7Validator.FORMAT_CHECKER
#: Keywords whose subschemas apply to a child (a property, an item) of the value.
_PATHED: Final = frozenset({"properties", "patternProperties", "items"})

PlanSource = str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any]


def _exact(number: Any) -> Fraction:
    return Fraction(repr(number) if isinstance(number, float) else str(number))


def _multiple_of(validator: Any, step: Any, instance: Any,
                 schema: Any) -> Iterator[ValidationError]:
    """``multipleOf`` in exact decimal arithmetic, as gojsonschema's big.Rat has it: 0.07 is a
    multiple of 0.01, and a huge integer does not overflow a float (jsonschema's own raises)."""
    if not validator.is_type(instance, "number"):
        return
    try:
        if _exact(instance) % _exact(step) == 0:
            return
    except (ValueError, OverflowError, ZeroDivisionError):
        pass
    yield ValidationError(f"{instance!r} is not a multiple of {step}")


#: Draft-07, with an exact ``multipleOf``.
_Validator: Final = validators.extend(  # type: ignore[no-untyped-call]
    Draft7Validator, {"multipleOf": _multiple_of})


class TrackingPlanError(ValueError):
    """A plan that cannot be used: its file, the rule (when one is at fault) and why."""

    def __init__(self, source: str, reason: str, rule: str | None = None) -> None:
        self.source = source
        self.rule = rule
        self.reason = reason
        super().__init__(f"{source}: {rule}: {reason}" if rule else f"{source}: {reason}")


@dataclass(frozen=True, eq=False)
class PlanRule:
    """One rule of a plan: its type, key and version, with its schema compiled for draft-07."""

    type: RuleType
    key: str | None
    version: int
    schema: dict[str, Any] | bool
    validator: Any = field(repr=False)  # a draft-07 jsonschema validator
    #: A quick "valid" (jsonschema-rs), None where there is none: see :mod:`mockseg.plans._fast`.
    fast: Callable[[Any], bool] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """How messages name it: ``TRACK "Order Completed" v2``."""
        key = f" {json.dumps(self.key, ensure_ascii=False)}" if self.key is not None else ""
        return f"{self.type}{key} v{self.version}"


def _read(source: PlanSource) -> tuple[str, Any]:
    if isinstance(source, str | os.PathLike):
        label = os.fspath(source)
        try:
            return label, json.loads(Path(label).read_text("utf-8"))
        except OSError as exc:
            raise TrackingPlanError(label, f"cannot read the file: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise TrackingPlanError(label, f"the file is not UTF-8: {exc.reason}") from None
        except json.JSONDecodeError as exc:
            raise TrackingPlanError(label, f"the file is not JSON: {exc}") from None
    if isinstance(source, Mapping | list | tuple):
        return "<tracking plan>", source
    raise TrackingPlanError("<tracking plan>", f"expected a path, a dict or a list, not "
                            f"{type(source).__name__}")


_SHAPES: Final = ('a list of rules, {"rules": [...]}, or the Public API\'s answer '
                  '{"data": {"rules": [...]}}')


def _rules_of(document: Any, label: str) -> list[Any]:
    """The rules of any accepted shape, in file order."""
    if isinstance(document, Mapping):
        data = document.get("data")
        if isinstance(data, Mapping) and isinstance(data.get("rules"), list):
            return list(data["rules"])
        if isinstance(document.get("rules"), list):
            return list(document["rules"])
        if isinstance(document.get("rules"), Mapping) and "events" in document["rules"]:
            raise TrackingPlanError(label, "this is the retired Config API's format; export "
                                    "the plan with the Public API's List Rules from Tracking "
                                    "Plan (GET /tracking-plans/{id}/rules)")
        raise TrackingPlanError(label, f"no rules found: expected {_SHAPES}")
    if isinstance(document, list | tuple):
        if document and all(isinstance(page, Mapping) and ("data" in page or "rules" in page)
                            for page in document):
            return [rule for page in document for rule in _rules_of(page, label)]
        return list(document)
    raise TrackingPlanError(label, f"expected {_SHAPES}, not {type(document).__name__}")


def _walk(schema: Any) -> Iterator[Mapping[str, Any]]:
    """Every object inside a schema, the schema itself first."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _schema_problem(schema: Any) -> str | None:
    """Why ``schema`` cannot be used as a draft-07 rule, or None."""
    if not isinstance(schema, Mapping | bool):
        return f"jsonSchema must be an object, not {type(schema).__name__}"
    try:
        Draft7Validator.check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path)
        return f"jsonSchema is not valid draft-07: {error.message}" + (
            f" (at jsonSchema/{where})" if where else "")
    for node in _walk(schema):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return f"$ref {ref!r} points outside the rule; a plan must be self-contained"
        form = node.get("format")
        if form in _DRAFT7_FORMATS and form not in _FORMATS.checkers:
            return (f"format {form!r} cannot be checked: install jsonschema's format extra "
                    f"(pip install 'jsonschema[format-nongpl]')")
    return None


def _false_as_not(node: Any, keyword: str | None) -> Any:
    """A property's or item's ``false`` as ``{"not": {}}``: the same, but jsonschema then
    reports the property's path (for ``false`` it reports the parent's)."""
    return {"not": {}} if node is False and keyword in _PATHED else node


def _rule(raw: Any, where: str, label: str) -> PlanRule | None:
    if not isinstance(raw, Mapping):
        raise TrackingPlanError(label, f"a rule must be an object, not {type(raw).__name__}",
                                where)
    kind, key, version = raw.get("type"), raw.get("key"), raw.get("version", 1)
    named = f"{where} ({kind} {json.dumps(key, ensure_ascii=False)} v{version})" if (
        key is not None) else f"{where} ({kind} v{version})"
    if kind not in RULE_TYPES:
        raise TrackingPlanError(label, f"type must be one of {', '.join(RULE_TYPES)}", named)
    if not isinstance(version, int) or isinstance(version, bool):
        raise TrackingPlanError(label, "version must be an integer", named)
    if key is not None and not isinstance(key, str):
        raise TrackingPlanError(label, "key must be a string", named)
    if kind == "TRACK" and not key:
        raise TrackingPlanError(label, "a TRACK rule needs a key: the event's name", named)
    if raw.get("deprecatedAt"):
        return None
    schema = raw.get("jsonSchema")
    schema = {} if schema is None else schema
    problem = _schema_problem(schema)
    if problem is not None:
        raise TrackingPlanError(label, problem, named)
    return PlanRule(kind, (key or None) if kind in _KEYED else None, version,
                    dict(schema) if isinstance(schema, Mapping) else schema,
                    _Validator(rewrite(schema, _false_as_not), format_checker=_FORMATS),
                    fast_valid(schema))


def read_rules(source: PlanSource) -> tuple[str, tuple[PlanRule, ...]]:
    """The plan's label (its path) and its live rules, each schema checked and compiled.

    Raises :class:`TrackingPlanError` for a plan that cannot be read, a rule that is not one,
    a schema that is not valid draft-07, and two rules with the same type, key and version.
    """
    label, document = _read(source)
    rules: list[PlanRule] = []
    seen: dict[tuple[str, str | None, int], int] = {}
    for index, raw in enumerate(_rules_of(document, label)):
        rule = _rule(raw, f"rules[{index}]", label)
        if rule is None:
            continue
        identity = (rule.type, rule.key, rule.version)
        if identity in seen:
            raise TrackingPlanError(label, f"the same rule as rules[{seen[identity]}]",
                                    f"rules[{index}] ({rule.label})")
        seen[identity] = index
        rules.append(rule)
    return label, tuple(rules)
