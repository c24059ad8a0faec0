"""Valid payloads: timestamps, ids, contexts, group payloads, batches and SDK-level calls.

Their traits come from ``_traits.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mockseg.rules import MESSAGE_TYPES, Limits
from mockseg.strategies._base import (
    _ABSENT,
    _ANY_TIME,
    _CHARS,
    _COMPANIES,
    _DEFAULT,
    _EVENTS,
    _FIRST,
    _INTEGRATIONS,
    _LAST,
    _LIBRARIES,
    _OFFSETS,
    _URLS,
    _USER_AGENTS,
    GROUP_ID_ALPHABET,
    Draw,
    Json,
    Strategy,
    _check_flag,
    _check_group_id,
    _check_limits,
    _check_size,
    _check_traits,
    _default_pattern,
    _entry,
    _fit,
    _message_ids,
    _mostly,
    _repeat_fit,
    _repeated,
    _size,
    _texts,
    _timestamps,
    _user_ids,
    _words,
)
from mockseg.strategies._traits import _container, _draw_traits, _fresh_names, _TraitSpec

# --- building blocks --------------------------------------------------------------------------


def timestamps(*, min_value: datetime = _FIRST, max_value: datetime = _LAST) -> Strategy[str]:
    """ISO 8601 date-times in every form the validator accepts, between two naive datetimes.

    Forms: milliseconds, whole seconds, any fraction (``.`` or ``,``), no seconds, a leap second;
    zone ``Z``/``z``, ``+00:00``, ``+01:00``, ``+0100``, ``+01`` or none; ``T`` or ``t``.
    Shrinks toward ``2000-01-01T00:00:00.000Z``.
    """
    for name, value in (("min_value", min_value), ("max_value", max_value)):
        if not isinstance(value, datetime) or value.tzinfo is not None:
            raise InvalidArgument(f"{name} must be a naive datetime, not {value!r}")
    if min_value > max_value:
        raise InvalidArgument(f"min_value {min_value} is after max_value {max_value}")
    return _timestamps(min_value, max_value)


def group_ids(*, limits: Limits | None = None, min_size: int = 1,
              max_size: int | None = None) -> Strategy[str]:
    """Valid groupIds: ``A-Z a-z 0-9 _ - . :``, up to ``max_id_length`` (255) characters.

    Mostly realistic ids (``company_x7``); sometimes any length, or exactly ``max_size``.
    Shrinks toward a one-character id. Only for the default pattern: with another, bring ids.
    """
    limits = _check_limits(limits)
    if not _default_pattern(limits):
        raise InvalidArgument("group_ids() knows only the default groupId pattern; with "
                              f"{limits.group_id_pattern!r}, generate the ids yourself")
    high = _check_size("max_size", limits.max_id_length if max_size is None else max_size, 1,
                       limits.max_id_length)
    return _group_ids(_check_size("min_size", min_size, 1, high), high)


@cache
def _group_ids(low: int, high: int) -> Strategy[str]:
    realistic = st.builds(
        lambda prefix, rest: (prefix + rest)[:high],
        st.sampled_from(("", "company_", "org:", "acct-", "team.")),
        st.text(GROUP_ID_ALPHABET, min_size=low, max_size=max(low, min(high, 24))),
    )
    return _mostly(realistic, st.one_of(_repeated(GROUP_ID_ALPHABET, st.just(high)),
                                        _repeated(GROUP_ID_ALPHABET, st.integers(low, high))))


def contexts(*, with_library: bool | None = None) -> Strategy[dict[str, Any]]:
    """Valid ``context`` objects: ``ip``, ``userAgent``, ``library`` and a few other keys.

    ``with_library=True`` always has a library with a string name and version; ``False`` never
    has one. Shrinks toward ``{}``.
    """
    _check_flag("with_library", with_library)
    return _contexts(with_library)


@cache
def _contexts(with_library: bool | None) -> Strategy[dict[str, Any]]:
    name = _mostly(st.sampled_from(_LIBRARIES), _texts(24))
    version = st.builds("{}.{}.{}".format, *[st.integers(0, 20)] * 3)
    optional: dict[str, Strategy[Json]] = {
        "ip": _mostly(st.one_of(st.integers(0, 2**32 - 1).map(lambda n: str(IPv4Address(n))),
                                st.integers(0, 2**128 - 1).map(lambda n: str(IPv6Address(n)))),
                      st.none()),
        "userAgent": _mostly(st.sampled_from(_USER_AGENTS), _texts(120)),
        "locale": st.sampled_from(("en-US", "de-CH", "ja-JP")),
        "page": st.builds(lambda url: {"path": "/", "url": url}, _URLS),
    }
    if with_library is None:
        optional["library"] = st.fixed_dictionaries({}, optional={
            "name": _mostly(name, st.none()), "version": _mostly(version, st.none())})
    library = {"library": st.fixed_dictionaries({"name": name, "version": version})}
    return st.fixed_dictionaries(library if with_library else {}, optional=optional)


# --- group payloads ---------------------------------------------------------------------------


@cache
def _optional_fields(max_message_id: int) -> tuple[tuple[str, Strategy[Json]], ...]:
    moment = _mostly(_ANY_TIME, st.none())
    return (
        ("timestamp", moment), ("sentAt", moment), ("originalTimestamp", moment),
        ("messageId", _mostly(_message_ids(max_message_id), st.none())),
        ("context", _mostly(contexts(), st.none())),
        ("integrations", _mostly(_INTEGRATIONS, st.none())),
        ("_metadata", st.sampled_from(({"bundled": ["Segment.io"], "unbundled": []}, {}))),
        ("channel", st.sampled_from(("server", "browser", "mobile"))),
        ("version", st.sampled_from((2, 1, "1.1"))),
    )


def _draw_optional(draw: Draw, message: dict[str, Any], limits: Limits, budget: int,
                   used: int) -> int:
    """Add some optional common fields, those that fit in ``budget``; return the bytes used."""
    for key, strategy in _optional_fields(limits.max_message_id_length):
        if draw(st.booleans()) and used + _entry(key, value := draw(strategy)) <= budget:
            message[key] = value
            used += _entry(key, value)
    return used


def _draw_identity(draw: Draw, message: dict[str, Any], with_user_id: bool | None,
                   with_anonymous_id: bool | None, max_len: int, budget: int) -> None:
    """userId, anonymousId or both; a missing one is absent, null or "" where allowed."""
    modes = [(user, anonymous) for user, anonymous in ((True, False), (True, True), (False, True))
             if with_user_id in (None, user) and with_anonymous_id in (None, anonymous)]
    present = draw(st.sampled_from(modes))
    for key, real, allowed in zip(("userId", "anonymousId"), present,
                                  (with_user_id, with_anonymous_id), strict=True):
        if real:
            message[key] = _fit(draw(_user_ids(max_len)), budget, min_len=1)
        elif allowed is None:
            other = draw(st.sampled_from((_ABSENT, None, "")))
            if other is not _ABSENT:
                message[key] = other


@dataclass(frozen=True)
class _GroupSpec:
    limits: Limits
    with_user_id: bool | None = None
    with_anonymous_id: bool | None = None
    with_traits: bool | None = None
    group_id: Strategy[str] | None = None
    traits: Strategy[dict[str, Any]] | None = None
    rich: bool = True
    typed: bool = False  # always "type": "group", as a batch item needs
    above: int = 2


@st.composite
def _group_payload(draw: Draw, spec: _GroupSpec, budget: int) -> dict[str, Any]:
    limits, payload = spec.limits, dict[str, Any]()
    kind = "group" if spec.typed else draw(st.sampled_from((_ABSENT, "group", None)))
    if kind is not _ABSENT:
        payload["type"] = kind
    share = max(16, (budget - 96) // 3)
    if spec.group_id is None:
        payload["groupId"] = _fit(draw(_group_ids(1, limits.max_id_length)), share, min_len=1)
    else:
        payload["groupId"] = _check_group_id(draw(spec.group_id), limits)
    _draw_identity(draw, payload, spec.with_user_id, spec.with_anonymous_id,
                   limits.max_id_length, share)
    used = _size(payload)
    assume(used + 32 <= budget)  # only a caller's oversized group_id gets here
    if spec.traits is not None:
        payload["traits"] = _check_traits(draw(spec.traits), limits)
        if spec.with_traits and not payload["traits"]:
            raise InvalidArgument("with_traits=True, but the traits strategy drew {}")
        used += _entry("traits", payload["traits"])
        assume(used <= budget)  # the caller's traits left no room
    used = _draw_optional(draw, payload, limits, budget - 32, used)
    if spec.traits is None:
        wanted = draw(st.integers(0, 3)) > 0 if spec.with_traits is None else spec.with_traits
        if wanted:
            trait_spec = _TraitSpec(limits, min_size=1, rich=spec.rich, above=spec.above)
            payload["traits"] = _draw_traits(draw, trait_spec, budget - used - 12,
                                             payload["groupId"])  # ', "traits": '
        elif (empty := draw(st.sampled_from((_ABSENT, None, {})))) is not _ABSENT:
            payload["traits"] = empty
    return payload


def group_payloads(
    *, with_user_id: bool | None = None, with_anonymous_id: bool | None = None,
    with_traits: bool | None = None, group_id: str | Strategy[str] | None = None,
    traits: Strategy[dict[str, Any]] | None = None, limits: Limits | None = None,
) -> Strategy[dict[str, Any]]:
    """Valid JSON bodies for ``POST /v1/group``, edges included, each within the body limit.

    Covers groupIds up to 255 characters, up to 255 traits, trait names up to 255 characters,
    values nested 3 levels, every reserved trait, Unicode and emoji, userId and/or anonymousId
    (a missing one absent, null or ``""``), every accepted ISO 8601 form, context,
    integrations, messageId up to 100 characters, ``type`` absent, null or ``"group"``, and
    extra SDK fields. Edges combine as far as the 32,768-byte body limit allows, and some
    payloads are filled up to it. The limit holds for every common encoding: ``json.dumps``
    with its defaults (ASCII escapes, spaced separators), as ``requests.post(json=...)`` sends
    it, and compact UTF-8 (orjson, ``JSON.stringify``, httpx, Go).

    Narrowing: ``with_user_id`` / ``with_anonymous_id``: True for a non-empty id, False for no
    such key, None for either. ``with_traits``: True for non-empty traits, False for none
    (absent, null or ``{}``). ``group_id``: a value or a strategy; required with a custom
    groupId pattern. ``traits``: a strategy of valid traits. ``limits``: generate for these.
    Shrinks toward a short groupId and a userId, with no traits and no optional fields.
    """
    limits = _check_limits(limits)
    for name, flag in (("with_user_id", with_user_id), ("with_anonymous_id", with_anonymous_id),
                       ("with_traits", with_traits)):
        _check_flag(name, flag)
    if with_user_id is False and with_anonymous_id is False:
        raise InvalidArgument("a valid group message needs a userId or an anonymousId: "
                              "with_user_id and with_anonymous_id cannot both be False")
    if group_id is None and not _default_pattern(limits):
        raise InvalidArgument(f"with the custom groupId pattern {limits.group_id_pattern!r}, "
                              "pass group_id (a value or a strategy of valid ids)")
    if group_id is not None and not isinstance(group_id, st.SearchStrategy):
        group_id = st.just(_check_group_id(group_id, limits))
    if traits is not None and not isinstance(traits, st.SearchStrategy):
        raise InvalidArgument(f"traits must be a strategy of traits objects, not {traits!r}")
    if traits is not None and with_traits is False:
        raise InvalidArgument("with_traits=False contradicts a traits strategy")
    spec = _GroupSpec(limits, with_user_id, with_anonymous_id, with_traits, group_id, traits)
    return _group_payload(spec, limits.max_body_bytes)



# --- batches ----------------------------------------------------------------------------------


def batches(*, min_size: int = 1, max_size: int = 20, types: Iterable[str] | None = None,
            limits: Limits | None = None) -> Strategy[dict[str, Any]]:
    """Valid ``/v1/batch`` bodies: ``{"batch": [...]}`` of ``min_size`` to ``max_size`` items.

    Items are group messages (with ``"type": "group"``) mixed with the other ``types``
    (default: all six), each within the item limit (32 KB) and all within the batch limit
    (500 KB), for ``json.dumps``' defaults and compact UTF-8 alike (as above); sometimes
    with batch-level ``sentAt``, ``context``, ``integrations`` and ``writeKey``. Some batches
    are filled up to the limits (one long trait or property an item). A batch of more than 16
    items repeats 16 drawn ones (the copies without a messageId). Shrinks toward ``min_size``
    group items.
    """
    limits = _check_limits(limits)
    kinds = ("group", *MESSAGE_TYPES) if types is None else tuple(types)
    if isinstance(types, str) or not kinds or not set(kinds) <= set(MESSAGE_TYPES):
        raise InvalidArgument(f"types must be some of {MESSAGE_TYPES}, not {types!r}")
    high = _check_size("max_size", max_size, 0, limits.max_batch_items)
    low = _check_size("min_size", min_size, 0, high)
    if "group" in kinds and not _default_pattern(limits):
        raise InvalidArgument("group items need the default groupId pattern")
    if high and (limits.max_batch_bytes - 4096) // high < 192:
        raise InvalidArgument(f"{high} items cannot all fit the batch limit; lower max_size")
    return _batches(low, high, tuple(dict.fromkeys(kinds)), limits)


@st.composite
def _batches(draw: Draw, low: int, high: int, kinds: tuple[str, ...],
             limits: Limits) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, strategy in (("sentAt", _ANY_TIME), ("context", contexts()),
                          ("integrations", _INTEGRATIONS), ("writeKey", st.just("batch-key"))):
        if draw(st.booleans()):
            body[key] = draw(strategy)
    count = draw(st.integers(low, high))
    each = min(limits.max_item_bytes, (limits.max_batch_bytes - _size(body) - 16) // max(count, 1)
               - 2)  # each item's ", "
    pool = [_draw_item(draw, draw(st.sampled_from(kinds)), limits, each)
            for _ in range(min(count, 16))]
    if draw(st.integers(0, 7)) == 7:  # up to the limits: the batch's, or one item's
        for item in pool:
            _fill(draw, item, limits, each)
    body["batch"] = [copy.deepcopy(pool[i % len(pool)]) for i in range(count)]
    for item in body["batch"][len(pool):]:  # copies: no messageId, so no duplicates
        item.pop("messageId", None)
    return body


def _draw_item(draw: Draw, kind: str, limits: Limits, budget: int) -> dict[str, Any]:
    """One valid batch item of ``kind``, of at most ``budget`` bytes."""
    if kind == "group":
        return draw(_group_payload(_GroupSpec(limits, rich=False, typed=True, above=4), budget))
    item: dict[str, Any] = {"type": kind}
    share = max(16, (budget - 128) // 4)
    if kind == "alias":
        for key in ("previousId", "userId"):
            item[key] = _fit(draw(_user_ids(limits.max_id_length)), share, min_len=1)
    else:
        _draw_identity(draw, item, None, None, limits.max_id_length, share)
    if kind == "track":
        item["event"] = _fit(draw(_mostly(st.sampled_from(_EVENTS), _texts(64, 1))), share, 1)
    if kind in ("page", "screen") and draw(st.booleans()):
        item["name"] = _fit(draw(_words(_COMPANIES)), share)
    used = _draw_optional(draw, item, limits, budget - 32, _size(item))
    if kind != "alias" and draw(st.booleans()):  # 16 bytes: ', "properties": '
        extra = "traits" if kind == "identify" else "properties"
        depth = max(0, min(2, limits.max_json_depth - 5))
        item[extra] = _container(draw, False, depth + 1, budget - used - 16, False)
    return item


def _fill(draw: Draw, item: dict[str, Any], limits: Limits, budget: int) -> None:
    """Grow ``item`` to about ``budget`` bytes with one long trait or property (not an alias)."""
    if item["type"] == "alias":
        return
    key = "traits" if item["type"] in ("group", "identify") else "properties"
    if not isinstance(item.get(key), dict):
        item[key] = {}
    holder: dict[str, Any] = item[key]
    if item["type"] == "group" and len(holder) >= limits.max_traits:
        return
    name = next(_fresh_names(holder, limits.max_trait_name_length), None)
    left = budget - _size(item) - _size(name) - 4  # ": " and ", "
    if name is not None and left >= 2:
        holder[name] = _repeat_fit(draw(st.text(_CHARS, min_size=1, max_size=3)), left)


# --- SDK calls --------------------------------------------------------------------------------

_SDK_LIMIT: Final = 32 << 10  # the Python SDK's own message limit, on json.dumps' default form
_SDK_ADDS: Final = 1024  # what the SDK adds: type, messageId, timestamp, context.library


def group_calls(*, with_user_id: bool | None = None, with_anonymous_id: bool | None = None,
                max_traits: int = 32) -> Strategy[dict[str, Any]]:
    """Keyword arguments for the Python SDK's ``Client.group(**call)`` that make a valid message.

    Keys: ``user_id``, ``anonymous_id`` (a string, a positive int the SDK stringifies, or
    ``None``/``""`` when the other is set), ``group_id``, ``traits`` (JSON-safe, no NaN; up to
    ``max_traits``, at most 255: a few dozen keep each example quick to send and to shrink),
    ``context``, ``timestamp`` (a timezone-aware datetime from 2000 to 2100), ``integrations``
    and ``message_id``. The message the SDK makes of it (with messageId, timestamp and
    ``context.library`` added) stays under its own 32 KB check, which measures ``json.dumps``'
    default form, and so under mockseg's limits in any encoding. The SDK adds
    ``context.library`` to the dict it gets: pass a copy.
    Shrinks toward a call with a user_id only and empty traits.
    """
    _check_flag("with_user_id", with_user_id)
    _check_flag("with_anonymous_id", with_anonymous_id)
    if with_user_id is False and with_anonymous_id is False:
        raise InvalidArgument("the SDK needs user_id or anonymous_id: both cannot be False")
    most = _check_size("max_traits", max_traits, 0, _DEFAULT.max_traits)
    return _group_calls(with_user_id, with_anonymous_id, most)


@st.composite
def _group_calls(draw: Draw, with_user_id: bool | None, with_anonymous_id: bool | None,
                 max_traits: int) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    _draw_identity(draw, ids, with_user_id, with_anonymous_id, 64, 2**31)
    for key in ("userId", "anonymousId"):
        if ids.get(key) and draw(st.integers(0, 5)) == 5:
            ids[key] = draw(st.integers(1, 10**12))
    call: dict[str, Any] = {
        "user_id": ids.get("userId"), "anonymous_id": ids.get("anonymousId"),
        "group_id": draw(_group_ids(1, _DEFAULT.max_id_length)),
        "traits": {},
        "context": draw(st.one_of(st.none(), contexts())),
        "timestamp": draw(st.datetimes(datetime(2000, 1, 1), datetime(2100, 12, 31, 23, 59),
                                       timezones=_OFFSETS)),
        "integrations": draw(st.one_of(st.none(), _INTEGRATIONS)),
        "message_id": draw(st.one_of(st.none(), _message_ids(100))),
    }
    if max_traits and draw(st.integers(0, 9)):  # the SDK measures json.dumps' default form
        rest = {key: value for key, value in call.items() if key != "timestamp"}
        budget = _SDK_LIMIT - _SDK_ADDS - _size(rest) - 12  # ', "traits": '
        spec = _TraitSpec(_DEFAULT, min_size=1, max_size=max_traits)
        call["traits"] = _draw_traits(draw, spec, budget, call["group_id"])
    return call
