"""Violations of a tracking plan, worded as Segment Protocols words them.

Protocols validates with gojsonschema, and its documented violations are that library's messages
with the field spelled out: ``properties.products is required`` (type ``Required``),
``Invalid type. Expected: string, given: integer``, ``traits.plan must be one of the following:
"free", "pro", "enterprise"``. :data:`WORDING` gives every other JSON Schema keyword the message
gojsonschema gives it; Segment documents only those three. A violation's ``type`` is the JSON
Schema keyword (``minimum``, ``maxLength``, ``const``, ...), except ``Required``,
``invalid_type`` and ``additional_property_not_allowed``, which are Protocols' own names.

Fields use mockseg's dotted form: ``traits.address.city``, array items as
``properties.products[0].price``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jsonschema.exceptions import ValidationError

__all__ = ["ROOT", "WORDING", "PlanViolation", "canonical", "describe", "format_field",
           "json_type", "violations_of"]

Path = tuple[str | int, ...]
#: How a violation of the whole message names its field, as gojsonschema does.
ROOT: Final = "(root)"


@dataclass(frozen=True, slots=True)
class PlanViolation:
    """One broken constraint of the tracking plan: its type, where, and what Protocols says."""

    type: str
    field: str
    description: str
    #: Where in the message, as keys and indexes (not kept by :meth:`to_dict`).
    path: Path = dataclasses.field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict[str, str]:
        """The ``{type, field, description}`` form of the journal and the admin API."""
        return {"type": self.type, "field": self.field, "description": self.description}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanViolation:
        """Read back what :meth:`to_dict` wrote (a journal file, say)."""
        return cls(str(data["type"]), str(data["field"]), str(data["description"]))


def format_field(path: Path) -> str:
    """A path as mockseg writes fields: ``traits.address.city``, ``properties.items[0].sku``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or ROOT


def json_type(value: Any) -> str:
    """The JSON type of ``value``, as gojsonschema names it (a whole float is an integer)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _expected(types: Any) -> str:
    if isinstance(types, list) and len(types) != 1:
        return "[" + ",".join(str(name) for name in types) + "]"
    return str(types[0] if isinstance(types, list) else types)


#: gojsonschema's message for each keyword (Protocols documents required, type and enum).
#: Fields: ``field``; the keyword's ``value`` in the schema, as a ``number``, as ``json``, an
#: enum's ``allowed`` values; ``expected`` and ``given`` types; the offending ``instance``; for
#: uniqueItems, the first repeated pair ``i``, ``j``.
WORDING: Final[dict[str, str]] = {
    "Required": "{field} is required",
    "invalid_type": "Invalid type. Expected: {expected}, given: {given}",
    "enum": "{field} must be one of the following: {allowed}",
    "const": "{field} does not match: {json}",
    "additional_property_not_allowed": "Additional property {value} is not allowed",
    "pattern": "Does not match pattern '{value}'",
    "format": "Does not match format '{value}'",
    "minLength": "String length must be greater than or equal to {number}",
    "maxLength": "String length must be less than or equal to {number}",
    "minimum": "Must be greater than or equal to {number}",
    "exclusiveMinimum": "Must be greater than {number}",
    "maximum": "Must be less than or equal to {number}",
    "exclusiveMaximum": "Must be less than {number}",
    "multipleOf": "Must be a multiple of {number}",
    "minItems": "Array must have at least {number} items",
    "maxItems": "Array must have at most {number} items",
    "uniqueItems": "array items[{i},{j}] must be unique",
    "contains": "At least one of the items must match",
    "additionalItems": "No additional items allowed on array",
    "minProperties": "Must have at least {number} properties",
    "maxProperties": "Must have at most {number} properties",
    "propertyNames": 'Property name of "{instance}" does not match',
    "dependencies": "Has a dependency on {value}",
    "anyOf": "Must validate at least one schema (anyOf)",
    "oneOf": "Must validate one and only one schema (oneOf)",
    "not": "Must not validate the schema (not)",
    "false": "False always fails validation",
    # mockseg's own: Protocols blocks or allows unplanned events but words no violation.
    "unplanned": "{field} {json} is not in the tracking plan",
    # A rule the jsonschema library failed on (value: the rule; instance: the error).
    "unchecked": "The rule {value} could not check this message: {instance}",
}
#: jsonschema's keyword names where Protocols uses its own.
_TYPE_OF: Final = {"required": "Required", "type": "invalid_type",
                   "additionalProperties": "additional_property_not_allowed"}


def describe(type_: str, path: Path, value: Any = None, instance: Any = None) -> str:
    """The description of a violation of ``type_`` at ``path`` (relative to the message)."""
    template = WORDING.get(type_, "Does not match the tracking plan ({type})")
    first, second = _first_duplicate(instance) if type_ == "uniqueItems" else (0, 0)
    return template.format(
        type=type_, field=format_field(path), value=value, number=_number(value),
        json=_json(value), allowed=", ".join(map(_json, value)) if isinstance(value, list) else "",
        expected=_expected(value), given=json_type(instance), instance=instance, i=first,
        j=second)


def _violation(type_: str, path: Path, value: Any, instance: Any, prefix: str) -> PlanViolation:
    where = format_field(path)
    return PlanViolation(type_, prefix + where, describe(type_, path, value, instance), path)


def canonical(value: Any) -> str:
    """JSON text equal for values JSON Schema calls equal (1 and 1.0; never true and 1)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e300:
        value = int(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{canonical(v)}" for k, v in sorted(
            value.items())) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(canonical, value)) + "]"
    return json.dumps(value)


def _first_duplicate(items: Sequence[Any]) -> tuple[int, int]:
    """The first pair of equal items, (earlier, later), found in one pass."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        text = canonical(item)
        if text in seen:
            return seen[text], index
        seen[text] = index
    return 0, 0


def _extra_properties(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> Iterator[str]:
    known = schema.get("properties", {})
    patterns = [re.compile(pattern) for pattern in schema.get("patternProperties", {})]
    for name in instance:
        if name not in known and not any(pattern.search(name) for pattern in patterns):
            yield name


#: Keywords whose next schema-path element is a name, not a keyword.
_NAMING: Final = frozenset({"properties", "patternProperties", "definitions", "dependencies"})


def _in_property_names(schema_path: Iterable[str | int]) -> bool:
    """Whether the error came from inside a ``propertyNames`` schema (which checks key names)."""
    named = False
    for part in schema_path:
        if not named and part == "propertyNames":
            return True
        named = not named and part in _NAMING
    return False


def _from_error(error: ValidationError, prefix: str) -> Iterator[PlanViolation]:
    """The violations one jsonschema error stands for (``required`` names each missing key)."""
    path: Path = tuple(error.absolute_path)
    keyword: Any = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    if _in_property_names(error.relative_schema_path):
        yield _violation("propertyNames", (*path, str(instance)), None, instance,
                         prefix)
    elif keyword == "required":
        for name in value:
            if name not in instance:
                yield _violation("Required", (*path, name), None, None, prefix)
    elif keyword == "additionalProperties":
        for name in _extra_properties(instance, schema):
            yield _violation("additional_property_not_allowed", (*path, name), name, None, prefix)
    elif keyword == "dependencies":
        for name, needs in value.items():
            if name in instance and isinstance(needs, list):
                for need in needs:
                    if need not in instance:
                        yield _violation("dependencies", (*path, name), need, None, prefix)
    elif keyword is None or (keyword == "not" and value == {}):  # false, compiled as {"not": {}}
        yield _violation("false", path, None, instance, prefix)
    else:
        name = str(keyword)
        yield _violation(_TYPE_OF.get(name, name), path, value, instance,
                         prefix)


def _path_key(violation: PlanViolation) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, part) if isinstance(part, int) else (1, part) for part in violation.path)


def violations_of(errors: Iterable[ValidationError], prefix: str = "") -> list[PlanViolation]:
    """Protocols' violations for one rule's jsonschema errors: sorted by field, then type.

    As in gojsonschema, a value of the wrong type gets only its ``invalid_type``: the other
    keywords at the same place are not reported.
    """
    found = [violation for error in errors for violation in _from_error(error, prefix)]
    mistyped = {violation.path for violation in found if violation.type == "invalid_type"}
    kept = [violation for violation in found
            if violation.type == "invalid_type" or violation.path not in mistyped]
    kept.sort(key=lambda violation: (_path_key(violation), violation.type,
                                     violation.description))
    return list(dict.fromkeys(kept))
