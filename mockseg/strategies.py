"""Hypothesis strategies for Segment's group call, as mockseg enforces it.

``group_payloads()`` generates valid ``POST /v1/group`` bodies over the whole valid space, edges
included. ``invalid_group_payloads()`` generates :class:`InvalidCase` values that break exactly
one rule of CONTRACT.md's table and carry the error the validator must report first.
``batches()`` generates ``/v1/batch`` bodies, and ``group_calls()`` the keyword arguments of the
Python SDK's ``Client.group``. The building blocks (``group_ids()``, ``traits()``,
``reserved_traits()``, ``contexts()``, ``timestamps()``) compose on their own.

Every body fits the size limits by construction. Its parts are drawn against a byte budget,
measured as compact JSON both ASCII-escaped and as UTF-8 (whichever is larger counts). Long
strings repeat a short drawn seed, so an edge-sized payload costs Hypothesis little. Import this
module yourself (``from mockseg.strategies import group_payloads``): ``import mockseg`` does not
import it, nor Hypothesis.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final, NamedTuple

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mockseg.rules import ADDRESS_KEYS, MESSAGE_TYPES, Limits
from mockseg.validation import check_message

__all__ = [
    "GROUP_ID_ALPHABET", "InvalidCase", "batches", "contexts", "group_calls", "group_ids",
    "group_payloads", "invalid_group_payloads", "reserved_traits", "timestamps", "traits",
]

Json = Any
Strategy = st.SearchStrategy
Draw = st.DrawFn

#: The characters of a groupId under the default pattern.
GROUP_ID_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-.:"
_DEFAULT: Final = Limits()
_CHARS: Final = st.characters(exclude_categories=["Cs"])  # any Unicode but lone surrogates
_ABSENT: Final = object()  # leave the key out, beside null and ""
_MIN_ENTRY: Final = 8  # bytes of the smallest trait we fall back to: "zz":0 and a comma
_B62: Final = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Reserved traits and the type CONTRACT.md gives each (rule 11).
_RESERVED: Final = {
    "name": "a string", "email": "a string", "website": "a string", "phone": "a string",
    "industry": "a string", "employees": "an integer", "revenue": "a number", "plan": "a string",
    "address": "an object", "description": "a string", "avatar": "a string",
    "createdAt": "an ISO 8601 date-time", "updatedAt": "an ISO 8601 date-time",
}
_TIMESTAMP_FIELDS: Final = ("timestamp", "sentAt", "originalTimestamp")
_FIRST, _LAST = datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)
_Y2K = datetime(2000, 1, 1)
_COMPANIES = ("Acme Corp", "Initech", "Zürich Versicherung", "東京エレクトロン", "Rocket 🚀 Labs")
_WORDS = ("enterprise", "pro", "free", "Financial Services", "Kraków", "São Paulo", "Ωmega", "")
_TRAIT_NAMES = ("plan_tier", "seats", "region", "isTrial", "tags", "metadata", "id", "Ünïcødé",
                "emoji_🚀", "with space", "dotted.name", "a[0]", "", "__proto__")
_USER_AGENTS = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15",
                "analytics-python/2.4.0", "curl/8.4.0")
_LIBRARIES = ("analytics.js", "analytics-python", "analytics-node", "analytics-go")
_DESTINATIONS = ("All", "Mixpanel", "Amplitude", "Google Analytics", "Salesforce")
_EVENTS = ("Order Completed", "Signed Up", "Bestellung abgeschlossen", "注文完了", "🎉")
_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"


# --- sizes ------------------------------------------------------------------------------------


def _size(value: Json) -> int:
    """Bytes of ``value`` as compact JSON: the larger of its ASCII-escaped and UTF-8 forms."""
    escaped = json.dumps(value, separators=(",", ":"), allow_nan=False)
    if "\\u" not in escaped:
        return len(escaped)
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return max(len(escaped), len(plain.encode()))


def _entry(key: str, value: Json) -> int:
    return _size(key) + _size(value) + 2  # the colon, and a comma


def _fit(text: str, budget: int, min_len: int = 0) -> str:
    """The longest prefix of ``text`` (at least ``min_len`` characters) whose JSON fits."""
    if _size(text) <= budget:
        return text
    total, cut = 2, 0
    for char in text:
        total += _size(char) - 2
        if total > budget:
            break
        cut += 1
    return text[: max(cut, min_len)]


def _repeat(seed: str, length: int) -> str:
    return (seed * (length // len(seed) + 1))[:length] if seed else ""


def _repeat_fit(seed: str, budget: int) -> str:
    """``seed`` repeated for as long as its JSON fits in ``budget`` bytes."""
    costs = [_size(char) - 2 for char in seed]
    times = max(0, (budget - 2) // sum(costs))
    text, total = seed * times, 2 + sum(costs) * times
    for char, cost in zip(seed, costs, strict=True):
        if total + cost > budget:
            break
        text, total = text + char, total + cost
    return text


# --- small strategies -------------------------------------------------------------------------


@cache
def _repeated(alphabet: Strategy[str] | str, lengths: Strategy[int]) -> Strategy[str]:
    """Text of a drawn length made by repeating a short seed: long, yet cheap to draw."""
    return st.builds(_repeat, st.text(alphabet, min_size=1, max_size=8), lengths)


@cache
def _texts(max_len: int, min_len: int = 0, alphabet: Strategy[str] | str = _CHARS) -> Strategy[str]:
    """Short text mostly; sometimes exactly ``max_len`` characters, or any length up to it."""
    short = st.text(alphabet, min_size=min_len, max_size=max(min_len, min(max_len, 16)))
    if max_len <= 16:
        return short
    return st.one_of(short, _repeated(alphabet, st.just(max_len)),
                     _repeated(alphabet, st.integers(min_len, max_len)))


@st.composite
def _mostly(draw: Draw, usual: Strategy[Any], rare: Strategy[Any]) -> Any:
    """Five draws in six from ``usual``; shrinks toward it."""
    return draw(rare) if draw(st.integers(0, 5)) == 5 else draw(usual)


@cache
def _words(pool: tuple[str, ...], max_len: int = 64) -> Strategy[str]:
    return _mostly(st.sampled_from(pool), _texts(max_len))


_DOMAINS = st.builds("{}.{}".format, st.text(_LOWER, min_size=1, max_size=12),
                     st.sampled_from(("com", "io", "co.uk", "de", "jp")))
_EMAILS = st.builds("{}@{}".format, st.text(_LOWER + "._+-", min_size=1, max_size=16), _DOMAINS)
_URLS = st.builds("{}://{}{}".format, st.sampled_from(("https", "http")), _DOMAINS,
                  st.sampled_from(("", "/", "/about", "/logo.png", "/avatars/42.png")))
_PHONES = st.builds("+{} {}".format, st.integers(1, 999),
                    st.text("0123456789 -", min_size=4, max_size=12))
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_SMALL_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-99, 99),
                           st.text(_CHARS, max_size=3))
_TINY_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-99, 99),
                          st.text(_LOWER, max_size=3))
_SETTINGS = st.one_of(st.booleans(), st.none(), st.fixed_dictionaries({}, optional={
    "apiKey": st.text(_CHARS, max_size=12), "session_id": st.integers(0, 10**6)}))
_INTEGRATIONS = st.builds(
    lambda known, other: {**known, **other},
    st.fixed_dictionaries({}, optional=dict.fromkeys(_DESTINATIONS, _SETTINGS)),
    _mostly(st.just({}), st.dictionaries(st.text(_CHARS, max_size=12), _SETTINGS, max_size=1)),
)
_OFFSETS = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)),
                     st.integers(-(23 * 60 + 59), 23 * 60 + 59))


@cache
def _user_ids(max_len: int) -> Strategy[str]:
    realistic = st.one_of(st.builds("user_{}".format, st.integers(0, 10**9)),
                          st.uuids().map(str), _EMAILS)
    return _mostly(realistic, _texts(max_len, 1)).map(lambda text: text[:max_len])


@cache
def _message_ids(max_len: int) -> Strategy[str]:
    realistic = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: f"ajs-next-{u.hex}"))
    return st.one_of(realistic, _texts(max_len)).map(lambda text: text[:max_len])


# --- argument checks --------------------------------------------------------------------------


def _check_limits(limits: Limits | None) -> Limits:
    if limits is None:
        return _DEFAULT
    if not isinstance(limits, Limits):
        raise InvalidArgument(f"limits must be a mockseg.Limits, not {limits!r}")
    if limits.max_id_length < 1 or limits.max_body_bytes < 256 or limits.max_json_depth < 4:
        raise InvalidArgument("limits leave no valid group message: need max_id_length >= 1, "
                              f"max_body_bytes >= 256 and max_json_depth >= 4; got {limits}")
    return limits


def _default_pattern(limits: Limits) -> bool:
    return limits.group_id_pattern == _DEFAULT.group_id_pattern


def _check_flag(name: str, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"{name} must be True, False or None, not {value!r}")


def _check_size(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be an integer from {low} to {high}, not {value!r}")
    return value


def _check_group_id(value: object, limits: Limits) -> str:
    if (not isinstance(value, str) or not value or len(value) > limits.max_id_length
            or not limits.group_id_ok(value)):
        raise InvalidArgument(f"group_id {value!r} is not a valid groupId under {limits}")
    return value


def _check_traits(value: object, limits: Limits) -> dict[str, Any]:
    errors = [e for e in check_message({"traits": value}, "group", limits)[0]
              if e.field.startswith("traits")]
    if not isinstance(value, dict) or errors:
        raise InvalidArgument(f"the traits strategy drew invalid traits {value!r}: {errors}")
    return value


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
    share = (budget - 2) // max(count, 1)  # each item's bytes, its comma included
    if as_list:
        return [_value(draw, depth - 1, share - 1, rich) for _ in range(count if share > 1 else 0)]
    obj: dict[str, Json] = {}
    for _ in range(count):
        key = _fit(draw(st.text(_CHARS, max_size=8)), share // 2)
        if (rest := share - _size(key) - 2) < 1:
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
        name = _fit(draw(names), left - 3)
        if name in out or name in _RESERVED or _size(name) + 3 > left:
            name = next(fresh)
        value = draw(_TINY_SCALARS) if many else _value(draw, depth, left - _size(name) - 2,
                                                         spec.rich)
        out[name] = value if _entry(name, value) <= left else 0
        used += _entry(name, out[name])
    if spec.rich and len(out) < high and draw(st.integers(0, 7)) == 7:  # fill up to the limit
        name, seed = next(fresh), draw(st.text(_CHARS, min_size=1, max_size=3))
        if (left := budget - used - _size(name) - 2) >= 2:
            out[name] = _repeat_fit(seed, left)
    return out


def traits(*, limits: Limits | None = None, min_size: int = 0, max_size: int | None = None,
           max_bytes: int | None = None, reserved: bool = True) -> Strategy[dict[str, Any]]:
    """Valid ``traits`` objects: reserved traits of their types and custom traits of any JSON.

    Covers up to ``max_traits`` (255) traits, names up to 255 characters (Unicode, emoji,
    dots, spaces), values nested ``max_trait_depth`` (3) levels, all within ``max_bytes`` of
    compact JSON (default: the body limit less 1 KB). ``reserved=False`` never uses a reserved
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
            payload["traits"] = _draw_traits(draw, trait_spec, budget - used - 11,
                                             payload["groupId"])
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
    extra SDK fields. Edges combine as far as 32,768 bytes of compact JSON allow (measured
    both ASCII-escaped and as UTF-8); some payloads are filled up to the limit.

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


# --- invalid payloads -------------------------------------------------------------------------


class InvalidCase(NamedTuple):
    """A group body that breaks one rule, with the first error the validator must report."""

    payload: dict[str, Any]
    field: str
    message: str


@st.composite
def _bad_timestamps(draw: Draw) -> str:
    """Strings that are not ISO 8601 date-times, each made from a valid one."""
    good, how = draw(_ANY_TIME), draw(st.integers(0, 7))
    if how == 6:
        return good + draw(st.sampled_from((" ", "\n", "x", " UTC")))
    if how == 7:
        return draw(st.sampled_from((" ", "T", "~"))) + draw(st.sampled_from((good, "")))
    return (good[:10] + " " + good[11:], good[:10], good[:5] + "13" + good[7:],
            good[:11] + "24" + good[13:], "٢" + good[1:], good[:4] + good[5:7] + good[8:])[how]


#: Wrong values, by letter: a missing value, a string, a number, a number with a fraction,
#: a boolean, a list, an object, a non-ISO date-time, a type other than "group".
_WRONG: Final[dict[str, Strategy[Json]]] = {
    "a": st.sampled_from((_ABSENT, None, "")),
    "s": st.text(_CHARS, max_size=12),
    "n": st.one_of(st.integers(-(10**9), 10**9), _FLOATS),
    "f": st.integers(-(10**6), 10**6).map(lambda whole: whole + 0.5),
    "b": st.booleans(),
    "l": st.lists(_SMALL_SCALARS, max_size=3),
    "o": st.dictionaries(st.text(_CHARS, max_size=3), _SMALL_SCALARS, max_size=2),
    "t": _bad_timestamps(),
    "y": st.sampled_from(("track", "identify", "alias", "", "Group", " group", "group\n")),
}
_WRONG_FOR: Final = {"a string": "nblo", "an integer": "fsblo", "a number": "sblo",
                     "an object": "snbl", "an ISO 8601 date-time": "tnblo"}
Path = tuple[str | None, ...]  # None: a key to draw
#: Rules broken by one wrong value at one place: (rule, path, wrong values, message).
_POINTS: Final[tuple[tuple[str, Path, str, str], ...]] = (
    ("1", ("groupId",), "a", "Missing required field: groupId"),
    ("2", ("groupId",), "nblo", "groupId must be a string"),
    ("6", ("userId",), "nblo", "userId must be a string"),
    ("6", ("anonymousId",), "nblo", "anonymousId must be a string"),
    ("7", ("traits",), "snbl", "traits must be an object"),
    *(("11", ("traits", name), _WRONG_FOR[kind], f"Trait {name} must be {kind}")
      for name, kind in _RESERVED.items()),
    *(("12", (name,), "tnblo", f"{name} must be an ISO 8601 date-time")
      for name in _TIMESTAMP_FIELDS),
    ("13", ("messageId",), "Mnblo", "messageId must be a string of at most {most} characters"),
    ("14", ("context",), "snbl", "context must be an object"),
    ("14", ("context", "ip"), "nblo", "context.ip must be a string"),
    ("14", ("context", "userAgent"), "nblo", "context.userAgent must be a string"),
    ("14", ("context", "library"), "snbl", "context.library must be an object"),
    ("14", ("context", "library", "name"), "nblo", "context.library.name must be a string"),
    ("14", ("context", "library", "version"), "nblo",
     "context.library.version must be a string"),
    ("15", ("integrations",), "snbl", "integrations must be an object"),
    ("15", ("integrations", None), "snl", "integrations.{key} must be a boolean or an object"),
    ("16", ("type",), "ynblo", 'type must be "group"'),
)


@cache
def _wrong(kinds: str, most: int) -> Strategy[Json]:
    """Wrong values of the kinds listed (see ``_WRONG``); "M": a string over ``most`` long."""
    return st.one_of(*(_repeated(_CHARS, st.integers(most + 1, most + 16)) if kind == "M"
                       else _WRONG[kind] for kind in kinds))


def _break_point(draw: Draw, payload: dict[str, Any], limits: Limits,
                 point: tuple[str, Path, str, str]) -> tuple[str, str]:
    _, path, kinds, message = point
    parents = [str(part) for part in path[:-1]]
    key = path[-1] if path[-1] is not None else draw(
        _mostly(st.sampled_from(_DESTINATIONS), st.text(_CHARS, max_size=12)))
    node = payload
    for part in parents:  # make the objects on the way, as a client would
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if parents == ["traits"]:
        _make_room(node, limits, key)
        kinds = kinds if limits.max_trait_depth >= 1 else kinds.replace("l", "").replace("o", "")
    if (value := draw(_wrong(kinds, limits.max_message_id_length))) is _ABSENT:
        node.pop(key, None)
    else:
        node[key] = value
    return ".".join([*parents, key]), message.format(most=limits.max_message_id_length, key=key)


def _traits_of(payload: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(payload.get("traits"), dict):
        payload["traits"] = {}
    traits: dict[str, Any] = payload["traits"]
    return traits


def _make_room(traits: dict[str, Any], limits: Limits, name: str | None) -> None:
    """Drop the first trait if adding ``name`` would make one too many."""
    if name not in traits and len(traits) >= limits.max_traits and traits:
        del traits[next(iter(traits))]


def _group_id_long(draw: Draw, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    p["groupId"] = _repeat(p["groupId"], limits.max_id_length + draw(st.integers(1, 16)))
    return "groupId", f"Group ID too long (max {limits.max_id_length} characters)"


def _group_id_chars(draw: Draw, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    bad = draw(st.one_of(st.sampled_from(" @/#é\n\t+*%"), st.characters(
        exclude_characters=GROUP_ID_ALPHABET, exclude_categories=["Cs"])))
    group_id, insert = p["groupId"], len(p["groupId"]) < limits.max_id_length
    at = draw(st.integers(0, len(group_id) - (0 if insert else 1)))  # insert, or replace one
    p["groupId"] = group_id[:at] + bad + group_id[at + (0 if insert else 1):]
    return "groupId", "Group ID cannot contain spaces or special characters"


def _identity_missing(draw: Draw, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    for key in ("userId", "anonymousId"):
        if (how := draw(_WRONG["a"])) is _ABSENT:
            p.pop(key, None)
        else:
            p[key] = how
    return "userId", "Missing required field: userId or anonymousId"


def _traits_many(draw: Draw, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    traits, value = _traits_of(p), draw(st.sampled_from((None, 0, True, "x")))
    names, count = _fresh_names(traits, limits.max_trait_name_length), len(traits)
    for _ in range(limits.max_traits + draw(st.integers(1, 4)) - count):
        traits[next(names)] = value
    return "traits", f"Too many traits (max {limits.max_traits})"


def _trait_name_long(draw: Draw, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    longest, traits = limits.max_trait_name_length, _traits_of(p)
    name = draw(_repeated(_CHARS, st.integers(longest + 1, longest + 16)))
    _make_room(traits, limits, name)
    traits[name] = draw(_SMALL_SCALARS)
    return f"traits.{name}", f"Trait name too long (max {longest} characters)"


def _traits_deep(draw: Draw, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    """A chain of containers, one per allowed level, down to one container too many."""
    depth, traits = limits.max_trait_depth, _traits_of(p)
    if len(traits) >= limits.max_traits:
        key = draw(st.sampled_from(list(traits)))
    else:
        key = draw(st.text(_CHARS, max_size=min(8, limits.max_trait_name_length)))
    path, steps = f"traits.{key}", []
    for _ in range(depth):  # each level holds some scalars, then the way down
        before = draw(st.lists(_SMALL_SCALARS, max_size=2))
        step = None if draw(st.booleans()) else draw(st.text(_CHARS, max_size=4))
        path += f"[{len(before)}]" if step is None else f".{step}"
        steps.append((before, step))
    inside = draw(st.lists(_SMALL_SCALARS, max_size=2))
    node: Json = inside if draw(st.booleans()) else {f"v{i}": v for i, v in enumerate(inside)}
    for before, step in reversed(steps):
        node = [*before, node] if step is None else {
            **{f"s{i}": v for i, v in enumerate(before)}, step: node}
    traits[key] = node
    return path, f"Traits nested too deeply (max {depth} levels): {path}"


Breaker = Callable[[Draw, dict[str, Any], Limits], tuple[str, str]]
#: Rules broken by more than one wrong value.
_BREAKERS: Final[dict[str, Breaker]] = {
    "3": _group_id_long, "4": _group_id_chars, "5": _identity_missing, "8": _traits_many,
    "9": _trait_name_long, "10": _traits_deep,
}
_RULES: Final = tuple(str(number) for number in range(1, 17))


def _points(rule: str, limits: Limits) -> list[tuple[str, Path, str, str]]:
    """The one-value breaks of ``rule`` possible under ``limits`` (names must fit, rule 9)."""
    return [(number, path, kinds, message) for number, path, kinds, message in _POINTS
            if number == rule and not (path[0] == "traits" and len(path) == 2
                                       and len(path[1] or "") > limits.max_trait_name_length)]


def _slack(rule: str, limits: Limits) -> int:
    """Bytes a break may add to its valid base payload, at most."""
    return {
        "3": limits.max_id_length + 64,
        "8": (limits.max_traits + 8) * 12 + 64,
        "9": (limits.max_trait_name_length + 16) * 12 + 96,
        "10": 160 * (limits.max_trait_depth + 2) + 64,
        "13": (limits.max_message_id_length + 16) * 12 + 64,
    }.get(rule, 512)


def _unbreakable(rule: str, limits: Limits) -> str | None:
    """Why ``rule`` cannot be broken alone within ``limits``, or None."""
    if limits.max_body_bytes - _slack(rule, limits) < 256:
        return "breaking it would not fit the body limit"
    if rule in ("9", "10", "11") and limits.max_traits < 1:
        return "it needs a trait, and max_traits is 0"
    if rule == "8" and _capacity(limits.max_trait_name_length) < limits.max_traits + 4:
        return "max_trait_name_length is too short for that many distinct names"
    if rule == "10" and limits.max_trait_depth + 3 > limits.max_json_depth:
        return "traits that deep would break max_json_depth first"
    if rule == "11" and not _points(rule, limits):
        return "no reserved trait name fits max_trait_name_length"
    return None


def invalid_group_payloads(*, rules: Iterable[str] | None = None,
                           limits: Limits | None = None) -> Strategy[InvalidCase]:
    """Group bodies that break exactly one rule, as ``InvalidCase(payload, field, message)``.

    Each is a valid payload from ``group_payloads()`` with one rule of CONTRACT.md's table
    broken (``rules``: some of ``"1"`` .. ``"16"``; default all), still within the body limit.
    ``message`` and ``field`` are the first error the validator must report. Every variant of a
    rule occurs: each reserved trait, each timestamp field, each context field, ``[i]`` paths.
    Only for the default groupId pattern. Shrinks toward the first rule chosen, a minimal base
    payload and the simplest break (for rule 1: groupId removed).
    """
    limits = _check_limits(limits)
    if not _default_pattern(limits):
        raise InvalidArgument("invalid_group_payloads() supports only the default groupId "
                              "pattern")
    if rules is None:
        chosen = tuple(rule for rule in _RULES if _unbreakable(rule, limits) is None)
    elif isinstance(rules, str | bytes) or not isinstance(rules, Iterable):
        raise InvalidArgument(f"rules must be an iterable of rule numbers like ['3', '8'], "
                              f"not {rules!r}")
    else:
        chosen = tuple(dict.fromkeys(str(rule) if isinstance(rule, int) else rule
                                     for rule in rules))
    for rule in chosen:
        if rule not in _RULES:
            raise InvalidArgument(f"unknown rule {rule!r}: rules are '1' to '16'")
        if (reason := _unbreakable(rule, limits)) is not None:
            raise InvalidArgument(f"rule {rule} cannot be broken under {limits}: {reason}")
    if not chosen:
        raise InvalidArgument("rules is empty: choose at least one rule")
    return _invalid_cases(chosen, limits)


@st.composite
def _invalid_cases(draw: Draw, chosen: tuple[str, ...], limits: Limits) -> InvalidCase:
    rule = draw(st.sampled_from(chosen))
    base = draw(_group_payload(_GroupSpec(limits), limits.max_body_bytes - _slack(rule, limits)))
    if rule in _BREAKERS:
        field, message = _BREAKERS[rule](draw, base, limits)
    else:
        field, message = _break_point(draw, base, limits,
                                      draw(st.sampled_from(_points(rule, limits))))
    return InvalidCase(base, field, message)


# --- batches ----------------------------------------------------------------------------------


def batches(*, min_size: int = 1, max_size: int = 20, types: Iterable[str] | None = None,
            limits: Limits | None = None) -> Strategy[dict[str, Any]]:
    """Valid ``/v1/batch`` bodies: ``{"batch": [...]}`` of ``min_size`` to ``max_size`` items.

    Items are group messages (with ``"type": "group"``) mixed with the other ``types``
    (default: all six), each within the item limit and all within the batch limit; sometimes
    with batch-level ``sentAt``, ``context``, ``integrations`` and ``writeKey``. A batch of more
    than 16 items repeats 16 drawn ones (the copies without a messageId). Shrinks toward
    ``min_size`` group items.
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
               - 1)
    pool = [_draw_item(draw, draw(st.sampled_from(kinds)), limits, each)
            for _ in range(min(count, 16))]
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
    if kind != "alias" and draw(st.booleans()):  # 14 bytes: the key, a colon and a comma
        extra = "traits" if kind == "identify" else "properties"
        depth = max(0, min(2, limits.max_json_depth - 5))
        item[extra] = _container(draw, False, depth + 1, budget - used - 14, False)
    return item


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
    and ``message_id``. The SDK adds ``context.library`` to the dict it gets: pass a copy.
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
    if max_traits and draw(st.integers(0, 9)):  # json.dumps adds ", " and ": ": 1.5 x compact
        budget = int((_SDK_LIMIT - _SDK_ADDS - len(json.dumps(call, default=str))) / 1.5)
        spec = _TraitSpec(_DEFAULT, min_size=1, max_size=max_traits)
        call["traits"] = _draw_traits(draw, spec, budget, call["group_id"])
    return call
