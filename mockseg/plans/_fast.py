"""A compiled yes/no for a rule's schema (jsonschema-rs): skips the exact check of a valid message.

The exact violations always come from the jsonschema library; this only answers "nothing to
report" quickly (a few microseconds instead of a hundred). It must never call valid what the
library calls invalid, so whatever the two might judge differently is left to the library:

- every ``format`` goes to the library's own format checker, and every ``pattern`` to Python's
  ``re`` (each rewritten as a custom format, which jsonschema-rs calls back);
- a rule with ``patternProperties`` or a fractional ``multipleOf`` gets no fast path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Final

from jsonschema import Draft7Validator

from mockseg.plans._schemas import rewrite

_jsonschema_rs: ModuleType | None
try:
    import jsonschema_rs as _jsonschema_rs
except ImportError:  # pragma: no cover - mockseg works the same without it, only slower
    _jsonschema_rs = None

__all__ = ["fast_valid"]

_FORMATS: Final = Draft7Validator.FORMAT_CHECKER


class _Unsafe(Exception):
    """The schema uses something the two engines might judge differently."""


def _format(name: str) -> Callable[[str], bool]:
    return lambda text: _FORMATS.conforms(text, name)


def _pattern(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda text: compiled.search(text) is not None


def _for_rust(formats: dict[str, Callable[[str], bool]]) -> Callable[[Any, str | None], Any]:
    """A :func:`rewrite` step: patterns become custom formats that call Python's ``re``."""

    def change(node: Any, keyword: str | None) -> Any:
        if not isinstance(node, dict):
            return node
        step = node.get("multipleOf")
        if "patternProperties" in node or (isinstance(step, float) and not step.is_integer()):
            raise _Unsafe
        pattern = node.pop("pattern", None)
        if isinstance(pattern, str):
            name = f"mockseg-pattern-{len(formats)}"
            formats[name] = _pattern(pattern)
            node["allOf"] = [*node.get("allOf", []), {"format": name}]
        return node

    return change


def fast_valid(schema: Mapping[str, Any] | bool) -> Callable[[Any], bool] | None:
    """A quick "the message is valid" for ``schema``, or None where there is none to trust."""
    if _jsonschema_rs is None:
        return None
    formats = {name: _format(name) for name in _FORMATS.checkers}
    try:
        rewritten = rewrite(schema, _for_rust(formats))
        check: Callable[[Any], bool] = _jsonschema_rs.Draft7Validator(
            rewritten, formats=formats, validate_formats=True).is_valid
    except Exception:  # _Unsafe, or a schema jsonschema-rs cannot compile: the library decides
        return None

    def valid(message: Any) -> bool:
        try:
            return check(message)
        except Exception:  # a value it cannot take (an int past 64 bits): let the library judge
            return False

    return valid
