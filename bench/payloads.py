"""What every comparison sends: the documented B2B example and requests built from it."""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from typing import Any

__all__ = [
    "B2B_CASE",
    "WRITE_KEY",
    "auth_header",
    "b2b_body",
    "b2b_bytes",
    "batch_bytes",
    "compact",
    "request_headers",
]

#: The golden case that holds the spec's complete B2B Company Association example.
B2B_CASE = "valid/b2b-company-association"
WRITE_KEY = "test-key"


def compact(value: Any) -> bytes:
    """``value`` as compact JSON bytes, as SDKs send it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@cache
def _b2b() -> tuple[dict[str, Any], bytes]:
    from mockseg.golden import load_cases

    for case in load_cases("valid"):
        if case.name == B2B_CASE:
            if case.path != "/v1/group":
                raise RuntimeError(f"{B2B_CASE} posts to {case.path}, not /v1/group")
            return case.body, case.data()
    raise RuntimeError(f"the golden case {B2B_CASE} is missing from mockseg's fixtures")


def b2b_body() -> dict[str, Any]:
    """A fresh copy of the B2B example message (a /v1/group body)."""
    return copy.deepcopy(_b2b()[0])


def b2b_bytes() -> bytes:
    """The B2B example exactly as its golden case sends it (compact JSON)."""
    return _b2b()[1]


def batch_bytes(size: int = 100) -> bytes:
    """A /v1/batch body holding ``size`` copies of the B2B example."""
    return compact({"batch": [b2b_body() for _ in range(size)]})


def auth_header(write_key: str = WRITE_KEY) -> str:
    """HTTP Basic auth with the write key as the user name, as Segment's SDKs send it."""
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def request_headers() -> dict[str, str]:
    """The headers of every benchmark request."""
    return {"Content-Type": "application/json", "Authorization": auth_header(),
            "User-Agent": "mockseg-bench/1"}
