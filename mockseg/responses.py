"""The one place where answers, and errors in particular, become HTTP responses.

Tracking answers are :class:`Answer`\\ s: a status, a header list and body bytes, with the plain
success prebuilt, so that the hot path builds no werkzeug object. The admin API and the journal
page answer with werkzeug ``Response``\\ s (:func:`json_response`, :func:`error_response`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

from mockseg.errors import ApiError
from mockseg.jsoncodec import dumps

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "Answer",
    "add_cors",
    "answer_summary",
    "error_answer",
    "error_body",
    "error_bytes",
    "error_response",
    "json_response",
    "status_line",
    "success_answer",
    "with_cors",
    "wsgi_answer",
]

_SUCCESS = b'{"success":true}'
_JSON = ("Content-Type", "application/json")


class Answer(NamedTuple):
    """A tracking answer: the status code, the headers in the order they are sent, the body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def cors_headers(origin: str | None) -> tuple[tuple[str, str], ...]:
    """The headers that let a page read a tracking answer: the page's ``Origin`` echoed, with
    credentials allowed (``fetch(..., {credentials: 'include'})`` needs both), or ``*`` for a
    request without one (curl, SDKs on servers).

    Only tracking answers get these; the admin API and the journal page never do.
    """
    if origin:
        return (("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Credentials", "true"), ("Vary", "Origin"))
    return _ANY_ORIGIN


_ANY_ORIGIN = (("Access-Control-Allow-Origin", "*"),)


def add_cors(response: Response, origin: str | None) -> Response:
    """:func:`cors_headers` on a werkzeug response (preflights, the CDN settings)."""
    for name, value in cors_headers(origin):
        response.headers[name] = value
    return response


def _json_answer(body: bytes, status: int, headers: Mapping[str, str] | None) -> Answer:
    extra = tuple(headers.items()) if headers else ()
    return Answer(status, (_JSON, ("Content-Length", str(len(body))), *extra), body)


#: The plain success, before and after its CORS header: every accepted call without ``Origin``
#: gets the second, as it is.
_SUCCESS_BARE = _json_answer(_SUCCESS, 200, None)
_SUCCESS_ANSWER = Answer(200, _SUCCESS_BARE.headers + _ANY_ORIGIN, _SUCCESS)


def success_answer(status: int = 200, headers: Mapping[str, str] | None = None) -> Answer:
    """``{"success": true}``, the Tracking API's answer to an accepted request."""
    if status == 200 and not headers:
        return _SUCCESS_BARE
    return _json_answer(_SUCCESS, status, headers)


def with_cors(answer: Answer, origin: str | None) -> Answer:
    """``answer`` with :func:`cors_headers` added."""
    if answer is _SUCCESS_BARE and not origin:
        return _SUCCESS_ANSWER
    return answer._replace(headers=answer.headers + cors_headers(origin))


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


def error_answer(error: ApiError, headers: Mapping[str, str] | None = None) -> Answer:
    """The tracking API's answer to an :class:`~mockseg.errors.ApiError`."""
    return _json_answer(dumps(error_body(error)), error.code, headers)


def error_bytes(error: ApiError) -> bytes:
    """The error body as bytes, for the socket layer's own answers."""
    return dumps(error_body(error))


#: What a record keeps of the answer to its request; every plain success shares this one.
_SUCCESS_SUMMARY: Mapping[str, Any] = MappingProxyType({
    "status": 200,
    "headers": MappingProxyType(dict(_SUCCESS_ANSWER.headers)),
    "body": _SUCCESS.decode(),
})


def answer_summary(answer: Answer) -> Mapping[str, Any]:
    """The exact answer sent, as a record keeps it: status, headers and body text."""
    if answer is _SUCCESS_ANSWER or answer == _SUCCESS_ANSWER:
        return _SUCCESS_SUMMARY
    return {"status": answer.status, "headers": dict(answer.headers),
            "body": answer.body.decode("utf-8", "replace")}


def status_line(status: int) -> str:
    """The WSGI status line, worded as werkzeug words it (``429 TOO MANY REQUESTS``)."""
    return _STATUS_LINES.get(status) or f"{status} UNKNOWN"


_STATUS_LINES = {code: f"{code} {reason.upper()}" for code, reason in HTTP_STATUS_CODES.items()}


def wsgi_answer(answer: Answer | Response, environ: WSGIEnvironment
                ) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
    """The WSGI status line, header list and body of an answer to the request of ``environ``.

    A HEAD request, and a status that has no body (1xx, 204, 304), are answered as werkzeug
    answers them (no body; no ``Content-Length`` for 1xx and 204; no entity headers for 304).
    """
    if isinstance(answer, Answer):
        status = answer.status
        if not (status < 200 or status in (204, 304) or environ.get("REQUEST_METHOD") == "HEAD"):
            return status_line(status), list(answer.headers), [answer.body]
        answer = Response(answer.body, status, list(answer.headers))
    body, line, headers = answer.get_wsgi_response(environ)
    return line, headers, body


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response (the admin API's)."""
    response = Response(dumps(data), status=status, mimetype="application/json")
    if headers:
        response.headers.update(headers)
    return response


def error_response(error: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    """The admin API's answer to an :class:`~mockseg.errors.ApiError`."""
    return json_response(error_body(error), status=error.code, headers=headers)
