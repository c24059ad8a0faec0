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
- **A fast path for the header block** (:class:`HeadLines`, :func:`plain_headers`). A block of
  plain ``Name: value`` lines is read here into the headers http.client's email parser would
  make, at a fraction of its cost; any other block is replayed to http.server, which reads it
  with the email parser as before.

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

from mockseg.framing import MAX_FIELDS, MAX_LINE

__all__ = ["PLAIN_REQUEST_LINE", "ConnectionReader", "HeadLines", "plain_headers"]


class ConnectionReader(io.RawIOBase):
    """The connection's bytes, under ``rfile``'s buffer: with a deadline while a request's head
    arrives, and a look at whether the client has gone that keeps whatever it reads."""

    def __init__(self, connection: socket.socket, idle_timeout: float) -> None:
        self._connection = connection
        self._idle_timeout = idle_timeout
        self._deadline: float | None = None
        self._held = b""  # read ahead by client_gone(), served before the socket's next bytes
        self._ended = False

    def readable(self) -> bool:
        return True

    def start_head(self) -> None:
        """From now, every read must be done within the idle timeout in all."""
        self._deadline = time.monotonic() + self._idle_timeout

    def end_head(self) -> None:
        """Back to the idle timeout for each read."""
        self._deadline = None
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


#: A header line that ``http.client.parse_headers`` (the email parser) reads as ``name`` and
#: ``value`` with the value's leading blanks dropped: a token, a colon, printable ASCII.
_PLAIN_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([ -~\t]*)\r?\n")
#: A request line that http.server takes and follows with the header block.
PLAIN_REQUEST_LINE = re.compile(rb"[A-Z]+ [!-~]+ HTTP/1\.[01]\r?\n")


def plain_headers(lines: list[bytes]) -> http.client.HTTPMessage | None:
    """The headers the email parser would make of ``lines`` (the block read up to and with its
    blank line), for a block of plain lines only; None for any other, which the email parser
    reads instead: it costs 20 µs a request, this 3."""
    if not lines or lines[-1] not in (b"\r\n", b"\n") or len(lines) > MAX_FIELDS:
        return None
    message = http.client.HTTPMessage()
    match = _PLAIN_FIELD.fullmatch
    for line in lines[:-1]:
        found = match(line)
        if found is None:
            return None
        message[found[1].decode("ascii")] = found[2].decode("ascii")
    return message


class HeadLines:
    """Stands in for ``rfile`` while http.server reads the header lines: replays the lines
    read ahead (``lines``), then reads on from the connection, keeping every line read."""

    def __init__(self, rfile: Any) -> None:
        self.rfile = rfile
        self.lines: list[bytes] = []
        self._replay: list[bytes] = []

    def read_ahead(self) -> list[bytes]:
        """Read the header block as http.client would, stopping where it would stop (a blank
        line, a line too long, one line too many, the end); http.server reads it again."""
        while True:
            line: bytes = self.rfile.readline(MAX_LINE + 1)
            self.lines.append(line)
            if (len(line) > MAX_LINE or len(self.lines) > MAX_FIELDS
                    or line in (b"\r\n", b"\n", b"")):
                self._replay = list(self.lines)
                return self.lines

    def readline(self, limit: int = -1) -> bytes:
        if self._replay:
            return self._replay.pop(0)
        line: bytes = self.rfile.readline(limit)
        self.lines.append(line)
        return line
