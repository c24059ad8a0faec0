"""The admin API under ``/__mockseg/``: read and empty the journal, inject faults, health."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from mockseg import __version__
from mockseg.errors import ApiError, MethodNotAllowed, NotFound, ValidationFailed
from mockseg.faults import Fault
from mockseg.journal import CallFilter
from mockseg.responses import error_response, json_response
from mockseg.schema import group_schema

if TYPE_CHECKING:
    from mockseg.app import MockSegmentApp

__all__ = ["MAX_WAIT_SECONDS", "AdminApi"]

#: The longest a ``wait`` on ``/__mockseg/calls`` may hold a request.
MAX_WAIT_SECONDS = 60.0

Handler = Callable[[Request], Response]


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


class AdminApi:
    """Routes ``/__mockseg/...`` for one app; shares its journal, faults and settings."""

    def __init__(self, app: MockSegmentApp) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/__mockseg/calls"): self.list_calls,
            ("DELETE", "/__mockseg/calls"): self.reset,
            ("POST", "/__mockseg/reset"): self.reset,
            ("GET", "/__mockseg/stats"): self.stats,
            ("GET", "/__mockseg/faults"): self.list_faults,
            ("POST", "/__mockseg/faults"): self.add_faults,
            ("DELETE", "/__mockseg/faults"): self.clear_faults,
            ("GET", "/__mockseg/health"): self.health,
            ("GET", "/__mockseg/schema/group"): self.schema,
            ("GET", "/__mockseg"): self.index,
            ("GET", "/__mockseg/"): self.index,
        }

    def dispatch(self, request: Request) -> Response:
        """Answer one admin request; errors come back in the documented shape."""
        method = "GET" if request.method == "HEAD" else request.method
        handler = self.routes.get((method, request.path))
        try:
            if handler is None:
                allowed = sorted(m for (m, p) in self.routes if p == request.path)
                if allowed:
                    raise MethodNotAllowed(
                        f"Method {request.method} is not allowed on {request.path}; "
                        f"use {', '.join(allowed)}", field="method")
                raise NotFound(f"No admin endpoint at {request.path}. Valid paths: "
                               f"{', '.join(sorted({p for (_, p) in self.routes}))}", field="path")
            return handler(request)
        except ApiError as error:
            return error_response(error)

    def index(self, request: Request) -> Response:
        return json_response({
            "service": "mockseg",
            "endpoints": sorted(f"{method} {path}" for method, path in self.routes),
        })

    def list_calls(self, request: Request) -> Response:
        """``GET /__mockseg/calls``: filter, limit, ``after`` an id, or ``wait`` for N."""
        args = dict(request.args)
        where = CallFilter.from_query(args)
        after = int(_number(args, "after", 0, 0, 2**62))
        limit = args.get("limit")
        wait = args.get("wait")
        journal = self.app.journal
        timed_out = False
        if wait is not None:
            count = int(_number(args, "wait", 1, 0, 1_000_000))
            timeout = _number(args, "timeout", 5.0, 0, MAX_WAIT_SECONDS)
            _, enough = journal.wait(count, timeout, where)
            timed_out = not enough
        records = journal.select(
            where, after=after,
            limit=int(_number(args, "limit", 0, 0, 10**9)) if limit is not None else None,
        )
        body = {"calls": [record.to_dict() for record in records], "total": len(records)}
        if wait is not None:
            body["timed_out"] = timed_out
        return json_response(body)

    def reset(self, request: Request) -> Response:
        """Empty the journal (``DELETE /__mockseg/calls`` or ``POST /__mockseg/reset``)."""
        self.app.journal.clear()
        return json_response({"success": True})

    def stats(self, request: Request) -> Response:
        return json_response(self.app.journal.stats())

    def list_faults(self, request: Request) -> Response:
        return json_response({"faults": [fault.to_dict() for fault in self.app.faults.pending()]})

    def add_faults(self, request: Request) -> Response:
        """``POST /__mockseg/faults`` with ``{"status", "count", "retry_after", "delay_ms"}``."""
        try:
            spec = json.loads(request.get_data(cache=False) or b"{}")
        except ValueError as exc:
            raise ValidationFailed(f"Fault body is not JSON: {exc}") from None
        if not isinstance(spec, dict):
            raise ValidationFailed("Fault body must be a JSON object")
        unknown = set(spec) - {"status", "count", "retry_after", "delay_ms"}
        if unknown:
            raise ValidationFailed(f"Unknown fault field: {', '.join(sorted(unknown))}",
                                   field=sorted(unknown)[0])
        try:
            fault = Fault(
                status=spec.get("status", 503),
                retry_after=spec.get("retry_after"),
                delay_ms=spec.get("delay_ms", 0),
            )
            self.app.faults.add(fault, spec.get("count", 1))
        except ValueError as exc:
            raise ValidationFailed(str(exc), field=str(exc).split(" ", 1)[0]) from None
        return json_response({"faults": [f.to_dict() for f in self.app.faults.pending()]})

    def clear_faults(self, request: Request) -> Response:
        self.app.faults.clear()
        return json_response({"faults": []})

    def health(self, request: Request) -> Response:
        settings = self.app.settings
        return json_response({
            "status": "ok",
            "version": __version__,
            "mode": settings.mode,
            "write_keys": sorted(settings.write_keys) if settings.write_keys is not None else None,
        })

    def schema(self, request: Request) -> Response:
        """The contract's JSON Schema under this server's limits."""
        response = json_response(group_schema(self.app.settings.limits))
        response.mimetype = "application/schema+json"
        return response
