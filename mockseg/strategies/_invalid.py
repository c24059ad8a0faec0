"""Invalid group payloads: one rule of the table broken, with its exact message."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, Final, NamedTuple

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mockseg.rules import Limits
from mockseg.strategies._base import (
    _ABSENT,
    _ANY_TIME,
    _CHARS,
    _DESTINATIONS,
    _FLOATS,
    _RESERVED,
    _SMALL_SCALARS,
    _TIMESTAMP_FIELDS,
    GROUP_ID_ALPHABET,
    Draw,
    Json,
    Strategy,
    _check_limits,
    _default_pattern,
    _mostly,
    _repeat,
    _repeated,
)
from mockseg.strategies._traits import _capacity, _fresh_names
from mockseg.strategies._valid import _group_payload, _GroupSpec

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
    broken (``rules``: some of ``"1"`` .. ``"16"``; default all), still within the body limit
    in every common encoding (see ``group_payloads()``).
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
