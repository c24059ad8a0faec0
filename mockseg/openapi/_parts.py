"""What the parts of the OpenAPI document share: its version, references, common schemas and
the shapes of its answers."""

from __future__ import annotations

from typing import Any

__all__ = ["ADMIN_SECURITY", "CORS", "CORS_IF_TRACKING", "COUNT", "NONEMPTY", "OPENAPI_VERSION",
           "RESPONSES", "SCHEMAS", "WRITE_KEY_SECURITY", "Schema", "error_refs", "ref",
           "response", "text_response"]

OPENAPI_VERSION = "3.1.0"
Schema = dict[str, Any]

SCHEMAS = "#/components/schemas/"
RESPONSES = "#/components/responses/"
NONEMPTY: Schema = {"type": "string", "minLength": 1}
COUNT: Schema = {"type": "integer", "minimum": 0}
CORS: Schema = {"$ref": "#/components/headers/AccessControlAllowOrigin"}
#: Errors are shared by tracking paths (which send CORS headers) and the admin API (which never
#: does).
CORS_IF_TRACKING: Schema = {"$ref": "#/components/headers/AccessControlAllowOriginIfTracking"}
WRITE_KEY_SECURITY: list[dict[str, list[str]]] = [{"writeKey": []}, {"writeKeyBearer": []}, {}]
ADMIN_SECURITY: list[dict[str, list[str]]] = [{}, {"adminToken": []}]


def ref(name: str) -> Schema:
    return {"$ref": SCHEMAS + name}


def response(schema: Schema, description: str, *, cors: bool = True, **headers: Schema) -> Schema:
    cors_header = {"Access-Control-Allow-Origin": CORS} if cors else {}
    return {
        "description": description,
        "headers": {**cors_header, **headers},
        "content": {"application/json": {"schema": schema}},
    }


def error_refs(*codes: int) -> dict[str, Schema]:
    return {str(code): {"$ref": f"{RESPONSES}Error{code}"} for code in codes}


def text_response(content_type: str, description: str, **headers: Schema) -> Schema:
    return {"description": description, "headers": headers,
            "content": {content_type: {"schema": {"type": "string"}}}}
