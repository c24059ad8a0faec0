"""The admin half of the OpenAPI document: the operations under ``/__mockseg/`` and the
schemas of what they answer."""

from __future__ import annotations

from typing import Any

from mockseg.admin import MAX_WAIT_SECONDS
from mockseg.app import MODES
from mockseg.faults import MAX_PENDING_FAULTS
from mockseg.journal import CallFilter
from mockseg.openapi._parts import (
    ADMIN_SECURITY,
    COUNT,
    OPENAPI_VERSION,
    Schema,
    error_refs,
    ref,
    response,
    text_response,
)
from mockseg.webui import ASSETS, CONTENT_TYPES, PAGE

__all__ = ["admin_paths", "admin_schemas"]


def _admin(op_id: str, summary: str, responses: Schema, **extra: Any) -> Schema:
    """An admin operation: 401 without the token, 403 for a foreign Host or another site."""
    return {"operationId": op_id, "tags": ["admin"], "summary": summary,
            "security": ADMIN_SECURITY, "responses": {**responses, **error_refs(401, 403)},
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


def admin_schemas() -> dict[str, Schema]:
    violations: Schema = {"type": "array", "items": ref("Violation")}
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
                "calls": {"type": "array", "items": ref("Record")},
                "total": COUNT,
                "timed_out": {"type": "boolean"},
            },
        },
        "Stats": {
            "type": "object",
            "required": ["total", "accepted", "rejected", "by_type", "faults", "duplicates",
                         "with_warnings", "violations", "dropped"],
            "properties": {
                **{name: COUNT for name in ("total", "accepted", "rejected", "faults",
                                             "duplicates", "with_warnings", "violations",
                                             "dropped")},
                "by_type": {"type": "object", "additionalProperties": COUNT},
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
                   "properties": {"faults": {"type": "array", "items": ref("Fault")}}},
        "FaultsAdded": {
            "type": "object", "required": ["added", "fault", "pending"],
            "properties": {"added": COUNT, "fault": ref("Fault"), "pending": COUNT},
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
                        "rules": COUNT,
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


def admin_paths() -> dict[str, Schema]:
    ok = response(ref("Success"), "Done", cors=False)
    faults = response(ref("Faults"), "The faults still planned", cors=False)
    not_modified = {"description": "Not modified (If-None-Match matched the ETag)"}
    if_none_match = {"name": "If-None-Match", "in": "header", "required": False,
                     "schema": {"type": "string"}}
    paths: dict[str, Schema] = {
        "/__mockseg/calls": {
            "get": _admin("list_calls", "The recorded messages, oldest first",
                          {"200": response(ref("Calls"), "The matching records", cors=False),
                           **error_refs(400)},
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
            "get": _admin("stats", "Totals", {"200": response(ref("Stats"), "Totals", cors=False)}),
        },
        "/__mockseg/faults": {
            "get": _admin("list_faults", "The planned faults", {"200": faults}),
            "post": _admin(
                "add_faults", "Make the next count tracking calls get this answer",
                {"200": response(ref("FaultsAdded"), "How many were added and are pending",
                              cors=False), **error_refs(400, 413, 415)},
                requestBody={"required": False, "content": {
                    "application/json": {"schema": ref("FaultSpec")}}},
            ),
            "delete": _admin("clear_faults", "Drop the planned faults", {"200": faults}),
        },
        "/__mockseg/health": {
            "get": _admin("health", "Liveness, mode, write keys and tracking plan",
                          {"200": response(ref("Health"), "Up", cors=False)}),
        },
        "/__mockseg/schema/group": {
            "get": _admin("group_schema", "The group contract as JSON Schema (these limits)", {
                "200": {"description": "A JSON Schema (Draft 2020-12)",
                        "content": {"application/schema+json": {"schema": {"type": "object"}}}},
            }),
        },
        "/__mockseg/index.json": {
            "get": _admin("index", "The admin endpoints",
                          {"200": response(ref("Index"), "The endpoints", cors=False)}),
        },
        "/__mockseg/openapi.json": {
            "get": _admin("openapi", "This document", {"200": response({
                "type": "object", "required": ["openapi", "info", "paths"],
                "properties": {"openapi": {"const": OPENAPI_VERSION}}}, "OpenAPI 3.1")}),
        },
        "/__mockseg": {
            "get": {"operationId": "to_page", "tags": ["admin"],
                    "summary": "Redirect to the journal page",
                    "responses": {"308": text_response(
                        "text/html", "Permanent redirect to /__mockseg/",
                        Location={"required": True, "schema": {"type": "string"}})}},
        },
        "/__mockseg/": {
            "get": {"operationId": "page", "tags": ["admin"],
                    "summary": "The journal page (reads the admin API with the token)",
                    "parameters": [if_none_match],
                    "responses": {"200": text_response(CONTENT_TYPES[PAGE].split(";")[0],
                                               "The page"),
                                  "304": not_modified}},
        },
    }
    for name in ASSETS:
        paths[f"/__mockseg/ui/{name}"] = {"get": {
            "operationId": f"ui_{name.replace('.', '_')}", "tags": ["admin"],
            "summary": f"The journal page's {name}",
            "parameters": [if_none_match],
            "responses": {"200": text_response(CONTENT_TYPES[name].split(";")[0], name),
                          "304": not_modified},
        }}
    return paths
