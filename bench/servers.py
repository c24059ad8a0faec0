"""Comparisons over sockets: ``throughput-group``, ``throughput-batch``, ``start-stop`` and
``intercept`` (with its ceiling: a canned urllib3 answer where ``intercept()`` hooks in).

The three servers: mockseg (``MockSegment().start()``); pytest-httpserver answering with a JSON
handler that neither parses nor validates; a bare werkzeug app that reads the body and answers
200, the floor for any werkzeug server. werkzeug logs every request to stderr when it runs
outside pytest; the harness silences that logger, as pytest's logging does, so that no side
pays for printing.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.harness import Context, Metric, Result, Side, Target, alternate, ratios
from bench.payloads import WRITE_KEY, b2b_body, b2b_bytes, batch_bytes, request_headers

__all__ = ["admin_call", "checked_run", "run_intercept", "run_start_stop", "run_throughput_batch",
           "run_throughput_group", "settle"]

_SUCCESS = b'{"success": true}'


def quiet_werkzeug() -> None:
    """Drop werkzeug's per-request log lines (outside pytest they go to stderr)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


# --- the servers ------------------------------------------------------------------------------


@dataclass
class Served:
    """A running server: its base URL, and how to forget what it recorded."""

    label: str
    url: str
    reset: Callable[[], None]
    recorded: Callable[[], int] | None = None  # accepted messages, where the server counts


@contextmanager
def mockseg_server(*, journal: str | None = None) -> Iterator[Served]:
    """``MockSegment().start()``, recording into the SQLite file ``journal`` if one is named
    (the memory journal if not)."""
    from mockseg import MockSegment

    fake = MockSegment(journal=journal).start()
    try:
        yield Served("mockseg", fake.url, fake.reset,
                     lambda: int(fake.stats.get("accepted", 0)))
    finally:
        fake.close()  # stops it, then closes the journal: a SQLite file is checkpointed


def _json_handler(request: Any) -> Any:
    from werkzeug.wrappers import Response

    return Response(_SUCCESS, status=200, content_type="application/json")


@contextmanager
def httpserver_server() -> Iterator[Served]:
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    for path in ("/v1/group", "/v1/batch"):
        server.expect_request(path, method="POST").respond_with_handler(_json_handler)
    server.start()
    try:
        yield Served("pytest-httpserver", server.url_for("").rstrip("/"), server.clear_log)
    finally:
        server.clear()
        server.stop()


def _bare_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(_SUCCESS)))])
    return [_SUCCESS]


@contextmanager
def werkzeug_server() -> Iterator[Served]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, _bare_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="bench:werkzeug", daemon=True)
    thread.start()
    try:
        yield Served("bare werkzeug", f"http://127.0.0.1:{server.server_port}", lambda: None)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


# --- clients ------------------------------------------------------------------------------------


class SessionClient:
    """``requests.Session``: keeps the connection alive, reconnects when the server closes it."""

    def __init__(self, served: Served, path: str, body: bytes) -> None:
        import requests

        self.served = served
        self.url = served.url + path
        self.body = body
        self.session = requests.Session()
        self.headers = request_headers()
        self.requests = 0
        self.closed = 0  # answers that closed the connection: the next request reconnects

    def run(self, count: int) -> float:
        """Requests per second over ``count`` requests."""
        post, url, body, headers = self.session.post, self.url, self.body, self.headers
        closed = 0
        started = time.perf_counter()
        for _ in range(count):
            response = post(url, data=body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{self.served.label} answered {response.status_code}: "
                                   f"{response.text[:300]}")
            closed += response.headers.get("Connection", "").lower() == "close"
        elapsed = time.perf_counter() - started
        self.requests += count
        self.closed += closed
        return count / elapsed

    def describe(self) -> str:
        return (f"{self.closed:,} of {self.requests:,} answers closed the connection "
                "(Connection: close)")

    def close(self) -> None:
        self.session.close()


class RawClient:
    """One ``http.client.HTTPConnection``, reused for every request."""

    def __init__(self, served: Served, path: str, body: bytes) -> None:
        parts = urlsplit(served.url)
        self.served = served
        self.path = parts.path + path
        self.body = body
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
        self.headers = request_headers()
        self.requests = 0
        self.connections = 0
        self._socket: Any = None

    def describe(self) -> str:
        return f"{self.connections:,} TCP connection(s) for {self.requests:,} requests"

    def run(self, count: int) -> float:
        connection, path, body, headers = self.connection, self.path, self.body, self.headers
        started = time.perf_counter()
        for _ in range(count):
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The server closed the connection while it was idle (Node does after 5 s):
                # reconnect and send again, as requests does.
                connection.close()
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
            if connection.sock is not self._socket:  # it reconnected: the last one closed
                self._socket = connection.sock
                self.connections += 1
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"{self.served.label} answered {response.status}: {data!r}")
        elapsed = time.perf_counter() - started
        self.requests += count
        return count / elapsed

    def close(self) -> None:
        self.connection.close()


class SocketClient:
    """One keep-alive TCP connection and the request as prebuilt bytes: send, then read the
    answer's head and its body (by Content-Length, or chunked), and nothing else. Its own cost
    is a few tens of µs a request, a fifth of ``http.client``'s, so that a server's figure is
    the server's. It reconnects when the server has closed an idle connection."""

    def __init__(self, served: Served, path: str, body: bytes) -> None:
        parts = urlsplit(served.url)
        self.served = served
        self.address = (parts.hostname or "", parts.port or 80)
        head = [f"POST {parts.path}{path} HTTP/1.1", f"Host: {parts.netloc}",
                *(f"{name}: {value}" for name, value in request_headers().items()),
                f"Content-Length: {len(body)}"]
        self.request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        self.requests = 0
        self.connections = 0
        self._socket: socket.socket | None = None
        self._buffer = b""

    def _connect(self) -> socket.socket:
        self.close()
        connection = socket.create_connection(self.address, timeout=30)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket, self._buffer = connection, b""
        self.connections += 1
        return connection

    def run(self, count: int) -> float:
        request = self.request
        started = time.perf_counter()
        for _ in range(count):
            connection = self._socket or self._connect()
            try:
                connection.sendall(request)
                status, data = self._answer(connection)
            except (BrokenPipeError, ConnectionResetError, EOFError):
                # The server closed the connection while it was idle: reconnect, send again.
                connection = self._connect()
                connection.sendall(request)
                status, data = self._answer(connection)
            if status != 200:
                raise RuntimeError(f"{self.served.label} answered {status}: {data[:300]!r}")
        elapsed = time.perf_counter() - started
        self.requests += count
        return count / elapsed

    def _answer(self, connection: socket.socket) -> tuple[int, bytes]:
        """The status and body of the next answer on the connection."""
        head, rest = self._until(connection, b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = {name.strip().lower(): value.strip() for name, _, value in
                  (line.partition(b":") for line in lines[1:])}
        if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            self._buffer = rest
            body = b""
            while True:
                size_line, _ = self._until(connection, b"\r\n")
                size = int(size_line.split(b";", 1)[0], 16)
                chunk = self._exactly(connection, size + 2)[:size]
                if size == 0:  # trailers end with an empty line
                    while self._until(connection, b"\r\n")[0]:
                        pass
                    return status, body
                body += chunk
        length = int(fields.get(b"content-length", b"0"))
        self._buffer = rest
        body = self._exactly(connection, length)
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, body

    def _until(self, connection: socket.socket, mark: bytes) -> tuple[bytes, bytes]:
        """The buffered bytes up to ``mark`` (dropped from the buffer), and what follows."""
        while (end := self._buffer.find(mark)) < 0:
            self._fill(connection)
        taken, self._buffer = self._buffer[:end], self._buffer[end + len(mark):]
        return taken, self._buffer

    def _exactly(self, connection: socket.socket, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill(connection)
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken

    def _fill(self, connection: socket.socket) -> None:
        data = connection.recv(65_536)
        if not data:
            self.close()
            raise EOFError("the server closed the connection")
        self._buffer += data

    def describe(self) -> str:
        return f"{self.connections:,} TCP connection(s) for {self.requests:,} requests"

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def checked_run(client: SessionClient | RawClient, count: int,
                messages: int) -> Callable[[], float]:
    """One repeat of ``client``: its requests/s over ``count`` requests, then
    :func:`settle` (outside the timing)."""
    def run() -> float:
        figure = client.run(count)
        settle(client.served, count * messages)
        return figure

    return run


def settle(served: Served, messages: int) -> None:
    """After a repeat: where the server counts what it accepted, check that it accepted all
    ``messages``; then empty its journal."""
    if served.recorded is not None:
        accepted = served.recorded()
        if accepted != messages:
            raise RuntimeError(f"{served.label} accepted {accepted} of {messages} messages")
    served.reset()


def admin_call(host: str, port: int | None, method: str, path: str, *, label: str = "",
               timeout: float = 60.0) -> Any:
    """One admin API request over a connection of its own: the JSON answer (None for an empty
    body); any status but 200 raises, saying what the server answered."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{label + ': ' if label else ''}{method} {path} answered "
                               f"{response.status}: {data[:300]!r}")
        return json.loads(data) if data else None
    finally:
        connection.close()


# --- throughput -------------------------------------------------------------------------------


def _throughput(ctx: Context, name: str, path: str, body: bytes, messages: int,
                count: int, target: Target) -> Result:
    quiet_werkzeug()
    result = Result(name, f"POST {path} over one keep-alive client: requests/s")
    result.repeats = ctx.repeats(full=5)
    with ExitStack() as stack:
        ours = stack.enter_context(mockseg_server())
        peer = stack.enter_context(httpserver_server())
        bare = stack.enter_context(werkzeug_server())
        clients: list[tuple[str, SessionClient | RawClient]] = [
            ("mockseg, requests.Session", SessionClient(ours, path, body)),
            ("pytest-httpserver, requests.Session", SessionClient(peer, path, body)),
            ("bare werkzeug, requests.Session", SessionClient(bare, path, body)),
            ("mockseg, raw http.client keep-alive", RawClient(ours, path, body)),
        ]
        for _, client in clients:
            stack.callback(client.close)
            client.run(max(count // 20, 2))  # warm up: connect, fill caches
        for served in (ours, peer, bare):
            served.reset()

        figures = alternate([(label, checked_run(client, count, messages))
                             for label, client in clients], result.repeats)
        for label, client in clients:
            result.notes.append(f"{label}: {client.describe()}")
    labels = [label for label, _ in clients]
    result.sides = [Side(label, "req/s", figures[label]) for label in labels]
    result.notes.insert(0, f"{count:,} requests per side per repeat, {len(body):,} bytes each")
    mine, theirs, floor, raw = (figures[label] for label in labels)
    result.metrics = [
        Metric("mockseg / pytest-httpserver", "x", ratios(mine, theirs), target),
        Metric("mockseg / bare werkzeug", "x", ratios(mine, floor)),
        Metric("mockseg raw http.client / pytest-httpserver", "x", ratios(raw, theirs)),
    ]
    return result


def run_throughput_group(ctx: Context) -> Result:
    """Single ``/v1/group`` calls of the B2B example."""
    return _throughput(ctx, "throughput-group", "/v1/group", b2b_bytes(), 1,
                       ctx.count(full=600, smoke=20), Target(">=", 1.3))


def run_throughput_batch(ctx: Context) -> Result:
    """``/v1/batch`` calls of 100 B2B messages each."""
    return _throughput(ctx, "throughput-batch", "/v1/batch", batch_bytes(100), 100,
                       ctx.count(full=120, smoke=5), Target(">=", 0.5))


# --- start-stop -------------------------------------------------------------------------------


def run_start_stop(ctx: Context) -> Result:
    """``MockSegment().start()`` then ``.stop()`` vs pytest-httpserver's, in ms."""
    from pytest_httpserver import HTTPServer

    from mockseg import MockSegment

    quiet_werkzeug()
    result = Result("start-stop", "construct, start() and stop() a server: ms")

    def ours() -> float:
        started = time.perf_counter()
        MockSegment().start().stop()
        return (time.perf_counter() - started) * 1e3

    def theirs() -> float:
        started = time.perf_counter()
        server = HTTPServer(host="127.0.0.1", port=0)
        server.start()
        server.stop()
        return (time.perf_counter() - started) * 1e3

    ours(), theirs()  # warm up
    result.repeats = ctx.repeats(full=15)
    figures = alternate([("mockseg", ours), ("pytest-httpserver", theirs)], result.repeats)
    result.sides = [Side(label, "ms", figures[label]) for label in figures]
    result.metrics = [
        Metric("mockseg start+stop", "ms", figures["mockseg"], Target("<=", 50.0)),
        Metric("pytest-httpserver / mockseg", "x",
               ratios(figures["pytest-httpserver"], figures["mockseg"])),
    ]
    return result


# --- intercept --------------------------------------------------------------------------------


@contextmanager
def canned_urlopen(*, shared: bool = False) -> Iterator[list[int]]:
    """The ceiling of interception: ``HTTPConnectionPool.urlopen``, where ``intercept()`` hooks
    in, answering every request with a canned copy of mockseg's answer to an accepted call
    (``200 {"success":true}``, its three headers) and no app.

    The answer is built per call by ``mockseg.intercept.urllib3_answer``, as ``intercept()``
    builds the app's: the app's work (and building its environ) is what the ceiling leaves out.
    ``shared=True`` returns one prebuilt ``urllib3.HTTPResponse`` every time instead: from the
    second call on its body is already read, so ``requests`` reads nothing (no real answer can
    be that cheap; the SDK looks at the status only). Yields a one-item list counting the calls.
    """
    import io

    import urllib3
    from urllib3.connectionpool import HTTPConnectionPool

    from mockseg.intercept import urllib3_answer
    from mockseg.responses import success_answer, with_cors

    # The answer mockseg gives an accepted call without Origin, header for header.
    answer = with_cors(success_answer(), None)
    canned, canned_body = list(answer.headers), answer.body
    prebuilt = urllib3.HTTPResponse(
        body=io.BytesIO(canned_body), headers=urllib3.HTTPHeaderDict(canned), status=200,
        reason="OK", preload_content=False, decode_content=False)
    calls = [0]

    def urlopen(self: Any, method: str, url: str, body: Any = None, headers: Any = None,
                *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if shared:
            return prebuilt
        return urllib3_answer(200, "OK", canned, canned_body, method, url,
                              preload_content=kwargs.get("preload_content", True),
                              decode_content=kwargs.get("decode_content", True))

    original = HTTPConnectionPool.urlopen
    HTTPConnectionPool.urlopen = urlopen  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        HTTPConnectionPool.urlopen = original  # type: ignore[method-assign]


def run_intercept(ctx: Context) -> Result:
    """The official Python SDK in sync mode: group calls/s through ``intercept()``, through a
    canned urllib3 answer at the same hook (the ceiling), and through the socket."""
    from segment.analytics import Client

    from mockseg import MockSegment

    result = Result("intercept", "Python SDK (sync mode) group calls/s: intercept() vs its "
                                 "ceiling (a canned urllib3 answer) vs socket")
    body = b2b_body()
    calls = ctx.count(full=400, smoke=10)
    fake = MockSegment().start()
    try:
        intercepted = Client(WRITE_KEY, sync_mode=True, max_retries=0)  # the default host
        socketed = Client(WRITE_KEY, sync_mode=True, max_retries=0, host=fake.url)

        def send(client: Any) -> float:
            started = time.perf_counter()
            for _ in range(calls):
                client.group(user_id=body["userId"], group_id=body["groupId"],
                             traits=body["traits"])
            return calls / (time.perf_counter() - started)

        def through_intercept() -> float:
            with fake.intercept():
                return _checked(fake, calls, send(intercepted))

        def through_canned(shared: bool) -> Callable[[], float]:
            def run() -> float:
                with canned_urlopen(shared=shared) as answered:
                    figure = send(intercepted)
                if answered[0] != calls:
                    raise RuntimeError(f"the canned urlopen answered {answered[0]} of the "
                                       f"SDK's {calls} group calls")
                return figure

            return run

        def through_socket() -> float:
            return _checked(fake, calls, send(socketed))

        sides = [("intercept()", through_intercept),
                 ("canned urllib3 answer", through_canned(False)),
                 ("one shared, already read urllib3 answer", through_canned(True)),
                 ("socket", through_socket)]
        for _, measure in sides:
            measure()  # warm up
        result.repeats = ctx.repeats(full=9)  # short repeats: more of them, against noise
        figures = alternate(sides, result.repeats)
    finally:
        fake.stop()
    ours, ceiling, strict, socket = (figures[label] for label, _ in sides)
    result.notes.append(f"{calls:,} calls per side per repeat; the ceiling patches "
                        "HTTPConnectionPool.urlopen, where intercept() hooks in, with a canned "
                        "answer built per call as intercept() builds the app's, and no app; "
                        "the shared answer is one urllib3.HTTPResponse returned every time, "
                        "its body read once")
    result.sides = [Side(f"SDK via {label}", "calls/s", figures[label]) for label, _ in sides]
    result.metrics = [
        Metric("intercept / ceiling", "x", ratios(ours, ceiling), Target(">=", 0.8)),
        Metric("intercept / socket", "x", ratios(ours, socket)),
        Metric("ceiling / socket", "x", ratios(ceiling, socket)),
        Metric("intercept / the shared answer", "x", ratios(ours, strict)),
    ]
    return result


def _checked(fake: Any, calls: int, figure: float) -> float:
    accepted = int(fake.stats.get("accepted", 0))
    fake.reset()
    if accepted != calls:
        raise RuntimeError(f"mockseg accepted {accepted} of the SDK's {calls} group calls")
    return figure
