"""The listening side: the server that accepts connections and hands each to a worker thread.

:class:`KeepAliveServer` is werkzeug's threaded server, changed around the accept loop; each
connection is then served, request after request, by :class:`mockseg.serving.KeepAliveHandler`.

- **Accept loop and immediate stop.** ``serve_forever`` watches a wake-up socket beside the
  listening one, so ``stop`` makes it return at once, with no poll interval to wait out.
- **Worker threads.** A connection goes to an idle worker thread, or to a new one if none is
  idle: starting a thread costs more than the whole answer to a small call.
- **Busy and idle connections.** Every open connection is tracked, and marked busy from a
  request's first byte until its answer is out. ``close`` shuts the idle ones at once (so their
  threads end) and the busy ones once their answer is out, or after a grace period.
- **Running out of file descriptors.** When ``accept`` fails for want of descriptors or memory
  (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ENOMEM``) the server stops watching the listening socket
  for a while (0.1 s, doubling up to 1 s, back to 0.1 s after an accept succeeds), logs one
  warning the first time, and serves the waiting clients once descriptors are free again.
- **TLS**, when given an ``ssl_context``: each connection's handshake runs in its own worker,
  never in the accept loop (where one silent client would stall all the others); a client that
  speaks plain HTTP to the TLS port gets a clear 400 instead of a failed handshake.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from typing import Any

from werkzeug.serving import ThreadedWSGIServer

from mockseg.serving import IDLE_TIMEOUT, KeepAliveHandler

__all__ = ["KeepAliveServer"]

log = logging.getLogger("mockseg")

#: accept() errors that mean "out of descriptors or memory": retried after a pause, not at once.
_ACCEPT_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPT_PAUSE_FIRST = 0.1
_ACCEPT_PAUSE_MAX = 1.0


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
            super().__init__(host, port, app, handler=KeepAliveHandler)
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
        self._accept_pause = 0.0  # seconds: the next pause after accept() runs out
        self._accept_paused_until = 0.0
        self._accept_warned = False

    def server_bind(self) -> None:
        try:
            super().server_bind()
        except OSError as error:
            raise _BindFailed(error) from error

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            watching = False
            while not self.stopping:
                pause = self._accept_paused_until - time.monotonic()
                if pause > 0 and watching:
                    selector.unregister(self.socket)
                    watching = False
                elif pause <= 0 and not watching:
                    selector.register(self.socket, selectors.EVENT_READ, "accept")
                    watching = True
                for key, _ in selector.select(pause if pause > 0 else None):
                    if key.data == "wake":
                        return
                    self._handle_request_noblock()  # type: ignore[attr-defined]

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection; out of descriptors, pause accepting (growing pauses) instead of
        retrying at once, which would spin the CPU while no client is served."""
        try:
            accepted = super().get_request()
        except OSError as error:
            if error.errno in _ACCEPT_EXHAUSTED:
                self._pause_accepting(error)
            raise
        self._accept_pause = 0.0
        return accepted

    def _pause_accepting(self, error: OSError) -> None:
        pause = min(max(self._accept_pause * 2, _ACCEPT_PAUSE_FIRST), _ACCEPT_PAUSE_MAX)
        self._accept_pause = pause
        self._accept_paused_until = time.monotonic() + pause
        if not self._accept_warned:
            self._accept_warned = True
            log.warning("mockseg: cannot accept a connection (%s); pausing up to %g s between "
                        "tries until descriptors are free. Idle keep-alive connections hold "
                        "one each: raise the limit (ulimit -n) or lower --idle-timeout.",
                        error.strerror or error, _ACCEPT_PAUSE_MAX)

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
            KeepAliveHandler(request, client_address, self)
            return
        request.settimeout(self.idle_timeout)
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if not first:
            return
        if first != b"\x16":  # not a TLS handshake record: a plain HTTP client
            handler_class = type("_PlainOnTlsHandler", (KeepAliveHandler,), {"plain_on_tls": True})
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
            KeepAliveHandler(tls, client_address, self)
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
