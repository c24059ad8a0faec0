"""The WSGI app: route, decode, validate, record, respond.

Tracking requests go through :meth:`MockSegmentApp.track`; the admin API lives in
:mod:`mockseg.admin`. Every error becomes HTTP in :mod:`mockseg.responses`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from werkzeug.wrappers import Request, Response

from mockseg.cdn import settings_document
from mockseg.decoding import (
    batch_depth_over,
    items_json,
    nesting_bound,
    parse_batch_json,
    parse_json,
    read_body,
)
from mockseg.environ import (
    RECORDED_HEADERS,
    body_stream,
    content_length,
    credentials,
    new_request_id,
    recorded_headers,
    request_method,
    request_path,
    stamp_now,
)
from mockseg.errors import (
    ApiError,
    AuthenticationFailed,
    InjectedFault,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from mockseg.faults import Fault, Faults
from mockseg.guard import HostAllowList
from mockseg.journal import Journal, Record, SqliteJournal
from mockseg.logline import printable
from mockseg.records import new_record
from mockseg.responses import (
    Answer,
    add_cors,
    answer_summary,
    error_answer,
    error_response,
    json_response,
    success_answer,
    with_cors,
    wsgi_answer,
)
from mockseg.routes import (
    BATCH_PATHS,
    SHORT_PATHS,
    TRACKING_PATHS,
    endpoint_for,
    not_found_message,
    settings_write_key,
)
from mockseg.rules import Limits
from mockseg.validation import (
    DEFAULT_LIMITS,
    Judged,
    Violation,
    check_batch,
    check_message,
    clean_batch,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from mockseg.plans import PlanViolation, TrackingPlan

__all__ = ["BATCH_PATHS", "RECORDED_HEADERS", "SHORT_PATHS", "TRACKING_PATHS", "MockSegmentApp",
           "Settings", "credentials"]

log = logging.getLogger("mockseg")
#: One line per call (and per settings fetch); ``mockseg serve`` prints it.
call_log = logging.getLogger("mockseg.calls")

Mode = Literal["strict", "segment"]
MODES: tuple[Mode, ...] = ("strict", "segment")

_ADMIN_PREFIX = "/__mockseg"
#: ``/_/<scope>/v1/batch`` is ``/v1/batch`` recorded under a scope: a test's private view of a
#: shared server (see :meth:`mockseg.MockSegment.scoped`).
SCOPE_PREFIX = "/_/"
#: The WSGI environ key through which an in-process caller names its scope.
SCOPE_ENVIRON_KEY = "mockseg.scope"


@dataclass(frozen=True, slots=True)
class Settings:
    """How a server judges and answers: the mode, the accepted write keys and the limits."""

    mode: Mode = "strict"
    write_keys: frozenset[str] | None = None
    limits: Limits = field(default=DEFAULT_LIMITS)
    #: The team's own contract on top of Segment's (``mockseg.plans.load_plan``), or None.
    tracking_plan: TrackingPlan | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'strict' or 'segment', not {self.mode!r}")
        if self.write_keys is not None and not isinstance(self.write_keys, frozenset):
            if isinstance(self.write_keys, str):
                raise TypeError("write_keys must be a collection of keys, not one string")
            object.__setattr__(self, "write_keys", frozenset(self.write_keys))


class MockSegmentApp:
    """The fake Tracking API as a WSGI app. Owns no globals: state comes in through arguments."""

    def __init__(
        self,
        settings: Settings | None = None,
        journal: Journal | SqliteJournal | None = None,
        faults: Faults | None = None,
        on_records: Callable[[Sequence[Record]], None] | None = None,
        *,
        admin_token: str | None = None,
        cdn_settings: Mapping[str, Any] | None = None,
        allow_hosts: Iterable[str] = (),
    ) -> None:
        from mockseg.admin import AdminApi

        if admin_token is not None and not admin_token.strip():
            raise ValueError("admin_token is empty: give a token, or None for no token")
        #: When set, the ``/__mockseg/`` endpoints require ``Authorization: Bearer <token>``.
        self.admin_token = admin_token
        if isinstance(allow_hosts, str):
            raise TypeError("allow_hosts must be a list of names, not one string")
        names = list(allow_hosts)
        #: The Host names the admin API and the page answer to on a loopback connection, or
        #: None when ``"*"`` was allowed (every name).
        self.allowed_hosts = None if "*" in names else HostAllowList(names)
        self.settings = settings or Settings()
        self.journal = journal if journal is not None else Journal()
        self.faults = faults if faults is not None else Faults()
        self.on_records = on_records
        #: The settings document served at ``/v1/projects/{writeKey}/settings`` (None: the
        #: default, a source with only the Segment.io destination).
        self.cdn_settings = cdn_settings
        self.admin = AdminApi(self)
        self._scope_settings: dict[str, Settings] = {}

    # --- scopes ----------------------------------------------------------------------------

    def open_scope(self, scope: str, settings: Settings | None = None) -> None:
        """Judge the scope's requests with ``settings`` (default: the app's own)."""
        if settings is not None:
            self._scope_settings[scope] = settings

    def close_scope(self, scope: str) -> None:
        """Forget a scope's settings and faults; its records stay in the journal."""
        self._scope_settings.pop(scope, None)
        self.faults.clear(scope)

    def settings_for(self, scope: str | None) -> Settings:
        """The settings that judge a request of ``scope``."""
        if scope is None:
            return self.settings
        return self._scope_settings.get(scope, self.settings)

    # --- WSGI ----------------------------------------------------------------------------

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        status, headers, body = wsgi_answer(self.answer(environ), environ)
        start_response(status, headers)
        return body

    def respond(self, environ: WSGIEnvironment) -> tuple[str, list[tuple[str, str]], bytes]:
        """The WSGI answer to the request of ``environ`` as a whole: status line, headers and
        body, with no ``start_response`` (for an in-process caller, such as ``intercept()``)."""
        status, headers, body = wsgi_answer(self.answer(environ), environ)
        try:
            return status, headers, b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def answer(self, environ: WSGIEnvironment) -> Answer | Response:
        """Route one request and answer it; a bug of ours is answered, logged and recorded."""
        try:
            return self.dispatch(environ)
        except Exception as exc:  # a bug of ours: answer, record, and say so in the log
            path = request_path(environ)
            log.exception("mockseg failed on %s %s", request_method(environ), path)
            error = InternalError(f"mockseg failed: {type(exc).__name__}: {exc}; see its log")
            if path.startswith(_ADMIN_PREFIX):
                return error_response(error)
            return self._record_failure(
                environ, path, environ.get(SCOPE_ENVIRON_KEY), error, stamp_now(), None,
                with_cors(error_answer(error), environ.get("HTTP_ORIGIN")))

    def dispatch(self, environ: WSGIEnvironment) -> Answer | Response:
        """Route one request: tracking calls get an :class:`~mockseg.responses.Answer`, the
        admin API, preflights and the CDN settings a werkzeug ``Response``."""
        path = request_path(environ)
        scope: str | None = environ.get(SCOPE_ENVIRON_KEY)
        if path.startswith(SCOPE_PREFIX):
            scope, _, rest = path[len(SCOPE_PREFIX):].partition("/")
            path = "/" + rest
        if path == _ADMIN_PREFIX or path.startswith(_ADMIN_PREFIX + "/"):
            return self.admin.dispatch(Request(environ), path, scope)
        method = request_method(environ)
        origin = environ.get("HTTP_ORIGIN")
        endpoint = endpoint_for(path)
        if endpoint is not None:
            if method == "POST":
                return self.track(environ, path, endpoint, scope)
            if method == "OPTIONS":
                return add_cors(self.preflight(Request(environ), "POST, OPTIONS"), origin)
            error: ApiError = MethodNotAllowed(
                f"Method {method} is not allowed on {path}; use POST", field="method")
            return self._record_failure(environ, path, scope, error, stamp_now(), None, with_cors(
                error_answer(error, {"Allow": "POST, OPTIONS"}), origin))
        write_key = settings_write_key(path)
        if write_key is not None and method in ("GET", "HEAD", "OPTIONS"):
            if method == "OPTIONS":
                return add_cors(self.preflight(Request(environ), "GET, HEAD, OPTIONS"), origin)
            return add_cors(self.cdn_settings_response(Request(environ), write_key, scope),
                            origin)
        error = NotFound(not_found_message(path), field="path")
        answer = with_cors(error_answer(error), origin)
        if method in ("GET", "HEAD", "OPTIONS"):  # browsers probing; not a call
            return answer
        return self._record_failure(environ, path, scope, error, stamp_now(), None, answer)

    @staticmethod
    def preflight(request: Request, methods: str) -> Response:
        """The CORS preflight answer: 204, the asked-for headers allowed for a day."""
        asked = request.headers.get("Access-Control-Request-Headers")
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = methods
        response.headers["Access-Control-Allow-Headers"] = (
            asked or "Authorization, Content-Type, Content-Encoding, X-Retry-Count"
        )
        response.headers["Access-Control-Max-Age"] = "86400"
        return response

    def cdn_settings_response(
        self, request: Request, write_key: str, scope: str | None
    ) -> Response:
        """analytics.js's CDN settings, with its Segment.io destination pointed at this server
        (as reached: the request's Host and scheme, and the scope's prefix). Logged, not
        recorded: it is the SDK starting up, not a call."""
        prefix = f"{SCOPE_PREFIX}{scope}" if scope is not None else ""
        document = settings_document(write_key, f"{request.host}{prefix}/v1", request.scheme,
                                     self.cdn_settings)
        call_log.info("%s", printable(f"200 settings  {request.path}"))
        return json_response(document, headers={"Cache-Control": "no-store"})

    # --- tracking --------------------------------------------------------------------------

    def track(self, environ: WSGIEnvironment, path: str, endpoint: str,
              scope: str | None) -> Answer:
        """Judge one tracking request, record every message in it, and answer.

        ``path`` is the path as called (``/v1/g``), ``endpoint`` the one it stands for. The
        request is read from the WSGI environ as it is: no werkzeug request is built.
        """
        received_at = stamp_now()
        origin = environ.get("HTTP_ORIGIN")
        settings = self.settings_for(scope)
        fault = self.faults.take(scope)
        is_batch = endpoint in BATCH_PATHS
        limits = settings.limits
        limit = limits.max_batch_bytes if is_batch else limits.max_body_bytes
        data: bytes | None = None
        encoded: list[bytes] = []
        try:
            data = read_body(
                body_stream(environ),
                content_length(environ),
                environ.get("HTTP_CONTENT_ENCODING", ""),
                limit,
                "batch request" if is_batch else "request body",
            )
            if is_batch:
                body, messages, request_errors, encoded = _judge_batch(data, limits)
            else:
                body = parse_json(data, limits.max_json_depth)
                if not isinstance(body, dict):
                    raise ValidationFailed(_NOT_AN_OBJECT)
                kind = TRACKING_PATHS[endpoint]
                messages, request_errors = [Judged(body, kind, *check_message(body, kind,
                                                                              limits))], []
        except ApiError as error:
            # Production answers 400 only to what it cannot read; segment mode likewise.
            lenient = settings.mode == "segment" and isinstance(error, ValidationFailed)
            return self._record_failure(
                environ, path, scope, error, received_at, data,
                with_cors(self._answer(fault, None if lenient else error), origin),
                fault=fault)

        authorization = environ.get("HTTP_AUTHORIZATION")
        write_key, auth = credentials(authorization, body)
        violations = _plan_violations(settings.tracking_plan, messages,
                                      None if is_batch else TRACKING_PATHS[endpoint])
        if violations:
            messages = _blocked_by_plan(settings.tracking_plan, messages, violations)
        auth_error = (self._auth_error(write_key, settings, authorization)
                      if settings.mode == "strict" else None)
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

        headers = recorded_headers(environ)
        request_id = new_request_id()
        is_fault = fault is not None
        # Set once for every message: what each record adds to its own errors and warnings.
        first_errors: list[Violation] = list(request_errors)
        if auth_error is not None:
            first_errors.insert(0, auth_error.errors[0])
        not_accepted: list[Violation] = []
        if auth_error is None and answer is not None:
            first = answer.errors[0]
            not_accepted = [Violation("batch", "Not accepted: the batch was rejected "
                                               f"({first.field}: {first.message})")]
        first_warnings = ([Violation("writeKey", "Missing write key")]
                          if settings.mode == "segment" and write_key is None else [])
        delivered = http_status < 300
        records = []
        for index, message in enumerate(messages):
            errors = [*first_errors, *message.errors]
            if not errors and not_accepted:
                errors = list(not_accepted)
            records.append(new_record(  # Record(...), in its arguments' order
                request_id, received_at, path, scope, message.type,
                "accepted" if delivered and not errors else "rejected", http_status, errors,
                [*first_warnings, *message.warnings], message.payload,
                encoded[index] if is_batch else data, write_key, auth, headers, is_fault, None,
                violations[index] if violations else ()))
        if not records:  # an empty batch still leaves a trace
            records.append(Record(
                request_id=request_id, received_at=received_at, path=path, scope=scope, type=None,
                status="rejected" if request_errors or http_status >= 300 else "accepted",
                http_status=http_status, errors=list(request_errors), warnings=[],
                payload=body, payload_json=data, write_key=write_key, auth=auth,
                headers=headers, fault=is_fault,
            ))
        return self._store(records, with_cors(self._answer(fault, answer), origin),
                           fault.delay_ms if fault is not None else 0)

    @staticmethod
    def _auth_error(write_key: str | None, settings: Settings,
                    authorization: str | None) -> AuthenticationFailed | None:
        if write_key is None and authorization is not None:
            return AuthenticationFailed(
                "Missing write key: the Authorization header carries none (send Basic "
                'base64("KEY:"), or writeKey in the body)', field="Authorization")
        if write_key is None:
            return AuthenticationFailed("Missing write key", field="writeKey")
        allowed = settings.write_keys
        if allowed is not None and write_key not in allowed:
            return AuthenticationFailed("Invalid write key", field="writeKey")
        return None

    def _record_failure(
        self,
        environ: WSGIEnvironment,
        path: str,
        scope: str | None,
        error: ApiError,
        received_at: str,
        data: bytes | None,
        answer: Answer,
        *,
        fault: Fault | None = None,
    ) -> Answer:
        """A request that failed before it had messages leaves one record of type null."""
        write_key, auth = credentials(environ.get("HTTP_AUTHORIZATION"), {})
        raw_body = data.decode("utf-8", "backslashreplace") if data else None
        return self._store([Record(
            request_id=new_request_id(),
            received_at=received_at,
            path=path,
            scope=scope,
            type=None,
            status="rejected",
            http_status=answer.status,
            errors=list(error.errors),
            warnings=[],
            payload=None,
            write_key=write_key,
            auth=auth,
            headers=recorded_headers(environ),
            fault=fault is not None,
            raw_body=raw_body,
        )], answer, fault.delay_ms if fault is not None else 0)

    def record_protocol_error(self, path: str, error: ApiError) -> bytes:
        """Record a request the HTTP layer refused before the app saw it (bad request line,
        oversized headers); return the body to answer with."""
        answer = error_answer(error)
        self._store([Record(
            request_id=new_request_id(), received_at=stamp_now(), path=path or "-", type=None,
            status="rejected", http_status=error.code, errors=list(error.errors), warnings=[],
            payload=None, write_key=None, headers={},
        )], answer)
        return answer.body

    def _store(self, records: list[Record], answer: Answer, delay_ms: int = 0) -> Answer:
        """Record what arrived together with the exact answer; return that answer, after
        ``delay_ms`` (a planned slow answer). The record comes first, so a server stopped
        while the answer is held has still recorded the call."""
        summary = answer_summary(answer)
        for record in records:
            record.response = summary
        self.journal.add(records)
        if self.on_records is not None:
            try:
                self.on_records(records)
            except Exception:
                log.exception("mockseg: the on_records callback failed")
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return answer

    def _answer(self, fault: Fault | None, error: ApiError | None) -> Answer:
        """A planned fault if there is one, else the error, else success."""
        if fault is not None:
            return self._fault_answer(fault)
        return error_answer(error) if error is not None else success_answer()

    @staticmethod
    def _fault_answer(fault: Fault) -> Answer:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.status < 300:
            return success_answer(fault.status, headers)
        error = InjectedFault(f"Injected fault: HTTP {fault.status}", field="request")
        error.code = fault.status
        return error_answer(error, headers)


_NOT_AN_OBJECT = "Request body must be a JSON object"


def _judge_batch(data: bytes, limits: Limits) -> tuple[
        dict[str, Any], list[Judged], list[Violation], list[bytes]]:
    """A batch request's body, its items judged, the batch's own errors and each item's JSON
    bytes (which its record keeps); or the ApiError that refuses the whole request.

    One compiled check passes the common batch, in which nothing is wrong; any other goes
    through the depth check and the rules, for its exact errors.
    """
    body = parse_batch_json(data, limits.max_json_depth, limits.max_batch_items)
    if not isinstance(body, dict):
        raise ValidationFailed(_NOT_AN_OBJECT)
    items = body.get("batch")
    encoded: list[bytes] = []
    if isinstance(items, list):
        if len(items) > limits.max_batch_items:
            raise PayloadTooLarge(f"Exceed payload limit: {len(items)} batch items "
                                  f"(max {limits.max_batch_items})", field="batch")
        encoded = items_json(items, limits.max_json_depth)
    measure = len(data) > limits.max_item_bytes  # no item of a smaller body can be too large
    clean = clean_batch(body, limits, [len(text) for text in encoded] if measure else None)
    if clean is not None:
        return body, clean, [], encoded
    if (nesting_bound(data) > limits.max_json_depth
            and batch_depth_over(body, encoded, limits.max_json_depth)):
        raise ValidationFailed(f"JSON nested too deeply (max {limits.max_json_depth} levels)")
    messages, errors = check_batch(body, limits, measure_items=measure, encoded=encoded,
                                   fast=False)
    return body, messages, errors, encoded


def _plan_violations(plan: TrackingPlan | None, messages: Sequence[Judged],
                     kind: str | None) -> list[Sequence[PlanViolation]]:
    """Each message's violations of the tracking plan ([] for none at all, or no plan).

    ``kind`` is the type a single-message endpoint implies; batch items go by their own type,
    with fields prefixed ``batch[i].`` as the contract's errors are.
    """
    if plan is None:
        return []
    found: list[Sequence[PlanViolation]] = [
        plan.check(message.payload, kind, "" if kind is not None else f"batch[{index}].")
        for index, message in enumerate(messages)]
    return found if any(found) else []


def _blocked_by_plan(plan: TrackingPlan | None, messages: list[Judged],
                     violations: list[Sequence[PlanViolation]]) -> list[Judged]:
    """With ``--tracking-plan-mode block`` (or ``--unplanned block``), a message whose
    violations block is judged as if they were contract errors."""
    assert plan is not None
    return [message._replace(errors=[*message.errors, *(
        Violation(violation.field, violation.description) for violation in found)])
        if found and plan.blocks(found) else message
        for message, found in zip(messages, violations, strict=True)]
