"""How the server reads a connection: its bytes, and each request's head.

http.server reads a request from ``rfile``, a buffered file over the socket, with one timeout for
every read, and parses the header block with the email parser. :mod:`mockseg.serving` needs three
things more, kept here apart from the server and the WSGI plumbing:

- **Deadlines** (:class:`ConnectionReader`, the raw reader under ``rfile``'s buffer). Between
  requests each read gets the idle timeout; from a request's first byte, its request line and
  headers together must arrive within the idle timeout (:meth:`~ConnectionReader.start_head`), so
  a client trickling its head a byte at a time cannot hold a thread for ever.
- **Whether the client has gone** (:meth:`~ConnectionReader.client_gone`, the server's
  ``environ["mockseg.client_gone"]``), plain or TLS, without blocking and without losing a byte:
  what it reads to find out is held and served to the next read of the request stream.
- **A fast path for the head** (:func:`plain_head`). A whole head already read, with a plain
  request line and plain ``Name: value`` lines, is read here in one go into the headers
  http.client's email parser would make, at a fraction of its cost; any other head is left to
  http.server, which reads it line by line (through :class:`HeadLines`, which keeps the lines
  for the framing check) with the email parser, as before.

The framing rules (where a body ends, which heads are refused) are in :mod:`mockseg.framing`;
answering, errors included, is the handler's. This module imports nothing from the server.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import re
import select
import socket
import ssl
import time
from typing import Any

from mockseg.framing import MAX_FIELDS, TOKEN

__all__ = ["ConnectionReader", "HeadLines", "PlainHeaders", "plain_head"]


class ConnectionReader(io.RawIOBase):
    """The connection's bytes, under ``rfile``'s buffer: with a deadline while a request's head
    arrives, and a look at whether the client has gone that keeps whatever it reads."""

    def __init__(self, connection: socket.socket, idle_timeout: float) -> None:
        self._connection = connection
        self._idle_timeout = idle_timeout
        self._deadline: float | None = None
        self._held = b""  # read ahead by client_gone(), served before the socket's next bytes
        self._shortened = False  # a read of the head set a shorter timeout than the idle one
        self._ended = False

    def readable(self) -> bool:
        return True

    def start_head(self) -> None:
        """From now, every read must be done within the idle timeout in all."""
        self._deadline = time.monotonic() + self._idle_timeout

    def end_head(self) -> None:
        """Back to the idle timeout for each read (if a read of the head changed it)."""
        self._deadline = None
        if self._shortened:
            self._shortened = False
            with contextlib.suppress(OSError):
                self._connection.settimeout(self._idle_timeout)

    def readinto(self, buffer: Any) -> int:
        if self._held:
            size = min(len(buffer), len(self._held))
            buffer[:size] = self._held[:size]
            self._held = self._held[size:]
            return size
        if self._ended:
            return 0
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request's head did not arrive within the idle timeout")
            self._connection.settimeout(left)
            self._shortened = True
        size = self._connection.recv_into(buffer)
        if not size:
            self._ended = True
        return size

    def client_gone(self) -> bool:
        """Whether the client has closed its connection; never blocks, never loses a byte."""
        if self._ended:
            return True
        if self._held:
            return False
        connection = self._connection
        if connection.fileno() < 0:
            return True  # closed under us
        try:
            if not _readable_now(connection):
                return False
            connection.settimeout(0)
            try:
                data = connection.recv(65_536)
            finally:
                connection.settimeout(self._idle_timeout)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False  # a TLS record that is not application data, or not whole yet
        except (OSError, ValueError):
            return True  # reset, or closed under us
        if not data:
            self._ended = True
            return True
        self._held = data
        return False


def _readable_now(connection: socket.socket) -> bool:
    """Whether reading the socket would not block (data, or the peer's end)."""
    if hasattr(select, "poll"):  # select() cannot watch a descriptor over 1023
        poller = select.poll()
        poller.register(connection, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([connection], [], [], 0)
    return bool(readable)


#: A whole plain head: a request line that http.server takes (a method, a target, HTTP/1.0 or
#: HTTP/1.1), header lines that the email parser reads as name and value (a token, a colon,
#: printable ASCII), each ending in CRLF, and the empty line.
_PLAIN_HEAD = re.compile(r"[A-Z]+ [!-~]+ HTTP/1\.[01]\r\n(?:" + TOKEN + r":[ -~\t]*\r\n)*\r\n")
#: One of its header lines: the name, and the value without its leading blanks (as the email
#: parser keeps it).
_PLAIN_FIELD = re.compile("(" + TOKEN + r"):[ \t]*([ -~\t]*)\r\n")


class PlainHeaders(http.client.HTTPMessage):
    """Headers that :func:`plain_head` read: every value plain printable ASCII, which the
    email package's default (compat32) policy hands back exactly as stored, so these read
    them straight from the stored pairs (``raw_items()``) instead of through the policy,
    header by header (what werkzeug's environ, the framing check and the connection's
    ``Connection`` and ``Expect`` handling read)."""

    def items(self) -> list[tuple[str, str]]:
        return list(self.raw_items())

    def get(self, name: str, failobj: Any = None) -> Any:
        name = name.lower()
        for key, value in self.raw_items():
            if key.lower() == name:
                return value
        return failobj

    def get_all(self, name: str, failobj: Any = None) -> Any:
        name = name.lower()
        found = [value for key, value in self.raw_items() if key.lower() == name]
        return found or failobj


def plain_head(buffered: bytes) -> tuple[int, bytes, PlainHeaders] | None:
    """The head that ``buffered`` (what a connection has read so far) begins with, when that
    head is whole and plain: its length in bytes, its request line, and the headers the email
    parser would make of its header lines. None for any other, which http.server then reads
    line by line, with the email parser: that costs 20 µs or more a request, this a few."""
    end = buffered.find(b"\r\n\r\n")
    if end < 0:
        return None
    text = buffered[:end + 4].decode("latin-1")
    if _PLAIN_HEAD.fullmatch(text) is None:
        return None
    line_end = text.index("\n") + 1
    fields = _PLAIN_FIELD.findall(text, line_end)
    if len(fields) > MAX_FIELDS:  # http.client refuses the head
        return None
    message = PlainHeaders()
    for name, value in fields:
        message.set_raw(name, value)  # as __setitem__ stores it under the compat32 policy
    return end + 4, buffered[:line_end], message


class HeadLines:
    """Stands in for ``rfile`` while http.server reads the header lines, keeping every line
    read (``lines``) for the framing check."""

    def __init__(self, rfile: Any) -> None:
        self.rfile = rfile
        self.lines: list[bytes] = []

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self.rfile.readline(limit)
        self.lines.append(line)
        return line
