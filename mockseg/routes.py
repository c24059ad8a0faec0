"""The Tracking API's paths: which endpoint a path names, and what a near miss probably meant.

Pure functions over strings; no HTTP objects. The app routes with :func:`endpoint_for`, and
:func:`not_found_message` words the 404 for a path that names no endpoint.
"""

from __future__ import annotations

import difflib
import re

__all__ = [
    "BATCH_PATHS",
    "SETTINGS_PATH",
    "SHORT_PATHS",
    "TRACKING_PATHS",
    "VALID_PATHS",
    "endpoint_for",
    "not_found_message",
    "settings_write_key",
]

#: Single-message endpoints and the type each implies.
TRACKING_PATHS: dict[str, str] = {
    "/v1/group": "group",
    "/v1/identify": "identify",
    "/v1/track": "track",
    "/v1/page": "page",
    "/v1/screen": "screen",
    "/v1/alias": "alias",
}
#: Endpoints that take ``{"batch": [...]}``: Python, Node and Go post to the first, Java and
#: Ruby to the second.
BATCH_PATHS = ("/v1/batch", "/v1/import")
#: analytics.js, Swift, Kotlin, C# and React Native post to one-letter paths (``/v1/b`` for a
#: batch); they are the same endpoints.
SHORT_PATHS = {
    "/v1/g": "/v1/group",
    "/v1/i": "/v1/identify",
    "/v1/t": "/v1/track",
    "/v1/p": "/v1/page",
    "/v1/s": "/v1/screen",
    "/v1/a": "/v1/alias",
    "/v1/b": "/v1/batch",
}
VALID_PATHS = (*TRACKING_PATHS, *BATCH_PATHS)
#: Where analytics.js (``cdnURL``) and the Kotlin and Swift SDKs (``cdnHost``) read settings.
SETTINGS_PATH = re.compile(r"/v1/projects/(?P<write_key>[^/]+)/settings/?")

_ENDPOINTS = {path: path for path in VALID_PATHS} | SHORT_PATHS
#: Every endpoint's last segment ("batch", "b", ...) and the endpoint it names.
_NAMES = {path.rsplit("/", 1)[1]: path for path in _ENDPOINTS}
_VERSION = re.compile(r"v\d+")


def endpoint_for(path: str) -> str | None:
    """The endpoint ``path`` names (``/v1/b/`` names ``/v1/batch``), or None.

    A trailing slash is the same endpoint: the Java SDK posts to ``/v1/import/``.
    """
    if path.endswith("/") and len(path) > 1:
        path = path[:-1]
    return _ENDPOINTS.get(path)


def settings_write_key(path: str) -> str | None:
    """The write key of a CDN settings path (``/v1/projects/KEY/settings``), or None."""
    match = SETTINGS_PATH.fullmatch(path)
    return match["write_key"] if match else None


def not_found_message(path: str) -> str:
    """The 404 message for ``path``: the likely mistake when it is a near miss, then the valid
    paths."""
    hint = _near_miss(path)
    listing = f"Valid paths: {', '.join(VALID_PATHS)}"
    return f"No endpoint at {path}. {hint + ' ' if hint else ''}{listing}"


def _near_miss(path: str) -> str | None:
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return None
    name = segments[-1]
    prefix = segments[:-1]
    endpoint = _NAMES.get(name)
    if endpoint is not None:
        meant = f"did you mean {endpoint}?"
        if not prefix:
            return f"The /v1 is missing: {meant}"
        if prefix.count("v1") > 1:
            return (f"The /v1 is given twice (a host setting that already ends in /v1, and the "
                    f"SDK adds its own): {meant}")
        if prefix == ["v1"]:
            return None  # /v1/b exactly, but reached only with a method or case mismatch
        if _VERSION.fullmatch(prefix[-1]) and prefix[-1] != "v1":
            return f"mockseg serves version 1 of the Tracking API, not {prefix[-1]}: {meant}"
        if prefix[-1] == "v1":
            extra = "/" + "/".join(prefix[:-1])
            return (f"Unexpected {extra} before /v1 (point the SDK at the server's root, or "
                    f"at a scope's URL): {meant}")
    close = difflib.get_close_matches(path.rstrip("/").lower(), list(_ENDPOINTS), n=1, cutoff=0.8)
    if close:
        return f"Did you mean {close[0]}?"
    return None
