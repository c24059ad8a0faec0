"""Valid payloads: the building blocks, group payloads, batches and SDK-level calls."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mockseg.rules import ADDRESS_KEYS, MESSAGE_TYPES, Limits
from mockseg.strategies._base import (
    _ABSENT,
    _B62,
    _CHARS,
    _COMPANIES,
    _DEFAULT,
    _EMAILS,
    _EVENTS,
    _FIRST,
    _FLOATS,
    _INTEGRATIONS,
    _LAST,
    _LIBRARIES,
    _LOWER,
    _MIN_ENTRY,
    _OFFSETS,
    _PHONES,
    _RESERVED,
    _TINY_SCALARS,
    _TRAIT_NAMES,
    _URLS,
    _USER_AGENTS,
    _WORDS,
    _Y2K,
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
    _user_ids,
    _words,
)

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


@st.composite
def _timestamps(draw: Draw, low: datetime, high: datetime) -> str:
    span = [(end - _Y2K) // timedelta(microseconds=1) for end in (low, high)]
    at = _Y2K + timedelta(microseconds=draw(st.integers(*span)))  # one draw, not seven
    text = f"{at.year:04d}-{at.month:02d}-{at.day:02d}{draw(st.sampled_from('Tt'))}"
    text += f"{at.hour:02d}:{at.minute:02d}"
    seconds = draw(st.sampled_from(("ms", "s", "fraction", "none", "leap")))
    if seconds == "leap":
        text = text[:11] + "23:59:60"
    elif seconds != "none":
        text += f":{at.second:02d}"
    if seconds == "ms":
        text += f".{at.microsecond // 1000:03d}"
    elif seconds == "fraction":
        text += draw(st.sampled_from(".,")) + draw(st.text("0123456789", min_size=1, max_size=9))
    zone = draw(st.sampled_from(("Z", "+00:00", "+hh:mm", "+hhmm", "+hh", "", "z")))
    if zone.startswith("+h"):
        sign, hours, minutes = draw(st.sampled_from("+-")), draw(st.integers(0, 23)), draw(
            st.integers(0, 59))
        zone = f"{sign}{hours:02d}" + {"+hh:mm": f":{minutes:02d}", "+hhmm": f"{minutes:02d}",
                                       "+hh": ""}[zone]
    return text + zone


_ANY_TIME = _timestamps(_FIRST, _LAST)


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


@cache
def _reserved_values(with_address: bool) -> dict[str, Strategy[Json]]:
    address = st.builds(
        lambda known, unknown: {**known, **unknown},
        st.fixed_dictionaries({}, optional={key: _words(_COMPANIES + _WORDS, 32)
                                            for key in sorted(ADDRESS_KEYS)}),
        _mostly(st.just({}), st.dictionaries(st.text(_CHARS, max_size=8),
                                             st.text(_CHARS, max_size=8), max_size=1)),
    )
    values: dict[str, Strategy[Json]] = {
        "name": _words(_COMPANIES), "email": _mostly(_EMAILS, _texts(32)),
        "website": _mostly(_URLS, _texts(32)), "phone": _mostly(_PHONES, _texts(20)),
        "industry": _words(_WORDS), "plan": _words(_WORDS),
        "employees": st.one_of(st.integers(0, 10**6), st.integers(-(2**63), 2**64),
                               st.integers(0, 10**6).map(float)),
        "revenue": st.one_of(st.integers(0, 10**12), _FLOATS), "address": address,
        "description": _words(_COMPANIES, 300), "avatar": _mostly(_URLS, _texts(32)),
        "createdAt": _ANY_TIME, "updatedAt": _ANY_TIME,
    }
    return {name: _mostly(strategy, st.none()) for name, strategy in values.items()
            if with_address or name != "address"}


@cache
def _reserved_subsets(with_address: bool) -> Strategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=_reserved_values(with_address))


def reserved_traits(*, names: Iterable[str] | None = None,
                    limits: Limits | None = None) -> Strategy[dict[str, Any]]:
    """Some of the reserved traits (``names``, default all), each of its documented type.

    Values are mostly realistic (an email shaped like one, http(s) URLs), so warnings are rare;
    a value may be null, which counts as absent. ``address`` needs ``max_trait_depth >= 1``.
    Shrinks toward ``{}``.
    """
    pool = _reserved_values(_trait_depth(_check_limits(limits)) >= 1)
    chosen = list(pool) if names is None else list(names)
    if isinstance(names, str) or not set(chosen) <= set(pool):
        raise InvalidArgument(f"names must be some of {sorted(pool)}, not {names!r}")
    return st.fixed_dictionaries({}, optional={name: pool[name] for name in chosen})


def _trait_depth(limits: Limits, above: int = 2) -> int:
    """How deep trait values may nest: the limit, less what the JSON depth limit forbids."""
    return max(0, min(limits.max_trait_depth, limits.max_json_depth - above))


def _capacity(max_len: int) -> int:
    """How many names ``_fresh_names`` can make."""
    return 1 if max_len == 0 else 62 if max_len == 1 else 62 + 62**2


def _fresh_names(taken: dict[str, Any], max_len: int) -> Iterator[str]:
    """Short names neither in ``taken`` (checked as each is handed out) nor reserved."""
    for number in range(_capacity(max_len)):
        name = ""
        while max_len and number >= 0:  # bijective base 62: "0" .. "Z", then "00" .. "ZZ"
            name, number = _B62[number % 62] + name, number // 62 - 1
        if name not in taken and name not in _RESERVED:
            yield name


_SCALARS: Final[dict[str, Strategy[Json]]] = {
    "int": st.integers(-(2**63), 2**64), "float": _FLOATS, "bool": st.booleans(),
    "null": st.none(),
}


def _scalar(draw: Draw, budget: int, rich: bool) -> Json:
    kind = draw(st.sampled_from(("text", "int", "float", "bool", "null")))
    if kind == "text":
        text = _words(_COMPANIES + _WORDS) if rich else st.text(_CHARS, max_size=6)
        return _fit(draw(text), budget) if budget >= 2 else 0
    value = draw(_SCALARS[kind])
    return value if _size(value) <= budget else 0


def _value(draw: Draw, depth: int, budget: int, rich: bool) -> Json:
    """A JSON value of at most ``budget`` bytes, with containers ``depth`` levels deep at most."""
    if depth <= 0 or budget < 12 or draw(st.integers(0, 2)) < 2:  # a container one time in 3
        return _scalar(draw, budget, rich)
    return _container(draw, draw(st.booleans()), depth, budget, rich)


def _container(draw: Draw, as_list: bool, depth: int, budget: int, rich: bool) -> Json:
    count = draw(st.integers(0, 4 if rich else 2))
    share = (budget - 2) // max(count, 1)  # each item's bytes, its ", " included
    if as_list:
        return [_value(draw, depth - 1, share - 2, rich) for _ in range(count if share > 2 else 0)]
    obj: dict[str, Json] = {}
    for _ in range(count):
        key = _fit(draw(st.text(_CHARS, max_size=8)), share // 2)
        if (rest := share - _size(key) - 4) < 1:  # ": " and ", "
            break
        obj[key] = _value(draw, depth - 1, rest, rich)
    return obj


@cache
def _trait_names(longest: int, kind: str) -> Strategy[str]:
    if kind == "rich":
        return st.one_of(st.sampled_from(_TRAIT_NAMES).map(lambda name: name[:longest]),
                         _texts(longest))
    if kind == "many":  # ASCII: hundreds of names must cost Hypothesis few bytes
        return st.text(_LOWER + "_-. ", max_size=min(longest, 4))
    return st.text(_CHARS, max_size=min(longest, 12))


@dataclass(frozen=True)
class _TraitSpec:
    limits: Limits
    min_size: int = 0
    max_size: int | None = None
    reserved: bool = True
    rich: bool = True
    above: int = 2  # JSON levels above the trait values: the body and the traits object


def _draw_traits(draw: Draw, spec: _TraitSpec, budget: int,
                 group_id: str | None = None) -> dict[str, Any]:
    """Traits of at most ``budget`` bytes: each trait's share leaves room for those after it."""
    limits = spec.limits
    longest, depth = limits.max_trait_name_length, _trait_depth(limits, spec.above)
    high = limits.max_traits if spec.max_size is None else spec.max_size
    high = min(high, _capacity(longest), max(0, (budget - 2) // _MIN_ENTRY))
    assume(high >= spec.min_size)  # only a caller's tiny budget or limits get here
    mode = draw(st.integers(0, 11)) if spec.rich else 0  # a few; any number; the most allowed
    count = high if mode == 11 else draw(st.integers(
        spec.min_size, high if mode == 10 else min(high, spec.min_size + 5)))
    out: dict[str, Any] = {}
    used, fresh = 2, _fresh_names(out, longest)

    def room() -> int:
        return budget - used - _MIN_ENTRY * (count - len(out) - 1)

    if spec.reserved and count and draw(st.booleans()):
        for name, value in draw(_reserved_subsets(depth >= 1)).items():
            if len(out) < count and len(name) <= longest and _entry(name, value) <= room():
                out[name] = value
                used += _entry(name, value)
    if (group_id is not None and len(out) < count and longest >= 2 and draw(st.booleans())
            and _entry("id", group_id) <= room()):  # an id trait equal to the groupId
        out["id"] = group_id
        used += _entry("id", group_id)
    many = count > 32  # many traits: short names and small values, to draw little
    names = _trait_names(longest, "many" if many else "rich" if spec.rich else "plain")
    while len(out) < count:
        left = room()
        name = _fit(draw(names), left - 5)  # room for ": ", ", " and a 1-byte value
        if name in out or name in _RESERVED or _size(name) + 5 > left:
            name = next(fresh)
        value = draw(_TINY_SCALARS) if many else _value(draw, depth, left - _size(name) - 4,
                                                         spec.rich)
        out[name] = value if _entry(name, value) <= left else 0
        used += _entry(name, out[name])
    if spec.rich and len(out) < high and draw(st.integers(0, 7)) == 7:  # fill up to the limit
        name, seed = next(fresh), draw(st.text(_CHARS, min_size=1, max_size=3))
        if (left := budget - used - _size(name) - 4) >= 2:
            out[name] = _repeat_fit(seed, left)
    return out


def traits(*, limits: Limits | None = None, min_size: int = 0, max_size: int | None = None,
           max_bytes: int | None = None, reserved: bool = True) -> Strategy[dict[str, Any]]:
    """Valid ``traits`` objects: reserved traits of their types and custom traits of any JSON.

    Covers up to ``max_traits`` (255) traits, names up to 255 characters (Unicode, emoji,
    dots, spaces), values nested ``max_trait_depth`` (3) levels, all within ``max_bytes`` bytes
    (default: the body limit less 1 KB) in any common encoding: ``json.dumps``' defaults and
    compact UTF-8 (orjson, ``JSON.stringify``). ``reserved=False`` never uses a reserved
    name. Shrinks toward ``{}``, then toward few traits with short names and scalar values.
    """
    limits = _check_limits(limits)
    high = _check_size("max_size", limits.max_traits if max_size is None else max_size, 0,
                       limits.max_traits)
    low = _check_size("min_size", min_size, 0, high)
    budget = _check_size("max_bytes", limits.max_body_bytes - 1024 if max_bytes is None
                         else max_bytes, 2 + _MIN_ENTRY * low, 2**31)
    _check_flag("reserved", reserved)
    return _traits(_TraitSpec(limits, low, high, reserved), budget)


@st.composite
def _traits(draw: Draw, spec: _TraitSpec, budget: int) -> dict[str, Any]:
    return _draw_traits(draw, spec, budget)


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
