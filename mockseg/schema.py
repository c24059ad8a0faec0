"""The group contract as a JSON Schema (Draft 2020-12), built from the same limits as the validator.

The shipped file ``mockseg/schema/group.schema.json`` is this module's output for the default
limits (a test keeps the two equal); a server with other limits serves its own version at
``/__mockseg/schema/group``. The schema decides validity only: the order of errors and their exact
messages are the validator's.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from mockseg.rules import ISO_8601_DATE_TIME, RESERVED_TRAITS, TIMESTAMP_FIELDS, Limits

__all__ = ["SCHEMA_ID", "group_schema", "load_group_schema"]

SCHEMA_ID = "https://mockseg.dev/schema/group.schema.json"
Schema = dict[str, Any]

_NULL: Schema = {"type": "null"}
# Python's ``$`` also matches before a final newline; this rules such strings out everywhere.
_NO_TRAILING_NEWLINE: Schema = {"not": {"pattern": "\\n$"}}


def _or_null(schema: Schema) -> Schema:
    return {"anyOf": [_NULL, schema]}


def _matching(pattern: str, **extra: Any) -> Schema:
    return {"type": "string", **extra, "pattern": f"^(?:{pattern})$", **_NO_TRAILING_NEWLINE}


def _nesting(max_depth: int) -> Schema:
    """``$defs`` entries level1..levelN: a value at level k may hold containers down to N."""
    scalar: Schema = {"type": ["string", "number", "boolean", "null"]}
    defs: Schema = {"scalar": scalar}
    for level in range(max_depth, 0, -1):
        inner = {"$ref": f"#/$defs/level{level + 1}"} if level < max_depth else {
            "$ref": "#/$defs/scalar"}
        defs[f"level{level}"] = {
            "anyOf": [
                {"$ref": "#/$defs/scalar"},
                {"type": "object", "additionalProperties": inner},
                {"type": "array", "items": inner},
            ]
        }
    return defs


def _reserved(max_depth: int) -> Schema:
    types: dict[str, Schema] = {
        "a string": {"type": "string"},
        "an integer": {"type": "integer"},
        "a number": {"type": "number"},
        "an object": {"type": "object"},
        "an ISO 8601 date-time": _matching(ISO_8601_DATE_TIME),
    }
    level1: Schema = {"$ref": "#/$defs/level1"} if max_depth >= 1 else {"$ref": "#/$defs/scalar"}
    properties: Schema = {}
    for trait in RESERVED_TRAITS:
        typed = dict(types[trait.type_name])
        if typed.get("type") == "object":
            typed = {"allOf": [typed, level1]}
        properties[trait.name] = _or_null(typed)
    return properties


def group_schema(limits: Limits | None = None) -> Schema:
    """The JSON Schema of a valid ``/v1/group`` body under ``limits`` (default: the contract's)."""
    limits = limits or Limits()
    nonempty_string: Schema = {"type": "string", "minLength": 1}
    string_or_null: Schema = {"type": ["string", "null"]}
    level1: Schema = (
        {"$ref": "#/$defs/level1"} if limits.max_trait_depth >= 1 else {"$ref": "#/$defs/scalar"}
    )
    date_time = _or_null(_matching(ISO_8601_DATE_TIME))
    properties: Schema = {
        "type": {"enum": ["group", None]},
        "groupId": _matching(
            limits.group_id_pattern, minLength=1, maxLength=limits.max_id_length
        ),
        "userId": string_or_null,
        "anonymousId": string_or_null,
        "traits": _or_null({"$ref": "#/$defs/traits"}),
        **{name: date_time for name in TIMESTAMP_FIELDS},
        "messageId": {"type": ["string", "null"], "maxLength": limits.max_message_id_length},
        "context": _or_null({
            "type": "object",
            "properties": {
                "ip": string_or_null,
                "userAgent": string_or_null,
                "library": _or_null({
                    "type": "object",
                    "properties": {"name": string_or_null, "version": string_or_null},
                }),
            },
        }),
        "integrations": _or_null({
            "type": "object",
            "additionalProperties": {"type": ["boolean", "object", "null"]},
        }),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Segment group message, as mockseg enforces it",
        "description": (
            "A valid body for POST /v1/group (and a valid group item of a batch). Null counts "
            "as absent; unknown extra fields are allowed."
        ),
        "type": "object",
        "required": ["groupId"],
        "properties": properties,
        "anyOf": [
            {"required": ["userId"], "properties": {"userId": nonempty_string}},
            {"required": ["anonymousId"], "properties": {"anonymousId": nonempty_string}},
        ],
        "$defs": {
            "traits": {
                "type": "object",
                "maxProperties": limits.max_traits,
                "propertyNames": {"maxLength": limits.max_trait_name_length},
                "properties": _reserved(limits.max_trait_depth),
                "additionalProperties": level1,
            },
            **_nesting(limits.max_trait_depth),
        },
    }


@cache
def load_group_schema() -> Schema:
    """The schema file shipped in the package (the contract's default limits)."""
    text = resources.files("mockseg").joinpath("schema/group.schema.json").read_text("utf-8")
    schema: Schema = json.loads(text)
    return schema


def render(schema: Schema) -> str:
    """The canonical text of a schema file: two-space indent, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # regenerate the shipped file: python -m mockseg.schema
    from pathlib import Path

    target = Path(__file__).with_name("schema") / "group.schema.json"
    target.write_text(render(group_schema()), "utf-8")
    print(f"wrote {target}")
