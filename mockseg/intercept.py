"""Socketless interception: requests to the Segment hosts go straight into an in-process app.

While an interception is active, HTTP requests made with ``requests`` / urllib3 or with ``httpx``
to one of its hosts are answered by calling the WSGI app in the same process: no socket, no port,
no thread. Requests to any other host pass through untouched.

Patching a library is process-wide by nature, so the active interceptions live in this module:
the patches go in with the first interception and come out with the last.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from mockseg.environ import environ_key
from mockseg.serving import call_wsgi

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["DEFAULT_HOSTS", "call_app", "intercept", "urllib3_answer"]

#: The Tracking API hosts: the default (US) one and the EU one.
DEFAULT_HOSTS = ("api.segment.io", "events.eu1.segmentapis.com")

_lock = threading.Lock()
_active: list[tuple[frozenset[str], WSGIApplication]] = []
_originals: dict[str, Any] = {}


#: The environ keys that are the same for every intercepted request.
_FIXED_ENVIRON: dict[str, Any] = {
    "SCRIPT_NAME": "",
    "SERVER_NAME": "localhost",
    "SERVER_PORT": "443",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "https",
    "wsgi.input_terminated": True,
    "wsgi.multithread": True,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


def call_app(
    app: WSGIApplication,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Run one request through a WSGI app: (status code, reason, headers, body).

    The environ is built directly (no socket and no HTTP text to parse): the request line's
    parts, the body as ``wsgi.input``, and each header as ``HTTP_*`` the way a server does.
    An app with a ``respond(environ)`` method (mockseg's own) answers through it, without
    ``start_response``.
    """
    path, _, query = url.partition("?")
    environ = _FIXED_ENVIRON.copy()
    environ["REQUEST_METHOD"] = method.upper()
    environ["PATH_INFO"] = (unquote(path).encode("utf-8").decode("latin-1")
                            if "%" in path or not path.isascii() else path)
    environ["QUERY_STRING"] = query
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.errors"] = sys.stderr
    environ.update(_header_entries(tuple(headers)))
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        del environ["HTTP_TRANSFER_ENCODING"]  # the body is already whole
    respond = getattr(app, "respond", None)
    status, response_headers, data = (respond(environ) if respond is not None
                                      else call_wsgi(app, environ))
    code, _, reason = status.partition(" ")
    return int(code), reason, response_headers, data


@lru_cache(maxsize=256)
def _header_entries(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The environ entries of a request's headers, each as ``HTTP_*`` the way a server makes
    it (a repeated header joined with commas): an SDK sends the same headers call after call."""
    entries: dict[str, str] = {}
    for name, value in headers:
        key = environ_key(name)
        if key in entries and key.startswith("HTTP_"):  # a repeated header: joined
            entries[key] = f"{entries[key]},{value}"
        else:
            entries[key] = value
    return tuple(entries.items())


def _app_for(host: str | None) -> WSGIApplication | None:
    if host is None:
        return None
    host = host.lower()
    for hosts, app in reversed(_active):  # the newest interception wins
        if host in hosts:
            return app
    return None


def _header_items(headers: Any) -> Iterable[tuple[str, str]]:
    """A request's headers as (name, value) pairs. From requests' ``CaseInsensitiveDict``,
    through its ``lower_items()`` (names in lower case, which the environ's keys ignore):
    its ``items()`` goes through two Python methods per header."""
    if headers is None:
        return ()
    lower_items = getattr(headers, "lower_items", None)
    items: Iterable[tuple[str, str]] = (lower_items() if lower_items is not None
                                        else headers.items())
    return items


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(part.encode("utf-8") if isinstance(part, str) else bytes(part)
                    for part in body)


# --- urllib3 (and so requests) --------------------------------------------------------------


class _AnswerBody(io.BytesIO):
    """An answer's body for urllib3: like ``http.client.HTTPResponse``, it says it is closed
    once it has been read to the end, so urllib3 reads it in one go."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._size = len(data)

    def isclosed(self) -> bool:
        return self.closed or self.tell() >= self._size


def urllib3_answer(code: int, reason: str, headers: Iterable[tuple[str, str]], data: bytes,
                   method: str, url: str, *, preload_content: bool = True,
                   decode_content: bool = True) -> Any:
    """An answer as urllib3 hands it to its caller (``requests`` reads it like one that came
    over a socket): the urllib3 side of an intercepted request, whatever answered it."""
    import urllib3

    return urllib3.HTTPResponse(
        body=_AnswerBody(data),
        headers=urllib3.HTTPHeaderDict(headers),
        status=code,
        reason=reason,
        preload_content=preload_content,
        decode_content=decode_content,
        request_method=method,
        request_url=url,
    )


def _patch_urllib3() -> None:
    try:
        from urllib3.connectionpool import HTTPConnectionPool
    except ImportError:
        return
    original = HTTPConnectionPool.urlopen
    _originals["urllib3"] = original

    def urlopen(self: Any, method: str, url: str, body: Any = None, headers: Any = None,
                *args: Any, **kwargs: Any) -> Any:
        app = _app_for(self.host)
        if app is None:
            return original(self, method, url, body, headers, *args, **kwargs)
        target = url
        if "://" in target:  # an absolute URL (through a proxy): keep its path
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        code, reason, response_headers, data = call_app(
            app, method, target, _header_items(headers), _body_bytes(body))
        return urllib3_answer(code, reason, response_headers, data, method, url,
                              preload_content=kwargs.get("preload_content", True),
                              decode_content=kwargs.get("decode_content", True))

    HTTPConnectionPool.urlopen = urlopen  # type: ignore[method-assign]


def _unpatch_urllib3() -> None:
    original = _originals.pop("urllib3", None)
    if original is not None:
        from urllib3.connectionpool import HTTPConnectionPool

        HTTPConnectionPool.urlopen = original  # type: ignore[method-assign]


# --- httpx ----------------------------------------------------------------------------------


def _patch_httpx() -> None:
    try:
        import httpx
    except ImportError:
        return
    sync_original = httpx.HTTPTransport.handle_request
    async_original = httpx.AsyncHTTPTransport.handle_async_request
    _originals["httpx"] = (sync_original, async_original)

    def respond(app: WSGIApplication, request: httpx.Request, body: bytes) -> httpx.Response:
        target = request.url.raw_path.decode("ascii")
        code, _, response_headers, data = call_app(
            app, request.method, target, request.headers.multi_items(), body)
        return httpx.Response(code, headers=response_headers, content=data, request=request)

    def handle_request(self: Any, request: httpx.Request) -> httpx.Response:
        app = _app_for(request.url.host)
        if app is None:
            return sync_original(self, request)
        return respond(app, request, request.read())

    async def handle_async_request(self: Any, request: httpx.Request) -> httpx.Response:
        app = _app_for(request.url.host)
        if app is None:
            return await async_original(self, request)
        return respond(app, request, await request.aread())

    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = (  # type: ignore[method-assign]
        handle_async_request)


def _unpatch_httpx() -> None:
    originals = _originals.pop("httpx", None)
    if originals is not None:
        import httpx

        httpx.HTTPTransport.handle_request = originals[0]  # type: ignore[method-assign]
        httpx.AsyncHTTPTransport.handle_async_request = originals[1]  # type: ignore[method-assign]


@contextmanager
def intercept(app: WSGIApplication, hosts: Iterable[str] = DEFAULT_HOSTS) -> Iterator[None]:
    """Route requests for ``hosts`` (any scheme and port) to ``app`` until the block ends."""
    entry = (frozenset(host.lower() for host in hosts), app)
    if not entry[0]:
        raise ValueError("intercept() needs at least one host")
    with _lock:
        if not _active:
            _patch_urllib3()
            _patch_httpx()
        _active.append(entry)
    try:
        yield
    finally:
        with _lock:
            _active.remove(entry)
            if not _active:
                _unpatch_urllib3()
                _unpatch_httpx()
