"""The group contract as data: limits, reserved traits and one small function per rule.

Each rule function takes a message (a dict) and the active :class:`Limits` and yields
``(field, message)`` pairs, where ``field`` is relative to the message (``traits.employees``).
It knows nothing of batches or HTTP; :mod:`mockseg.validation` adds the ``batch[3].`` prefix and
the severity. The order of :data:`RULES` is the order of CONTRACT.md's table, which is also the
order in which errors are reported: the first one becomes the response's ``message``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = [
    "ADDRESS_KEYS",
    "ISO_8601_DATE_TIME",
    "MESSAGE_TYPES",
    "RESERVED_TRAITS",
    "RULES",
    "WARNINGS",
    "Limits",
    "Rule",
]

Message = Mapping[str, Any]
Found = list[tuple[str, str]]

#: The message types the Tracking API knows.
MESSAGE_TYPES: Final = ("identify", "track", "page", "screen", "group", "alias")

#: ISO 8601 date-time in extended format: a date, ``T``, hours and minutes, optional seconds and
#: fraction, optional zone (``Z``, ``+01:00``, ``+0100``, ``+01``). Digits are ASCII only.
ISO_8601_DATE_TIME: Final = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]"
    r"(?::(?:[0-5][0-9]|60)(?:[.,][0-9]+)?)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?"
)
_ISO = re.compile(ISO_8601_DATE_TIME)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

#: Keys the spec documents inside the reserved ``address`` trait; others get a warning.
ADDRESS_KEYS: Final = frozenset({"street", "city", "state", "postalCode", "country"})


@dataclass(frozen=True, slots=True)
class Limits:
    """The configurable part of the contract: the groupId pattern and every numeric limit.

    ``group_id_pattern`` is a regular expression that the whole groupId must match; the default
    allows ``A-Z a-z 0-9 _ - . :``. A team whose ids contain ``@`` can pass
    ``Limits(group_id_pattern=r"[A-Za-z0-9_\\-.:@]+")``.
    """

    group_id_pattern: str = r"[A-Za-z0-9_\-.:]+"
    max_id_length: int = 255
    max_traits: int = 255
    max_trait_name_length: int = 255
    max_trait_depth: int = 3
    max_message_id_length: int = 100
    max_json_depth: int = 64
    max_body_bytes: int = 32_768
    max_batch_bytes: int = 512_000
    max_item_bytes: int = 32_768
    max_batch_items: int = 2_500
    _group_id_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            compiled = re.compile(self.group_id_pattern)
        except re.error as exc:
            raise ValueError(f"group_id_pattern is not a valid regular expression: {exc}") from None
        object.__setattr__(self, "_group_id_re", compiled)
        for name in (
            "max_id_length", "max_traits", "max_trait_name_length", "max_trait_depth",
            "max_message_id_length", "max_json_depth", "max_body_bytes", "max_batch_bytes",
            "max_item_bytes", "max_batch_items",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        # Hashed once: the compiled checks are looked up by the limits on every request.
        object.__setattr__(self, "_hash", hash(tuple(
            getattr(self, limit.name) for limit in fields(self) if limit.compare)))

    def __hash__(self) -> int:
        return self._hash

    def group_id_ok(self, group_id: str) -> bool:
        """Whether ``group_id`` matches the configured pattern as a whole."""
        return self._group_id_re.fullmatch(group_id) is not None


def _absent(value: Any) -> bool:
    """Null and the empty string count as absent for required identifiers."""
    return value is None or value == ""


def is_integer(value: Any) -> bool:
    """A JSON integer: an int that is not a bool, or a float with no fractional part."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def is_number(value: Any) -> bool:
    """A JSON number: int or float, never a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_date_time(value: Any) -> bool:
    """An ISO 8601 date-time string (see :data:`ISO_8601_DATE_TIME`)."""
    return isinstance(value, str) and _ISO.fullmatch(value) is not None


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


@dataclass(frozen=True, slots=True)
class ReservedTrait:
    """A trait name Segment reserves, with the JSON type its value must have."""

    name: str
    type_name: str  # as it reads in the message: "an integer", "a number", ...
    check: Callable[[Any], bool]

    @property
    def message(self) -> str:
        return f"Trait {self.name} must be {self.type_name}"


_STRING = ("a string", _is_string)
#: Reserved traits in the spec's order, with their types (rule 11). Null counts as absent.
RESERVED_TRAITS: Final = tuple(
    ReservedTrait(name, type_name, check)
    for name, (type_name, check) in {
        "name": _STRING,
        "email": _STRING,
        "website": _STRING,
        "phone": _STRING,
        "industry": _STRING,
        "employees": ("an integer", is_integer),
        "revenue": ("a number", is_number),
        "plan": _STRING,
        "address": ("an object", _is_object),
        "description": _STRING,
        "avatar": _STRING,
        "createdAt": ("an ISO 8601 date-time", is_date_time),
        "updatedAt": ("an ISO 8601 date-time", is_date_time),
    }.items()
)


# --- the rules, in CONTRACT.md's order -------------------------------------------------------


def group_id_required(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    if _absent(msg.get("groupId")):
        found.append(("groupId", "Missing required field: groupId"))
    return found


def group_id_is_string(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    value = msg.get("groupId")
    if value is not None and not isinstance(value, str):
        found.append(("groupId", "groupId must be a string"))
    return found


def group_id_length(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    value = msg.get("groupId")
    if isinstance(value, str) and len(value) > limits.max_id_length:
        found.append(("groupId", f"Group ID too long (max {limits.max_id_length} characters)"))
    return found


def group_id_pattern(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    value = msg.get("groupId")
    if isinstance(value, str) and value and not limits.group_id_ok(value):
        found.append(("groupId", "Group ID cannot contain spaces or special characters"))
    return found


def identity_required(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    if _absent(msg.get("userId")) and _absent(msg.get("anonymousId")):
        found.append(("userId", "Missing required field: userId or anonymousId"))
    return found


def identities_are_strings(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    for name in ("userId", "anonymousId"):
        value = msg.get(name)
        if value is not None and not isinstance(value, str):
            found.append((name, f"{name} must be a string"))
    return found


def alias_ids(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    for name in ("previousId", "userId"):
        value = msg.get(name)
        if _absent(value):
            found.append((name, f"Missing required field: {name}"))
        elif not isinstance(value, str):
            found.append((name, f"{name} must be a string"))
    anonymous_id = msg.get("anonymousId")
    if anonymous_id is not None and not isinstance(anonymous_id, str):
        found.append(("anonymousId", "anonymousId must be a string"))
    return found


def track_event(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    value = msg.get("event")
    if _absent(value):
        found.append(("event", "Missing required field: event"))
    elif not isinstance(value, str):
        found.append(("event", "event must be a string"))
    return found


def traits_is_object(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    value = msg.get("traits")
    if value is not None and not isinstance(value, dict):
        found.append(("traits", "traits must be an object"))
    return found


def traits_count(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    traits = msg.get("traits")
    if isinstance(traits, dict) and len(traits) > limits.max_traits:
        found.append(("traits", f"Too many traits (max {limits.max_traits})"))
    return found


def trait_name_length(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    traits = msg.get("traits")
    longest = limits.max_trait_name_length
    if isinstance(traits, dict):
        for name in traits:
            if len(name) > longest:
                found.append((f"traits.{name}",
                              f"Trait name too long (max {longest} characters)"))
                return found
    return found


_CONTAINERS = (dict, list)


def _too_deep(value: Any, level: int, limit: int) -> list[str] | None:
    """The path below ``value`` (a container at ``level``) to the first container past ``limit``."""
    if level > limit:
        return []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        if isinstance(child, _CONTAINERS):
            below = _too_deep(child, level + 1, limit)
            if below is not None:
                below.append(f".{key}" if isinstance(value, dict) else f"[{key}]")
                return below
    return None


def traits_depth(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    traits = msg.get("traits")
    if isinstance(traits, dict):
        path = _too_deep(traits, 0, limits.max_trait_depth)
        if path is not None:
            where = "traits" + "".join(reversed(path))
            found.append((where, f"Traits nested too deeply (max {limits.max_trait_depth} "
                                 f"levels): {where}"))
    return found


def reserved_trait_types(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    traits = msg.get("traits")
    if isinstance(traits, dict):
        for trait in RESERVED_TRAITS:
            value = traits.get(trait.name)
            if value is not None and not trait.check(value):
                found.append((f"traits.{trait.name}", trait.message))
    return found


TIMESTAMP_FIELDS: Final = ("timestamp", "sentAt", "originalTimestamp")


def timestamps(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    for name in TIMESTAMP_FIELDS:
        value = msg.get(name)
        if value is not None and not is_date_time(value):
            found.append((name, f"{name} must be an ISO 8601 date-time"))
    return found


def message_id(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    value = msg.get("messageId")
    if value is not None and not (
        isinstance(value, str) and len(value) <= limits.max_message_id_length
    ):
        found.append(("messageId", f"messageId must be a string of at most "
                                   f"{limits.max_message_id_length} characters"))
    return found


def context(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    value = msg.get("context")
    if value is None:
        return found
    if not isinstance(value, dict):
        found.append(("context", "context must be an object"))
        return found
    for name in ("ip", "userAgent"):
        if value.get(name) is not None and not isinstance(value[name], str):
            found.append((f"context.{name}", f"context.{name} must be a string"))
    library = value.get("library")
    if library is None:
        return found
    if not isinstance(library, dict):
        found.append(("context.library", "context.library must be an object"))
        return found
    for name in ("name", "version"):
        if library.get(name) is not None and not isinstance(library[name], str):
            found.append((f"context.library.{name}",
                          f"context.library.{name} must be a string"))
    return found


def integrations(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    value = msg.get("integrations")
    if value is None:
        return found
    if not isinstance(value, dict):
        found.append(("integrations", "integrations must be an object"))
        return found
    for name, setting in value.items():
        if setting is not None and not isinstance(setting, (bool, dict)):
            found.append((f"integrations.{name}",
                          f"integrations.{name} must be a boolean or an object"))


# --- warnings: accepted and recorded, never rejected ----------------------------------------
    return found


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def traits_empty(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    traits = msg.get("traits")
    if traits is None or traits == {}:
        found.append(("traits", "traits is missing or empty: the group gets no attributes"))
    return found


def trait_id_matches(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    traits = msg.get("traits")
    if isinstance(traits, dict) and traits.get("id") not in (None, msg.get("groupId")):
        found.append(("traits.id",
                      "Trait id differs from groupId (Segment sets it to the groupId)"))
    return found


def trait_urls(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    traits = msg.get("traits")
    if isinstance(traits, dict):
        for name in ("website", "avatar"):
            value = traits.get(name)
            if isinstance(value, str) and not _is_http_url(value):
                found.append((f"traits.{name}", f"Trait {name} should be an http(s) URL"))
    return found


def trait_email(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    traits = msg.get("traits")
    if isinstance(traits, dict):
        value = traits.get("email")
        if isinstance(value, str) and _EMAIL.fullmatch(value) is None:
            found.append(("traits.email", "Trait email does not look like an email address"))
    return found


def address_keys(msg: Message, limits: Limits) -> Found:
    found: list[tuple[str, str]] = []
    traits = msg.get("traits")
    address = traits.get("address") if isinstance(traits, dict) else None
    if isinstance(address, dict):
        for key in address:
            if key not in ADDRESS_KEYS:
                found.append((f"traits.address.{key}", f"Unknown address field {key!r} "
                               "(expected street, city, state, postalCode, country)"))
    return found


# --- the tables -------------------------------------------------------------------------------

ALL: Final = frozenset(MESSAGE_TYPES)
NOT_ALIAS: Final = ALL - {"alias"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the contract: its number in CONTRACT.md, the types it applies to, its check."""

    number: str
    kinds: frozenset[str]
    check: Callable[[Message, Limits], Found]
    condition: str
    message: str


#: Errors, in the order they are checked and reported. ``number`` is the row in CONTRACT.md's
#: table; rows marked with a letter are the other message types' own rules.
RULES: Final = (
    Rule("1", frozenset({"group"}), group_id_required,
         "`groupId` absent, null or `\"\"`", "Missing required field: groupId"),
    Rule("2", frozenset({"group"}), group_id_is_string,
         "`groupId` not a string", "groupId must be a string"),
    Rule("3", frozenset({"group"}), group_id_length,
         "`groupId` longer than 255 characters", "Group ID too long (max 255 characters)"),
    Rule("4", frozenset({"group"}), group_id_pattern,
         "`groupId` has a character outside `A-Z a-z 0-9 _ - . :`",
         "Group ID cannot contain spaces or special characters"),
    Rule("5", NOT_ALIAS, identity_required,
         "neither `userId` nor `anonymousId` (absent, null or `\"\"`)",
         "Missing required field: userId or anonymousId"),
    Rule("6", NOT_ALIAS, identities_are_strings,
         "`userId` / `anonymousId` not a string", "userId must be a string"),
    Rule("5a", frozenset({"alias"}), alias_ids,
         "alias: `previousId` or `userId` absent, or not strings",
         "Missing required field: previousId"),
    Rule("5t", frozenset({"track"}), track_event,
         "track: `event` absent, or not a string", "Missing required field: event"),
    Rule("7", frozenset({"group", "identify"}), traits_is_object,
         "`traits` present but not an object", "traits must be an object"),
    Rule("8", frozenset({"group"}), traits_count,
         "more than 255 traits", "Too many traits (max 255)"),
    Rule("9", frozenset({"group"}), trait_name_length,
         "a trait name longer than 255 characters", "Trait name too long (max 255 characters)"),
    Rule("10", frozenset({"group"}), traits_depth,
         "an object or array more than 3 levels below `traits`",
         "Traits nested too deeply (max 3 levels): traits.a.b.c.d"),
    Rule("11", frozenset({"group"}), reserved_trait_types,
         "reserved trait of the wrong type", "Trait employees must be an integer"),
    Rule("12", ALL, timestamps,
         "`timestamp` / `sentAt` / `originalTimestamp` not an ISO 8601 date-time string",
         "timestamp must be an ISO 8601 date-time"),
    Rule("13", ALL, message_id,
         "`messageId` not a string, or longer than 100 characters",
         "messageId must be a string of at most 100 characters"),
    Rule("14", ALL, context,
         "`context` not an object; `context.ip`, `context.userAgent`, `context.library.name`, "
         "`context.library.version` not strings",
         "context must be an object"),
    Rule("15", ALL, integrations,
         "`integrations` not an object, or a value neither a boolean nor an object",
         "integrations must be an object"),
)

#: Warnings, checked only for group messages.
WARNINGS: Final = (
    traits_empty,
    trait_id_matches,
    trait_urls,
    trait_email,
    address_keys,
)
