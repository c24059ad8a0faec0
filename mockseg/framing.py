"""HTTP/1.1 framing (RFC 9112): where a request's body ends, and nothing else.

Pure functions over the head's raw lines and a reader for chunked bodies; no sockets. The
standalone server (:mod:`mockseg.serving`) refuses a head that :func:`request_framing` rejects,
so that one request can never be read as two.
"""

from __future__ import annotations

import io
import re
from email.message import Message
from typing import Any, NamedTuple

__all__ = ["MAX_FIELDS", "MAX_LINE", "TOKEN", "BadFraming", "ChunkedBody", "Framing",
           "request_framing"]

#: http.client's limits for the head, applied to the trailers of a chunked body as well.
MAX_LINE = 65_536
MAX_FIELDS = 100
#: A chunk-size line, extensions included, longer than this is refused.
_MAX_CHUNK_LINE = 4_096

# RFC 9110 §5.6.2 and RFC 9112 §5, §7.1. A field line: a token, a colon, optional whitespace,
# then visible characters, obs-text, spaces and tabs: no CR, LF, NUL or other controls.
#: A token (a header's name): as text, for the server's fast head path, and as bytes here.
TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN = TOKEN.encode("ascii")
_FIELD_LINE = re.compile(_TOKEN + rb":[\t\x20-\x7e\x80-\xff]*\r?\n")
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"'
_CHUNK_EXT = (rb"(?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED
              + rb"))?)*")
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})" + _CHUNK_EXT + rb"\r\n")
_DIGITS = re.compile(r"[0-9]+")


class BadFraming(Exception):
    """A request whose head breaks RFC 9112's framing rules: a 400, then the connection closes."""

    def __init__(self, message: str, field: str = "request") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Framing(NamedTuple):
    """Where a request's body ends: after ``length`` bytes, or at the last chunk."""

    length: int | None
    chunked: bool


def _shown(line: bytes) -> str:
    text = line.rstrip(b"\r\n").decode("latin-1")
    return repr(text if len(text) <= 60 else text[:60] + "...")


def _check_field_lines(lines: list[bytes]) -> None:
    """Each header line is ``Name: value``; the head ends with an empty line."""
    if not lines or lines[-1] not in (b"\r\n", b"\n"):
        raise BadFraming("The request ended before the empty line that ends its headers")
    for line in lines[:-1]:
        if line[:1] in (b" ", b"\t"):
            raise BadFraming(f"Header line {_shown(line)} is folded onto the line before it "
                              "(obsolete line folding is not accepted, RFC 9112 §5.2)")
        if not _FIELD_LINE.fullmatch(line):
            raise BadFraming(f"Malformed header line {_shown(line)}: a header is Name: value, "
                              "with a token for its name, no space before the colon and no "
                              "control characters (RFC 9112 §5)")


def _list_items(values: list[str]) -> list[str]:
    return [item.strip(" \t") for value in values for item in value.split(",")]


def request_framing(lines: list[bytes] | None, headers: Message, version: str) -> Framing:
    """How the body of a request with these header lines is delimited, or ``BadFraming``.
    ``lines`` None: the lines are known to be plain ``Name: value`` lines (read on the
    server's fast path, whose pattern is narrower than the check here), and the block whole."""
    if lines is not None:
        _check_field_lines(lines)
    if len(headers.get_all("Host") or ()) > 1:
        raise BadFraming("The request has more than one Host header", field="Host")
    encodings = headers.get_all("Transfer-Encoding")
    lengths = headers.get_all("Content-Length")
    if encodings is not None:
        if lengths is not None:
            raise BadFraming("The request has both Content-Length and Transfer-Encoding; send "
                              "one of them (RFC 9112 §6.3)", field="Transfer-Encoding")
        if version != "HTTP/1.1":
            raise BadFraming(f"Transfer-Encoding needs HTTP/1.1, not {version}",
                              field="Transfer-Encoding")
        codings = [item.lower() for item in _list_items(encodings) if item]
        if codings != ["chunked"]:
            raise BadFraming(f"Unsupported Transfer-Encoding {', '.join(encodings)!r}: only "
                              "'chunked' is accepted", field="Transfer-Encoding")
        return Framing(None, chunked=True)
    if lengths is None:
        return Framing(None, chunked=False)
    items = _list_items(lengths)
    if not all(_DIGITS.fullmatch(item) for item in items):
        raise BadFraming(f"Invalid Content-Length {', '.join(lengths)!r}: it must be a number "
                          "of bytes, digits only", field="Content-Length")
    numbers = {item.lstrip("0") or "0" for item in items}
    if len(numbers) > 1:
        raise BadFraming(f"Conflicting Content-Length values {', '.join(lengths)!r}",
                          field="Content-Length")
    number = numbers.pop()
    if len(number) > 18:
        raise BadFraming(f"Content-Length {number[:20]}... is too large",
                          field="Content-Length")
    return Framing(int(number), chunked=False)


class ChunkedBodyError(OSError):
    """A chunked body that breaks RFC 9112 §7.1; read like a broken connection."""


class ChunkedBody(io.RawIOBase):
    """A ``Transfer-Encoding: chunked`` request body (RFC 9112 §7.1).

    Chunk extensions and trailer fields are checked and ignored; chunk lines must end in CRLF.
    ``done`` turns True once the last chunk and the trailers are read, so the connection can
    serve its next request.
    """

    def __init__(self, rfile: io.BufferedIOBase) -> None:
        self._rfile = rfile
        self._left = 0  # bytes still to read in the current chunk
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and not self.done:
            if self._left == 0:
                self._left = self._chunk_size()
                if self._left == 0:
                    self._trailers()
                    self.done = True
                    break
            want = min(self._left, len(view) - filled)
            got = self._rfile.readinto(view[filled:filled + want])
            if not got:
                raise ChunkedBodyError("The chunked request body ended inside a chunk")
            filled += got
            self._left -= got
            if self._left == 0 and self._rfile.read(2) != b"\r\n":
                raise ChunkedBodyError("A chunk of the request body is not followed by CRLF")
        return filled

    def _chunk_size(self) -> int:
        line = self._rfile.readline(_MAX_CHUNK_LINE + 1)
        match = _CHUNK_LINE.fullmatch(line)
        if match is None:
            raise ChunkedBodyError(f"Invalid chunk-size line {_shown(line)} in the request body")
        return int(match[1], 16)

    def _trailers(self) -> None:
        for _ in range(MAX_FIELDS + 1):
            line = self._rfile.readline(MAX_LINE + 1)
            if line == b"\r\n":
                return
            if not line.endswith(b"\r\n") or not _FIELD_LINE.fullmatch(line):
                raise ChunkedBodyError(f"Invalid trailer line {_shown(line)} in the request body")
        raise ChunkedBodyError(f"More than {MAX_FIELDS} trailer fields in the request body")
