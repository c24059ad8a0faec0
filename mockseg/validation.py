"""Walk a message, run the rules of :mod:`mockseg.rules` that apply to it, and report violations.

The rules know only fields relative to a message; this module adds the prefix of where the
message sits (``batch[3].``) and the severity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from mockseg.rules import MESSAGE_TYPES, RULES, WARNINGS, Limits, Rule

__all__ = ["DEFAULT_LIMITS", "Violation", "check_message", "validate"]

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


def _rules_for(kind: str) -> tuple[Rule, ...]:
    return tuple(rule for rule in RULES if kind in rule.kinds)


_RULES_BY_KIND: dict[str, tuple[Rule, ...]] = {kind: _rules_for(kind) for kind in MESSAGE_TYPES}
#: Rules that apply to every type: what a batch item of unknown type is still checked against.
_COMMON_RULES = tuple(rule for rule in RULES if set(MESSAGE_TYPES) <= rule.kinds)
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
    rules = _RULES_BY_KIND.get(kind, _COMMON_RULES) if kind is not None else _COMMON_RULES
    for rule in rules:
        for where, text in rule.check(message, limits):
            errors.append(Violation(prefix + where, text))
    if kind is not None and declared is not None and declared != kind:
        errors.append(Violation(prefix + "type", f'type must be "{kind}"'))
    warnings: list[Violation] = []
    if kind == "group":
        for warning in WARNINGS:
            for where, text in warning(message, limits):
                warnings.append(Violation(prefix + where, text, "warning"))
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
