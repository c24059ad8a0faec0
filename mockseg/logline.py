"""Text for the terminal: what a client sent, made safe to print on one line."""

from __future__ import annotations

import re

__all__ = ["printable"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``), so a groupId or a path
    cannot break a log line or send escape sequences to the terminal."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)
