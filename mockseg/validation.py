"""Walk a message, run the rules of :mod:`mockseg.rules` that apply to it, and report violations.

The rules know only fields relative to a message; this module adds the prefix of where the
message sits (``batch[3].``) and the severity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from types import ModuleType
from typing import Any, Literal, NamedTuple

from mockseg.jsoncodec import dumps
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

_jsonschema_rs: ModuleType | None
try:  # a compiled validator for the fast path; mockseg works the same without it
    import jsonschema_rs as _jsonschema_rs
except ImportError:  # pragma: no cover - tests hide it to check the fallback
    _jsonschema_rs = None

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


_GROUP_TYPES = ("group", None)


@lru_cache(maxsize=32)
def _compiled_group_check(limits: Limits) -> Callable[[Any], bool] | None:
    """The published group schema compiled by jsonschema-rs: a fast yes/no on validity.

    Used only to skip the rules for a valid message; an invalid one still goes through the rules
    for its exact messages. None (no fast path) without jsonschema-rs, or with a custom groupId
    pattern, whose regex dialect might differ from Python's.
    """
    if _jsonschema_rs is None or limits.group_id_pattern != DEFAULT_LIMITS.group_id_pattern:
        return None
    from mockseg.schema import group_schema

    check: Callable[[Any], bool] = _jsonschema_rs.validator_for(group_schema(limits)).is_valid
    return check


def _fast_valid(message: Any, limits: Limits) -> bool:
    check = _compiled_group_check(limits)
    if check is None:
        return False
    try:
        return check(message)
    except Exception:  # a value it cannot take (an int past 64 bits): let the rules judge
        return False


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
    if kind == "group" and declared in _GROUP_TYPES and _fast_valid(message, limits):
        checks = ()  # the compiled schema found nothing: no rule would
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


def check_batch(
    body: Mapping[str, Any],
    limits: Limits = DEFAULT_LIMITS,
    *,
    measure_items: bool = True,
    encoded: Sequence[bytes] | None = None,
) -> tuple[list[Judged], list[Violation]]:
    """The items of a ``{"batch": [...]}`` body, judged, and the batch's own errors.

    Every item needs a ``type`` and is judged by that type's rules, with fields prefixed
    ``batch[i].``. The batch's ``sentAt``, ``context`` and ``integrations`` follow the common
    rules. With ``measure_items`` an item over ``limits.max_item_bytes`` is invalid (the caller
    may skip measuring when the whole body is smaller than that); ``encoded``, the items' JSON
    bytes if the caller has them, saves encoding them again.
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
        if measure_items and len(encoded[index] if encoded is not None else dumps(item)) > (
                limits.max_item_bytes):
            errors.insert(0, Violation(
                f"batch[{index}]", f"Message too large: over {limits.max_item_bytes} bytes"))
        declared = item.get("type") if isinstance(item, Mapping) else None
        judged.append(Judged(item, declared if isinstance(declared, str) else None,
                             errors, warnings))
    return judged, batch_errors
