"""MockSegment and ScopedMockSegment: the fake's handle with the test kit's assertions.

:class:`mockseg.server.Fake` and :class:`mockseg.server.ScopedFake` are the fake itself (its
app, journal, faults and server); the classes here add ``assert_group``,
``assert_no_violations``, ``assert_no_rejections`` and ``assert_nothing_sent``, whose failure
messages (from :mod:`mockseg.assertions`) show the nearest calls and the fields that differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from mockseg.app import Mode
from mockseg.assertions import (
    GroupMatcher,
    describe_record,
    describe_violations,
    format_differences,
    near_misses,
)
from mockseg.journal import CallFilter, Record
from mockseg.rules import Limits
from mockseg.server import Fake, ScopedFake, View

__all__ = ["ASSERT_TIMEOUT", "MockSegment", "ScopedMockSegment"]

#: How long assertions wait for calls to arrive: SDKs flush from a background thread.
ASSERT_TIMEOUT = 2.0


class _Assertions(View):
    """What the test kit adds to a fake and to its scoped views: the assertions, and views
    that have them too."""

    def scoped(
        self,
        mode: Mode | None = None,
        write_keys: Iterable[str] | None = None,
        *,
        limits: Limits | None = None,
        tracking_plan: Any = None,
    ) -> ScopedMockSegment:
        """A fresh private view of the same server: its own URL, settings, faults and calls.

        Settings not given are this fake's. ``tracking_plan``: a path, the parsed export or a
        ``TrackingPlan`` (``mockseg.plans.load_plan``). Use it as a context manager, or call
        ``close()``.
        """
        view = super().scoped(mode, write_keys, limits=limits, tracking_plan=tracking_plan)
        return cast(ScopedMockSegment, view)  # a MockSegment's scoped_class

    def assert_group(
        self,
        group_id: Any = None,
        user_id: Any = None,
        anonymous_id: Any = None,
        traits: Mapping[str, Any] | None = None,
        count: int | None = None,
        *,
        exact_traits: Mapping[str, Any] | None = None,
        status: str | None = "accepted",
        timeout: float = ASSERT_TIMEOUT,
        violations: bool = False,
    ) -> list[Record]:
        """Assert that matching group calls arrived; return them.

        ``traits`` must be a subset of the call's traits, ``exact_traits`` all of them. With
        ``count`` exactly that many must match, else at least one. Waits up to ``timeout``
        seconds for calls still in flight. On failure the message shows the nearest calls and
        the fields that differ. A matching call that breaks the tracking plan fails it too,
        with each violation listed, unless ``violations=True``.
        """
        __tracebackhide__ = True
        matcher = GroupMatcher(group_id, user_id, anonymous_id, traits, exact_traits, status)
        scoped = _ScopedMatcher(matcher, self.scope)
        wanted = 1 if count is None else max(count, 1)
        found, _ = self.journal.wait(wanted, timeout, scoped)  # type: ignore[arg-type]
        if count == 0:
            found = self.journal.select(scoped)  # type: ignore[arg-type]
        if (count is None and found) or (count is not None and len(found) == count):
            off_plan = [] if violations else [record for record in found if record.violations]
            if not off_plan:
                return found
            lines = [f"assert_group: {len(off_plan)} matching group call(s) break the tracking "
                     "plan (pass violations=True to allow that):"]
            for record in off_plan[:5]:
                lines.append(f"    {describe_record(record)}")
                lines += describe_violations(record)
            raise AssertionError("\n".join(lines))
        how_many = "at least 1" if count is None else str(count)
        lines = [f"assert_group: expected {how_many} group call(s) matching "
                 f"{matcher.describe()}; found {len(found)}."]
        if found:
            lines.append("  matching calls:")
            lines += [f"    {describe_record(record)}" for record in found[:5]]
        others = [record for record in self.calls if not matcher.matches(record)]
        if not found:
            if not others:
                lines.append(f"  No calls were recorded at all (waited {timeout:g}s).")
            else:
                lines.append(f"  Nearest of the {len(others)} recorded call(s):")
                for record, differences in near_misses(matcher, others):
                    lines.append(f"    {describe_record(record)}")
                    lines += format_differences(differences)
        raise AssertionError("\n".join(lines))

    def assert_no_violations(self) -> None:
        """Assert that no recorded call broke the tracking plan; the message lists each
        violation with its field, its description and the payload's value there."""
        __tracebackhide__ = True
        broken = self.select(violations=True)
        if broken:
            count = sum(len(record.violations) for record in broken)
            lines = [f"assert_no_violations: {len(broken)} call(s) break the tracking plan "
                     f"({count} violation(s)):"]
            for record in broken[:10]:
                lines.append(f"    {describe_record(record)}")
                lines += describe_violations(record)
            if len(broken) > 10:
                lines.append(f"    ... and {len(broken) - 10} more")
            raise AssertionError("\n".join(lines))

    def assert_no_rejections(self) -> None:
        """Assert that no recorded call was rejected; the message lists each rejected one."""
        __tracebackhide__ = True
        rejected = self.select(status="rejected")
        if rejected:
            lines = [f"assert_no_rejections: {len(rejected)} call(s) were rejected:"]
            lines += [f"    {describe_record(record)}" for record in rejected[:10]]
            if len(rejected) > 10:
                lines.append(f"    ... and {len(rejected) - 10} more")
            raise AssertionError("\n".join(lines))

    def assert_nothing_sent(self, timeout: float = 0.0) -> None:
        """Assert that no call arrived (waiting ``timeout`` seconds for late ones)."""
        __tracebackhide__ = True
        records, _ = self.journal.wait(1, timeout, self._where({}))
        if records:
            lines = [f"assert_nothing_sent: {len(records)} call(s) arrived:"]
            lines += [f"    {describe_record(record)}" for record in records[:10]]
            raise AssertionError("\n".join(lines))


class _ScopedMatcher:
    """A GroupMatcher restricted to one scope (None: every scope)."""

    def __init__(self, matcher: GroupMatcher, scope: str | None) -> None:
        self.matcher = matcher
        self.scope = scope
        #: What a SQL-backed journal can narrow by before ``matches`` runs.
        self.prefilter = CallFilter(type="group", status=matcher.status, scope=scope)

    def matches(self, record: Record) -> bool:
        return (self.scope is None or record.scope == self.scope) and self.matcher.matches(record)


class ScopedMockSegment(_Assertions, ScopedFake):
    """A private view of a :class:`MockSegment`: calls sent to its ``url`` (or through its
    ``app`` or ``intercept()``) are judged with its settings and seen only by it; its
    assertions see only them."""

    server: MockSegment


class MockSegment(_Assertions, Fake):
    """A fake Segment Tracking API that checks the group contract and records every call, with
    assertions on what it recorded.

    Use ``.app`` in-process (werkzeug's test ``Client``, no socket), ``.intercept()`` to catch an
    SDK's requests to api.segment.io in-process, or ``.start()`` to serve on 127.0.0.1 with an
    ephemeral port. ``with MockSegment() as fake:`` starts and stops it.
    """

    scoped_class = ScopedMockSegment
