"""Walk a message, run the rules of :mod:`mockseg.rules` that apply to it, and report violations.

The rules know only fields relative to a message; this module adds the prefix of where the
message sits (``batch[3].``) and the severity.

Two compiled checks (jsonschema-rs, when installed) answer the common case without the rules:
the published group schema says yes to a valid group message, whose errors then need no rule;
a stricter schema of a whole batch says yes to a batch in which no rule would find an error or
a warning. They only ever skip rules that would find nothing: a message or a batch they do not
pass goes through the rules, for its exact messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from types import ModuleType
from typing import Any, Literal, NamedTuple

from mockseg.jsoncodec import dumps
from mockseg.rules import (
    ADDRESS_KEYS,
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

__all__ = [
    "DEFAULT_LIMITS",
    "Judged",
    "Violation",
    "check_batch",
    "check_message",
    "clean_batch",
    "validate",
]

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

    return _compile(group_schema(limits))


#: A trait-name length limit up to this is checked as a pattern (:func:`_compile`); a longer
#: one keeps ``propertyNames``, whose pattern would be too large to compile.
_MAX_NAME_PATTERN = 4096


def _compile(schema: dict[str, Any]) -> Callable[[Any], bool]:
    """jsonschema-rs's yes/no check of ``schema``, with the traits' name-length rule said the
    way jsonschema-rs checks fastest: ``propertyNames: {"maxLength": n}`` as
    ``patternProperties: {"^[\\s\\S]{n+1}": false}``. Both refuse a name of more than n
    characters (code points, in the schema and in the pattern); jsonschema-rs spends about a
    third as much on each name the second way (the batch-100 check: 221 µs to 161 µs)."""
    assert _jsonschema_rs is not None
    traits = schema.get("$defs", {}).get("traits")
    names = traits.get("propertyNames") if isinstance(traits, dict) else None
    if (isinstance(names, dict) and names.keys() == {"maxLength"}
            and "patternProperties" not in traits
            and names["maxLength"] < _MAX_NAME_PATTERN):
        traits = {key: rule for key, rule in traits.items() if key != "propertyNames"}
        traits["patternProperties"] = {f"^[\\s\\S]{{{names['maxLength'] + 1}}}": False}
        schema = {**schema, "$defs": {**schema["$defs"], "traits": traits}}
    check: Callable[[Any], bool] = _jsonschema_rs.validator_for(schema).is_valid
    return check


def _passes(check: Callable[[Any], bool] | None, value: Any) -> bool:
    if check is None:
        return False
    try:
        return check(value)
    except Exception:  # a value it cannot take (an int past 64 bits): let the rules judge
        return False


def _fast_valid(message: Any, limits: Limits) -> bool:
    return _passes(_compiled_group_check(limits), message)


#: An http(s) URL that ``urlsplit`` takes apart without complaint into an http or https
#: scheme and a non-empty host: only printable ASCII, no bracket in the host. Any string this
#: matches, :func:`mockseg.rules.trait_urls` takes; it may take more.
_PLAIN_HTTP_URL = r"^https?://[A-Za-z0-9.-]+(?::[0-9]*)?(?:[/?#][!-~]*)?$"
#: Printable ASCII, no ``@``: any string this matches, :func:`mockseg.rules.trait_email`
#: takes; it may take more.
_PLAIN_EMAIL = r"^[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+$"

#: What makes a valid group message clean: none of the rules in :data:`mockseg.rules.WARNINGS`
#: finds anything in traits this passes (not empty, no ``id``, plain URLs and email, only the
#: documented address fields).
_NO_WARNING_TRAITS = {
    "type": "object",
    "minProperties": 1,
    "properties": {
        "id": {"type": "null"},
        "website": {"pattern": _PLAIN_HTTP_URL},
        "avatar": {"pattern": _PLAIN_HTTP_URL},
        "email": {"pattern": _PLAIN_EMAIL},
        # Only the documented fields (as "propertyNames": {"enum": [...]} says it, but
        # cheaper for jsonschema-rs to check).
        "address": {"properties": dict.fromkeys(sorted(ADDRESS_KEYS), True),
                    "additionalProperties": False},
    },
}


def _compiled_clean_group_check(limits: Limits) -> Callable[[Any], bool] | None:
    """The group schema with :data:`_NO_WARNING_TRAITS`, compiled: yes for a group message in
    which no rule finds an error or a warning. None where :func:`_compiled_group_check` is."""
    return _clean_group_check(limits, _compiled_group_check(limits))


@lru_cache(maxsize=32)
def _clean_group_check(limits: Limits, valid: object) -> Callable[[Any], bool] | None:
    # Cached with the validity check it goes with: none without one.
    if valid is None:
        return None
    from mockseg.schema import group_schema

    schema = group_schema(limits)
    schema["required"] = [*schema["required"], "traits"]
    fields = schema["properties"]
    fields["traits"] = {"allOf": [fields["traits"], _NO_WARNING_TRAITS]}
    return _compile(schema)


def _nesting_bounds(most: int) -> dict[str, Any]:
    """``$defs`` entries under0..under{most}: a value that nests at most that many containers
    (itself included)."""
    defs: dict[str, Any] = {"under0": {"type": ["string", "number", "boolean", "null"]}}
    for n in range(1, most + 1):
        inner = {"$ref": f"#/$defs/under{n - 1}"}
        defs[f"under{n}"] = {"anyOf": [{"$ref": "#/$defs/under0"},
                                       {"type": "object", "additionalProperties": inner},
                                       {"type": "array", "items": inner}]}
    return defs


def _clean_batch_schema(limits: Limits) -> dict[str, Any]:
    """A batch body in which nothing is wrong: no rule finds an error or a warning, and no value
    nests past ``limits.max_json_depth``; as a JSON Schema built from the group schema's parts.

    An item follows the schema of its type: for a group, the group schema with warning-free
    traits (:data:`_NO_WARNING_TRAITS`). The batch's own fields follow the common rules. Where
    the rules leave nesting open (unknown fields, the contents of ``context`` and
    ``integrations``, an identify's traits), it is bounded by what the depth limit leaves at
    that level (the body is level 1, its items level 3).
    """
    from mockseg.schema import group_schema

    group = group_schema(limits)
    fields = group["properties"]
    depth = limits.max_json_depth

    def under(level: int) -> dict[str, Any]:  # what a value at this level may nest
        return {"$ref": f"#/$defs/under{depth + 1 - level}"}

    def common(level: int) -> dict[str, Any]:
        """The rules of the common fields of an object at ``level``, and the depth left
        inside its ``context`` and ``integrations``."""
        nesting = {
            "context": {"properties": {"library": {"additionalProperties": under(level + 3)}},
                        "additionalProperties": under(level + 2)},
            "integrations": {"additionalProperties": under(level + 2)},
        }
        return {name: fields[name] for name in (*TIMESTAMP_FIELDS, "messageId")} | {
            name: {"allOf": [fields[name], bound]} for name, bound in nesting.items()}

    def kind(name: str, properties: dict[str, Any], **rest: Any) -> dict[str, Any]:
        return {"properties": {"type": {"const": name}, **common(3), **properties},
                "additionalProperties": under(4), **rest}

    identities = {"userId": fields["userId"], "anonymousId": fields["anonymousId"]}
    identified = group["anyOf"]
    traits = [fields["traits"], _NO_WARNING_TRAITS]
    if limits.max_trait_depth + 4 > depth:  # traits may nest deeper than the body may
        traits.append(under(4))
    text: dict[str, Any] = {"type": "string", "minLength": 1}
    own_fields = {name: rule for name, rule in fields.items()
                  if name != "type" and name not in common(3)}
    kinds = [
        kind("group", {**own_fields, "traits": {"allOf": traits}},
             required=["groupId", "traits"], anyOf=identified),
        kind("identify", {**identities, "traits": {"type": ["object", "null"],
                                                   "additionalProperties": under(5)}},
             anyOf=identified),
        kind("track", {**identities, "event": text}, required=["event"], anyOf=identified),
        kind("page", identities, anyOf=identified),
        kind("screen", identities, anyOf=identified),
        kind("alias", {"previousId": text, "userId": text,
                       "anonymousId": fields["anonymousId"]}, required=["previousId", "userId"]),
    ]
    assert {k["properties"]["type"]["const"] for k in kinds} == set(MESSAGE_TYPES)
    own = common(1)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array",
                      "items": {"type": "object", "required": ["type"], "anyOf": kinds}},
            **{name: own[name] for name in _BATCH_FIELDS},
        },
        "additionalProperties": under(2),
        "$defs": {**group["$defs"], **_nesting_bounds(depth - 1)},
    }


#: The least ``max_json_depth`` the batch schema is built for (an item's context's library's
#: fields sit at level 6).
_SHALLOWEST = 8


def _compiled_batch_check(limits: Limits) -> Callable[[Any], bool] | None:
    """:func:`_clean_batch_schema` compiled: yes for a batch body with nothing to report.

    None (no fast path) where :func:`_compiled_group_check` is None, or for a depth limit
    that leaves an item's fields too few levels to describe.
    """
    return _batch_check(limits, _compiled_group_check(limits))


@lru_cache(maxsize=32)
def _batch_check(limits: Limits, valid: object) -> Callable[[Any], bool] | None:
    # Cached with the validity check it goes with: none without one.
    if valid is None or limits.max_json_depth < _SHALLOWEST:
        return None
    return _compile(_clean_batch_schema(limits))


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
    if not isinstance(message, dict) and not isinstance(message, Mapping):  # dict: no ABC check
        return [Violation(prefix.rstrip(".") or "body", "Message must be a JSON object")], []
    errors: list[Violation] = []
    declared = message.get("type")
    if kind is None:
        if declared is None or declared == "":
            errors.append(Violation(prefix + "type", "Missing required field: type"))
        elif not isinstance(declared, str) or declared not in _RULES_BY_KIND:
            errors.append(Violation(prefix + "type", f"type must be one of {_KNOWN_TYPES}"))
        else:
            kind = declared
    checks = _RULES_BY_KIND.get(kind, _COMMON_RULES) if kind is not None else _COMMON_RULES
    if kind == "group" and declared in _GROUP_TYPES:
        if _passes(_compiled_clean_group_check(limits), message):
            return errors, []  # nothing for any rule or warning to find
        if _fast_valid(message, limits):
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
        kind = declared if isinstance(declared, str) and declared in _RULES_BY_KIND else "group"
    elif kind not in _RULES_BY_KIND:
        raise ValueError(f"kind must be one of {_KNOWN_TYPES}, not {kind!r}")
    errors, warnings = check_message(message, kind, limits or DEFAULT_LIMITS)
    return errors + warnings


class Judged(NamedTuple):
    """One message of a request, with its type (if known), errors and warnings."""

    payload: Any
    type: str | None
    errors: Sequence[Violation]
    warnings: Sequence[Violation]


#: A batch's own fields that follow the common rules (12, 14 and 15).
_BATCH_RULES = (timestamps, context, integrations)
_BATCH_FIELDS = (*TIMESTAMP_FIELDS, "context", "integrations")


def clean_batch(body: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS,
                sizes: Sequence[int] | None = None) -> list[Judged] | None:
    """The items of a batch body in which nothing is wrong, judged, or None when something
    might be (then :func:`check_batch` finds what).

    Nothing is wrong when no rule finds an error or a warning in any item or in the batch's
    own fields, no item is over ``limits.max_item_bytes`` (by ``sizes``, each item's JSON
    size, when given) and nothing nests past ``limits.max_json_depth``: one compiled check of
    the whole body (None without jsonschema-rs).
    """
    if sizes is not None and max(sizes, default=0) > limits.max_item_bytes:
        return None
    if not _passes(_compiled_batch_check(limits), body):
        return None
    return [Judged(item, item["type"], (), ()) for item in body["batch"]]


def check_batch(
    body: Mapping[str, Any],
    limits: Limits = DEFAULT_LIMITS,
    *,
    measure_items: bool = True,
    encoded: Sequence[bytes] | None = None,
    fast: bool = True,
) -> tuple[list[Judged], list[Violation]]:
    """The items of a ``{"batch": [...]}`` body, judged, and the batch's own errors.

    Every item needs a ``type`` and is judged by that type's rules, with fields prefixed
    ``batch[i].``. The batch's ``sentAt``, ``context`` and ``integrations`` follow the common
    rules. With ``measure_items`` an item over ``limits.max_item_bytes`` is invalid (the caller
    may skip measuring when the whole body is smaller than that); ``encoded``, the items' JSON
    bytes if the caller has them, saves encoding them again. ``fast=False`` skips
    :func:`clean_batch`, for a caller that has tried it.
    """
    items = body.get("batch")
    if items is None:
        return [], [Violation("batch", "Missing required field: batch")]
    if not isinstance(items, list):
        return [], [Violation("batch", "batch must be an array")]
    sizes = ([len(text) for text in encoded] if encoded is not None
             else [len(dumps(item)) for item in items]) if measure_items else None
    if fast:
        clean = clean_batch(body, limits, sizes)
        if clean is not None:
            return clean, []
    own = {name: body.get(name) for name in _BATCH_FIELDS}
    batch_errors = [Violation(where, text) for rule in _BATCH_RULES
                    for where, text in rule(own, limits)]
    most = limits.max_item_bytes
    judged = []
    for index, item in enumerate(items):
        errors, warnings = check_message(item, None, limits, f"batch[{index}].")
        if sizes is not None and sizes[index] > most:
            errors.insert(0, Violation(f"batch[{index}]", f"Message too large: over {most} bytes"))
        declared = item.get("type") if isinstance(item, Mapping) else None
        judged.append(Judged(item, declared if isinstance(declared, str) else None,
                             errors, warnings))
    return judged, batch_errors
