"""Matching recorded group calls against what a test expected, and saying what differed.

A :class:`GroupMatcher` is a filter with a ``difference()``: the list of ``(field, actual,
expected)`` for one record. A record matches when that list is empty; when nothing matches, the
records with the shortest lists are the near misses that the failure message shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mockseg.journal import Record

__all__ = ["MISSING", "GroupMatcher", "describe_record", "describe_violations", "near_misses",
           "same_json"]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: Stands for a field that is not there, in differences.
MISSING: Final = _Missing()

Difference = tuple[str, Any, Any]  # (field, actual, expected)


def same_json(actual: Any, expected: Any) -> bool:
    """Equality as JSON sees it: 500 equals 500.0, but never True, "500" or [500]."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return actual == expected
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            same_json(actual[key], expected[key]) for key in expected)
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(
            same_json(a, e) for a, e in zip(actual, expected, strict=True))
    return type(actual) is type(expected) and bool(actual == expected)


def compare(actual: Any, expected: Any, path: str, *, subset: bool) -> list[Difference]:
    """Differences between two JSON values, down to the deepest differing field.

    With ``subset=True`` an object may hold keys the expected one does not mention.
    """
    if isinstance(actual, dict) and isinstance(expected, dict):
        found: list[Difference] = []
        for key, value in expected.items():
            where = f"{path}.{key}"
            if key not in actual:
                found.append((where, MISSING, value))
            else:
                found += compare(actual[key], value, where, subset=subset)
        if not subset:
            found += [(f"{path}.{key}", actual[key], MISSING) for key in actual
                      if key not in expected]
        return found
    if isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        found = []
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            found += compare(a, e, f"{path}[{index}]", subset=False)
        return found
    return [] if same_json(actual, expected) else [(path, actual, expected)]


@dataclass(frozen=True)
class GroupMatcher:
    """What a test expects of a group call. Unset fields match anything."""

    group_id: Any = None
    user_id: Any = None
    anonymous_id: Any = None
    traits: Mapping[str, Any] | None = None
    exact_traits: Mapping[str, Any] | None = None
    status: str | None = "accepted"

    def difference(self, record: Record) -> list[Difference]:
        """``(field, actual, expected)`` for every way ``record`` falls short."""
        found: list[Difference] = []
        if record.type != "group":
            found.append(("type", record.type, "group"))
        if self.status is not None and record.status != self.status:
            found.append(("status", record.status, self.status))
        for name, wanted in (("groupId", self.group_id), ("userId", self.user_id),
                             ("anonymousId", self.anonymous_id)):
            if wanted is not None:
                actual = record.payload.get(name, MISSING) if isinstance(
                    record.payload, dict) else MISSING
                if not same_json(actual, wanted):
                    found.append((name, actual, wanted))
        for wanted_traits, subset in ((self.traits, True), (self.exact_traits, False)):
            if wanted_traits is not None:
                actual = record.traits
                if isinstance(actual, dict):
                    found += compare(actual, dict(wanted_traits), "traits", subset=subset)
                else:
                    found.append(("traits", MISSING if actual is None else actual,
                                  dict(wanted_traits)))
        return found

    def matches(self, record: Record) -> bool:
        return not self.difference(record)

    def describe(self) -> str:
        parts = [f"{name}{value!r}" for name, value in (
            ("group_id=", self.group_id), ("user_id=", self.user_id),
            ("anonymous_id=", self.anonymous_id), ("traits including ", self.traits),
            ("traits exactly ", self.exact_traits), ("status=", self.status))
            if value is not None]
        return ", ".join(parts) if parts else "any group call"


def describe_record(record: Record) -> str:
    """One line naming a record: id, path, verdict, ids, first error."""
    payload = record.payload if isinstance(record.payload, dict) else {}
    ids = " ".join(f"{name}={payload[name]!r}" for name in ("groupId", "userId", "anonymousId")
                   if payload.get(name) is not None)
    line = f"#{record.id} {record.path} {record.type or '-'} {record.status} ({record.http_status})"
    if ids:
        line += f" {ids}"
    if record.errors:
        error = record.errors[0]
        more = f" (+{len(record.errors) - 1} more)" if len(record.errors) > 1 else ""
        line += f"\n      error: {error.field}: {error.message}{more}"
    return line


def near_misses(
    matcher: GroupMatcher, records: Iterable[Record], most: int = 3
) -> list[tuple[Record, list[Difference]]]:
    """The ``most`` records that differ from ``matcher`` in the fewest fields, newest first."""
    scored = [(record, matcher.difference(record)) for record in records]
    scored.sort(key=lambda pair: (len(pair[1]), -pair[0].id))
    return scored[:most]


def format_differences(differences: Sequence[Difference]) -> list[str]:
    return [f"      {field}: expected {expected!r}, got {actual!r}"
            for field, actual, expected in differences]


_STEP = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")


def value_at(payload: Any, field: str) -> Any:
    """The payload's value at a dotted field (``traits.address.city``, ``products[0].price``;
    a batch item's ``batch[3].`` prefix is its own payload), or :data:`MISSING`."""
    field = re.sub(r"^batch\[\d+\]\.", "", field)
    value = payload
    for index, name in _STEP.findall(field):
        if index:
            if not isinstance(value, list) or int(index) >= len(value):
                return MISSING
            value = value[int(index)]
        elif isinstance(value, dict) and name in value:
            value = value[name]
        else:
            return MISSING
    return value


def describe_violations(record: Record) -> list[str]:
    """One line per violation of the tracking plan: field, description, and the payload's
    value there."""
    payload = record.payload
    lines = []
    for violation in record.violations:
        value = value_at(payload, violation.field)
        shown = "absent" if value is MISSING else f"the payload has {value!r}"
        lines.append(f"      {violation.field}: {violation.description} ({shown})")
    return lines
