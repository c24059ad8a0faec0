"""The socket side: a threaded HTTP/1.1 server that keeps connections alive.

werkzeug's development server parses the request (request line, headers, chunked bodies) and
builds the WSGI environ; this module only changes what it does around the app. werkzeug 3 closes
every connection after one response, because it cannot tell where a request body ends. Here the
body is read through a ``LimitedStream``, so after the app has answered we know exactly how much
of it is left: a small remainder is drained and the connection stays open for the next request;
a large or unreadable one closes the connection. SDKs keep their connections alive
(``requests.Session``, Node's keep-alive agent), so this saves a TCP handshake and a thread per
call.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

from mockseg.errors import InvalidRequest, RequestHeaderTooLarge
from mockseg.responses import error_bytes

__all__ = ["IDLE_TIMEOUT", "KeepAliveServer", "call_wsgi"]

log = logging.getLogger("mockseg")

#: Seconds a keep-alive connection may sit idle, or a request body may stall, before closing.
IDLE_TIMEOUT = 30.0
#: Unread request bytes up to this size are drained to keep the connection; more closes it.
_DRAIN_LIMIT = 65_536


def call_wsgi(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call a WSGI app that returns its body (as mockseg's does): status, headers, body."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return _no_write

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return started[0], started[1], body


def _no_write(data: bytes) -> None:
    raise AssertionError("mockseg's app returns its body; it never calls write()")


class _Handler(WSGIRequestHandler):
    """One connection: many requests in turn, each through the WSGI app."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    server: KeepAliveServer
    #: Set for a plain-HTTP client on a TLS port: each request gets a clear 400.
    plain_on_tls = False

    @property
    def server_version(self) -> str:  # type: ignore[override]
        return "mockseg"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def handle_one_request(self) -> None:
        """Wait for a request line; from then until the answer is out, the connection is busy."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        self.server.set_busy(self.connection, True)
        try:
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414, "Request line too long")
                return
            if self.parse_request():
                self.run_wsgi()
        finally:
            self.server.set_busy(self.connection, False)
            if self.server.stopping:
                self.close_connection = True

    def run_wsgi(self) -> None:
        # ``Expect: 100-continue`` was answered by http.server's parse_request, once, and only
        # to an HTTP/1.1 client; a second "100 Continue" breaks Node's documented pattern.
        if self.plain_on_tls:
            self.send_error(400, "This port speaks HTTPS: use https:// (and trust mockseg's CA "
                                 "certificate) instead of http://")
            return
        environ = self.make_environ()
        stream: LimitedStream | None = None
        if not environ.get("wsgi.input_terminated"):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                if length < 0:
                    raise ValueError(length)
            except ValueError:
                self.send_error(400, "Invalid Content-Length header")
                return
            stream = LimitedStream(self.rfile, length)  # type: ignore[arg-type]
            environ["wsgi.input"] = stream
            environ["wsgi.input_terminated"] = True
        try:
            status, headers, body = call_wsgi(self.server.app, environ)
        except (ConnectionError, TimeoutError) as exc:
            self.connection_dropped(exc, environ)
            self.close_connection = True
            return
        if not self._body_finished(environ, stream):
            self.close_connection = True
        head = [f"{self.protocol_version} {status}\r\n",
                f"Server: mockseg\r\nDate: {self.date_time_string()}\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in headers]
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        self.wfile.write("".join(head).encode("latin-1") + body)

    def _body_finished(self, environ: dict[str, Any], stream: LimitedStream | None) -> bool:
        """Whether the request body is consumed, draining a small remainder if needed."""
        if stream is None:  # chunked: werkzeug's DechunkedInput knows when it has ended
            return bool(getattr(environ["wsgi.input"], "_done", False))
        remaining = stream.limit - stream._pos
        if remaining == 0:
            return True
        if remaining > _DRAIN_LIMIT:
            return False
        try:
            stream.exhaust()
        except Exception:  # the client went away or stalled; do not reuse the connection
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors (bad request line, huge headers) in the documented JSON shape."""
        text = message or self.responses.get(code, ("Bad request",))[0]
        error = (RequestHeaderTooLarge if code == 431 else InvalidRequest)(text, field="request")
        # http.server answers an HTTP/2.0 request line with 505; a bad request is a 4xx here.
        error.code = int(code) if int(code) < 500 else 400
        code = error.code
        self.close_connection = True
        recorder = getattr(self.server.app, "record_protocol_error", None)
        if recorder is not None:
            body = recorder((getattr(self, "path", "") or "").split("?", 1)[0], error)
        else:
            body = error_bytes(error)
        head = (f"HTTP/1.1 {code} {self.responses.get(code, ('',))[0]}\r\n"
                f"Server: mockseg\r\nDate: {self.date_time_string()}\r\n"
                "Content-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(OSError):
            self.wfile.write(head.encode("latin-1") + body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # mockseg logs each call itself, not each HTTP exchange

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            log.warning(message.rstrip(), *args)


class _BindFailed(Exception):
    """Carries an OSError from bind past werkzeug, which would print it and exit the process."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


class KeepAliveServer(ThreadedWSGIServer):
    """werkzeug's threaded server with keep-alive, and a stop that returns at once.

    ``serve_forever`` watches a wake-up socket beside the listening one, so ``stop`` needs no
    poll interval; ``close`` shuts open keep-alive connections so their threads end too.
    """

    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        app: Any,
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.idle_timeout = idle_timeout
        try:
            super().__init__(host, port, app, handler=_Handler)
        except _BindFailed as failed:
            self.socket.close()
            raise failed.error from None
        # Not passed to werkzeug, which would wrap the listening socket and so run every
        # handshake in the accept loop, where one silent client stalls all the others.
        # Each connection's handshake runs in its own worker instead (finish_request).
        self.ssl_context = ssl_context
        self._wake_r, self._wake_w = socket.socketpair()
        self.stopping = False
        self._connections: set[socket.socket] = set()
        self._busy: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._work: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._idle_workers = 0

    def server_bind(self) -> None:
        try:
            super().server_bind()
        except OSError as error:
            raise _BindFailed(error) from error

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ, "accept")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self.stopping:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    self._handle_request_noblock()  # type: ignore[attr-defined]

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to an idle worker thread, or to a new one if none is idle.

        Starting a thread per connection costs more than the whole answer to a small call;
        an SDK or a test that opens a connection per request pays it every time.
        """
        with self._connections_lock:
            self._connections.add(request)
            if self._idle_workers:
                self._idle_workers -= 1
                spawn = False
            else:
                spawn = True
        self._work.put((request, client_address))
        if spawn:
            threading.Thread(target=self._worker, name="mockseg-connection", daemon=True).start()

    def _worker(self) -> None:
        """Serve connections, one after another, until the server closes."""
        while True:
            item = self._work.get()
            if item is None:
                return
            request, client_address = item
            self.process_request_thread(request, client_address)
            with self._connections_lock:
                if self.stopping:
                    return
                self._idle_workers += 1

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection; on a TLS server, first its handshake (or, for a client
        speaking plain HTTP, a clear 400)."""
        if self.ssl_context is None:
            _Handler(request, client_address, self)
            return
        request.settimeout(self.idle_timeout)
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if not first:
            return
        if first != b"\x16":  # not a TLS handshake record: a plain HTTP client
            handler_class = type("_PlainOnTlsHandler", (_Handler,), {"plain_on_tls": True})
            handler_class(request, client_address, self)
            return
        tls = self.ssl_context.wrap_socket(request, server_side=True,
                                           do_handshake_on_connect=False)
        self._replace_connection(request, tls)
        try:
            tls.do_handshake()
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            log.warning("mockseg: TLS handshake with %s failed (%s); does the client trust "
                        "mockseg's CA certificate?", client_address[0],
                        getattr(exc, "reason", None) or exc)
            self._forget(tls)
            with contextlib.suppress(OSError):
                tls.close()
            return
        try:
            _Handler(tls, client_address, self)
        finally:
            self._forget(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def _replace_connection(self, raw: socket.socket, tls: ssl.SSLSocket) -> None:
        """Track the TLS socket in place of the raw one it took over, so close() reaches it."""
        with self._connections_lock:
            self._connections.discard(raw)
            self._connections.add(tls)

    def _forget(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)
            self._busy.discard(connection)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
            self._busy.discard(request)
        super().shutdown_request(request)

    def set_busy(self, connection: socket.socket, busy: bool) -> None:
        """Mark a connection as serving a request (True) or waiting for the next (False)."""
        with self._connections_lock:
            if busy:
                self._busy.add(connection)
            else:
                self._busy.discard(connection)

    def stop(self) -> None:
        """Make ``serve_forever`` return now (from any thread)."""
        self.stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def close(self, grace: float = 5.0) -> None:
        """Close the listening socket, then the connections: idle ones at once, busy ones once
        their answer is out (or after ``grace`` seconds)."""
        self.server_close()
        deadline = time.monotonic() + grace
        while True:
            with self._connections_lock:
                idle = self._connections - self._busy
                busy = bool(self._busy)
            for connection in idle:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            if not busy or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        with self._connections_lock:
            remaining = list(self._connections)
        for connection in remaining:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        with self._connections_lock:
            workers, self._idle_workers = self._idle_workers, 0
        for _ in range(workers):  # let the idle workers end
            self._work.put(None)
        self._wake_r.close()
        self._wake_w.close()
