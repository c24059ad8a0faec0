"""Reshaping draft-07 schemas: every subschema rewritten, two merged, objects closed.

:func:`rewrite` holds the one table of which keywords hold schemas. :func:`merge` and
:func:`closed` shape a plan's schemas for drawing values from them (hypothesis-jsonschema draws
a closed object's optional properties without the filters that fail on current Hypothesis).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["closed", "merge", "rewrite"]

#: Keywords whose value is one schema, a list of schemas, or a map of names to schemas.
_ONE: Final = ("additionalItems", "additionalProperties", "contains", "propertyNames", "not",
               "if", "then", "else", "items")
_MANY: Final = ("allOf", "anyOf", "oneOf", "items")
_NAMED: Final = ("properties", "patternProperties", "definitions", "$defs", "dependencies")

#: Gets a subschema and the keyword that holds it; returns its replacement.
Change = Callable[[Any, str | None], Any]


def rewrite(schema: Any, change: Change, keyword: str | None = None) -> Any:
    """A copy of ``schema`` with ``change`` applied to every subschema, innermost first.

    ``change(subschema, keyword)`` gets each subschema (an object or a boolean), after its own
    subschemas were rewritten, with the keyword that holds it (None for the root), and returns
    what replaces it. Values that are not schemas (``enum``, ``const``, a ``dependencies`` list
    of names) are left alone.
    """
    if isinstance(schema, Mapping):
        copy = dict(schema)
        for key in _ONE:
            if isinstance(copy.get(key), Mapping | bool):
                copy[key] = rewrite(copy[key], change, key)
        for key in _MANY:
            if isinstance(copy.get(key), list):
                copy[key] = [rewrite(item, change, key) for item in copy[key]]
        for key in _NAMED:
            if isinstance(copy.get(key), Mapping):
                copy[key] = {name: rewrite(sub, change, key) if isinstance(sub, Mapping | bool)
                             else sub for name, sub in copy[key].items()}
        return change(copy, keyword)
    return change(schema, keyword) if isinstance(schema, bool) else schema


#: Keywords :func:`merge` combines itself; with any other, two schemas are kept as an allOf.
_MERGEABLE: Final = frozenset({"type", "properties", "required", "$schema", "description",
                               "title", "labels"})


def merge(one: Any, other: Any) -> Any:
    """One schema for both: properties merged (recursively) and required names joined where
    that is plainly the same; ``{"allOf": [one, other]}`` otherwise."""
    if one in ({}, True):
        return other
    if other in ({}, True):
        return one
    if not (isinstance(one, Mapping) and isinstance(other, Mapping)
            and set(one) | set(other) <= _MERGEABLE
            and one.get("type", "object") == other.get("type", "object") == "object"):
        return {"allOf": [one, other]}
    properties = dict(one.get("properties", {}))
    for name, schema in other.get("properties", {}).items():
        properties[name] = merge(properties[name], schema) if name in properties else schema
    required = list(dict.fromkeys([*one.get("required", []), *other.get("required", [])]))
    return {"type": "object", "properties": properties, "required": required}


def closed(schema: Any) -> Any:
    """``schema`` with each object that lists its properties closed to others (where that
    keeps every valid value of the listed ones): what a generator draws from it is valid under
    ``schema``, with no property the schema does not name. Follows ``properties`` and ``items``.
    """
    if not isinstance(schema, Mapping):
        return schema
    copy = dict(schema)
    if isinstance(copy.get("items"), Mapping):
        copy["items"] = closed(copy["items"])
    properties = copy.get("properties")
    if not isinstance(properties, Mapping):
        return copy
    copy["properties"] = {name: closed(sub) for name, sub in properties.items()}
    named = set(copy.get("required", [])) | set(copy.get("dependencies", {}))
    for needs in copy.get("dependencies", {}).values():
        named |= set(needs) if isinstance(needs, list) else set()
    if ("additionalProperties" not in copy and "patternProperties" not in copy
            and named <= set(properties) and copy.get("minProperties", 0) <= len(properties)):
        copy["additionalProperties"] = False
    return copy
