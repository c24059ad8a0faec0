"""The OpenAPI 3.1 document of the whole HTTP surface: tracking endpoints and the admin API.

Built from the code's own tables (the tracking paths of :mod:`mockseg.app`, the group schema of
:mod:`mockseg.schema`, the error classes of :mod:`mockseg.errors`, the journal's filters) and
served at ``/__mockseg/openapi.json``. ``tests/test_fuzz.py`` runs schemathesis against it, so
it describes what the app answers, status by status.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from mockseg import __version__, errors
from mockseg.admin import MAX_WAIT_SECONDS
from mockseg.app import BATCH_PATHS, MODES, SHORT_PATHS, TRACKING_PATHS
from mockseg.faults import MAX_PENDING_FAULTS
from mockseg.journal import CallFilter
from mockseg.rules import MESSAGE_TYPES, TIMESTAMP_FIELDS, Limits
from mockseg.schema import group_schema
from mockseg.webui import ASSETS, CONTENT_TYPES, PAGE

__all__ = ["OPENAPI_VERSION", "openapi_document"]

OPENAPI_VERSION = "3.1.0"

Schema = dict[str, Any]

_SCHEMAS = "#/components/schemas/"
_RESPONSES = "#/components/responses/"
_GROUP = "GroupMessage"
#: The group schema's fields that every message type shares (rules 5, 6, 12 to 15).
_COMMON_FIELDS = ("userId", "anonymousId", *TIMESTAMP_FIELDS, "messageId", "context",
                  "integrations")
_NONEMPTY: Schema = {"type": "string", "minLength": 1}
_COUNT: Schema = {"type": "integer", "minimum": 0}
_CORS: Schema = {"$ref": "#/components/headers/AccessControlAllowOrigin"}
#: Errors are shared by tracking paths (which send CORS headers) and the admin API (which never
#: does).
_CORS_IF_TRACKING: Schema = {"$ref": "#/components/headers/AccessControlAllowOriginIfTracking"}
_WRITE_KEY_SECURITY: list[dict[str, list[str]]] = [{"writeKey": []}, {"writeKeyBearer": []}, {}]
_ADMIN_SECURITY: list[dict[str, list[str]]] = [{}, {"adminToken": []}]


def _ref(name: str) -> Schema:
    return {"$ref": _SCHEMAS + name}


def _message_name(kind: str) -> str:
    """The component that describes one message of ``kind``."""
    return _GROUP if kind == "group" else f"{kind.capitalize()}Message"


def _rewrite_refs(node: Any, names: dict[str, str]) -> Any:
    """``node`` with every ``#/$defs/X`` reference pointing at the component ``names[X]``."""
    if isinstance(node, dict):
        return {key: (_SCHEMAS + names[value.removeprefix("#/$defs/")]
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
        properties["previousId"] = properties["userId"] = _NONEMPTY
        required += ["previousId", "userId"]
    else:
        schema["anyOf"] = copy.deepcopy(group["anyOf"])
    if kind == "track":
        properties["event"] = _NONEMPTY
        required.append("event")
    if kind == "identify":
        properties["traits"] = {"type": ["object", "null"]}
    if required:
        schema["required"] = required
    return schema


def _message_components(limits: Limits) -> dict[str, Schema]:
    components = _group_components(limits)
    group = components[_GROUP]
    components.update({_message_name(kind): _message_schema(kind, group)
                       for kind in MESSAGE_TYPES if kind != "group"})
    components["BatchItem"] = {
        "description": "One batch item: its own type is required and picks its rules.",
        "anyOf": [{"allOf": [_ref(_message_name(kind)),
                             {"required": ["type"], "properties": {"type": {"const": kind}}}]}
                  for kind in MESSAGE_TYPES],
    }
    components["BatchRequest"] = {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array", "maxItems": limits.max_batch_items,
                      "items": _ref("BatchItem")},
            **{name: group["properties"][name]
               for name in ("sentAt", "context", "integrations")},
            "writeKey": {"type": "string"},
        },
    }
    return components


def _error_types() -> dict[int, list[str]]:
    """Each HTTP status an error class answers with, and the ``error.type`` values it carries."""
    by_code: dict[int, list[str]] = {}
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.ApiError):
            types = by_code.setdefault(cls.code, [])
            if cls.type not in types:
                types.append(cls.type)
    return by_code


def _error_schemas(by_code: dict[int, list[str]]) -> dict[str, Schema]:
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
                        "errors": {"type": "array", "minItems": 1, "items": _ref("Violation")},
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
        schemas[f"Error{code}"] = {"allOf": [_ref("Error"), {"properties": {
            "error": {"properties": {"type": {"enum": types}}},
            "code": {"enum": types},
        }}]}
    return schemas


def _error_responses(by_code: dict[int, list[str]]) -> dict[str, Schema]:
    return {
        f"Error{code}": {
            "description": f"An error answer: {', '.join(types)}.",
            "headers": {"Access-Control-Allow-Origin": _CORS_IF_TRACKING},
            "content": {"application/json": {"schema": _ref(f"Error{code}")}},
        }
        for code, types in sorted(by_code.items())
    }


def _json(schema: Schema, description: str, *, cors: bool = True, **headers: Schema) -> Schema:
    cors_header = {"Access-Control-Allow-Origin": _CORS} if cors else {}
    return {
        "description": description,
        "headers": {**cors_header, **headers},
        "content": {"application/json": {"schema": schema}},
    }


def _errors(*codes: int) -> dict[str, Schema]:
    return {str(code): {"$ref": f"{_RESPONSES}Error{code}"} for code in codes}


# --- tracking -----------------------------------------------------------------------------------


def _tracking_operations(endpoint: str, path: str, limits: Limits) -> Schema:
    """The POST and OPTIONS operations of one tracking path (``path`` may be a short alias)."""
    is_batch = endpoint in BATCH_PATHS
    body = _ref("BatchRequest" if is_batch else _message_name(TRACKING_PATHS[endpoint]))
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
            "security": _WRITE_KEY_SECURITY,
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
                "200": {"$ref": f"{_RESPONSES}Success"},
                **_errors(400, 401, 415),
                "default": {
                    "description": (
                        "An injected fault (POST /__mockseg/faults): any status from 200 to "
                        "599, with the success body below 300 and the error body from 300."
                    ),
                    "headers": {
                        "Access-Control-Allow-Origin": _CORS,
                        "Retry-After": {"schema": {"type": "string"}},
                    },
                    "content": {"application/json": {
                        "schema": {"anyOf": [_ref("Success"), _ref("Error")]}}},
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
            "responses": {"204": {"$ref": f"{_RESPONSES}Preflight"}},
        },
    }


def _tracking_paths(limits: Limits) -> dict[str, Schema]:
    endpoints = {path: path for path in [*TRACKING_PATHS, *BATCH_PATHS]}
    endpoints.update(SHORT_PATHS)
    return {path: _tracking_operations(endpoint, path, limits)
            for path, endpoint in endpoints.items()}


def _settings_paths() -> dict[str, Schema]:
    return {"/v1/projects/{writeKey}/settings": {"get": {
        "operationId": "cdn_settings",
        "tags": ["tracking"],
        "summary": "analytics.js's CDN settings, pointing the Segment.io destination here",
        "description": "What Segment's CDN answers for a source with only the Segment.io "
                       "destination, its apiHost this server's HOST:PORT/v1 (or the document "
                       "given with --settings). Logged, not recorded.",
        "parameters": [{"name": "writeKey", "in": "path", "required": True,
                        "schema": {"type": "string", "minLength": 1}}],
        "responses": {"200": _json({
            "type": "object", "required": ["integrations"],
            "properties": {"integrations": {
                "type": "object", "required": ["Segment.io"],
                "properties": {"Segment.io": {"type": "object", "required": ["apiKey"]}}}},
        }, "The settings document")},
    }}}


# --- admin --------------------------------------------------------------------------------------


def _admin(op_id: str, summary: str, responses: Schema, **extra: Any) -> Schema:
    """An admin operation: 401 without the token, 403 for a foreign Host or another site."""
    return {"operationId": op_id, "tags": ["admin"], "summary": summary,
            "security": _ADMIN_SECURITY, "responses": {**responses, **_errors(401, 403)},
            **extra}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _calls_parameters() -> list[Schema]:
    filters = [_query(name, {"type": "string"}, f"Only records whose {name} equals this"
                      + (' ("null": records of no type)' if name == "type" else ""))
               for name in CallFilter.QUERY_NAMES]
    return [
        *filters,
        _query("after", {"type": "integer", "minimum": 0, "maximum": 2**62},
               "Only records with a greater id"),
        _query("before", {"type": "integer", "minimum": 1, "maximum": 2**62},
               "Only records with a smaller id (not with wait)"),
        _query("limit", {"type": "integer", "minimum": 0, "maximum": 10**9},
               "Only the oldest this many records (total still counts them all)"),
        _query("last", {"type": "integer", "minimum": 0, "maximum": 10**9},
               "Only the newest this many records, still oldest first (total still counts "
               "them all); not with limit"),
        _query("wait", {"type": "integer", "minimum": 0, "maximum": 1_000_000},
               "Hold the answer until this many records match"),
        _query("timeout", {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS},
               "How long wait may hold, in seconds (default 5)"),
    ]


def _admin_schemas() -> dict[str, Schema]:
    violations: Schema = {"type": "array", "items": _ref("Violation")}
    string_map: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
    fault_fields: Schema = {
        "status": {"type": "integer", "minimum": 200, "maximum": 599},
        "retry_after": {"type": ["integer", "null"], "minimum": 0, "maximum": 86_400},
        "delay_ms": {"type": "integer", "minimum": 0, "maximum": 60_000},
    }
    return {
        "Record": {
            "description": "One recorded message (a request that failed early: type null).",
            "type": "object",
            "required": ["id", "request_id", "received_at", "path", "type", "status",
                         "http_status", "errors", "warnings", "violations", "payload",
                         "write_key", "auth", "headers", "duplicate_of", "fault", "scope",
                         "response"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "request_id": {"type": "string"},
                "received_at": {"type": "string", "format": "date-time"},
                "path": {"type": "string"},
                "type": {"type": ["string", "null"]},
                "status": {"enum": ["accepted", "rejected"]},
                "http_status": {"type": "integer"},
                "errors": violations,
                "warnings": violations,
                "violations": {
                    "type": "array", "description": "What breaks the tracking plan",
                    "items": {"type": "object", "required": ["type", "field", "description"],
                              "properties": {"type": {"type": "string"},
                                             "field": {"type": "string"},
                                             "description": {"type": "string"}}}},
                "payload": {"description": "The message exactly as received, or null."},
                "write_key": {"type": ["string", "null"]},
                "auth": {"enum": ["basic", "bearer", "body", "basic+body", "bearer+body", None],
                         "description": "How the write key came (the scheme only)"},
                "headers": string_map,
                "duplicate_of": {"type": ["integer", "null"]},
                "fault": {"type": "boolean"},
                "scope": {"type": ["string", "null"]},
                "response": {"anyOf": [{"type": "null"}, {
                    "type": "object",
                    "required": ["status", "headers", "body"],
                    "properties": {"status": {"type": "integer"}, "headers": string_map,
                                   "body": {"type": "string"}},
                }]},
                "raw_body": {"type": "string", "description": "The body of a request that "
                                                              "could not be parsed."},
            },
        },
        "Calls": {
            "type": "object",
            "required": ["calls", "total"],
            "properties": {
                "calls": {"type": "array", "items": _ref("Record")},
                "total": _COUNT,
                "timed_out": {"type": "boolean"},
            },
        },
        "Stats": {
            "type": "object",
            "required": ["total", "accepted", "rejected", "by_type", "faults", "duplicates",
                         "with_warnings", "violations", "dropped"],
            "properties": {
                **{name: _COUNT for name in ("total", "accepted", "rejected", "faults",
                                             "duplicates", "with_warnings", "violations",
                                             "dropped")},
                "by_type": {"type": "object", "additionalProperties": _COUNT},
            },
        },
        "Fault": {"type": "object", "required": list(fault_fields),
                  "properties": fault_fields},
        "FaultSpec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {**fault_fields,
                           "count": {"type": "integer", "minimum": 1,
                                     "maximum": MAX_PENDING_FAULTS}},
        },
        "Faults": {"type": "object", "required": ["faults"],
                   "properties": {"faults": {"type": "array", "items": _ref("Fault")}}},
        "FaultsAdded": {
            "type": "object", "required": ["added", "fault", "pending"],
            "properties": {"added": _COUNT, "fault": _ref("Fault"), "pending": _COUNT},
        },
        "Health": {
            "type": "object",
            "required": ["status", "scope", "version", "mode", "write_keys", "tracking_plan"],
            "properties": {
                "status": {"const": "ok"},
                "scope": {"type": ["string", "null"]},
                "version": {"type": "string"},
                "mode": {"enum": list(MODES)},
                "write_keys": {"type": ["array", "null"], "items": {"type": "string"}},
                "tracking_plan": {
                    "description": "The tracking plan that checks the calls, or null for none",
                    "type": ["object", "null"],
                    "required": ["source", "rules", "mode", "unplanned"],
                    "properties": {
                        "source": {"type": "string", "description": "the plan's file, or "
                                   "<tracking plan> for one given as data"},
                        "rules": _COUNT,
                        "mode": {"enum": ["record", "block"]},
                        "unplanned": {"enum": ["allow", "violate", "block"]},
                    },
                },
            },
        },
        "Index": {
            "type": "object",
            "required": ["service", "endpoints"],
            "properties": {"service": {"const": "mockseg"},
                           "endpoints": {"type": "array", "items": {"type": "string"}}},
        },
    }


def _text(content_type: str, description: str, **headers: Schema) -> Schema:
    return {"description": description, "headers": headers,
            "content": {content_type: {"schema": {"type": "string"}}}}


def _admin_paths() -> dict[str, Schema]:
    ok = _json(_ref("Success"), "Done", cors=False)
    faults = _json(_ref("Faults"), "The faults still planned", cors=False)
    not_modified = {"description": "Not modified (If-None-Match matched the ETag)"}
    if_none_match = {"name": "If-None-Match", "in": "header", "required": False,
                     "schema": {"type": "string"}}
    paths: dict[str, Schema] = {
        "/__mockseg/calls": {
            "get": _admin("list_calls", "The recorded messages, oldest first",
                          {"200": _json(_ref("Calls"), "The matching records", cors=False),
                           **_errors(400)},
                          parameters=_calls_parameters(),
                          description="Without limit or last the answer is streamed "
                                      "(Transfer-Encoding: chunked), a record at a time."),
            "delete": _admin("clear_calls", "Empty the journal (planned faults stay)",
                             {"200": ok}),
        },
        "/__mockseg/reset": {
            "post": _admin("reset", "Empty the journal and drop planned faults", {"200": ok}),
        },
        "/__mockseg/stats": {
            "get": _admin("stats", "Totals", {"200": _json(_ref("Stats"), "Totals", cors=False)}),
        },
        "/__mockseg/faults": {
            "get": _admin("list_faults", "The planned faults", {"200": faults}),
            "post": _admin(
                "add_faults", "Make the next count tracking calls get this answer",
                {"200": _json(_ref("FaultsAdded"), "How many were added and are pending",
                              cors=False), **_errors(400, 413, 415)},
                requestBody={"required": False, "content": {
                    "application/json": {"schema": _ref("FaultSpec")}}},
            ),
            "delete": _admin("clear_faults", "Drop the planned faults", {"200": faults}),
        },
        "/__mockseg/health": {
            "get": _admin("health", "Liveness, mode, write keys and tracking plan",
                          {"200": _json(_ref("Health"), "Up", cors=False)}),
        },
        "/__mockseg/schema/group": {
            "get": _admin("group_schema", "The group contract as JSON Schema (these limits)", {
                "200": {"description": "A JSON Schema (Draft 2020-12)",
                        "content": {"application/schema+json": {"schema": {"type": "object"}}}},
            }),
        },
        "/__mockseg/index.json": {
            "get": _admin("index", "The admin endpoints",
                          {"200": _json(_ref("Index"), "The endpoints", cors=False)}),
        },
        "/__mockseg/openapi.json": {
            "get": _admin("openapi", "This document", {"200": _json({
                "type": "object", "required": ["openapi", "info", "paths"],
                "properties": {"openapi": {"const": OPENAPI_VERSION}}}, "OpenAPI 3.1")}),
        },
        "/__mockseg": {
            "get": {"operationId": "to_page", "tags": ["admin"],
                    "summary": "Redirect to the journal page",
                    "responses": {"308": _text("text/html", "Permanent redirect to /__mockseg/",
                                               Location={"required": True,
                                                         "schema": {"type": "string"}})}},
        },
        "/__mockseg/": {
            "get": {"operationId": "page", "tags": ["admin"],
                    "summary": "The journal page (reads the admin API with the token)",
                    "parameters": [if_none_match],
                    "responses": {"200": _text(CONTENT_TYPES[PAGE].split(";")[0],
                                               "The page"),
                                  "304": not_modified}},
        },
    }
    for name in ASSETS:
        paths[f"/__mockseg/ui/{name}"] = {"get": {
            "operationId": f"ui_{name.replace('.', '_')}", "tags": ["admin"],
            "summary": f"The journal page's {name}",
            "parameters": [if_none_match],
            "responses": {"200": _text(CONTENT_TYPES[name].split(";")[0], name),
                          "304": not_modified},
        }}
    return paths


# --- the document -------------------------------------------------------------------------------


@cache
def _document(limits: Limits) -> Schema:
    by_code = _error_types()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "mockseg",
            "version": __version__,
            "summary": "A contract-checking fake of Segment's Tracking API",
            "description": (
                "Tracking endpoints under /v1/ and the admin API under /__mockseg/. In strict "
                "mode (the default) an invalid message gets 400 and a missing write key 401; "
                "segment mode answers 200 to everything that parses. Every tracking path also "
                "answers with a trailing slash (/v1/import/, the Java SDK's). Any other path "
                "gets 404, any other method 405, both with the error body. Tracking answers "
                "carry Access-Control-Allow-Origin (the request's Origin, with credentials "
                "allowed, or *); the admin API sends no CORS headers."
            ),
        },
        "servers": [
            {"url": "/", "description": "The server's own records"},
            {"url": "/_/{scope}", "description": "A scope: a test's private view of a shared "
                                                 "server, for tracking and admin alike",
             "variables": {"scope": {"default": "my-test"}}},
        ],
        "tags": [{"name": "tracking", "description": "Segment's Tracking API"},
                 {"name": "admin", "description": "Read the journal, inject faults"}],
        "paths": {**_tracking_paths(limits), **_settings_paths(), **_admin_paths()},
        "components": {
            "schemas": {**_message_components(limits), **_error_schemas(by_code),
                        **_admin_schemas()},
            "responses": {
                "Success": _json(_ref("Success"), "Accepted (in segment mode: parsed)"),
                "Preflight": {
                    "description": "CORS preflight: any origin, the asked-for headers allowed",
                    "headers": {
                        "Access-Control-Allow-Origin": _CORS,
                        **{name: {"required": True, "schema": {"type": "string"}} for name in (
                            "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
                            "Access-Control-Max-Age")},
                    },
                },
                **_error_responses(by_code),
            },
            "headers": {
                "AccessControlAllowOrigin": {
                    "required": True, "schema": {"type": "string", "minLength": 1},
                    "description": "The request's Origin (with Access-Control-Allow-"
                                   "Credentials: true), or * without one"},
                "AccessControlAllowOriginIfTracking": {
                    "required": False, "schema": {"type": "string", "minLength": 1},
                    "description": "Sent on tracking paths, never by the admin API"},
            },
            "securitySchemes": {
                "writeKey": {"type": "http", "scheme": "basic",
                             "description": "The write key as the user name, no password. "
                                            "A writeKey field in the body works as well."},
                "writeKeyBearer": {"type": "http", "scheme": "bearer",
                                   "description": "The write key as a bearer token"},
                "adminToken": {"type": "http", "scheme": "bearer",
                               "description": "Required by the admin API only when the "
                                              "server was started with --admin-token"},
            },
        },
    }


def openapi_document(limits: Limits | None = None) -> Schema:
    """The OpenAPI 3.1 document of mockseg's HTTP surface under ``limits`` (default: contract's)."""
    return copy.deepcopy(_document(limits or Limits()))
