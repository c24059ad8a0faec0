"""The WSGI app: route, decode, validate, record, respond.

Tracking requests go through :meth:`MockSegmentApp.track`; the admin API lives in
:mod:`mockseg.admin`. Every error becomes HTTP in :mod:`mockseg.responses`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from werkzeug.wrappers import Request, Response

from mockseg.decoding import parse_json, read_body
from mockseg.errors import (
    ApiError,
    AuthenticationFailed,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from mockseg.faults import Fault, Faults
from mockseg.journal import Journal, Record
from mockseg.responses import CORS_HEADERS, error_response, json_response, success_response
from mockseg.rules import TIMESTAMP_FIELDS, Limits, context, integrations, timestamps
from mockseg.validation import DEFAULT_LIMITS, Violation, check_message

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["BATCH_PATHS", "SHORT_PATHS", "TRACKING_PATHS", "MockSegmentApp", "Settings"]

log = logging.getLogger("mockseg")

Mode = Literal["strict", "segment"]
MODES: tuple[Mode, ...] = ("strict", "segment")

#: Single-message endpoints and the type each implies.
TRACKING_PATHS: dict[str, str] = {
    "/v1/group": "group",
    "/v1/identify": "identify",
    "/v1/track": "track",
    "/v1/page": "page",
    "/v1/screen": "screen",
    "/v1/alias": "alias",
}
BATCH_PATHS = ("/v1/batch", "/v1/import")
#: analytics.js (the browser SDK) posts to one-letter paths; they are the same endpoints.
SHORT_PATHS = {
    "/v1/g": "/v1/group",
    "/v1/i": "/v1/identify",
    "/v1/t": "/v1/track",
    "/v1/p": "/v1/page",
    "/v1/s": "/v1/screen",
    "/v1/a": "/v1/alias",
    "/v1/b": "/v1/batch",
}
_VALID_PATHS = [*TRACKING_PATHS, *BATCH_PATHS]
#: Request headers kept in each record.
RECORDED_HEADERS = (
    "User-Agent", "Content-Type", "Content-Encoding", "Content-Length", "X-Retry-Count", "Origin",
)
_ADMIN_PREFIX = "/__mockseg"


@dataclass(frozen=True, slots=True)
class Settings:
    """How a server judges and answers: the mode, the accepted write keys and the limits."""

    mode: Mode = "strict"
    write_keys: frozenset[str] | None = None
    limits: Limits = field(default=DEFAULT_LIMITS)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'strict' or 'segment', not {self.mode!r}")
        if self.write_keys is not None and not isinstance(self.write_keys, frozenset):
            if isinstance(self.write_keys, str):
                raise TypeError("write_keys must be a collection of keys, not one string")
            object.__setattr__(self, "write_keys", frozenset(self.write_keys))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class _Message:
    """A message being judged: what arrived, what type it is, what is wrong with it."""

    payload: Any
    type: str | None
    errors: list[Violation]
    warnings: list[Violation]


class MockSegmentApp:
    """The fake Tracking API as a WSGI app. Owns no globals: state comes in through arguments."""

    def __init__(
        self,
        settings: Settings | None = None,
        journal: Journal | None = None,
        faults: Faults | None = None,
        on_records: Callable[[Sequence[Record]], None] | None = None,
    ) -> None:
        from mockseg.admin import AdminApi

        self.settings = settings or Settings()
        self.journal = journal if journal is not None else Journal()
        self.faults = faults if faults is not None else Faults()
        self.on_records = on_records
        self.admin = AdminApi(self)

    # --- WSGI ----------------------------------------------------------------------------

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:  # a bug of ours: answer, record, and say so in the log
            log.exception("mockseg failed on %s %s", request.method, request.path)
            response = json_response(
                {"error": {"type": "internal_error", "message": "mockseg failed; see its log"}},
                status=500,
            )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Route one request."""
        path = request.path
        if path == _ADMIN_PREFIX or path.startswith(_ADMIN_PREFIX + "/"):
            return self.admin.dispatch(request)
        endpoint = SHORT_PATHS.get(path, path)
        known = endpoint in TRACKING_PATHS or endpoint in BATCH_PATHS
        if request.method == "OPTIONS" and known:
            return self.preflight(request)
        if request.method == "POST" and known:
            return self.track(request, endpoint)
        if known:
            error: ApiError = MethodNotAllowed(
                f"Method {request.method} is not allowed on {path}; use POST", field="method"
            )
            headers = {"Allow": "POST, OPTIONS"}
        else:
            error = NotFound(
                f"No endpoint at {path}. Valid paths: {', '.join(_VALID_PATHS)}", field="path"
            )
            headers = {}
            if request.method in ("GET", "HEAD", "OPTIONS"):  # browsers probing; not a call
                return error_response(error, headers)
        self._record_failure(request, error, _now(), None)
        return error_response(error, headers)

    def preflight(self, request: Request) -> Response:
        """The CORS preflight answer: 204, any origin, the asked-for headers allowed."""
        asked = request.headers.get("Access-Control-Request-Headers")
        response = Response(status=204)
        response.headers.update(CORS_HEADERS)
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = (
            asked or "Authorization, Content-Type, Content-Encoding, X-Retry-Count"
        )
        response.headers["Access-Control-Max-Age"] = "86400"
        return response

    # --- tracking --------------------------------------------------------------------------

    def track(self, request: Request, endpoint: str) -> Response:
        """Judge one tracking request, record every message in it, and answer."""
        received_at = _now()
        settings = self.settings
        fault = self.faults.take()
        is_batch = endpoint in BATCH_PATHS
        limits = settings.limits
        limit = limits.max_batch_bytes if is_batch else limits.max_body_bytes
        data: bytes | None = None
        try:
            data = read_body(
                request.stream,
                request.content_length,
                request.headers.get("Content-Encoding", ""),
                limit,
                "batch request" if is_batch else "request body",
            )
            body = parse_json(data, limits.max_json_depth)
            if not isinstance(body, dict):
                raise ValidationFailed("Request body must be a JSON object")
            if is_batch:
                messages, request_errors = self._batch_messages(body, data, limits)
            else:
                messages, request_errors = self._single_message(body, endpoint, limits), []
        except ApiError as error:
            return self._answer_failure(request, error, received_at, data, fault)

        write_key = self._write_key(request, body)
        auth_error = self._auth_error(write_key) if settings.mode == "strict" else None
        all_errors = request_errors + [e for m in messages for e in m.errors]
        if settings.mode == "segment":
            answer: ApiError | None = None
        elif auth_error is not None:
            answer = auth_error
        elif all_errors:
            answer = ValidationFailed(all_errors[0].message, errors=all_errors)
        else:
            answer = None
        http_status = answer.code if answer is not None else 200
        if fault is not None:
            http_status = fault.status

        headers = self._recorded_headers(request)
        request_id = uuid.uuid4().hex
        records = []
        for message in messages:
            errors = list(request_errors) + message.errors
            warnings = message.warnings
            if auth_error is not None:
                errors.insert(0, auth_error.errors[0])
            elif answer is not None and not errors:
                first = answer.errors[0]
                errors = [Violation("batch", "Not accepted: the batch was rejected "
                                             f"({first.field}: {first.message})")]
            if settings.mode == "segment" and write_key is None:
                warnings = [Violation("writeKey", "Missing write key"), *warnings]
            records.append(Record(
                request_id=request_id,
                received_at=received_at,
                path=request.path,
                type=message.type,
                status="accepted" if not errors and http_status < 300 else "rejected",
                http_status=http_status,
                errors=errors,
                warnings=warnings,
                payload=message.payload,
                write_key=write_key,
                headers=headers,
                fault=fault is not None,
            ))
        if not records:  # an empty batch still leaves a trace
            records.append(Record(
                request_id=request_id, received_at=received_at, path=request.path, type=None,
                status="rejected" if http_status >= 300 else "accepted",
                http_status=http_status, errors=list(request_errors), warnings=[],
                payload=body, write_key=write_key, headers=headers, fault=fault is not None,
            ))
        self._store(records)
        if fault is not None:
            return self._fault_response(fault)
        return error_response(answer) if answer is not None else success_response()

    def _single_message(
        self, body: dict[str, Any], endpoint: str, limits: Limits
    ) -> list[_Message]:
        kind = TRACKING_PATHS[endpoint]
        errors, warnings = check_message(body, kind, limits)
        return [_Message(body, kind, errors, warnings)]

    def _batch_messages(
        self, body: dict[str, Any], data: bytes, limits: Limits
    ) -> tuple[list[_Message], list[Violation]]:
        items = body.get("batch")
        if items is None:
            raise ValidationFailed("Missing required field: batch", field="batch")
        if not isinstance(items, list):
            raise ValidationFailed("batch must be an array", field="batch")
        if len(items) > limits.max_batch_items:
            raise PayloadTooLarge(
                f"Exceed payload limit: {len(items)} batch items "
                f"(max {limits.max_batch_items})",
                field="batch",
            )
        # The batch's own fields: sentAt, context and integrations follow the common rules.
        request_errors = [
            Violation(where, text)
            for rule in (timestamps, context, integrations)
            for where, text in rule({k: body.get(k) for k in (*TIMESTAMP_FIELDS, "context",
                                                               "integrations")}, limits)
        ]
        check_size = len(data) > limits.max_item_bytes
        messages = []
        for index, item in enumerate(items):
            prefix = f"batch[{index}]."
            errors, warnings = check_message(item, None, limits, prefix)
            if check_size and _encoded_size(item) > limits.max_item_bytes:
                errors.insert(0, Violation(
                    f"batch[{index}]",
                    f"Message too large: over {limits.max_item_bytes} bytes",
                ))
            kind = item.get("type") if isinstance(item, dict) else None
            messages.append(_Message(
                item, kind if isinstance(kind, str) else None, errors, warnings
            ))
        return messages, request_errors

    @staticmethod
    def _write_key(request: Request, body: dict[str, Any]) -> str | None:
        auth = request.authorization
        if auth is not None and auth.type == "basic" and auth.username:
            return auth.username
        if auth is not None and auth.type == "bearer" and auth.token:
            return auth.token
        key = body.get("writeKey")
        return key if isinstance(key, str) and key else None

    def _auth_error(self, write_key: str | None) -> AuthenticationFailed | None:
        if write_key is None:
            return AuthenticationFailed("Missing write key", field="writeKey")
        allowed = self.settings.write_keys
        if allowed is not None and write_key not in allowed:
            return AuthenticationFailed("Invalid write key", field="writeKey")
        return None

    @staticmethod
    def _recorded_headers(request: Request) -> dict[str, str]:
        headers = request.headers
        return {name: headers[name] for name in RECORDED_HEADERS if name in headers}

    def _answer_failure(
        self,
        request: Request,
        error: ApiError,
        received_at: str,
        data: bytes | None,
        fault: Fault | None,
    ) -> Response:
        """A request that failed before it had messages: one record, then the error or fault."""
        self._record_failure(request, error, received_at, data, fault)
        if fault is not None:
            return self._fault_response(fault)
        return error_response(error)

    def _record_failure(
        self,
        request: Request,
        error: ApiError,
        received_at: str,
        data: bytes | None,
        fault: Fault | None = None,
    ) -> None:
        raw_body = data.decode("utf-8", "backslashreplace") if data else None
        self._store([Record(
            request_id=uuid.uuid4().hex,
            received_at=received_at,
            path=request.path,
            type=None,
            status="rejected",
            http_status=fault.status if fault is not None else error.code,
            errors=list(error.errors),
            warnings=[],
            payload=None,
            write_key=self._write_key(request, {}),
            headers=self._recorded_headers(request),
            fault=fault is not None,
            raw_body=raw_body,
        )])

    def record_protocol_error(self, path: str, error: ApiError) -> None:
        """Record a request the HTTP layer refused before the app saw it (bad request line,
        oversized headers)."""
        self._store([Record(
            request_id=uuid.uuid4().hex, received_at=_now(), path=path or "-", type=None,
            status="rejected", http_status=error.code, errors=list(error.errors), warnings=[],
            payload=None, write_key=None, headers={},
        )])

    def _store(self, records: list[Record]) -> None:
        self.journal.add(records)
        if self.on_records is not None:
            try:
                self.on_records(records)
            except Exception:
                log.exception("mockseg: the on_records callback failed")

    @staticmethod
    def _fault_response(fault: Fault) -> Response:
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        headers = {}
        if fault.retry_after is not None:
            seconds = fault.retry_after
            headers["Retry-After"] = str(int(seconds) if float(seconds).is_integer() else seconds)
        if fault.status < 300:
            return success_response(fault.status, headers)
        message = f"Injected fault: HTTP {fault.status}"
        return json_response(
            {"error": {"type": "injected_fault", "message": message,
                       "errors": [{"field": "", "message": message}]},
             "code": "injected_fault", "message": message},
            status=fault.status,
            headers=headers,
        )

    def with_settings(self, **changes: Any) -> Settings:
        """Replace some settings (mode, write_keys, limits); return the previous ones."""
        previous = self.settings
        self.settings = replace(previous, **changes)
        return previous


def _encoded_size(item: Any) -> int:
    import json

    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
