"""The API's errors: small classes with an HTTP code, an error type and a message.

They carry no HTTP machinery; :mod:`mockseg.responses` is the one place that turns them into
answers (``error_answer``, ``error_bytes``, ``error_response``).
"""

from __future__ import annotations

from collections.abc import Sequence

from mockseg.validation import Violation

__all__ = [
    "ApiError",
    "AuthenticationFailed",
    "Forbidden",
    "InjectedFault",
    "InternalError",
    "InvalidJson",
    "InvalidRequest",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RequestEntityTooLarge",
    "RequestHeaderTooLarge",
    "UnsupportedEncoding",
    "UnsupportedMediaType",
    "ValidationFailed",
]


class ApiError(Exception):
    """An error answer: ``code`` is the HTTP status, ``type`` the body's ``error.type``."""

    code = 400
    type = "validation_error"

    def __init__(self, message: str, field: str = "body", errors: Sequence[Violation] = ()):
        super().__init__(message)
        self.message = message
        self.errors: list[Violation] = list(errors) or [Violation(field, message)]

    @property
    def field(self) -> str:
        return self.errors[0].field


class InvalidJson(ApiError):
    """The body is not UTF-8 JSON, or could not be read."""

    type = "invalid_json"


class PayloadTooLarge(ApiError):
    """The decoded body is over its size limit (400, as the Tracking API answers)."""

    type = "payload_too_large"


class ValidationFailed(ApiError):
    """The body parsed but breaks the contract."""


class AuthenticationFailed(ApiError):
    """No write key, or one the server was not told to accept."""

    code = 401
    type = "authentication_error"


class NotFound(ApiError):
    code = 404
    type = "not_found"


class MethodNotAllowed(ApiError):
    code = 405
    type = "method_not_allowed"


class UnsupportedEncoding(ApiError):
    code = 415
    type = "unsupported_encoding"


class InjectedFault(ApiError):
    """The answer a test planned with ``fail_next`` or ``POST /__mockseg/faults``."""

    code = 503
    type = "injected_fault"


class InternalError(ApiError):
    """A bug in mockseg. Never expected; answered and recorded all the same."""

    code = 500
    type = "internal_error"


class InvalidRequest(ApiError):
    """The HTTP request itself is malformed (request line, Content-Length)."""

    type = "invalid_request"


class RequestHeaderTooLarge(ApiError):
    """A header line, or the number of headers, is over the HTTP parser's limit."""

    code = 431
    type = "request_header_too_large"


class Forbidden(ApiError):
    """A request the admin API refuses to serve: another site's, or through a foreign Host."""

    code = 403
    type = "forbidden"


class RequestEntityTooLarge(ApiError):
    """An admin request body over its limit (tracking bodies get 400 payload_too_large)."""

    code = 413
    type = "payload_too_large"


class UnsupportedMediaType(ApiError):
    """An admin body that is not declared as JSON."""

    code = 415
    type = "unsupported_media_type"
