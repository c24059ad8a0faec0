"""The tracking half of the OpenAPI document: each message type's schema, the error answers,
and the operations of the tracking paths and the CDN settings."""

from __future__ import annotations

import copy
from typing import Any

from mockseg import errors
from mockseg.openapi._parts import (
    CORS,
    CORS_IF_TRACKING,
    NONEMPTY,
    RESPONSES,
    SCHEMAS,
    WRITE_KEY_SECURITY,
    Schema,
    error_refs,
    ref,
    response,
)
from mockseg.routes import BATCH_PATHS, SHORT_PATHS, TRACKING_PATHS
from mockseg.rules import MESSAGE_TYPES, TIMESTAMP_FIELDS, Limits
from mockseg.schema import group_schema

__all__ = ["error_responses", "error_schemas", "error_types", "message_components",
           "settings_paths", "tracking_paths"]

_GROUP = "GroupMessage"
#: The group schema's fields that every message type shares (rules 5, 6, 12 to 15).
_COMMON_FIELDS = ("userId", "anonymousId", *TIMESTAMP_FIELDS, "messageId", "context",
                  "integrations")


def _message_name(kind: str) -> str:
    """The component that describes one message of ``kind``."""
    return _GROUP if kind == "group" else f"{kind.capitalize()}Message"


def _rewrite_refs(node: Any, names: dict[str, str]) -> Any:
    """``node`` with every ``#/$defs/X`` reference pointing at the component ``names[X]``."""
    if isinstance(node, dict):
        return {key: (SCHEMAS + names[value.removeprefix("#/$defs/")]
                      if key == "$ref" and isinstance(value, str) else _rewrite_refs(value, names))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(item, names) for item in node]
    return node


def _group_components(limits: Limits) -> dict[str, Schema]:
    """The group schema as components: its ``$defs`` hoisted beside it, references rewritten.

    A ``$ref`` inside an embedded ``$id`` resource resolves against that resource, which not
    every OpenAPI tool honours; hoisting makes every reference document-relative.
    """
    schema = group_schema(limits)
    defs: Schema = schema.pop("$defs")
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    names = {name: f"{_GROUP}.{name}" for name in defs}
    components = {names[name]: _rewrite_refs(value, names) for name, value in defs.items()}
    components[_GROUP] = _rewrite_refs(schema, names)
    return components


def _message_schema(kind: str, group: Schema) -> Schema:
    """A single ``kind`` message: the fields all types share, plus the kind's own rules."""
    properties: Schema = {"type": {"enum": [kind, None]},
                          **{name: group["properties"][name] for name in _COMMON_FIELDS}}
    schema: Schema = {
        "title": f"Segment {kind} message",
        "description": "Checked for the common fields only (CONTRACT.md); extra fields allowed.",
        "type": "object",
        "properties": properties,
    }
    required: list[str] = []
    if kind == "alias":
        properties["previousId"] = properties["userId"] = NONEMPTY
        required += ["previousId", "userId"]
    else:
        schema["anyOf"] = copy.deepcopy(group["anyOf"])
    if kind == "track":
        properties["event"] = NONEMPTY
        required.append("event")
    if kind == "identify":
        properties["traits"] = {"type": ["object", "null"]}
    if required:
        schema["required"] = required
    return schema


def message_components(limits: Limits) -> dict[str, Schema]:
    components = _group_components(limits)
    group = components[_GROUP]
    components.update({_message_name(kind): _message_schema(kind, group)
                       for kind in MESSAGE_TYPES if kind != "group"})
    components["BatchItem"] = {
        "description": "One batch item: its own type is required and picks its rules.",
        "anyOf": [{"allOf": [ref(_message_name(kind)),
                             {"required": ["type"], "properties": {"type": {"const": kind}}}]}
                  for kind in MESSAGE_TYPES],
    }
    components["BatchRequest"] = {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array", "maxItems": limits.max_batch_items,
                      "items": ref("BatchItem")},
            **{name: group["properties"][name]
               for name in ("sentAt", "context", "integrations")},
            "writeKey": {"type": "string"},
        },
    }
    return components


def error_types() -> dict[int, list[str]]:
    """Each HTTP status an error class answers with, and the ``error.type`` values it carries."""
    by_code: dict[int, list[str]] = {}
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.ApiError):
            types = by_code.setdefault(cls.code, [])
            if cls.type not in types:
                types.append(cls.type)
    return by_code


def error_schemas(by_code: dict[int, list[str]]) -> dict[str, Schema]:
    all_types = sorted({t for types in by_code.values() for t in types})
    schemas: dict[str, Schema] = {
        "Violation": {
            "type": "object",
            "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
        },
        "Error": {
            "description": "The documented error body, plus top-level code and message for SDKs.",
            "type": "object",
            "required": ["error", "code", "message"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["type", "message", "errors"],
                    "properties": {
                        "type": {"enum": all_types},
                        "message": {"type": "string"},
                        "errors": {"type": "array", "minItems": 1, "items": ref("Violation")},
                    },
                },
                "code": {"enum": all_types},
                "message": {"type": "string"},
            },
        },
        "Success": {
            "type": "object",
            "required": ["success"],
            "properties": {"success": {"const": True}},
        },
    }
    for code, types in sorted(by_code.items()):
        schemas[f"Error{code}"] = {"allOf": [ref("Error"), {"properties": {
            "error": {"properties": {"type": {"enum": types}}},
            "code": {"enum": types},
        }}]}
    return schemas


def error_responses(by_code: dict[int, list[str]]) -> dict[str, Schema]:
    return {
        f"Error{code}": {
            "description": f"An error answer: {', '.join(types)}.",
            "headers": {"Access-Control-Allow-Origin": CORS_IF_TRACKING},
            "content": {"application/json": {"schema": ref(f"Error{code}")}},
        }
        for code, types in sorted(by_code.items())
    }


def _tracking_operations(endpoint: str, path: str, limits: Limits) -> Schema:
    """The POST and OPTIONS operations of one tracking path (``path`` may be a short alias)."""
    is_batch = endpoint in BATCH_PATHS
    body = ref("BatchRequest" if is_batch else _message_name(TRACKING_PATHS[endpoint]))
    limit = limits.max_batch_bytes if is_batch else limits.max_body_bytes
    what = "a batch" if is_batch else f"one {TRACKING_PATHS[endpoint]} message"
    alias = f" (analytics.js' alias of {endpoint})" if path != endpoint else ""
    op_id = path.strip("/").replace("/", "_")
    media: Schema = {"schema": body}
    return {
        "post": {
            "operationId": f"post_{op_id}",
            "tags": ["tracking"],
            "summary": f"Send {what}{alias}",
            "description": (
                "The body is parsed as JSON whatever Content-Type says; gzip and deflate are "
                f"inflated. At most {limit} decoded bytes. In segment mode every body that "
                "parses gets 200 and invalid messages are dropped (but recorded)."
            ),
            "security": WRITE_KEY_SECURITY,
            "parameters": [{
                "name": "Content-Encoding",
                "in": "header",
                "required": False,
                "description": "gzip, x-gzip or deflate to compress the body; others get 415.",
                "schema": {"type": "string", "enum": ["identity", "gzip", "x-gzip", "deflate"]},
            }],
            "requestBody": {
                "required": True,
                "content": {"application/json": media, "text/plain": media},
            },
            "responses": {
                "200": {"$ref": f"{RESPONSES}Success"},
                **error_refs(400, 401, 415),
                "default": {
                    "description": (
                        "An injected fault (POST /__mockseg/faults): any status from 200 to "
                        "599, with the success body below 300 and the error body from 300."
                    ),
                    "headers": {
                        "Access-Control-Allow-Origin": CORS,
                        "Retry-After": {"schema": {"type": "string"}},
                    },
                    "content": {"application/json": {
                        "schema": {"anyOf": [ref("Success"), ref("Error")]}}},
                },
            },
        },
        "options": {
            "operationId": f"options_{op_id}",
            "tags": ["tracking"],
            "summary": f"CORS preflight for {path}",
            "parameters": [{
                "name": "Access-Control-Request-Headers",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            }],
            "responses": {"204": {"$ref": f"{RESPONSES}Preflight"}},
        },
    }


def tracking_paths(limits: Limits) -> dict[str, Schema]:
    endpoints = {path: path for path in [*TRACKING_PATHS, *BATCH_PATHS]}
    endpoints.update(SHORT_PATHS)
    return {path: _tracking_operations(endpoint, path, limits)
            for path, endpoint in endpoints.items()}


def settings_paths() -> dict[str, Schema]:
    return {"/v1/projects/{writeKey}/settings": {"get": {
        "operationId": "cdn_settings",
        "tags": ["tracking"],
        "summary": "analytics.js's CDN settings, pointing the Segment.io destination here",
        "description": "What Segment's CDN answers for a source with only the Segment.io "
                       "destination, its apiHost this server's HOST:PORT/v1 (or the document "
                       "given with --settings). Logged, not recorded.",
        "parameters": [{"name": "writeKey", "in": "path", "required": True,
                        "schema": {"type": "string", "minLength": 1}}],
        "responses": {"200": response({
            "type": "object", "required": ["integrations"],
            "properties": {"integrations": {
                "type": "object", "required": ["Segment.io"],
                "properties": {"Segment.io": {"type": "object", "required": ["apiKey"]}}}},
        }, "The settings document")},
    }}}
