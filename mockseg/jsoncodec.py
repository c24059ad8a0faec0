"""JSON out: compact UTF-8 bytes, through orjson (about ten times the speed of the standard
library here), falling back to ``json`` for what orjson refuses (integers past 64 bits)."""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps"]


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON bytes, non-ASCII characters kept as UTF-8."""
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer orjson cannot hold, or a subclass it does not know
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
