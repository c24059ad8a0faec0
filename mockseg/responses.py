"""The one place where answers, and errors in particular, become HTTP responses."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from werkzeug.wrappers import Response

from mockseg.errors import ApiError
from mockseg.jsoncodec import dumps

__all__ = [
    "add_cors",
    "error_body",
    "error_bytes",
    "error_response",
    "json_response",
    "response_summary",
    "success_response",
]

_SUCCESS = b'{"success":true}'
#: The CORS answer to a request without ``Origin`` (curl, SDKs on servers).
_ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}


def add_cors(response: Response, origin: str | None) -> Response:
    """Let a page read a tracking answer: the page's ``Origin`` echoed, with credentials
    allowed (``fetch(..., {credentials: 'include'})`` needs both), or ``*`` without one.

    Only tracking answers get these; the admin API and the journal page never do.
    """
    headers = response.headers
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Credentials"] = "true"
        headers["Vary"] = "Origin"
    else:
        headers["Access-Control-Allow-Origin"] = "*"
    return response


def _json_bytes_response(
    body: bytes, status: int, headers: Mapping[str, str] | None
) -> Response:
    response = Response(body, status=status, mimetype="application/json")
    if headers:
        response.headers.update(headers)
    return response


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response."""
    return _json_bytes_response(dumps(data), status, headers)


def success_response(status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``{"success": true}``, the Tracking API's answer to an accepted request."""
    return _json_bytes_response(_SUCCESS, status, headers)


def error_body(error: ApiError) -> dict[str, Any]:
    """The documented error body, plus top-level ``code`` and ``message`` for SDKs that read them.

    The official Python SDK builds its ``APIError`` from ``payload["code"]`` and
    ``payload["message"]``; with them present its error callback shows the real reason.
    """
    return {
        "error": {
            "type": error.type,
            "message": error.message,
            "errors": [violation.to_dict() for violation in error.errors],
        },
        "code": error.type,
        "message": error.message,
    }


#: What a record keeps of the answer to its request; every plain success shares this one.
_SUCCESS_SUMMARY: Mapping[str, Any] = MappingProxyType({
    "status": 200,
    "headers": MappingProxyType({"Content-Type": "application/json",
                                 "Content-Length": str(len(_SUCCESS)), **_ANY_ORIGIN}),
    "body": _SUCCESS.decode(),
})


def response_summary(response: Response) -> Mapping[str, Any]:
    """The exact answer sent, as a record keeps it: status, headers and body text."""
    body = response.get_data()
    if response.status_code == 200 and body == _SUCCESS and len(response.headers) == 3:
        return _SUCCESS_SUMMARY
    return {"status": response.status_code, "headers": dict(response.headers),
            "body": body.decode("utf-8", "replace")}


def error_bytes(error: ApiError) -> bytes:
    """The error body as bytes, for the socket layer's own answers."""
    return dumps(error_body(error))


def error_response(error: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    """The HTTP answer for an :class:`~mockseg.errors.ApiError`."""
    return json_response(error_body(error), status=error.code, headers=headers)
