"""What the app reads from a tracking request's WSGI environ, and the stamps it gives each request.

The path, the method, the body's stream and declared length, the headers a record keeps and
the write key (with how it came), each read as werkzeug reads it, without building a werkzeug
request; and the received-at time and the request id. :mod:`mockseg.app` judges and records;
this module only reads.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from random import getrandbits
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any

from werkzeug.datastructures import Authorization
from werkzeug.wsgi import get_content_length, get_input_stream, get_path_info

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "RECORDED_HEADERS",
    "body_stream",
    "content_length",
    "credentials",
    "environ_key",
    "new_request_id",
    "recorded_headers",
    "request_method",
    "request_path",
    "stamp_now",
]

#: Request headers kept in each record: how the body came (length, chunked, gzip), from where
#: (Origin, User-Agent) and whether it is a retry.
RECORDED_HEADERS = (
    "User-Agent", "Content-Type", "Content-Encoding", "Content-Length", "Transfer-Encoding",
    "Accept-Encoding", "X-Retry-Count", "Origin",
)


@lru_cache(maxsize=256)
def environ_key(name: str) -> str:
    """The WSGI environ key of a request header, as a server sets it: ``HTTP_X_RETRY_COUNT``,
    and ``CONTENT_TYPE`` / ``CONTENT_LENGTH`` without the prefix."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key


#: The WSGI environ key that holds each recorded header.
_RECORDED_KEYS = tuple(environ_key(name) for name in RECORDED_HEADERS)


def recorded_headers(environ: WSGIEnvironment) -> Mapping[str, str]:
    """The :data:`RECORDED_HEADERS` the request has, as the WSGI environ holds them."""
    return _shared_headers(tuple(map(environ.get, _RECORDED_KEYS)))


@lru_cache(maxsize=1024)
def _shared_headers(values: tuple[str | None, ...]) -> Mapping[str, str]:
    """One read-only mapping per distinct set of recorded headers (``values``: each of
    :data:`RECORDED_HEADERS`, or None when absent): an SDK sends the same ones call after
    call, and a record need not carry its own copy."""
    return MappingProxyType({name: value for name, value in zip(RECORDED_HEADERS, values,
                                                                 strict=True)
                             if value is not None})



def content_length(environ: WSGIEnvironment) -> int | None:
    """``werkzeug.wsgi.get_content_length``, with a fast path for the common plain length."""
    length = environ.get("CONTENT_LENGTH")
    if (isinstance(length, str) and length.isascii() and length.isdigit()
            and "HTTP_TRANSFER_ENCODING" not in environ):
        return int(length)
    return get_content_length(environ)


def request_path(environ: WSGIEnvironment) -> str:
    """The request's path as werkzeug's ``Request.path`` reads it."""
    return "/" + get_path_info(environ).lstrip("/")


def body_stream(environ: WSGIEnvironment) -> IO[bytes]:
    """The request body's stream, as ``werkzeug.wsgi.get_input_stream`` gives it (without
    working out the Content-Length again where the server ends the stream itself)."""
    if "wsgi.input_terminated" in environ:
        stream: IO[bytes] = environ["wsgi.input"]
        return stream
    return get_input_stream(environ)


def request_method(environ: WSGIEnvironment) -> str:
    """The request's method, in capitals."""
    method: str = environ.get("REQUEST_METHOD", "GET")
    return method.upper()


def credentials(authorization: str | None,
                body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The write key and how it came: ``"basic"``, ``"bearer"``, ``"body"``, ``"basic+body"``,
    ``"bearer+body"`` or None. A key in the ``Authorization`` header wins over the body's
    ``writeKey``.

    A header that cannot be decoded (not base64, not ASCII) carries no key.
    """
    header_key, scheme = _header_credentials(authorization) if authorization else (None, None)
    body_key = body.get("writeKey")
    if not isinstance(body_key, str) or not body_key:
        body_key = None
    if scheme is None:
        return body_key, "body" if body_key is not None else None
    return header_key, scheme + "+body" if body_key is not None else scheme


@lru_cache(maxsize=1024)
def _header_credentials(authorization: str) -> tuple[str | None, str | None]:
    """The key an ``Authorization`` header carries, and its scheme: an SDK sends the same
    header call after call."""
    try:
        parsed = Authorization.from_header(authorization)
    except ValueError:  # werkzeug refuses a non-ASCII Basic value
        parsed = None
    if parsed is not None:
        if parsed.type == "basic" and parsed.username:
            return parsed.username, "basic"
        if parsed.type == "bearer" and parsed.token:
            return parsed.token, "bearer"
    return None, None


@lru_cache(maxsize=1)
def _second_text(second: int) -> str:
    """A second since the epoch as UTC text, to the second: kept for the current second."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def stamp_now() -> str:
    """The time in UTC to the millisecond, as ``datetime.isoformat`` writes it, with ``Z``:
    ``2026-12-01T23:58:01.123Z``. The text of the second is made once per second."""
    second, rest = divmod(time.time_ns(), 1_000_000_000)
    return f"{_second_text(second)}.{rest // 1_000_000:03d}Z"


#: The version-4 bits of a UUID: those to clear, and those to set.
_UUID_CLEAR = ~(0xF000 << 64 | 0xC000 << 48)
_UUID_SET = 0x4000 << 64 | 0x8000 << 48


def new_request_id() -> str:
    """A random version-4 UUID in hex, as ``uuid.uuid4().hex`` writes it, from the ``random``
    module's generator (a request id need not be a secret; ``random`` reseeds in a forked
    worker, so workers' ids differ)."""
    return f"{getrandbits(128) & _UUID_CLEAR | _UUID_SET:032x}"
