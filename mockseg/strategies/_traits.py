"""Valid traits: the reserved ones of their documented types, and custom traits of any JSON.

``traits()`` and ``reserved_traits()`` are the public strategies. ``_draw_traits`` also draws
the traits of a group payload and of an SDK call (``_valid.py``) within the bytes left to them,
each trait's share leaving room for those after it; ``_container`` draws the nested values, and
the properties (or traits) of a batch item.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mockseg.rules import ADDRESS_KEYS, Limits
from mockseg.strategies._base import (
    _ANY_TIME,
    _B62,
    _CHARS,
    _COMPANIES,
    _EMAILS,
    _FLOATS,
    _LOWER,
    _MIN_ENTRY,
    _PHONES,
    _RESERVED,
    _TINY_SCALARS,
    _TRAIT_NAMES,
    _URLS,
    _WORDS,
    Draw,
    Json,
    Strategy,
    _check_flag,
    _check_limits,
    _check_size,
    _entry,
    _fit,
    _mostly,
    _repeat_fit,
    _size,
    _texts,
    _words,
)


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
