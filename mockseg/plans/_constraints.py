"""Where a plan's constraints apply in a message: each one a test can break on purpose."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["BREAKABLE_VIOLATIONS", "Constraint", "breakable", "constraints_in"]

Path = tuple[str | int, ...]
_ABSENT: Final = object()
_VALUE: Final = ("type", "enum", "const", "pattern", "format", "minimum", "maximum",
                 "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength")
_ARRAY: Final = ("minItems", "maxItems", "uniqueItems")
_OBJECT: Final = ("required", "additionalProperties")
#: The violation each keyword gives where Protocols' name is not the keyword's.
_VIOLATION_OF: Final = {"type": "invalid_type", "required": "Required",
                        "additionalProperties": "additional_property_not_allowed"}
#: The violation types a message can be made to have on purpose, one at a time.
BREAKABLE_VIOLATIONS: Final = frozenset(
    {_VIOLATION_OF.get(key, key) for key in (*_VALUE, *_ARRAY, *_OBJECT)} | {"unplanned"})


@dataclass(frozen=True)
class Constraint:
    """One keyword of a schema at one place of a message (``required``: the key's place).

    ``missing`` are the absent objects and arrays on the way there, outermost first, each
    with its schema as JSON text: to break the constraint, draw them from it first.
    """

    keyword: str
    path: Path
    schema: Mapping[str, Any]
    missing: tuple[tuple[Path, str], ...] = ()

    @property
    def violation(self) -> str:
        """The type of the violation that breaking it gives."""
        return _VIOLATION_OF.get(self.keyword, self.keyword)


def constraints_in(schema: Any, message: Any) -> Iterator[Constraint]:
    """The constraints of ``schema`` that apply to ``message`` or could, in order.

    Follows ``properties`` (into absent objects too) and a single ``items`` schema (into the
    first item). Constraints under ``anyOf``, ``oneOf``, ``not``, ``if`` or ``$ref`` are left
    out: which branch applies depends on the value.
    """
    return _walk(schema, message, (), ())


def _walk(schema: Any, value: Any, path: Path,
          missing: tuple[tuple[Path, str], ...]) -> Iterator[Constraint]:
    if not isinstance(schema, Mapping):
        return
    if path:
        yield from (Constraint(key, path, schema, missing) for key in _VALUE if key in schema)
    absent = value is _ABSENT and bool(path) and "properties" in schema
    if isinstance(value, dict) or absent:
        inner = (*missing, (path, _text(schema))) if absent else missing
        present = value if isinstance(value, dict) else {}
        yield from (Constraint("required", (*path, name), schema, inner)
                    for name in schema.get("required", []) if absent or name in present)
        if schema.get("additionalProperties") is False:
            yield Constraint("additionalProperties", path, schema, inner)
        for name, sub in schema.get("properties", {}).items():
            yield from _walk(sub, present.get(name, _ABSENT), (*path, name), inner)
    array = [key for key in _ARRAY if key in schema]
    if isinstance(value, list) or (value is _ABSENT and path and array):
        drawn = missing if isinstance(value, list) else (*missing, (path, _text(schema)))
        yield from (Constraint(key, path, schema, drawn) for key in array)
        if isinstance(value, list) and value and isinstance(schema.get("items"), Mapping):
            yield from _walk(schema["items"], value[0], (*path, 0), missing)


def _text(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)


def breakable(schemas: Iterable[Any]) -> set[str]:
    """The violation types (but ``unplanned``) that some constraint of ``schemas`` gives."""
    found: set[str] = set()
    stack = list(schemas)
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            found |= {_VIOLATION_OF.get(key, key) for key in (*_VALUE, *_ARRAY, "required")
                      if key in node}
            if node.get("additionalProperties") is False:
                found.add(_VIOLATION_OF["additionalProperties"])
            stack += list(node.get("properties", {}).values())
            stack += [node["items"]] if isinstance(node.get("items"), Mapping) else []
    return found
