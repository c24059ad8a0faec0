"""The OpenAPI 3.1 document of the whole HTTP surface: tracking endpoints and the admin API.

Built from the code's own tables (the tracking paths of :mod:`mockseg.routes`, the group schema of
:mod:`mockseg.schema`, the error classes of :mod:`mockseg.errors`, the journal's filters) and
served at ``/__mockseg/openapi.json``. ``tests/test_fuzz.py`` runs schemathesis against it, so
it describes what the app answers, status by status. Its tracking half is in
:mod:`mockseg.openapi._tracking`, its admin half in :mod:`mockseg.openapi._admin`.
"""

from __future__ import annotations

import copy
from functools import cache

from mockseg._version import __version__
from mockseg.openapi._admin import admin_paths, admin_schemas
from mockseg.openapi._parts import CORS, OPENAPI_VERSION, Schema, ref, response
from mockseg.openapi._tracking import (
    error_responses,
    error_schemas,
    error_types,
    message_components,
    settings_paths,
    tracking_paths,
)
from mockseg.rules import Limits

__all__ = ["OPENAPI_VERSION", "openapi_document"]


@cache
def _document(limits: Limits) -> Schema:
    by_code = error_types()
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
        "paths": {**tracking_paths(limits), **settings_paths(), **admin_paths()},
        "components": {
            "schemas": {**message_components(limits), **error_schemas(by_code),
                        **admin_schemas()},
            "responses": {
                "Success": response(ref("Success"), "Accepted (in segment mode: parsed)"),
                "Preflight": {
                    "description": "CORS preflight: any origin, the asked-for headers allowed",
                    "headers": {
                        "Access-Control-Allow-Origin": CORS,
                        **{name: {"required": True, "schema": {"type": "string"}} for name in (
                            "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
                            "Access-Control-Max-Age")},
                    },
                },
                **error_responses(by_code),
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
