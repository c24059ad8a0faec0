"""Hypothesis strategies for Segment's group call, as mockseg enforces it.

``group_payloads()`` generates valid ``POST /v1/group`` bodies over the whole valid space, edges
included. ``invalid_group_payloads()`` generates :class:`InvalidCase` values that break exactly
one rule of CONTRACT.md's table and carry the error the validator reports first. ``batches()``
generates ``/v1/batch`` bodies, and ``group_calls()`` the keyword arguments of the Python SDK's
``Client.group``. The building blocks (``group_ids()``, ``traits()``, ``reserved_traits()``,
``contexts()``, ``timestamps()``) compose on their own.

Every body fits the size limits by construction. Its parts are drawn against a byte budget,
measured as compact JSON both ASCII-escaped and as UTF-8 (whichever is larger counts). Long
strings repeat a short drawn seed, so an edge-sized payload costs Hypothesis little. Import this
module yourself (``from mockseg.strategies import group_payloads``): ``import mockseg`` does not
import it or Hypothesis.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any, Final, NamedTuple

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mockseg.rules import ADDRESS_KEYS, MESSAGE_TYPES, Limits
from mockseg.validation import check_message

__all__ = [
    "GROUP_ID_ALPHABET",
    "InvalidCase",
    "batches",
    "contexts",
    "group_calls",
    "group_ids",
    "group_payloads",
    "invalid_group_payloads",
    "reserved_traits",
    "timestamps",
    "traits",
]

Json = Any
Strategy = st.SearchStrategy

#: The characters of a groupId under the default pattern.
GROUP_ID_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-.:"
_DEFAULT_LIMITS: Final = Limits()
_CHARS: Final = st.characters(exclude_categories=["Cs"])  # any Unicode but lone surrogates
_ABSENT: Final = object()  # "leave the key out", beside null and ""
_MIN_ENTRY: Final = 8  # bytes of the smallest trait we fall back to: "zz":0 and a comma
_FLOATS: Final = st.floats(allow_nan=False, allow_infinity=False)
_B62: Final = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Reserved traits and the type CONTRACT.md gives each (rule 11).
_RESERVED: Final = {
    "name": "a string", "email": "a string", "website": "a string", "phone": "a string",
    "industry": "a string", "employees": "an integer", "revenue": "a number",
    "plan": "a string", "address": "an object", "description": "a string",
    "avatar": "a string", "createdAt": "an ISO 8601 date-time",
    "updatedAt": "an ISO 8601 date-time",
}
_TIMESTAMP_FIELDS: Final = ("timestamp", "sentAt", "originalTimestamp")
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
    costs = [_size(char) - 2 for char in seed]
    times = max(0, (budget - 2) // sum(costs))
    text, total = seed * times, 2 + sum(costs) * times
    for char, cost in zip(seed, costs, strict=True):
        if total + cost > budget:
            break
        text, total = text + char, total + cost
    return text


# --- small strategies -------------------------------------------------------------------------


def _repeated(alphabet: Strategy[str] | str, lengths: Strategy[int]) -> Strategy[str]:
    """Text of a drawn length made by repeating a short seed: long, yet cheap to draw."""
    return st.builds(_repeat, st.text(alphabet, min_size=1, max_size=8), lengths)


def _texts(max_len: int, min_len: int = 0, alphabet: Strategy[str] | str = _CHARS) -> Strategy[str]:
    """Short text mostly; sometimes exactly ``max_len`` characters, or any length up to it."""
    short = st.text(alphabet, min_size=min_len, max_size=max(min_len, min(max_len, 16)))
    if max_len <= 16:
        return short
    return st.one_of(short, _repeated(alphabet, st.just(max_len)),
                     _repeated(alphabet, st.integers(min_len, max_len)))


@st.composite
def _mostly(draw: st.DrawFn, usual: Strategy[Any], rare: Strategy[Any]) -> Any:
    """Five draws in six from ``usual``; shrinks toward it."""
    return draw(rare) if draw(st.integers(0, 5)) == 5 else draw(usual)


def _words(pool: tuple[str, ...], max_len: int = 64) -> Strategy[str]:
    return _mostly(st.sampled_from(pool), _texts(max_len))


_DOMAINS = st.builds("{}.{}".format, st.text(_LOWER, min_size=1, max_size=12),
                     st.sampled_from(("com", "io", "co.uk", "de", "jp")))
_EMAILS = st.builds("{}@{}".format, st.text(_LOWER + "._+-", min_size=1, max_size=16), _DOMAINS)
_URLS = st.builds("{}://{}{}".format, st.sampled_from(("https", "http")), _DOMAINS,
                  st.sampled_from(("", "/", "/about", "/logo.png", "/avatars/42.png")))
_PHONES = st.builds("+{} {}".format, st.integers(1, 999), st.text("0123456789 -", min_size=4,
                                                                  max_size=12))
_SMALL_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-99, 99),
                           st.text(_CHARS, max_size=3))
_INTEGRATIONS = st.dictionaries(
    _mostly(st.sampled_from(_DESTINATIONS), st.text(_CHARS, max_size=12)),
    st.one_of(st.booleans(), st.none(), st.dictionaries(
        st.sampled_from(("apiKey", "session_id", "region")),
        st.one_of(st.text(_CHARS, max_size=12), st.integers(0, 10**6)), max_size=2)),
    max_size=4,
)
_OFFSETS = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)),
                     st.integers(-(23 * 60 + 59), 23 * 60 + 59))


def _user_ids(max_len: int) -> Strategy[str]:
    realistic = st.one_of(st.builds("user_{}".format, st.integers(0, 10**9)),
                          st.uuids().map(str), _EMAILS)
    return _mostly(realistic, _texts(max_len, min_len=1)).map(lambda text: text[:max_len])


def _message_ids(max_len: int) -> Strategy[str]:
    realistic = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: f"ajs-next-{u.hex}"))
    return _mostly(realistic, _texts(max_len)).map(lambda text: text[:max_len])


# --- argument checks --------------------------------------------------------------------------


def _check_limits(limits: Limits | None) -> Limits:
    if limits is None:
        return _DEFAULT_LIMITS
    if not isinstance(limits, Limits):
        raise InvalidArgument(f"limits must be a mockseg.Limits, not {limits!r}")
    if limits.max_id_length < 1 or limits.max_body_bytes < 256 or limits.max_json_depth < 4:
        raise InvalidArgument("limits leave no valid group message: need max_id_length >= 1, "
                              f"max_body_bytes >= 256 and max_json_depth >= 4; got {limits}")
    return limits


def _default_pattern(limits: Limits) -> bool:
    return limits.group_id_pattern == _DEFAULT_LIMITS.group_id_pattern


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
    errors, _ = check_message({"traits": value}, "group", limits)
    errors = [error for error in errors if error.field.startswith("traits")]
    if not isinstance(value, dict) or errors:
        raise InvalidArgument(f"the traits strategy drew invalid traits {value!r}: {errors}")
    return value


# --- building blocks --------------------------------------------------------------------------


def timestamps(
    *, min_value: datetime = datetime(1, 1, 1),
    max_value: datetime = datetime(9999, 12, 31, 23, 59, 59, 999999),
) -> Strategy[str]:
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
def _timestamps(draw: st.DrawFn, low: datetime, high: datetime) -> str:
    moment = draw(st.datetimes(low, high))
    date = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{draw(st.sampled_from('Tt'))}"
    time = f"{moment.hour:02d}:{moment.minute:02d}"
    seconds = draw(st.sampled_from(("ms", "s", "fraction", "none", "leap")))
    if seconds == "ms":
        time += f":{moment.second:02d}.{moment.microsecond // 1000:03d}"
    elif seconds == "s":
        time += f":{moment.second:02d}"
    elif seconds == "fraction":
        digits = draw(st.text("0123456789", min_size=1, max_size=9))
        time += f":{moment.second:02d}{draw(st.sampled_from('.,'))}{digits}"
    elif seconds == "leap":
        time = "23:59:60"
    zone = draw(st.sampled_from(("Z", "+00:00", "+hh:mm", "+hhmm", "+hh", "", "z")))
    if zone.startswith("+h"):
        sign, hours, minutes = draw(st.sampled_from("+-")), draw(st.integers(0, 23)), draw(
            st.integers(0, 59))
        zone = {"+hh:mm": f"{sign}{hours:02d}:{minutes:02d}", "+hhmm": f"{sign}{hours:02d}"
                f"{minutes:02d}", "+hh": f"{sign}{hours:02d}"}[zone]
    return date + time + zone


_ANY_TIME = _timestamps(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999))


def group_ids(*, limits: Limits | None = None, min_size: int = 1,
              max_size: int | None = None) -> Strategy[str]:
    """Valid groupIds: ``A-Z a-z 0-9 _ - . :``, up to ``max_id_length`` (255) characters.

    Mixes realistic ids (``company_x7``), any length, and exactly ``max_size``. Shrinks toward
    a one-character id. Only for the default pattern: with another, pass your own ids.
    """
    limits = _check_limits(limits)
    if not _default_pattern(limits):
        raise InvalidArgument("group_ids() knows only the default groupId pattern; with "
                              f"{limits.group_id_pattern!r}, generate the ids yourself")
    top = limits.max_id_length
    high = _check_size("max_size", top if max_size is None else max_size, 1, top)
    return _group_ids(_check_size("min_size", min_size, 1, high), high)


def _group_ids(low: int, high: int) -> Strategy[str]:
    realistic = st.builds(
        lambda prefix, rest: (prefix + rest)[:high],
        st.sampled_from(("", "company_", "org:", "acct-", "team.")),
        st.text(GROUP_ID_ALPHABET, min_size=low, max_size=max(low, min(high, 24))),
    )
    return st.one_of(realistic, _repeated(GROUP_ID_ALPHABET, st.just(high)),
                     _repeated(GROUP_ID_ALPHABET, st.integers(low, high)))


def contexts(*, with_library: bool | None = None) -> Strategy[dict[str, Any]]:
    """Valid ``context`` objects: ``ip``, ``userAgent``, ``library`` and a few other keys.

    ``with_library=True`` always has a library with a string name and version; ``False`` never
    has one. Shrinks toward ``{}``.
    """
    _check_flag("with_library", with_library)
    return _contexts(with_library)


@st.composite
def _contexts(draw: st.DrawFn, with_library: bool | None) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if draw(st.booleans()):
        context["ip"] = draw(_mostly(st.ip_addresses().map(str), st.none()))
    if draw(st.booleans()):
        context["userAgent"] = draw(_mostly(st.sampled_from(_USER_AGENTS), _texts(120)))
    name = _mostly(st.sampled_from(_LIBRARIES), _texts(24))
    version = st.builds("{}.{}.{}".format, *[st.integers(0, 20)] * 3)
    if with_library:
        context["library"] = draw(st.fixed_dictionaries({"name": name, "version": version}))
    elif with_library is None and draw(st.booleans()):
        context["library"] = draw(st.fixed_dictionaries({}, optional={
            "name": _mostly(name, st.none()), "version": _mostly(version, st.none())}))
    if draw(st.booleans()):
        context.update(draw(st.fixed_dictionaries({}, optional={
            "locale": st.sampled_from(("en-US", "de-CH", "ja-JP")),
            "timezone": st.sampled_from(("UTC", "Europe/Zurich", "Asia/Tokyo")),
            "page": st.builds(lambda url: {"path": "/", "url": url}, _URLS)})))
    return context


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


def reserved_traits(*, names: Iterable[str] | None = None,
                    limits: Limits | None = None) -> Strategy[dict[str, Any]]:
    """Some of the reserved traits (``names``, default all), each of its documented type.

    Values are mostly realistic (an email shaped like one, http(s) URLs), so warnings are rare;
    a value may be null, which counts as absent. ``address`` needs ``max_trait_depth >= 1``.
    Shrinks toward ``{}``.
    """
    limits = _check_limits(limits)
    pool = _reserved_values(_trait_depth(limits) >= 1)
    chosen = list(pool) if names is None else list(names)
    unknown = sorted(set(chosen) - set(pool))
    if isinstance(names, str) or unknown:
        raise InvalidArgument(f"names must be an iterable of reserved trait names from "
                              f"{sorted(pool)}; unknown: {unknown or names!r}")
    return st.fixed_dictionaries({}, optional={name: pool[name] for name in chosen})


def _trait_depth(limits: Limits, above: int = 2) -> int:
    """How deep trait values may nest: the limit, less what the JSON depth limit forbids."""
    return max(0, min(limits.max_trait_depth, limits.max_json_depth - above))


def _capacity(max_len: int) -> int:
    return 1 if max_len == 0 else 62 if max_len == 1 else 62 + 62**2


def _b62(number: int) -> str:
    digits = _B62[number % 62]
    while number >= 62:
        number = number // 62 - 1
        digits = _B62[number % 62] + digits
    return digits


def _fresh_names(taken: dict[str, Any], max_len: int) -> Iterator[str]:
    """Short names not yet in ``taken`` (checked when each is handed out) nor reserved."""
    number = 0
    while len(name := "" if max_len == 0 else _b62(number)) <= max_len:
        if name not in taken and name not in _RESERVED:
            yield name
        if max_len == 0:
            return
        number += 1


_SCALARS: Final[dict[str, Strategy[Json]]] = {
    "int": st.integers(-(2**63), 2**64), "float": _FLOATS, "bool": st.booleans(),
    "null": st.none(),
}


def _scalar(draw: st.DrawFn, budget: int, rich: bool) -> Json:
    kind = draw(st.sampled_from(("text", "int", "float", "bool", "null")))
    if kind == "text":
        text = _words(_COMPANIES + _WORDS) if rich else st.text(_CHARS, max_size=6)
        return _fit(draw(text), budget) if budget >= 2 else 0
    value = draw(_SCALARS[kind])
    return value if _size(value) <= budget else 0


def _value(draw: st.DrawFn, depth: int, budget: int, rich: bool) -> Json:
    """A JSON value of at most ``budget`` bytes with containers ``depth`` levels deep at most."""
    if depth <= 0 or budget < 12 or draw(st.integers(0, 3)) < 3:
        return _scalar(draw, budget, rich)
    return _container(draw, draw(st.booleans()), depth, budget, rich)


def _container(draw: st.DrawFn, as_list: bool, depth: int, budget: int, rich: bool) -> Json:
    count = draw(st.integers(0, 4 if rich else 2))
    share = (budget - 2) // max(count, 1)  # each item's bytes, its comma included
    if as_list:
        return [_value(draw, depth - 1, share - 1, rich) for _ in range(count if share > 1 else 0)]
    obj: dict[str, Json] = {}
    for _ in range(count):
        key = _fit(draw(st.text(_CHARS, max_size=8)), share // 2)
        rest = share - _size(key) - 2
        if rest < 1:
            break
        obj[key] = _value(draw, depth - 1, rest, rich)
    return obj


def _counts(draw: st.DrawFn, low: int, high: int, rich: bool) -> int:
    """Mostly a few; sometimes any number up to ``high``, or exactly ``high``."""
    mode = draw(st.integers(0, 5)) if rich else 0
    if mode == 5:
        return high
    return draw(st.integers(low, high if mode == 4 else min(high, low + 5)))


@dataclass(frozen=True)
class _TraitSpec:
    limits: Limits
    min_size: int = 0
    max_size: int | None = None
    reserved: bool = True
    rich: bool = True
    above: int = 2  # JSON levels above the traits' values: the body, the traits object


def _draw_traits(draw: st.DrawFn, spec: _TraitSpec, budget: int,
                 group_id: str | None = None) -> dict[str, Any]:
    """Traits of at most ``budget`` bytes: each trait's share leaves room for the rest."""
    limits = spec.limits
    longest, depth = limits.max_trait_name_length, _trait_depth(limits, spec.above)
    high = limits.max_traits if spec.max_size is None else spec.max_size
    high = min(high, _capacity(longest), max(0, (budget - 2) // _MIN_ENTRY))
    assume(high >= spec.min_size)  # only a caller's tiny budget or limits get here
    count = _counts(draw, spec.min_size, high, spec.rich)
    out: dict[str, Any] = {}
    used = 2
    fresh = _fresh_names(out, longest)

    def room() -> int:  # bytes for the next trait, keeping the minimum for each after it
        return budget - used - _MIN_ENTRY * (count - len(out) - 1)

    if spec.reserved and count and draw(st.booleans()):
        pool = _reserved_values(depth >= 1)
        for name, value in draw(st.fixed_dictionaries({}, optional=pool)).items():
            if len(out) < count and len(name) <= longest and _entry(name, value) <= room():
                out[name] = value
                used += _entry(name, value)
    if (group_id is not None and len(out) < count and longest >= 2 and draw(st.booleans())
            and _entry("id", group_id) <= room()):  # the id trait equal to the groupId
        out["id"] = group_id
        used += _entry("id", group_id)
    many = count > 32  # many traits: short names and small values, to draw little
    if many:
        names = st.text(_CHARS, max_size=min(longest, 3))
    elif spec.rich:
        names = st.one_of(st.sampled_from(_TRAIT_NAMES).map(lambda name: name[:longest]),
                          _texts(longest))
    else:
        names = st.text(_CHARS, max_size=min(longest, 12))
    while len(out) < count:
        left = room()
        name = _fit(draw(names), left - 3)
        if name in out or name in _RESERVED or _size(name) + 3 > left:
            name = next(fresh)
        value = _value(draw, depth, left - _size(name) - 2, spec.rich and not many)
        out[name] = value
        used += _entry(name, value)
    if spec.rich and len(out) < high and draw(st.integers(0, 7)) == 7:  # fill up to the limit
        name = next(fresh)
        seed = draw(st.text(_CHARS, min_size=1, max_size=3))
        if (left := budget - used - _size(name) - 2) >= 2:
            out[name] = _repeat_fit(seed, left)
    return out


def traits(*, limits: Limits | None = None, min_size: int = 0, max_size: int | None = None,
           max_bytes: int | None = None, reserved: bool = True) -> Strategy[dict[str, Any]]:
    """Valid ``traits`` objects: reserved traits of their types and custom traits of any JSON.

    Covers up to ``max_traits`` (255) traits, names up to 255 characters (Unicode, emoji,
    dots, spaces), values nested to ``max_trait_depth`` (3), within ``max_bytes`` of compact
    JSON (default: the body limit less 1 KB). ``reserved=False`` never uses a reserved name.
    Shrinks toward ``{}``, then toward few traits with short names and scalar values.
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
def _traits(draw: st.DrawFn, spec: _TraitSpec, budget: int) -> dict[str, Any]:
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


def _draw_optional(draw: st.DrawFn, message: dict[str, Any], limits: Limits, budget: int,
                   used: int) -> int:
    """Add some optional common fields that fit in ``budget``; return the bytes used."""
    for key, strategy in _optional_fields(limits.max_message_id_length):
        if draw(st.booleans()):
            value = draw(strategy)
            if used + _entry(key, value) <= budget:
                message[key] = value
                used += _entry(key, value)
    return used


def _draw_identity(draw: st.DrawFn, message: dict[str, Any], with_user_id: bool | None,
                   with_anonymous_id: bool | None, max_len: int, budget: int) -> None:
    """userId, anonymousId or both; a missing one may be absent, null or "" if allowed."""
    modes = [(user, anonymous) for user, anonymous in ((True, False), (True, True), (False, True))
             if with_user_id in (None, user) and with_anonymous_id in (None, anonymous)]
    real = draw(st.sampled_from(modes))
    for key, present, allowed in zip(("userId", "anonymousId"), real,
                                     (with_user_id, with_anonymous_id), strict=True):
        if present:
            message[key] = _fit(draw(_user_ids(max_len)), budget, min_len=1)
            continue
        companion = draw(st.sampled_from((_ABSENT, None, ""))) if allowed is None else _ABSENT
        if companion is not _ABSENT:
            message[key] = companion


@dataclass(frozen=True)
class _GroupSpec:
    limits: Limits
    with_user_id: bool | None = None
    with_anonymous_id: bool | None = None
    with_traits: bool | None = None
    group_id: Strategy[str] | None = None
    traits: Strategy[dict[str, Any]] | None = None
    rich: bool = True
    typed: bool = False  # always "type": "group", as in a batch
    above: int = 2


@st.composite
def _group_payload(draw: st.DrawFn, spec: _GroupSpec, budget: int) -> dict[str, Any]:
    limits = spec.limits
    payload: dict[str, Any] = {}
    kind = "group" if spec.typed else draw(st.sampled_from((_ABSENT, "group", None)))
    if kind is not _ABSENT:
        payload["type"] = kind
    share = max(16, (budget - 96) // 3)
    if spec.group_id is None:
        group_id = _fit(draw(_group_ids(1, limits.max_id_length)), share, min_len=1)
    else:
        group_id = _check_group_id(draw(spec.group_id), limits)
    payload["groupId"] = group_id
    _draw_identity(draw, payload, spec.with_user_id, spec.with_anonymous_id,
                   limits.max_id_length, share)
    used = _size(payload)
    assume(used + 32 <= budget)  # only a caller's oversized group_id gets here
    if spec.traits is not None:
        payload["traits"] = _check_traits(draw(spec.traits), limits)
        if spec.with_traits and not payload["traits"]:
            raise InvalidArgument("with_traits=True, but the traits strategy drew {}")
        used += _entry("traits", payload["traits"])
        assume(used <= budget)  # the caller's traits (or group_id) left no room
    used = _draw_optional(draw, payload, limits, budget - 32, used)
    if spec.traits is None:
        wanted = draw(st.booleans()) if spec.with_traits is None else spec.with_traits
        if wanted:
            payload["traits"] = _draw_traits(draw, _TraitSpec(
                limits, min_size=1, rich=spec.rich, above=spec.above), budget - used - 11,
                group_id)
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
    values nested 3 levels, every reserved trait, Unicode and emoji, userId and/or
    anonymousId (a missing one absent, null or ``""``), every accepted ISO 8601 form, context,
    integrations, messageId up to 100 characters, ``type`` absent, null or ``"group"``, and
    extra SDK fields. Edges combine as far as 32,768 bytes of compact JSON allow (measured both
    ASCII-escaped and as UTF-8); some payloads are filled up to the limit.

    Narrowing: ``with_user_id`` / ``with_anonymous_id``: True for a non-empty id, False for no
    such key, None for either. ``with_traits``: True for non-empty traits, False for none (absent,
    null or ``{}``). ``group_id``: a value or a strategy; required with a custom groupId pattern.
    ``traits``: a strategy of valid traits objects. ``limits``: generate for these limits.
    Shrinks toward ``{"groupId": "0", "userId": "0"}``-like payloads: a userId only, no
    optional fields, no traits.
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


_WRONG: Final[dict[str, Strategy[Json]]] = {
    "s": st.text(_CHARS, max_size=12),
    "n": st.one_of(st.integers(-(10**9), 10**9), _FLOATS),
    "f": st.integers(-(10**6), 10**6).map(lambda whole: whole + 0.5),  # never an integer
    "b": st.booleans(),
    "l": st.lists(_SMALL_SCALARS, max_size=3),
    "o": st.dictionaries(st.text(_CHARS, max_size=3), _SMALL_SCALARS, max_size=2),
}
#: Wrong values for each reserved trait type: letters index _WRONG ("t": a bad date-time).
_WRONG_FOR: Final = {"a string": "nblo", "an integer": "fsblo", "a number": "sblo",
                     "an object": "snbl", "an ISO 8601 date-time": "tnblo"}


@st.composite
def _bad_timestamps(draw: st.DrawFn) -> str:
    """Strings that are not ISO 8601 date-times, each made from a valid one."""
    good = draw(_ANY_TIME)
    how = draw(st.integers(0, 8))
    if how == 2:
        return good + draw(st.sampled_from((" ", "\n", "x", " UTC")))
    if how == 3:
        return draw(st.sampled_from((" ", "T", "+"))) + good
    if how == 7:
        return "~" + draw(st.text(_CHARS, max_size=12))
    return (good[:10] + " " + good[11:], good[:10], "", "", good[:5] + "13" + good[7:],
            good[:11] + "24" + good[13:], "٢" + good[1:], "", "")[how]


def _wrong(kinds: str, *, containers: bool = True) -> Strategy[Json]:
    """Values of the kinds listed: s string, n number, f fraction, b bool, l list, o object."""
    return st.one_of(*(_bad_timestamps() if kind == "t" else _WRONG[kind] for kind in kinds
                       if containers or kind not in "lo"))


def _traits_of(payload: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(payload.get("traits"), dict):
        payload["traits"] = {}
    traits: dict[str, Any] = payload["traits"]
    return traits


def _make_room(traits: dict[str, Any], limits: Limits, name: str | None) -> None:
    """Drop the first trait if adding ``name`` would make too many."""
    if name not in traits and len(traits) >= limits.max_traits and traits:
        del traits[next(iter(traits))]


Breaker = Callable[[st.DrawFn, dict[str, Any], Limits], tuple[str, str]]


def _group_id_missing(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    if (how := draw(st.sampled_from((_ABSENT, None, "")))) is _ABSENT:
        del p["groupId"]
    else:
        p["groupId"] = how
    return "groupId", "Missing required field: groupId"


def _group_id_type(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    p["groupId"] = draw(_wrong("nblo"))
    return "groupId", "groupId must be a string"


def _group_id_long(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    p["groupId"] = _repeat(p["groupId"], limits.max_id_length + draw(st.integers(1, 16)))
    return "groupId", f"Group ID too long (max {limits.max_id_length} characters)"


def _group_id_chars(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    bad = draw(st.one_of(st.sampled_from(" @/#é\n\t+*%"), st.characters(
        exclude_characters=GROUP_ID_ALPHABET, exclude_categories=["Cs"])))
    group_id, insert = p["groupId"], len(p["groupId"]) < limits.max_id_length
    at = draw(st.integers(0, len(group_id) - (0 if insert else 1)))
    p["groupId"] = group_id[:at] + bad + group_id[at + (0 if insert else 1):]
    return "groupId", "Group ID cannot contain spaces or special characters"


def _identity_missing(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    for key in ("userId", "anonymousId"):
        if (how := draw(st.sampled_from((_ABSENT, None, "")))) is _ABSENT:
            p.pop(key, None)
        else:
            p[key] = how
    return "userId", "Missing required field: userId or anonymousId"


def _identity_type(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    key = draw(st.sampled_from(("userId", "anonymousId")))
    p[key] = draw(_wrong("nblo"))
    return key, f"{key} must be a string"


def _traits_type(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    p["traits"] = draw(_wrong("snbl"))
    return "traits", "traits must be an object"


def _traits_many(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    traits = _traits_of(p)
    value = draw(st.sampled_from((None, 0, True, "x")))
    names = _fresh_names(traits, limits.max_trait_name_length)
    while len(traits) < limits.max_traits + draw(st.integers(1, 4)):
        traits[next(names)] = value
    return "traits", f"Too many traits (max {limits.max_traits})"


def _trait_name_long(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    longest = limits.max_trait_name_length
    name = draw(_repeated(_CHARS, st.integers(longest + 1, longest + 16)))
    traits = _traits_of(p)
    _make_room(traits, limits, name)
    traits[name] = draw(_SMALL_SCALARS)
    return f"traits.{name}", f"Trait name too long (max {longest} characters)"


def _traits_deep(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    depth, traits = limits.max_trait_depth, _traits_of(p)
    if len(traits) >= limits.max_traits:
        key = draw(st.sampled_from(list(traits)))
    else:
        key = draw(st.text(_CHARS, max_size=min(8, limits.max_trait_name_length)))
    path, steps = f"traits.{key}", []
    for _ in range(depth):  # the containers at levels 1..depth lead down to the offender
        as_list, before = draw(st.booleans()), draw(st.lists(_SMALL_SCALARS, max_size=2))
        step_key = None if as_list else draw(st.text(_CHARS, max_size=4))
        path += f"[{len(before)}]" if as_list else f".{step_key}"
        steps.append((before, step_key))
    inside = draw(st.lists(_SMALL_SCALARS, max_size=2))
    node: Json = inside if draw(st.booleans()) else {f"v{i}": v for i, v in enumerate(inside)}
    for before, step_key in reversed(steps):
        if step_key is None:
            node = [*before, node]
        else:
            node = {**{f"s{i}": v for i, v in enumerate(before)}, step_key: node}
    traits[key] = node
    return path, f"Traits nested too deeply (max {depth} levels): {path}"


def _reserved_type(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    name = draw(st.sampled_from(_reserved_names(limits)))
    traits = _traits_of(p)
    _make_room(traits, limits, name)
    traits[name] = draw(_wrong(_WRONG_FOR[_RESERVED[name]],
                               containers=limits.max_trait_depth >= 1))
    return f"traits.{name}", f"Trait {name} must be {_RESERVED[name]}"


def _timestamp_type(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    key = draw(st.sampled_from(_TIMESTAMP_FIELDS))
    p[key] = draw(_wrong("tnblo"))
    return key, f"{key} must be an ISO 8601 date-time"


def _message_id_bad(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    most = limits.max_message_id_length
    p["messageId"] = draw(st.one_of(_repeated(_CHARS, st.integers(most + 1, most + 16)),
                                    _wrong("nblo")))
    return "messageId", f"messageId must be a string of at most {most} characters"


def _context_bad(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    where = draw(st.sampled_from(("context", "context.ip", "context.userAgent",
                                  "context.library", "context.library.name",
                                  "context.library.version")))
    if where == "context":
        p["context"] = draw(_wrong("snbl"))
        return where, "context must be an object"
    if not isinstance(p.get("context"), dict):
        p["context"] = {}
    context = p["context"]
    if where == "context.library":
        context["library"] = draw(_wrong("snbl"))
        return where, "context.library must be an object"
    if where.startswith("context.library."):
        if not isinstance(context.get("library"), dict):
            context["library"] = {}
        context = context["library"]
    context[where.rpartition(".")[2]] = draw(_wrong("nblo"))
    return where, f"{where} must be a string"


def _integrations_bad(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    if draw(st.booleans()):
        p["integrations"] = draw(_wrong("snbl"))
        return "integrations", "integrations must be an object"
    if not isinstance(p.get("integrations"), dict):
        p["integrations"] = {}
    name = draw(_mostly(st.sampled_from(_DESTINATIONS), st.text(_CHARS, max_size=12)))
    p["integrations"][name] = draw(_wrong("snl"))
    return f"integrations.{name}", f"integrations.{name} must be a boolean or an object"


def _type_bad(draw: st.DrawFn, p: dict[str, Any], limits: Limits) -> tuple[str, str]:
    p["type"] = draw(st.one_of(st.sampled_from(
        ("track", "identify", "page", "screen", "alias", "", "Group", " group", "group\n")),
        _wrong("nblo")))
    return "type", 'type must be "group"'


#: How to break each rule of CONTRACT.md's table, by its number.
_BREAKERS: Final[dict[str, Breaker]] = {
    "1": _group_id_missing, "2": _group_id_type, "3": _group_id_long, "4": _group_id_chars,
    "5": _identity_missing, "6": _identity_type, "7": _traits_type, "8": _traits_many,
    "9": _trait_name_long, "10": _traits_deep, "11": _reserved_type, "12": _timestamp_type,
    "13": _message_id_bad, "14": _context_bad, "15": _integrations_bad, "16": _type_bad,
}


def _reserved_names(limits: Limits) -> tuple[str, ...]:
    return tuple(name for name in _RESERVED if len(name) <= limits.max_trait_name_length)


def _slack(rule: str, limits: Limits) -> int:
    """Bytes a breaker may add to its valid base payload, at most."""
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
    if rule == "8" and _capacity(limits.max_trait_name_length) <= limits.max_traits:
        return "max_trait_name_length is too short for max_traits + 1 distinct names"
    if rule == "10" and limits.max_trait_depth + 3 > limits.max_json_depth:
        return "traits that deep would break max_json_depth first"
    if rule == "11" and not _reserved_names(limits):
        return "no reserved trait name fits max_trait_name_length"
    return None


def invalid_group_payloads(*, rules: Iterable[str] | None = None,
                           limits: Limits | None = None) -> Strategy[InvalidCase]:
    """Group bodies that break exactly one rule, as ``InvalidCase(payload, field, message)``.

    Each case is a valid payload from ``group_payloads()`` with one rule of CONTRACT.md's
    table broken (``rules``: a subset of ``"1"`` .. ``"16"``, default all), still within the
    body limit; ``message`` and ``field`` are the first error the validator must report. Only
    for the default groupId pattern. Shrinks toward the first rule chosen, a minimal base payload
    and the simplest break (for rule 1: groupId removed).
    """
    limits = _check_limits(limits)
    if not _default_pattern(limits):
        raise InvalidArgument("invalid_group_payloads() supports only the default groupId "
                              "pattern")
    if rules is None:
        chosen = tuple(rule for rule in _BREAKERS if _unbreakable(rule, limits) is None)
    elif isinstance(rules, str | bytes) or not isinstance(rules, Iterable):
        raise InvalidArgument(f"rules must be an iterable of rule numbers like ['3', '8'], "
                              f"not {rules!r}")
    else:
        chosen = tuple(dict.fromkeys(str(rule) if isinstance(rule, int) else rule
                                     for rule in rules))
    for rule in chosen:
        if rule not in _BREAKERS:
            raise InvalidArgument(f"unknown rule {rule!r}: rules are '1' to '16'")
        if (reason := _unbreakable(rule, limits)) is not None:
            raise InvalidArgument(f"rule {rule} cannot be broken under {limits}: {reason}")
    if not chosen:
        raise InvalidArgument("rules is empty: choose at least one rule")
    return _invalid_cases(chosen, limits)


@st.composite
def _invalid_cases(draw: st.DrawFn, chosen: tuple[str, ...], limits: Limits) -> InvalidCase:
    rule = draw(st.sampled_from(chosen))
    base = draw(_group_payload(_GroupSpec(limits), limits.max_body_bytes - _slack(rule, limits)))
    field, message = _BREAKERS[rule](draw, base, limits)
    return InvalidCase(base, field, message)


# --- batches ----------------------------------------------------------------------------------


def batches(*, min_size: int = 1, max_size: int = 20, types: Iterable[str] | None = None,
            limits: Limits | None = None) -> Strategy[dict[str, Any]]:
    """Valid ``/v1/batch`` bodies: ``{"batch": [...]}`` of ``min_size`` to ``max_size`` items.

    Items are group messages (``"type": "group"``) mixed with the other ``types`` (default:
    all six), each within the item limit and the whole within the batch limit; sometimes with
    batch-level ``sentAt``, ``context``, ``integrations`` and ``writeKey``. A batch of more than
    16 items repeats 16 drawn items. Shrinks toward ``min_size`` group items.
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
def _batches(draw: st.DrawFn, low: int, high: int, kinds: tuple[str, ...],
             limits: Limits) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, strategy in (("sentAt", _ANY_TIME), ("context", contexts()),
                          ("integrations", _INTEGRATIONS), ("writeKey", st.just("batch-key"))):
        if draw(st.booleans()):
            body[key] = draw(strategy)
    count = draw(st.integers(low, high))
    room = limits.max_batch_bytes - _size(body) - 16
    each = min(limits.max_item_bytes, room // max(count, 1) - 1)
    pool = [_draw_item(draw, draw(st.sampled_from(kinds)), limits, each)
            for _ in range(min(count, 16))]
    body["batch"] = [copy.deepcopy(pool[i % len(pool)]) for i in range(count)]
    return body


def _draw_item(draw: st.DrawFn, kind: str, limits: Limits, budget: int) -> dict[str, Any]:
    """One valid batch item of ``kind``, of at most ``budget`` bytes."""
    if kind == "group":
        spec = _GroupSpec(limits, rich=False, typed=True, above=4)
        return draw(_group_payload(spec, budget))
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
    extra = "traits" if kind == "identify" else "properties"
    if kind != "alias" and draw(st.booleans()):  # 14 = the key, a colon and a comma
        depth = max(0, min(2, limits.max_json_depth - 5))
        item[extra] = _container(draw, False, depth + 1, budget - used - 14, False)
    return item


# --- SDK calls --------------------------------------------------------------------------------

_SDK_LIMIT: Final = 32 << 10  # the Python SDK's own message limit, on json.dumps' default form
_SDK_ADDS: Final = 1024  # what the SDK adds: type, messageId, timestamp, context.library


def group_calls(*, with_user_id: bool | None = None,
                with_anonymous_id: bool | None = None) -> Strategy[dict[str, Any]]:
    """Keyword arguments for the Python SDK's ``Client.group(**call)`` that make a valid message.

    Keys: ``user_id``, ``anonymous_id`` (a string, a positive int the SDK stringifies, or
    ``None``/``""`` when the other is set), ``group_id``, ``traits`` (JSON-safe, no NaN),
    ``context``, ``timestamp`` (a timezone-aware datetime from 2000 to 2100), ``integrations``,
    ``message_id``. The SDK adds ``context.library`` to the dict you pass: pass a copy.
    Shrinks toward a call with a user_id only and empty traits.
    """
    _check_flag("with_user_id", with_user_id)
    _check_flag("with_anonymous_id", with_anonymous_id)
    if with_user_id is False and with_anonymous_id is False:
        raise InvalidArgument("the SDK needs user_id or anonymous_id: both cannot be False")
    return _group_calls(with_user_id, with_anonymous_id)


@st.composite
def _group_calls(draw: st.DrawFn, with_user_id: bool | None,
                 with_anonymous_id: bool | None) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    _draw_identity(draw, ids, with_user_id, with_anonymous_id, 64, 2**31)
    for key in ("userId", "anonymousId"):
        if ids.get(key) and draw(st.integers(0, 5)) == 5:
            ids[key] = draw(st.integers(1, 10**12))
    call: dict[str, Any] = {
        "user_id": ids.get("userId"), "anonymous_id": ids.get("anonymousId"),
        "group_id": draw(_group_ids(1, _DEFAULT_LIMITS.max_id_length)),
        "traits": {},
        "context": draw(st.one_of(st.none(), contexts())),
        "timestamp": draw(st.datetimes(datetime(2000, 1, 1), datetime(2100, 12, 31, 23, 59),
                                       timezones=_OFFSETS)),
        "integrations": draw(st.one_of(st.none(), _INTEGRATIONS)),
        "message_id": draw(st.one_of(st.none(), _message_ids(100))),
    }
    # The SDK measures json.dumps(message) with ", " and ": ", at most 1.5 times compact JSON.
    spaced = len(json.dumps(call, default=str))
    if draw(st.booleans()):
        budget = int((_SDK_LIMIT - _SDK_ADDS - spaced) / 1.5)
        call["traits"] = _draw_traits(draw, _TraitSpec(_DEFAULT_LIMITS), budget, call["group_id"])
    return call
