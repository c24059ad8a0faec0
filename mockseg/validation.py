"""Walk a message, run the rules of :mod:`mockseg.rules` that apply to it, and report violations.

The rules know only fields relative to a message; this module adds the prefix of where the
message sits (``batch[3].``) and the severity.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

from mockseg.rules import (
    MESSAGE_TYPES,
    RULES,
    TIMESTAMP_FIELDS,
    WARNINGS,
    Limits,
    context,
    integrations,
    timestamps,
)

__all__ = ["DEFAULT_LIMITS", "Judged", "Violation", "check_batch", "check_message", "validate"]

DEFAULT_LIMITS = Limits()

Severity = Literal["error", "warning"]


class Violation(NamedTuple):
    """One broken rule: where (``traits.employees``), the exact message, and its severity."""

    field: str
    message: str
    severity: Severity = "error"

    def to_dict(self) -> dict[str, str]:
        """The ``{field, message}`` form used in error bodies and the journal."""
        return {"field": self.field, "message": self.message}


Check = Callable[[Mapping[str, Any], Limits], list[tuple[str, str]]]


def _checks_for(kind: str) -> tuple[Check, ...]:
    return tuple(rule.check for rule in RULES if kind in rule.kinds)


_RULES_BY_KIND: dict[str, tuple[Check, ...]] = {kind: _checks_for(kind) for kind in MESSAGE_TYPES}
#: Rules that apply to every type: what a batch item of unknown type is still checked against.
_COMMON_RULES = tuple(rule.check for rule in RULES if set(MESSAGE_TYPES) <= rule.kinds)
_KNOWN_TYPES = ", ".join(f'"{kind}"' for kind in MESSAGE_TYPES)


def check_message(
    message: Any,
    kind: str | None,
    limits: Limits = DEFAULT_LIMITS,
    prefix: str = "",
) -> tuple[list[Violation], list[Violation]]:
    """Errors and warnings for one message.

    ``kind`` is the type the endpoint implies (``/v1/group`` implies ``"group"``): a ``type``
    field, if present, must then equal it. With ``kind=None`` (a batch item) the message's own
    ``type`` decides, and it is required.
    """
    if not isinstance(message, Mapping):
        return [Violation(prefix.rstrip(".") or "body", "Message must be a JSON object")], []
    errors: list[Violation] = []
    declared = message.get("type")
    if kind is None:
        if declared is None or declared == "":
            errors.append(Violation(prefix + "type", "Missing required field: type"))
        elif declared not in _RULES_BY_KIND:
            errors.append(Violation(prefix + "type", f"type must be one of {_KNOWN_TYPES}"))
        else:
            kind = declared
    checks = _RULES_BY_KIND.get(kind, _COMMON_RULES) if kind is not None else _COMMON_RULES
    for check in checks:
        found = check(message, limits)
        if found:
            errors += [Violation(prefix + where, text) for where, text in found]
    if kind is not None and declared is not None and declared != kind:
        errors.append(Violation(prefix + "type", f'type must be "{kind}"'))
    warnings: list[Violation] = []
    if kind == "group":
        for warning in WARNINGS:
            found = warning(message, limits)
            if found:
                warnings += [Violation(prefix + where, text, "warning") for where, text in found]
    return errors, warnings


def validate(
    message: Any, kind: str | None = None, *, limits: Limits | None = None
) -> list[Violation]:
    """Check one message against the contract; return its errors, then its warnings.

    ``kind`` is the message type to check it as. By default it is the message's own ``type``
    when that is one of the known types, and ``"group"`` otherwise (``/v1/group`` allows the
    ``type`` field to be absent). An empty list means the message is valid and clean.
    """
    if kind is None:
        declared = message.get("type") if isinstance(message, Mapping) else None
        kind = declared if declared in _RULES_BY_KIND else "group"
    elif kind not in _RULES_BY_KIND:
        raise ValueError(f"kind must be one of {_KNOWN_TYPES}, not {kind!r}")
    errors, warnings = check_message(message, kind, limits or DEFAULT_LIMITS)
    return errors + warnings


class Judged(NamedTuple):
    """One message of a request, with its type (if known), errors and warnings."""

    payload: Any
    type: str | None
    errors: list[Violation]
    warnings: list[Violation]


#: A batch's own fields that follow the common rules (12, 14 and 15).
_BATCH_RULES = (timestamps, context, integrations)
_BATCH_FIELDS = (*TIMESTAMP_FIELDS, "context", "integrations")


def _encoded_size(item: Any) -> int:
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def check_batch(
    body: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS, *, measure_items: bool = True
) -> tuple[list[Judged], list[Violation]]:
    """The items of a ``{"batch": [...]}`` body, judged, and the batch's own errors.

    Every item needs a ``type`` and is judged by that type's rules, with fields prefixed
    ``batch[i].``. The batch's ``sentAt``, ``context`` and ``integrations`` follow the common
    rules. With ``measure_items`` an item over ``limits.max_item_bytes`` is invalid (the caller
    may skip measuring when the whole body is smaller than that).
    """
    items = body.get("batch")
    if items is None:
        return [], [Violation("batch", "Missing required field: batch")]
    if not isinstance(items, list):
        return [], [Violation("batch", "batch must be an array")]
    own = {name: body.get(name) for name in _BATCH_FIELDS}
    batch_errors = [Violation(where, text) for rule in _BATCH_RULES
                    for where, text in rule(own, limits)]
    judged = []
    for index, item in enumerate(items):
        errors, warnings = check_message(item, None, limits, f"batch[{index}].")
        if measure_items and _encoded_size(item) > limits.max_item_bytes:
            errors.insert(0, Violation(
                f"batch[{index}]", f"Message too large: over {limits.max_item_bytes} bytes"))
        declared = item.get("type") if isinstance(item, Mapping) else None
        judged.append(Judged(item, declared if isinstance(declared, str) else None,
                             errors, warnings))
    return judged, batch_errors
