"""The WSGI app: route, decode, validate, record, respond.

Tracking requests go through :meth:`MockSegmentApp.track`; the admin API lives in
:mod:`mockseg.admin`. Every error becomes HTTP in :mod:`mockseg.responses`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from werkzeug.wrappers import Request, Response

from mockseg.cdn import settings_document
from mockseg.decoding import batch_depth_over, parse_json, read_body
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
from mockseg.jsoncodec import dumps
from mockseg.logline import printable
from mockseg.responses import (
    add_cors,
    error_response,
    json_response,
    response_summary,
    success_response,
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
from mockseg.validation import DEFAULT_LIMITS, Judged, Violation, check_batch, check_message

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from mockseg.plans import PlanViolation, TrackingPlan

__all__ = ["BATCH_PATHS", "SHORT_PATHS", "TRACKING_PATHS", "MockSegmentApp", "Settings"]

log = logging.getLogger("mockseg")
#: One line per call (and per settings fetch); ``mockseg serve`` prints it.
call_log = logging.getLogger("mockseg.calls")

Mode = Literal["strict", "segment"]
MODES: tuple[Mode, ...] = ("strict", "segment")

#: Request headers kept in each record: how the body came (length, chunked, gzip), from where
#: (Origin, User-Agent) and whether it is a retry.
RECORDED_HEADERS = (
    "User-Agent", "Content-Type", "Content-Encoding", "Content-Length", "Transfer-Encoding",
    "Accept-Encoding", "X-Retry-Count", "Origin",
)
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception as exc:  # a bug of ours: answer, record, and say so in the log
            log.exception("mockseg failed on %s %s", request.method, request.path)
            error = InternalError(f"mockseg failed: {type(exc).__name__}: {exc}; see its log")
            response = error_response(error)
            if not request.path.startswith(_ADMIN_PREFIX):
                add_cors(response, request.headers.get("Origin"))
                self._record_failure(request, request.path, environ.get(SCOPE_ENVIRON_KEY),
                                     error, _now(), None, response)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Route one request."""
        path = request.path
        scope: str | None = request.environ.get(SCOPE_ENVIRON_KEY)
        if path.startswith(SCOPE_PREFIX):
            scope, _, rest = path[len(SCOPE_PREFIX):].partition("/")
            path = "/" + rest
        if path == _ADMIN_PREFIX or path.startswith(_ADMIN_PREFIX + "/"):
            return self.admin.dispatch(request, path, scope)
        origin = request.headers.get("Origin")
        endpoint = endpoint_for(path)
        if endpoint is not None:
            if request.method == "POST":
                return self.track(request, path, endpoint, scope)
            if request.method == "OPTIONS":
                return add_cors(self.preflight(request, "POST, OPTIONS"), origin)
            error: ApiError = MethodNotAllowed(
                f"Method {request.method} is not allowed on {path}; use POST", field="method")
            return self._record_failure(request, path, scope, error, _now(), None, add_cors(
                error_response(error, {"Allow": "POST, OPTIONS"}), origin))
        write_key = settings_write_key(path)
        if write_key is not None and request.method in ("GET", "HEAD", "OPTIONS"):
            if request.method == "OPTIONS":
                return add_cors(self.preflight(request, "GET, HEAD, OPTIONS"), origin)
            return add_cors(self.cdn_settings_response(request, write_key, scope), origin)
        error = NotFound(not_found_message(path), field="path")
        response = add_cors(error_response(error), origin)
        if request.method in ("GET", "HEAD", "OPTIONS"):  # browsers probing; not a call
            return response
        return self._record_failure(request, path, scope, error, _now(), None, response)

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

    def track(self, request: Request, path: str, endpoint: str, scope: str | None) -> Response:
        """Judge one tracking request, record every message in it, and answer.

        ``path`` is the path as called (``/v1/g``), ``endpoint`` the one it stands for.
        """
        received_at = _now()
        origin = request.headers.get("Origin")
        settings = self.settings_for(scope)
        fault = self.faults.take(scope)
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
            body = parse_json(data, limits.max_json_depth, walk=not is_batch)
            if not isinstance(body, dict):
                raise ValidationFailed("Request body must be a JSON object")
            encoded: list[bytes] = []
            if is_batch:
                items = body.get("batch")
                if isinstance(items, list) and len(items) > limits.max_batch_items:
                    raise PayloadTooLarge(
                        f"Exceed payload limit: {len(items)} batch items "
                        f"(max {limits.max_batch_items})", field="batch")
                if isinstance(items, list):
                    encoded = [dumps(item) for item in items]  # kept by the records, too
                if (data.count(b"{") + data.count(b"[") > limits.max_json_depth
                        and batch_depth_over(body, encoded, limits.max_json_depth)):
                    raise ValidationFailed(
                        f"JSON nested too deeply (max {limits.max_json_depth} levels)")
                messages, request_errors = check_batch(
                    body, limits, measure_items=len(data) > limits.max_item_bytes,
                    encoded=encoded)
            else:
                kind = TRACKING_PATHS[endpoint]
                messages, request_errors = [Judged(body, kind, *check_message(body, kind,
                                                                              limits))], []
        except ApiError as error:
            # Production answers 400 only to what it cannot read; segment mode likewise.
            lenient = settings.mode == "segment" and isinstance(error, ValidationFailed)
            return self._record_failure(
                request, path, scope, error, received_at, data,
                add_cors(self._answer(fault, None if lenient else error), origin),
                fault=fault)

        write_key, auth = credentials(request, body)
        violations = _plan_violations(settings.tracking_plan, messages,
                                      None if is_batch else TRACKING_PATHS[endpoint])
        if violations:
            messages = _blocked_by_plan(settings.tracking_plan, messages, violations)
        auth_error = (self._auth_error(write_key, settings, request.headers.get("Authorization"))
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

        headers = self._recorded_headers(request)
        request_id = uuid.uuid4().hex
        records = []
        for index, message in enumerate(messages):
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
                path=path,
                scope=scope,
                type=message.type,
                status="accepted" if not errors and http_status < 300 else "rejected",
                http_status=http_status,
                errors=errors,
                warnings=warnings,
                payload=message.payload,
                payload_json=encoded[index] if is_batch else data,
                write_key=write_key,
                auth=auth,
                headers=headers,
                fault=fault is not None,
                violations=violations[index] if violations else (),
            ))
        if not records:  # an empty batch still leaves a trace
            records.append(Record(
                request_id=request_id, received_at=received_at, path=path, scope=scope, type=None,
                status="rejected" if request_errors or http_status >= 300 else "accepted",
                http_status=http_status, errors=list(request_errors), warnings=[],
                payload=body, payload_json=data, write_key=write_key, auth=auth,
                headers=headers, fault=fault is not None,
            ))
        return self._store(records, add_cors(self._answer(fault, answer), origin),
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

    @staticmethod
    def _recorded_headers(request: Request) -> Mapping[str, str]:
        headers = request.headers
        return _shared_headers(tuple((name, headers[name]) for name in RECORDED_HEADERS
                                     if name in headers))

    def _record_failure(
        self,
        request: Request,
        path: str,
        scope: str | None,
        error: ApiError,
        received_at: str,
        data: bytes | None,
        response: Response,
        *,
        fault: Fault | None = None,
    ) -> Response:
        """A request that failed before it had messages leaves one record of type null."""
        write_key, auth = credentials(request, {})
        raw_body = data.decode("utf-8", "backslashreplace") if data else None
        return self._store([Record(
            request_id=uuid.uuid4().hex,
            received_at=received_at,
            path=path,
            scope=scope,
            type=None,
            status="rejected",
            http_status=response.status_code,
            errors=list(error.errors),
            warnings=[],
            payload=None,
            write_key=write_key,
            auth=auth,
            headers=self._recorded_headers(request),
            fault=fault is not None,
            raw_body=raw_body,
        )], response, fault.delay_ms if fault is not None else 0)

    def record_protocol_error(self, path: str, error: ApiError) -> bytes:
        """Record a request the HTTP layer refused before the app saw it (bad request line,
        oversized headers); return the body to answer with."""
        response = error_response(error)
        self._store([Record(
            request_id=uuid.uuid4().hex, received_at=_now(), path=path or "-", type=None,
            status="rejected", http_status=error.code, errors=list(error.errors), warnings=[],
            payload=None, write_key=None, headers={},
        )], response)
        return response.get_data()

    def _store(self, records: list[Record], response: Response,
               delay_ms: int = 0) -> Response:
        """Record what arrived together with the exact answer; return that answer, after
        ``delay_ms`` (a planned slow answer). The record comes first, so a server stopped
        while the answer is held has still recorded the call."""
        answer = response_summary(response)
        for record in records:
            record.response = answer
        self.journal.add(records)
        if self.on_records is not None:
            try:
                self.on_records(records)
            except Exception:
                log.exception("mockseg: the on_records callback failed")
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return response

    def _answer(self, fault: Fault | None, error: ApiError | None) -> Response:
        """A planned fault if there is one, else the error, else success."""
        if fault is not None:
            return self._fault_response(fault)
        return error_response(error) if error is not None else success_response()

    @staticmethod
    def _fault_response(fault: Fault) -> Response:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.status < 300:
            return success_response(fault.status, headers)
        error = InjectedFault(f"Injected fault: HTTP {fault.status}", field="request")
        error.code = fault.status
        return error_response(error, headers)


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


def credentials(request: Request, body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The write key and how it came: ``"basic"``, ``"bearer"``, ``"body"``, ``"basic+body"``,
    ``"bearer+body"`` or None. A key in the header wins over the body's ``writeKey``.

    A header that cannot be decoded (not base64, not ASCII) carries no key.
    """
    try:
        authorization = request.authorization
    except ValueError:  # werkzeug refuses a non-ASCII Basic value
        authorization = None
    header_key: str | None = None
    scheme: str | None = None
    if authorization is not None:
        if authorization.type == "basic" and authorization.username:
            header_key, scheme = authorization.username, "basic"
        elif authorization.type == "bearer" and authorization.token:
            header_key, scheme = authorization.token, "bearer"
    body_key = body.get("writeKey")
    if not isinstance(body_key, str) or not body_key:
        body_key = None
    if scheme is None:
        return body_key, "body" if body_key is not None else None
    return header_key, scheme + "+body" if body_key is not None else scheme


@lru_cache(maxsize=1024)
def _shared_headers(items: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    """One read-only mapping per distinct set of recorded headers: an SDK sends the same ones
    call after call, and a record need not carry its own copy."""
    return MappingProxyType(dict(items))
