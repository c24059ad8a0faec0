"""The connection side: an HTTP/1.1 handler that keeps a connection alive across requests.

werkzeug's development server parses the request line and builds the WSGI environ (with
http.server reading the header lines); :class:`KeepAliveHandler` changes what happens around
that:

- **Keep-alive.** werkzeug 3 closes every connection after one response, because it cannot tell
  where a request body ends. Here the body is read through a ``LimitedStream`` (or a strict
  chunked reader), so after the app has answered we know exactly how much of it is left: a small
  remainder is drained and the connection stays open for the next request; a large or unreadable
  one closes the connection. SDKs keep their connections alive (``requests.Session``, Node's
  keep-alive agent), so this saves a TCP handshake and a thread per call.
- **Strict framing** (RFC 9112), so that one request can never be read as two: a header line
  must be ``Name: value`` (no space before the colon, no obsolete line folding, no control
  characters); ``Content-Length`` is digits only, and repeated values must agree;
  ``Transfer-Encoding`` must be exactly ``chunked``, on HTTP/1.1, and never together with
  ``Content-Length``; at most one ``Host``. Anything else gets a 400 ``invalid_request`` (recorded,
  like every protocol error) and the connection is closed. Chunk extensions and trailers, which
  are valid, are read and ignored.
- **Deadlines.** A keep-alive connection may sit idle for the idle timeout; once a request's first
  byte arrives, its request line and headers must all arrive within the idle timeout too (a
  client trickling its headers gets a recorded 408), and a stalled body gets the idle timeout
  on each read.
- **``environ["mockseg.client_gone"]``**: a callable taking no arguments that returns True once
  the client has closed its connection (plain or TLS), so a long-poll can stop waiting for a
  client that has left. It never loses a byte the client sent (what it reads ahead is served to
  the next read of the request stream), never blocks, and should be called from the thread that
  is serving the request (the one running the app). A client that only half-closes (shuts its
  writing side and still reads) also counts as gone. Other WSGI servers (gunicorn) do not set it.

How a connection's bytes and a request's head are read (the head's deadline, the client-gone
check, the fast path for plain header lines) is in :mod:`mockseg.connection`; the server that
accepts the connections, :class:`~mockseg.listener.KeepAliveServer`, is in
:mod:`mockseg.listener` (and importable from here too, as before).
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import io
import logging
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

from mockseg.connection import ConnectionReader, HeadLines, plain_head
from mockseg.errors import ApiError, InternalError, InvalidRequest, RequestHeaderTooLarge
from mockseg.framing import MAX_LINE, BadFraming, ChunkedBody, Framing, request_framing
from mockseg.responses import error_bytes

if TYPE_CHECKING:
    from mockseg.listener import KeepAliveServer

__all__ = ["CLIENT_GONE", "IDLE_TIMEOUT", "KeepAliveHandler", "KeepAliveServer", "call_wsgi"]

log = logging.getLogger("mockseg")

#: Seconds a keep-alive connection may sit idle, a request's head may take to arrive once it has
#: begun, or a request body may stall, before the connection is closed.
IDLE_TIMEOUT = 30.0
#: The environ key of the callable that tells whether the client has closed its connection.
CLIENT_GONE = "mockseg.client_gone"
#: Unread request bytes up to this size are drained to keep the connection; more closes it.
_DRAIN_LIMIT = 65_536


def __getattr__(name: str) -> Any:
    """``KeepAliveServer``, still importable from here: loaded on first use, because
    :mod:`mockseg.listener` imports this module for its handler."""
    if name == "KeepAliveServer":
        from mockseg.listener import KeepAliveServer

        return KeepAliveServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def call_wsgi(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call a WSGI app that returns its body (as mockseg's does): status, headers, body."""
    status, headers, chunks = open_wsgi(app, environ)
    try:
        body = b"".join(chunks)
    finally:
        _close(chunks)
    return status, headers, body


def open_wsgi(
    app: Any, environ: dict[str, Any]
) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
    """Call a WSGI app: status, headers, and its body, still to be read (then closed, with
    :func:`_close`) when its length is not known, so that a long answer is written as it is
    made (a whole journal listing)."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return _no_write

    chunks = app(environ, start_response)
    # An answer of known length (every tracking answer), or an app that calls start_response
    # only when its body is read, is read whole here, so the app's errors surface now.
    if not started or _sized(started[1]):
        try:
            body = b"".join(chunks)
        finally:
            _close(chunks)
        return started[0], started[1], [body]
    return started[0], started[1], chunks


def _sized(headers: list[tuple[str, str]]) -> bool:
    return any(name.lower() == "content-length" for name, _ in headers)


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


def _no_write(data: bytes) -> None:
    raise AssertionError("mockseg's app returns its body; it never calls write()")


# --- the connection -----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _date_text(second: int) -> str:
    """A ``Date`` header's text for a second since the epoch (as http.server writes it): kept
    for the current second."""
    return email.utils.formatdate(second, usegmt=True)


class KeepAliveHandler(WSGIRequestHandler):
    """One connection: many requests in turn, each through the WSGI app."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    server: KeepAliveServer
    #: Set for a plain-HTTP client on a TLS port: each request gets a clear 400.
    plain_on_tls = False

    @property
    def server_version(self) -> str:  # type: ignore[override]
        return "mockseg"

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header's text; the current second's is made once per second."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return _date_text(int(time.time()))

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)
        self.rfile.close()  # the socket's own file: reads go through the reader instead
        self._reader = ConnectionReader(self.connection, self.server.idle_timeout)
        self.rfile = io.BufferedReader(self._reader)
        self._framing = Framing(None, chunked=False)
        self._expect_continue = False

    def handle_one_request(self) -> None:
        """Wait for a request; from its first byte until the answer is out, the connection is
        busy."""
        self.path = ""
        self._expect_continue = False
        try:
            if not self.rfile.peek(1):  # type: ignore[attr-defined]
                self.close_connection = True
                return
        except OSError:  # idle past the timeout, reset, or a broken TLS record
            self.close_connection = True
            return
        self.server.set_busy(self.connection, True)
        try:
            if self._read_head():
                if self._expect_continue:
                    self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.run_wsgi()
        finally:
            self.server.set_busy(self.connection, False)
            if self.server.stopping:
                self.close_connection = True

    def _read_head(self) -> bool:
        """Read the request line and headers within the idle timeout and check their framing;
        False once a 4xx has been answered (or the client has gone)."""
        self._reader.start_head()
        timed_out = False
        lines: list[bytes] | None = None  # the head's lines, when read line by line
        try:
            plain = plain_head(self.rfile.peek(MAX_LINE))  # type: ignore[attr-defined]
            if plain is not None:  # read at once, as parse_request would read it
                length, self.raw_requestline, headers = plain
                self.rfile.read(length)
                self._take_request_line()
                if not self._take_headers(headers):
                    return False
            else:  # http.server reads it line by line
                self.raw_requestline = self.rfile.readline(MAX_LINE + 1)
                if len(self.raw_requestline) > MAX_LINE:
                    self.requestline = self.request_version = self.command = ""
                    self._reader.end_head()
                    self.send_error(414, "Request line too long")
                    return False
                head = HeadLines(self.rfile)
                lines = head.lines
                self.rfile = cast(Any, head)
                try:
                    if not self.parse_request():
                        return False
                finally:
                    self.rfile = head.rfile
        except TimeoutError:
            timed_out = True
        except OSError:  # reset, or a broken TLS record: nobody is left to answer
            self.close_connection = True
            return False
        finally:
            self._reader.end_head()
        if timed_out:
            self.send_error(408, f"The request line and headers must arrive within "
                                 f"{self.server.idle_timeout:g} s of the request's first byte")
            return False
        try:
            self._framing = request_framing(lines, self.headers, self.request_version)
        except BadFraming as bad:
            self.send_error(400, bad.message, field=bad.field)
            return False
        return True

    def _take_request_line(self) -> None:
        """What ``parse_request`` makes of a plain request line (a method, a target, and
        HTTP/1.0 or HTTP/1.1, one space apart, as :func:`~mockseg.connection.plain_head`
        takes it): the keep-alive default of its version, and a leading ``//`` reduced to one
        ``/`` (gh-87389)."""
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.command, path, self.request_version = self.requestline.split(" ")
        self.close_connection = not (self.request_version == "HTTP/1.1"
                                     and self.protocol_version >= "HTTP/1.1")
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path

    def _take_headers(self, headers: http.client.HTTPMessage) -> bool:
        """Use the headers read on the fast path, and act on them as ``parse_request`` acts on
        those it reads: ``Connection`` and ``Expect: 100-continue``."""
        self.headers = headers
        connection = headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        if (headers.get("Expect", "").lower() == "100-continue"
                and self.protocol_version >= "HTTP/1.1" and self.request_version >= "HTTP/1.1"):
            return self.handle_expect_100()
        return True

    def handle_expect_100(self) -> bool:
        # Answered once the framing is known to be good, and only to an HTTP/1.1 client (the
        # only kind http.server asks about); a second "100 Continue" breaks Node's pattern.
        self._expect_continue = True
        return True

    def run_wsgi(self) -> None:
        if self.plain_on_tls:
            self.send_error(400, "This port speaks HTTPS: use https:// (and trust mockseg's CA "
                                 "certificate) instead of http://")
            return
        try:
            environ = self.make_environ()
        except ValueError as exc:  # a target urllib cannot split, such as "http://[x/"
            self.send_error(400, f"Invalid request target {self.path!r}: {exc}")
            return
        framing = self._framing
        stream: LimitedStream | ChunkedBody
        if framing.chunked:
            stream = ChunkedBody(self.rfile)
        else:
            stream = LimitedStream(self.rfile, framing.length or 0)  # type: ignore[arg-type]
            if framing.length is not None:
                environ["CONTENT_LENGTH"] = str(framing.length)
        environ["wsgi.input"] = stream
        environ["wsgi.input_terminated"] = True
        environ[CLIENT_GONE] = self._reader.client_gone
        try:
            status, headers, body = open_wsgi(self.server.app, environ)
        except (ConnectionError, TimeoutError) as exc:
            self.connection_dropped(exc, environ)
            self.close_connection = True
            return
        except Exception:  # a bug in mockseg: still an answer and a record, never a dropped call
            log.exception("mockseg: failed on %s %r", self.command, self.path)
            self._send_api_error(InternalError("mockseg failed on this request (a bug in "
                                               "mockseg; its log has the details)",
                                               field="request"))
            return
        try:
            self._send(environ, stream, status, headers, body)
        finally:
            _close(body)

    def _send(self, environ: dict[str, Any], stream: LimitedStream | ChunkedBody, status: str,
              headers: list[tuple[str, str]], body: Iterable[bytes]) -> None:
        """Write the answer: at once when its length is known (every tracking answer), else
        piece by piece as the app makes it (a long journal listing), chunked for HTTP/1.1."""
        if not self._body_finished(stream):
            self.close_connection = True
        # 1xx, 204 and 304 answers have no body at all: never chunked (RFC 9112 §6.1).
        code = int(status.split(" ", 1)[0])
        sized = _sized(headers) or code < 200 or code in (204, 304)
        chunked = not sized and self.request_version == "HTTP/1.1"
        if not sized and not chunked:  # HTTP/1.0: the end of the body is the end of the connection
            self.close_connection = True
        head = [f"{self.protocol_version} {status}\r\n",
                f"Server: mockseg\r\nDate: {self.date_time_string()}\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in headers]
        if chunked:
            head.append("Transfer-Encoding: chunked\r\n")
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        encoded = "".join(head).encode("latin-1")
        if sized:
            self.wfile.write(encoded + b"".join(body))
            return
        self.wfile.write(encoded)
        try:
            for piece in body:
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        except (ConnectionError, TimeoutError) as exc:
            self.connection_dropped(exc, environ)
            self.close_connection = True
            return
        except Exception:  # the answer is cut short: the client must not take it as whole
            log.exception("mockseg: writing a streamed answer failed")
            self.close_connection = True
            return
        if chunked and environ.get("REQUEST_METHOD") != "HEAD":
            self.wfile.write(b"0\r\n\r\n")

    @staticmethod
    def _body_finished(stream: LimitedStream | ChunkedBody) -> bool:
        """Whether the request body is consumed, draining a small remainder if needed."""
        if isinstance(stream, ChunkedBody):
            return stream.done
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

    def send_error(self, code: int, message: str | None = None, explain: str | None = None,
                   *, field: str = "request") -> None:
        """Protocol errors (bad request line or framing, huge or slow headers) in the documented
        JSON shape, recorded; the connection closes after."""
        text = message or self.responses.get(code, ("Bad request",))[0]
        error = (RequestHeaderTooLarge if code == 431 else InvalidRequest)(text, field=field)
        # http.server answers an HTTP/2.0 request line with 505; a bad request is a 4xx here.
        error.code = int(code) if int(code) < 500 else 400
        self._send_api_error(error)

    def _send_api_error(self, error: ApiError) -> None:
        """Answer ``error`` (recorded by the app, when it records) and close the connection."""
        code = error.code
        self.close_connection = True
        recorder = getattr(self.server.app, "record_protocol_error", None)
        body = error_bytes(error)  # for another WSGI app, or if the journal fails too
        if recorder is not None:
            try:
                body = recorder((getattr(self, "path", "") or "").split("?", 1)[0], error)
            except Exception:
                log.exception("mockseg: could not record a refused request")
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
