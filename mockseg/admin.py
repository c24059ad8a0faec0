"""The admin API under ``/__mockseg/``: read and empty the journal, inject faults, health."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from mockseg._version import __version__
from mockseg.decoding import parse_json
from mockseg.errors import (
    ApiError,
    AuthenticationFailed,
    Forbidden,
    InvalidJson,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from mockseg.faults import Fault
from mockseg.guard import check_same_site, is_loopback
from mockseg.journal import CallFilter, Record
from mockseg.jsoncodec import dumps
from mockseg.responses import error_response, json_response
from mockseg.schema import group_schema
from mockseg.serving import CLIENT_GONE
from mockseg.webui import ASSETS, PAGE, asset_response

if TYPE_CHECKING:
    from mockseg.app import MockSegmentApp

__all__ = ["MAX_WAIT_SECONDS", "PUBLIC_PATHS", "AdminApi", "is_public"]

#: A fault spec is a flat object; anything nested deeper is refused.
MAX_FAULT_DEPTH = 4
#: The longest a ``wait`` on ``/__mockseg/calls`` may hold a request.
MAX_WAIT_SECONDS = 60.0
#: The largest admin request body (a fault spec is a few dozen bytes).
MAX_ADMIN_BODY = 64 * 1024
#: Where the server's own socket is, in the WSGI environ (werkzeug's server, gunicorn).
_SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket")

Handler = Callable[[Request, "str | None"], Response]


def _integer(args: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter; ``0.5`` or ``ten`` is an error, not a silent 0."""
    raw = args.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not text.isdigit():
        raise ValidationFailed(f"{name} must be a whole number, not {raw!r}", field=name)
    value = int(text)
    if not low <= value <= high:
        raise ValidationFailed(f"{name} must be between {low} and {high}", field=name)
    return value


def _arrived_on_loopback(request: Request) -> bool:
    """Whether the connection came in on a loopback address (no socket: in-process, local)."""
    for key in _SOCKET_KEYS:
        sock = request.environ.get(key)
        if sock is not None:
            try:
                return is_loopback(str(sock.getsockname()[0]))
            except (OSError, IndexError, TypeError):
                return True
    return True


def _number(args: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a number, not {raw!r}", field=name) from None
    if not low <= value <= high:
        raise ValidationFailed(f"{name} must be between {low:g} and {high:g}", field=name)
    return value


#: The journal page's assets, by path.
_UI_PATHS = {f"/__mockseg/ui/{name}": name for name in ASSETS}

#: Admin paths served without the admin token: they hold no data (the journal page's files).
PUBLIC_PATHS: frozenset[str] = frozenset({"/__mockseg", "/__mockseg/", *_UI_PATHS})


def is_public(path: str) -> bool:
    """Whether an admin path is served without the admin token."""
    return path in PUBLIC_PATHS


def _scoped(where: CallFilter, scope: str | None) -> CallFilter:
    return where if scope is None else replace(where, scope=scope)


#: A streamed listing is written in pieces of about this many bytes.
_STREAM_PIECE_BYTES = 65_536


def _streamed_calls(records: Iterator[Record], extra: dict[str, Any]) -> Response:
    """``{"calls": [...], "total": n, ...extra}`` as a WSGI body of pieces, each record encoded
    on its own: the same JSON as a built answer, never held whole in memory. ``total`` is the
    number of records sent (without ``limit`` or ``last`` it counts them all)."""

    def pieces() -> Iterator[bytes]:
        piece = bytearray(b'{"calls":[')
        total = 0
        for record in records:
            if total:
                piece += b","
            piece += dumps(record.to_dict())
            total += 1
            if len(piece) >= _STREAM_PIECE_BYTES:
                yield bytes(piece)
                piece.clear()
        piece += b"]," + dumps({"total": total, **extra})[1:]
        yield bytes(piece)

    return Response(pieces(), mimetype="application/json")


class AdminApi:
    """Routes ``/__mockseg/...`` for one app; shares its journal, faults and settings."""

    def __init__(self, app: MockSegmentApp) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/__mockseg/calls"): self.list_calls,
            ("DELETE", "/__mockseg/calls"): self.clear_calls,
            ("POST", "/__mockseg/reset"): self.reset,
            ("GET", "/__mockseg/stats"): self.stats,
            ("GET", "/__mockseg/faults"): self.list_faults,
            ("POST", "/__mockseg/faults"): self.add_faults,
            ("DELETE", "/__mockseg/faults"): self.clear_faults,
            ("GET", "/__mockseg/health"): self.health,
            ("GET", "/__mockseg/schema/group"): self.schema,
            ("GET", "/__mockseg/index.json"): self.index,
            ("GET", "/__mockseg/openapi.json"): self.openapi,
            ("GET", "/__mockseg"): self.to_page,
            ("GET", "/__mockseg/"): self.page,
            **{("GET", path): self._asset(name) for path, name in _UI_PATHS.items()},
        }

    def dispatch(self, request: Request, path: str, scope: str | None = None) -> Response:
        """Answer one admin request; errors come back in the documented shape.

        Under a scope (``/_/<scope>/__mockseg/...``) every endpoint sees only that scope.
        """
        method = "GET" if request.method == "HEAD" else request.method
        handler = self.routes.get((method, path))
        allowed = sorted({m for (m, p) in self.routes if p == path})
        try:
            self._guard(request, method)
            if not is_public(path):
                self._check_token(request)
            if handler is None:
                if allowed:
                    raise MethodNotAllowed(
                        f"Method {request.method} is not allowed on {path}; "
                        f"use {', '.join(allowed)}", field="method")
                raise NotFound(f"No admin endpoint at {path}. Valid paths: "
                               f"{', '.join(sorted({p for (_, p) in self.routes}))}", field="path")
            return handler(request, scope)
        except ApiError as error:
            headers = {"Allow": ", ".join(allowed)} if isinstance(error, MethodNotAllowed) else {}
            return error_response(error, headers)

    def _guard(self, request: Request, method: str) -> None:
        """Only the developer's own tools: no foreign Host (DNS rebinding) on a loopback
        connection, no CORS preflight, no state change from another site's page, JSON bodies
        of bounded size."""
        hosts = self.app.allowed_hosts
        if hosts is not None and _arrived_on_loopback(request):
            hosts.check(request.host)
        if method == "OPTIONS":
            raise Forbidden("The admin API answers no CORS preflight: other sites' pages may "
                            "not call it", field="Origin")
        if method == "GET":
            return
        check_same_site(method, request.headers.get("Origin"),
                        request.headers.get("Sec-Fetch-Site"), request.host, request.scheme)
        length = request.content_length
        if length is not None and length > MAX_ADMIN_BODY:
            raise RequestEntityTooLarge(
                f"Admin request body of {length} bytes is over the limit of {MAX_ADMIN_BODY}")
        has_body = bool(length) or "chunked" in request.headers.get("Transfer-Encoding", "")
        if has_body and request.mimetype != "application/json":
            raise UnsupportedMediaType(
                f"An admin request body must be sent as Content-Type: application/json, not "
                f"{request.content_type or 'none'}", field="Content-Type")

    @staticmethod
    def _body(request: Request) -> bytes:
        """The request body, refused past :data:`MAX_ADMIN_BODY` without reading it all."""
        try:
            data = request.stream.read(MAX_ADMIN_BODY + 1)
        except OSError as exc:  # a broken chunked body, a stall, a client gone mid-body
            raise InvalidJson(f"Could not read the request body: {exc}") from None
        if len(data) > MAX_ADMIN_BODY:
            raise RequestEntityTooLarge(
                f"Admin request body is over the limit of {MAX_ADMIN_BODY} bytes")
        return data

    def _check_token(self, request: Request) -> None:
        """With an admin token set, every non-public admin request must carry it."""
        token = self.app.admin_token
        if token is None:
            return
        try:
            auth = request.authorization
        except ValueError:  # werkzeug refuses a non-ASCII Basic value
            auth = None
        given = auth.token if auth is not None and auth.type == "bearer" else None
        if given is None:
            raise AuthenticationFailed("Missing admin token: send Authorization: Bearer <token>",
                                       field="Authorization")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise AuthenticationFailed("Invalid admin token", field="Authorization")

    def page(self, request: Request, scope: str | None) -> Response:
        """``GET /__mockseg/``: the journal page (it reads the API itself, with the token)."""
        return asset_response(request, PAGE)

    def to_page(self, request: Request, scope: str | None) -> Response:
        """``GET /__mockseg``: redirect to ``/__mockseg/``, so the page's relative links work."""
        query = request.query_string.decode("latin-1")
        target = f"{request.script_root}{request.path}/" + (f"?{query}" if query else "")
        return redirect(target, 308)

    def _asset(self, name: str) -> Handler:
        def serve(request: Request, scope: str | None) -> Response:
            return asset_response(request, name)

        return serve

    def openapi(self, request: Request, scope: str | None) -> Response:
        """``GET /__mockseg/openapi.json``: the OpenAPI 3.1 document of the whole surface."""
        from mockseg.openapi import openapi_document  # it imports this module

        return json_response(openapi_document(self.app.settings_for(scope).limits))

    def index(self, request: Request, scope: str | None) -> Response:
        """``GET /__mockseg/index.json``: the admin endpoints."""
        return json_response({
            "service": "mockseg",
            "endpoints": sorted(f"{method} {path}" for method, path in self.routes),
        })

    def list_calls(self, request: Request, scope: str | None) -> Response:
        """``GET /__mockseg/calls``: filter, ``after`` or ``before`` an id, the oldest ``limit``
        or the newest ``last``, or ``wait`` for N. Without ``limit`` or ``last`` the answer is
        streamed, encoded a record at a time."""
        args = dict(request.args)
        try:
            where = _scoped(CallFilter.from_query(args), scope)
        except ValueError as exc:  # violations=maybe
            raise ValidationFailed(str(exc), field=str(exc).split(" ", 1)[0]) from None
        after = _integer(args, "after", 0, 0, 2**62)
        before = _integer(args, "before", 1, 1, 2**62) if "before" in args else None
        limit = _integer(args, "limit", 0, 0, 10**9) if "limit" in args else None
        last = _integer(args, "last", 0, 0, 10**9) if "last" in args else None
        if limit is not None and last is not None:
            raise ValidationFailed("Give limit (the oldest matches) or last (the newest), "
                                   "not both", field="last")
        wait = args.get("wait")
        if wait is not None and before is not None:
            raise ValidationFailed("before cannot go with wait: wait is for new calls, which "
                                   "come after every id so far", field="before")
        journal = self.app.journal
        extra: dict[str, Any] = {}
        if wait is not None:
            count = _integer(args, "wait", 1, 0, 1_000_000)
            timeout = _number(args, "timeout", 5.0, 0, MAX_WAIT_SECONDS)
            # A client that has closed its connection releases its waiter (absent: never).
            _, enough = journal.wait(count, timeout, where, after=after,
                                     cancelled=request.environ.get(CLIENT_GONE))
            extra["timed_out"] = not enough
        if limit is None and last is None:
            return _streamed_calls(journal.iter_select(where, after=after, before=before), extra)
        records, total = journal.page(where, after=after, before=before, limit=limit, last=last)
        # ``total`` counts every match; ``calls`` holds the oldest ``limit`` or newest ``last``.
        return json_response({"calls": [record.to_dict() for record in records],
                              "total": total, **extra})

    def clear_calls(self, request: Request, scope: str | None) -> Response:
        """``DELETE /__mockseg/calls``: empty the journal; planned faults stay."""
        self.app.journal.clear(_scoped(CallFilter(), scope))
        return json_response({"success": True})

    def reset(self, request: Request, scope: str | None) -> Response:
        """``POST /__mockseg/reset``: empty the journal and drop planned faults."""
        self.app.journal.clear(_scoped(CallFilter(), scope))
        if scope is None:
            self.app.faults.clear_all()
        else:
            self.app.faults.clear(scope)
        return json_response({"success": True})

    def stats(self, request: Request, scope: str | None) -> Response:
        return json_response(self.app.journal.stats(_scoped(CallFilter(), scope)))

    def list_faults(self, request: Request, scope: str | None) -> Response:
        faults = self.app.faults.pending(scope)
        return json_response({"faults": [fault.to_dict() for fault in faults]})

    def add_faults(self, request: Request, scope: str | None) -> Response:
        """``POST /__mockseg/faults`` with ``{"status", "count", "retry_after", "delay_ms"}``."""
        spec = parse_json(self._body(request) or b"{}", MAX_FAULT_DEPTH)
        if not isinstance(spec, dict):
            raise ValidationFailed("Fault body must be a JSON object")
        unknown = set(spec) - {"status", "count", "retry_after", "delay_ms"}
        if unknown:
            raise ValidationFailed(f"Unknown fault field: {', '.join(sorted(unknown))}",
                                   field=sorted(unknown)[0])
        count = spec.get("count", 1)
        try:
            fault = Fault(
                status=spec.get("status", 503),
                retry_after=spec.get("retry_after"),
                delay_ms=spec.get("delay_ms", 0),
            )
            self.app.faults.add(fault, count, scope)
        except ValueError as exc:
            raise ValidationFailed(str(exc), field=str(exc).split(" ", 1)[0]) from None
        # A summary, not the queue: it can hold thousands (GET /__mockseg/faults lists them).
        return json_response({"added": count, "fault": fault.to_dict(),
                              "pending": self.app.faults.count(scope)})

    def clear_faults(self, request: Request, scope: str | None) -> Response:
        self.app.faults.clear(scope)
        return json_response({"faults": []})

    def health(self, request: Request, scope: str | None) -> Response:
        settings = self.app.settings_for(scope)
        plan = settings.tracking_plan
        return json_response({
            "status": "ok",
            "scope": scope,
            "version": __version__,
            "mode": settings.mode,
            "write_keys": sorted(settings.write_keys) if settings.write_keys is not None else None,
            # Which tracking plan checks the calls (None: none), so a tool can tell whether
            # "no violations" means a clean run or no plan at all.
            "tracking_plan": None if plan is None else {
                "source": plan.source, "rules": len(plan.rules), "mode": plan.mode,
                "unplanned": plan.unplanned},
        })

    def schema(self, request: Request, scope: str | None) -> Response:
        """The contract's JSON Schema under this server's limits."""
        response = json_response(group_schema(self.app.settings_for(scope).limits))
        response.mimetype = "application/schema+json"
        return response
