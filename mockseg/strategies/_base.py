"""Shared pieces of the strategies: sizes, small strategies, argument checks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mockseg.rules import Limits
from mockseg.validation import check_message

Json = Any
Strategy = st.SearchStrategy
Draw = st.DrawFn

#: The characters of a groupId under the default pattern.
GROUP_ID_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-.:"
_DEFAULT: Final = Limits()
_CHARS: Final = st.characters(exclude_categories=["Cs"])  # any Unicode but lone surrogates
_ABSENT: Final = object()  # leave the key out, beside null and ""
_MIN_ENTRY: Final = 9  # bytes of the smallest trait we fall back to: '"zz": 0, '
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
    """Bytes of ``value`` as JSON in the most expansive of the encodings in common use.

    That is Python's ``json.dumps`` with its defaults, as ``requests``' ``json=`` and the
    official Python SDK send it: ``", "`` and ``": "`` separators, and every non-ASCII
    character as a ``\\u`` escape (6 bytes, 12 for an emoji's surrogate pair), never fewer
    than its UTF-8 bytes. On top, ``<``, ``>`` and ``&`` count 6 bytes, as Go's
    ``encoding/json`` escapes them, and a float counts as long as its positional form where
    JavaScript and Go write one (``1e+20`` is ``100000000000000000000`` there). So the size
    also bounds compact UTF-8 JSON: orjson, ``JSON.stringify``, httpx, Go.
    """
    text = json.dumps(value, allow_nan=False)
    size = len(text) + 5 * (text.count("<") + text.count(">") + text.count("&"))
    if "e+" in text or "e-" in text:  # perhaps a float in exponent form
        size += _float_excess(value)
    return size


def _float_excess(value: Json) -> int:
    """How many bytes the floats in ``value`` may take beyond Python's ``repr`` of them."""
    if isinstance(value, float):
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        if not exponent or not -6 <= int(exponent) <= 20:
            return 0
        power, digits = int(exponent), len(mantissa.lstrip("-").replace(".", ""))
        # repr() writes an exponent from 1e16 up: 1e+20 is 21 digits; below 1e-4 it writes
        # 1.5e-05 where the others may write 0.000015: "0.", 4 zeros and the digits
        positional = power + 1 if power >= 0 else 1 - power + digits
        return max(0, positional + text.startswith("-") - len(text))
    if isinstance(value, dict):
        return sum(_float_excess(item) for item in value.values())
    if isinstance(value, list):
        return sum(_float_excess(item) for item in value)
    return 0


def _entry(key: str, value: Json) -> int:
    return _size(key) + _size(value) + 4  # ": " and ", "


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
#: Floats that JavaScript and Go write longer than Python: 1e+20 is 100000000000000000000 there.
_LONG_FLOATS: Final = (1e20, -9.5e18, 1e16, 1.5e-06, -2e-05)
_FLOATS = _mostly(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(_LONG_FLOATS))
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


@st.composite
def _timestamps(draw: Draw, low: datetime, high: datetime) -> str:
    """The date-times of ``timestamps()`` (in ``_valid.py``, which checks the bounds)."""
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
