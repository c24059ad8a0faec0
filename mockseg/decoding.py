"""Turn a request body into JSON, within the size limits, without ever holding more than a limit.

Reading stops one byte past the limit; gzip is inflated in steps and stops as soon as the
inflated bytes pass the limit, so a bomb is never inflated into memory.

JSON is parsed by orjson (about twice the speed of the standard library) when it gives the same
value: never for a body with a run of 19 or more digits (orjson turns an integer past 64 bits into
a float), and never for a body it refuses, which the standard library parses again so that every
error message stays its own.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from typing import IO, Any

import orjson
from werkzeug.exceptions import ClientDisconnected

from mockseg.errors import InvalidJson, PayloadTooLarge, UnsupportedEncoding, ValidationFailed
from mockseg.jsoncodec import dumps

__all__ = [
    "batch_depth_over",
    "items_json",
    "json_depth_over",
    "nesting_bound",
    "parse_batch_json",
    "parse_json",
    "read_body",
]

_CHUNK = 65_536
# gzip wraps incompressible data with a little overhead; a compressed body this much larger than
# the limit cannot inflate to less than the limit.
_GZIP_SLACK = 1_024


def _too_large(limit: int, what: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"Exceed payload limit: {what} is over {limit} bytes")


def _read_capped(stream: IO[bytes], cap: int, length: int | None = None) -> bytes:
    """Read until end of stream, until more than ``cap`` bytes have arrived, or until the
    ``length`` the request declared has (a WSGI app reads no more than its Content-Length, so
    the read that would find the end is not made)."""
    want = cap + 1 if length is None else min(length, cap + 1)
    parts: list[bytes] = []
    size = 0
    while size < want:
        part = stream.read(min(_CHUNK, want - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _inflate(stream: IO[bytes], wbits: int, limit: int, what: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out: list[bytes] = []
    size = 0
    try:
        while True:
            part = stream.read(_CHUNK)
            if not part:
                break
            while part:
                inflated = inflater.decompress(part, limit + 1 - size)
                out.append(inflated)
                size += len(inflated)
                if size > limit:
                    raise _too_large(limit, f"{what} (after gzip decoding)")
                part = inflater.unconsumed_tail
            if inflater.eof:
                break
        tail = inflater.flush()
    except zlib.error as exc:
        raise InvalidJson(f"Request body is not valid gzip: {exc}") from None
    out.append(tail)
    if size + len(tail) > limit:
        raise _too_large(limit, f"{what} (after gzip decoding)")
    if not inflater.eof:
        raise InvalidJson("Request body is not valid gzip: the stream is truncated")
    return b"".join(out)


def read_body(
    stream: IO[bytes], content_length: int | None, content_encoding: str, limit: int,
    what: str = "request body",
) -> bytes:
    """The decoded body bytes, or PayloadTooLarge / InvalidJson / UnsupportedEncoding.

    A declared Content-Length over the limit is refused before reading anything. A body that
    stops short of its Content-Length (the client stalled or went away) is InvalidJson.
    """
    try:
        return _read_body(stream, content_length, content_encoding, limit, what)
    except (ClientDisconnected, OSError):
        raise InvalidJson(
            "Could not read the request body: it ended before its Content-Length, or stalled"
        ) from None


def _read_body(
    stream: IO[bytes], content_length: int | None, content_encoding: str, limit: int, what: str
) -> bytes:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        if content_length is not None and content_length > limit:
            raise _too_large(limit, what)
        data = _read_capped(stream, limit, content_length)
        if len(data) > limit:
            raise _too_large(limit, what)
        return data
    if encoding in ("gzip", "x-gzip", "deflate"):
        if content_length is not None and content_length > limit + limit // 100 + _GZIP_SLACK:
            raise _too_large(limit, what)
        wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
        return _inflate(stream, wbits, limit, what)
    raise UnsupportedEncoding(
        f"Unsupported Content-Encoding {content_encoding!r} (use gzip or none)",
        field="Content-Encoding",
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent; 1e400 overflows to infinity, and is refused."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def json_depth_over(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels deep (the top-level one is level 1)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def batch_depth_over(body: dict[str, Any], encoded: list[bytes], limit: int) -> bool:
    """:func:`json_depth_over` for a batch body whose items' JSON bytes are at hand: an item
    whose text holds fewer brackets than the levels left cannot be too deep, so only the rare
    item that could be is walked."""
    rest = {key: value for key, value in body.items() if key != "batch"}
    if rest and json_depth_over(rest, limit):
        return True
    items = body.get("batch")
    if not isinstance(items, list):
        return False
    left = limit - 2  # the body object and the batch array
    return any(text.count(b"{") + text.count(b"[") > left and isinstance(item, dict | list)
               and json_depth_over(item, left)
               for item, text in zip(items, encoded, strict=True))


#: Every byte but the ASCII digits becomes a space, the digits ``0``: a run of digits is then
#: a run of ``0`` that :meth:`bytes.find` finds as fast as any text.
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
#: orjson keeps integers within 64 bits (up to 20 digits, 19 when negative); a body without
#: a run of this many digits holds none it would turn into a float.
_LONG_DIGIT_RUN = b"0" * 19
#: What :func:`_fast_loads` answers when the standard library must decide.
_REFUSED: Any = object()


def nesting_bound(data: bytes) -> int:
    """The count of ``{`` and ``[`` in ``data``: no value in it nests deeper."""
    return data.count(b"{") + data.count(b"[")


def _fast_loads(data: bytes) -> Any:
    """``data`` parsed by orjson, or ``_REFUSED`` where the standard library must decide: a
    body with a long digit run, and anything orjson refuses (invalid UTF-8, NaN and Infinity,
    numbers out of range, lone surrogates, nesting past 1,024 levels, and all other invalid
    JSON)."""
    if _LONG_DIGIT_RUN in data.translate(_DIGITS):
        return _REFUSED
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _REFUSED


def _strict_loads(data: bytes, too_deep: ValidationFailed) -> Any:
    """The standard library's parse, with mockseg's messages for everything it refuses."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(
            f"Request body is not valid UTF-8: {exc.reason} at byte {exc.start}"
        ) from None
    if not text.strip():
        raise InvalidJson("Request body is empty")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise too_deep from None
    except json.JSONDecodeError as exc:
        raise InvalidJson(
            f"Invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:  # NaN / Infinity, or an integer past Python's digit limit
        raise InvalidJson(f"Invalid JSON: {exc}") from None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise InvalidJson("Invalid JSON: a \\u escape encodes a lone surrogate")
    return value


def _too_deep(max_depth: int) -> ValidationFailed:
    return ValidationFailed(f"JSON nested too deeply (max {max_depth} levels)")


def parse_json(data: bytes, max_depth: int) -> Any:
    """Parse UTF-8 JSON strictly: no NaN or Infinity, no lone surrogates, nesting bounded."""
    value = _fast_loads(data)
    if value is _REFUSED:
        value = _strict_loads(data, _too_deep(max_depth))
    if (isinstance(value, dict | list) and nesting_bound(data) > max_depth
            and json_depth_over(value, max_depth)):
        raise _too_deep(max_depth)
    return value


def parse_batch_json(data: bytes, max_depth: int, max_items: int) -> Any:
    """:func:`parse_json` for a batch request, with the depth check left to the caller (see
    :func:`batch_depth_over`), except for nesting too deep to parse at all.

    The standard library refuses nesting past what it can parse (about 980 levels, fewer from
    a deep call stack) as it parses, before anything else is checked. orjson parses deeper;
    for a body that is not a plain batch (an object whose ``batch`` is an array of at most
    ``max_items``), where that order decides the answer, the standard library decides again
    whether it can parse the body at all.
    """
    value = _fast_loads(data)
    if value is not _REFUSED and not _plain_batch(value, max_items) and (
            nesting_bound(data) > max_depth):
        value = _REFUSED
    if value is _REFUSED:
        value = _strict_loads(data, _too_deep(max_depth))
    return value


def _plain_batch(value: Any, max_items: int) -> bool:
    items = value.get("batch") if isinstance(value, dict) else None
    return isinstance(items, list) and len(items) <= max_items


def items_json(items: list[Any], max_depth: int) -> list[bytes]:
    """Each batch item's compact JSON bytes: what its record keeps, and what the item size
    limit measures. An item nested deeper than an encoder can go is far too deep.

    Each is copied out of orjson's output into bytes of its own size: orjson writes into a
    larger buffer and shrinks it, and a record that kept that buffer would hold several KB
    of memory (measured: 8.8 KB of resident memory per batch record, 1.5 KB with the copy).
    """
    try:
        return [bytes(memoryview(dumps(item))) for item in items]
    except RecursionError:
        raise _too_deep(max_depth) from None
