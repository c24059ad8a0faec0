"""The journal: one record per message received, accepted or not. Thread-safe; knows no HTTP.

Two stores share one interface: :class:`Journal` keeps records in memory, bounded by a count
and a byte budget (the oldest are evicted and counted once either is reached);
:class:`SqliteJournal` (in :mod:`mockseg.sqlite_journal`, re-exported here) keeps them in a
SQLite file in WAL mode, committed before the call is answered, shareable by several server
processes.

Waiting costs the recording side almost nothing: a pending :meth:`Journal.wait` is registered
with its filter, and each new record is checked against each registered filter once. No waiter
scans the journal again after its first selection, which starts at its ``after`` id by bisection
(records are kept in increasing id order).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar

from mockseg.jsoncodec import dumps
from mockseg.validation import Violation

if TYPE_CHECKING:
    from mockseg.plans import PlanViolation
    from mockseg.sqlite_journal import SqliteJournal

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RECORDS",
    "RECORD_OVERHEAD_BYTES",
    "CallFilter",
    "Journal",
    "Record",
    "SqliteJournal",
    "kept_bytes",
]

log = logging.getLogger("mockseg")

#: How many records the memory journal keeps before it evicts the oldest.
DEFAULT_MAX_RECORDS = 100_000
#: The memory journal's byte budget (256 MB), counted with :func:`kept_bytes`.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: What a record is counted for beyond its text (see :func:`kept_bytes`): the record object,
#: its ids, timestamp and verdict, and its share of the headers and answer it points at.
RECORD_OVERHEAD_BYTES = 1024


class Record:
    """One recorded message, with the journal's field names as attributes.

    The payload is kept as its JSON bytes (for a single call, the body exactly as received)
    and decoded on each read of :attr:`payload`: a parsed message takes several times the
    memory of its text. The ids that filters and assertions look at are kept decoded.
    """

    __slots__ = (
        "_kept_bytes",
        "_payload",
        "anonymous_id",
        "auth",
        "duplicate_of",
        "errors",
        "fault",
        "group_id",
        "headers",
        "http_status",
        "id",
        "message_id",
        "path",
        "raw_body",
        "received_at",
        "request_id",
        "response",
        "scope",
        "status",
        "type",
        "user_id",
        "violations",
        "warnings",
        "write_key",
    )

    def __init__(
        self,
        *,
        request_id: str,
        received_at: str,
        path: str,
        type: str | None,
        status: str,
        http_status: int,
        errors: list[Violation],
        warnings: list[Violation],
        payload: Any,
        write_key: str | None,
        headers: Mapping[str, str],
        fault: bool = False,
        raw_body: str | None = None,
        scope: str | None = None,
        payload_json: bytes | None = None,
        auth: str | None = None,
        violations: Sequence[PlanViolation] = (),
    ) -> None:
        """``payload`` is the message as parsed; pass ``payload_json``, its JSON bytes, to have
        the record keep those instead of the parsed object. ``violations``: of the server's
        tracking plan, if it has one."""
        self.id = 0
        self.request_id = request_id
        self.received_at = received_at
        self.path = path
        self.type = type
        self.status = status
        self.http_status = http_status
        self.errors = errors
        self.warnings = warnings
        #: What breaks the tracking plan: ``PlanViolation(type, field, description)``s.
        self.violations: Sequence[PlanViolation] = violations
        fields = payload if isinstance(payload, dict) else {}
        #: The payload's ``groupId``, ``userId``, ``anonymousId`` and ``messageId`` (or None).
        self.group_id: Any = fields.get("groupId")
        self.user_id: Any = fields.get("userId")
        self.anonymous_id: Any = fields.get("anonymousId")
        self.message_id: Any = fields.get("messageId")
        self._payload: Any = payload_json if payload_json is not None else payload
        self.write_key = write_key
        #: How the write key came: "basic", "bearer", "body", "basic+body", "bearer+body", None.
        self.auth = auth
        self.headers = headers
        self.duplicate_of: int | None = None
        self.fault = fault
        self.raw_body = raw_body
        self.scope = scope
        #: The exact answer: ``{"status", "headers", "body"}`` (shared by a request's records).
        self.response: Mapping[str, Any] | None = None
        self._kept_bytes = 0  # set by the memory journal that keeps it

    @property
    def payload(self) -> Any:
        """The message as received (a fresh copy on each read), or None."""
        if isinstance(self._payload, bytes):
            return json.loads(self._payload)
        return self._payload

    @property
    def traits(self) -> Any:
        """The payload's ``traits``, or None."""
        payload = self.payload
        return payload.get("traits") if isinstance(payload, dict) else None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_dict(self) -> dict[str, Any]:
        """The record as the admin API serves it."""
        data = {
            "id": self.id,
            "request_id": self.request_id,
            "received_at": self.received_at,
            "path": self.path,
            "type": self.type,
            "status": self.status,
            "http_status": self.http_status,
            "errors": [error.to_dict() for error in self.errors],
            "warnings": [warning.to_dict() for warning in self.warnings],
            "violations": [violation.to_dict() for violation in self.violations],
            "payload": self.payload,
            "write_key": self.write_key,
            "auth": self.auth,
            "headers": dict(self.headers),
            "duplicate_of": self.duplicate_of,
            "fault": self.fault,
            "scope": self.scope,
            "response": _plain(self.response),
        }
        if self.raw_body is not None:
            data["raw_body"] = self.raw_body
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        """A record from its admin-API form (the inverse of :meth:`to_dict`)."""
        record = cls(
            request_id=data["request_id"],
            received_at=data["received_at"],
            path=data["path"],
            type=data["type"],
            status=data["status"],
            http_status=data["http_status"],
            errors=[Violation(e["field"], e["message"]) for e in data["errors"]],
            warnings=[Violation(w["field"], w["message"], "warning") for w in data["warnings"]],
            payload=data["payload"],
            write_key=data["write_key"],
            auth=data.get("auth"),
            headers=data["headers"],
            fault=data.get("fault", False),
            raw_body=data.get("raw_body"),
            scope=data.get("scope"),
            violations=_plan_violations(data.get("violations") or ()),
        )
        record.id = data["id"]
        record.duplicate_of = data.get("duplicate_of")
        record.response = data.get("response")
        return record

    def __repr__(self) -> str:
        first = f" {self.errors[0].field}: {self.errors[0].message}" if self.errors else ""
        return (
            f"<Record #{self.id} {self.path} {self.type} {self.status} {self.http_status}"
            f" groupId={self.group_id!r}{first}>"
        )


def _plan_violations(items: Iterable[Mapping[str, Any]]) -> list[PlanViolation]:
    """Violations read back from a record's JSON (the SQLite journal keeps them so)."""
    items = list(items)
    if not items:
        return []
    from mockseg.plans import PlanViolation  # only journals with plan violations need it

    return [PlanViolation.from_dict(item) for item in items]


def _plain(value: Any) -> Any:
    """Read-only mappings (shared answers) as plain dicts, for JSON."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Which records to select. Unset fields match everything; ``type="null"`` matches None."""

    type: str | None = None
    status: str | None = None
    group_id: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    message_id: str | None = None
    path: str | None = None
    write_key: str | None = None
    auth: str | None = None
    request_id: str | None = None
    scope: str | None = None
    #: True: only records that break the tracking plan; False: only those that do not.
    violations: bool | None = None

    #: The admin API's query parameter for each field.
    QUERY_NAMES: ClassVar[dict[str, str]] = {
        "type": "type",
        "status": "status",
        "groupId": "group_id",
        "userId": "user_id",
        "anonymousId": "anonymous_id",
        "messageId": "message_id",
        "path": "path",
        "writeKey": "write_key",
        "auth": "auth",
        "request_id": "request_id",
        "violations": "violations",
    }

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> CallFilter:
        """A filter from the admin API's query parameters (``groupId``, ``userId``, ...)."""
        values: dict[str, Any] = {attr: args[name] for name, attr in cls.QUERY_NAMES.items()
                                  if name in args}
        if "violations" in values:
            flag = str(values["violations"]).strip().lower()
            if flag not in ("true", "false"):
                raise ValueError(f"violations must be true or false, not {values['violations']!r}")
            values["violations"] = flag == "true"
        return cls(**values)

    @classmethod
    def from_kwargs(cls, filters: Mapping[str, Any]) -> CallFilter:
        """A filter from Python keywords (``group_id=...``); unknown names raise TypeError."""
        known = {f.name for f in fields(cls)}
        unknown = set(filters) - known
        if unknown:
            raise TypeError(
                f"unknown filter {', '.join(sorted(unknown))}; use {', '.join(sorted(known))}"
            )
        return cls(**filters)

    def matches(self, record: Record) -> bool:
        """Whether ``record`` passes every field that is set."""
        if self.type is not None and (record.type or "null") != self.type:
            return False
        if self.auth is not None and (record.auth or "null") != self.auth:
            return False
        if self.violations is not None and bool(record.violations) != self.violations:
            return False
        for name in ("status", "path", "write_key", "request_id", "scope"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(record, name) != wanted:
                return False
        for name in ("group_id", "user_id", "anonymous_id", "message_id"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(record, name) != wanted:
                return False
        return True

    def __str__(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                 if getattr(self, f.name) is not None]
        return ", ".join(parts) or "any"


_ANY = CallFilter()
_ID = attrgetter("id")
#: Sits in the slots of evicted records until the list is compacted; it holds nothing.
_EVICTED: Record = Record.__new__(Record)
#: Evicted slots at the head of the list are dropped once there are this many and they are
#: more than the records kept (each compaction moves the kept references once).
_COMPACT_AFTER = 1024
#: Records a listing reads per hold of the lock (``iter_select``).
_PAGE = 1000
#: How often a waiter asks its ``cancelled`` callable whether its client is still there.
_CANCEL_CHECK_SECONDS = 0.5

Cancelled = Callable[[], bool]


def kept_bytes(record: Record) -> int:
    """What ``record`` counts against the memory journal's byte budget.

    Its payload's JSON bytes (the body as received), its raw body (a request that could not
    be parsed), the text of its errors, warnings, plan violations and recorded headers
    (headers shared by several records are counted for each), plus
    :data:`RECORD_OVERHEAD_BYTES` for the rest.
    """
    payload = record._payload
    if isinstance(payload, bytes):
        size = len(payload)
    elif payload is None:
        size = 0
    else:  # a record made in Python with a parsed payload
        try:
            size = len(dumps(payload))
        except (TypeError, ValueError):  # not JSON at all: its repr is as good an estimate
            size = len(repr(payload))
    size += len(record.raw_body) if record.raw_body is not None else 0
    for found in (record.errors, record.warnings):
        for violation in found:
            size += len(violation.field) + len(violation.message)
    for broken in record.violations:
        size += len(broken.field) + len(broken.description)
    headers = record.headers
    return (size + sum(map(len, headers)) + sum(map(len, headers.values()))
            + RECORD_OVERHEAD_BYTES)


def _window(records: list[Record], limit: int | None, last: int | None) -> list[Record]:
    """The first ``limit`` or the last ``last`` of ``records`` (all of them with neither)."""
    if limit is not None:
        return records[:limit]
    if last is not None:
        return records[max(len(records) - last, 0):]
    return records


def _check_window(limit: int | None, last: int | None) -> None:
    if limit is not None and last is not None:
        raise ValueError("give limit (the oldest matches) or last (the newest), not both")


#: What the totals of stats count of a record: status, type, whether it is a fault, a
#: duplicate, has warnings, breaks the tracking plan; and its scope.
_Signature = tuple[str, str, bool, bool, bool, bool, str | None]


def _signature(record: Record) -> _Signature:
    return (record.status, record.type or "null", bool(record.fault),
            record.duplicate_of is not None, bool(record.warnings), bool(record.violations),
            record.scope)


def _tally(counts: Counter[str], by_type: Counter[str], record: Record, step: int) -> None:
    """Count ``record`` in (step 1) or out of (step -1) the totals that stats reports."""
    _tally_as(counts, by_type, _signature(record), step)


def _tally_as(counts: Counter[str], by_type: Counter[str], signature: _Signature,
              step: int) -> None:
    """Count ``step`` records of ``signature`` in (or, negative, out of) the totals."""
    status, kind, fault, duplicate, warned, violated, _ = signature
    counts[status] += step
    by_type[kind] += step
    if fault:
        counts["faults"] += step
    if duplicate:
        counts["duplicates"] += step
    if warned:
        counts["with_warnings"] += step
    if violated:
        counts["violations"] += step


class _Waiter:
    """One pending wait: its filter, how many matches it wants, and those found so far."""

    __slots__ = ("after", "count", "error", "event", "found", "where", "woken")

    def __init__(self, where: CallFilter, after: int, count: int,
                 found: Iterable[Record] = ()) -> None:
        self.where = where
        self.after = after
        self.count = count
        self.found: deque[Record] = deque(found)
        #: Set when the wait should look again: enough matches, a wake-up, a matcher error.
        self.event = threading.Event()
        self.error: Exception | None = None
        self.woken = False

    def matching(self, records: Sequence[Record]) -> list[Record]:
        """The new records this waiter wants. A matcher that raises ends this wait (with its
        error, raised in the waiting thread), never the call being recorded."""
        try:
            return [record for record in records
                    if record.id > self.after and self.where.matches(record)]
        except Exception as error:
            self.error = error
            self.event.set()
            return []

    def wake(self) -> None:
        self.woken = True
        self.event.set()

    def sleep(self, deadline: float, step: float | None, cancelled: Cancelled | None) -> bool:
        """Wait for the event up to ``step`` seconds; False once the deadline has passed or the
        client has gone."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (cancelled is not None and cancelled()):
            return False
        if cancelled is not None:
            step = _CANCEL_CHECK_SECONDS if step is None else min(step, _CANCEL_CHECK_SECONDS)
        self.event.wait(remaining if step is None else min(remaining, step))
        return True


class _Waiters:
    """A journal's pending waits, guarded by :attr:`lock`.

    The memory journal gives them its own lock, since it offers each new record to them while
    it holds it; the SQLite journal leaves them one of their own, which it never holds while it
    takes its ``_lock``. What is marked "lock held" expects the caller to hold :attr:`lock`;
    the rest takes it.
    """

    __slots__ = ("_pending", "lock")

    def __init__(self, lock: threading.Lock | None = None) -> None:
        self.lock = threading.Lock() if lock is None else lock
        self._pending: set[_Waiter] = set()

    def __bool__(self) -> bool:
        """Whether any wait is pending (lock held)."""
        return bool(self._pending)

    def __iter__(self) -> Iterator[_Waiter]:
        """The pending waiters (lock held)."""
        return iter(self._pending)

    def discard(self, waiters: Iterable[_Waiter]) -> None:
        """Forget ``waiters``, those an offer has satisfied (lock held)."""
        self._pending.difference_update(waiters)

    def register(self, waiter: _Waiter, *, held: bool = False) -> AbstractContextManager[_Waiter]:
        """Register ``waiter`` now, until the ``with`` block of the context manager returned
        ends. ``held``: the caller holds the lock (so that registering is one step with the
        first selection it made under it, and no record is missed or found twice)."""
        if held:
            self._pending.add(waiter)
        else:
            with self.lock:
                self._pending.add(waiter)
        return self._until_left(waiter)

    @contextmanager
    def _until_left(self, waiter: _Waiter) -> Iterator[_Waiter]:
        try:
            yield waiter
        finally:
            with self.lock:
                self._pending.discard(waiter)

    def count(self) -> int:
        """How many waits are pending."""
        with self.lock:
            return len(self._pending)

    def snapshot(self) -> list[_Waiter]:
        """The pending waiters as of now, to go through without the lock."""
        with self.lock:
            return list(self._pending)

    def wake_all(self) -> None:
        """Make every pending wait return now with what it has."""
        with self.lock:
            for waiter in self._pending:
                waiter.wake()


class Journal:
    """Records in memory: ids, duplicate detection, counters and waiting.

    At most ``max_records`` are kept, and at most ``max_bytes`` counted with
    :func:`kept_bytes` (None: no bound; the newest record is kept even if it alone is over
    the budget). Past either, the oldest are evicted; the ``dropped`` count in :meth:`stats`
    says how many, and the first eviction logs a warning naming the bound that was reached.
    """

    def __init__(self, max_records: int | None = DEFAULT_MAX_RECORDS,
                 max_bytes: int | None = DEFAULT_MAX_BYTES) -> None:
        for name, value in (("max_records", max_records), ("max_bytes", max_bytes)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, not {value!r}")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # Oldest first, ids increasing; the slots before _start hold _EVICTED.
        self._records: list[Record] = []
        self._start = 0
        self._bytes = 0
        self._next_id = 1
        self._first_by_message_id: dict[str, int] = {}
        self._counts: Counter[str] = Counter()
        self._by_type: Counter[str] = Counter()
        # The same tallies per scope (with "total"), so a scoped view's stats cost no scan.
        self._scopes: dict[str, tuple[Counter[str], Counter[str]]] = {}
        self._dropped = 0
        self._waiters = _Waiters(self._lock)  # offered new records under the same lock

    def add(self, records: Iterable[Record]) -> list[Record]:
        """Number ``records``, mark duplicates by messageId, store them, evict past the
        bounds and hand the new records to the waiters that want them."""
        added = list(records)
        if self.max_bytes is not None:
            for record in added:
                record._kept_bytes = kept_bytes(record)
        with self._lock:
            signatures: dict[_Signature, int] = {}  # a request's records are mostly alike
            for record in added:
                record.id = self._next_id
                self._next_id += 1
                self._bytes += record._kept_bytes
                self._keep(record, mark_duplicate=True)
                signature = _signature(record)
                signatures[signature] = signatures.get(signature, 0) + 1
            for signature, count in signatures.items():
                self._tally_as(signature, count)
            evicted = self._evict_past_bounds()
            if self._waiters:
                self._offer(added, evicted)
        return added

    def _count(self, record: Record, *, mark_duplicate: bool) -> None:
        """Store one numbered record: duplicate index and counters (lock held)."""
        self._keep(record, mark_duplicate=mark_duplicate)
        self._tally_as(_signature(record), 1)

    def _keep(self, record: Record, *, mark_duplicate: bool) -> None:
        """Store one numbered record in the list and the duplicate index (lock held)."""
        message_id = record.message_id
        if isinstance(message_id, str) and message_id:
            first = self._first_by_message_id.setdefault(message_id, record.id)
            if mark_duplicate and first != record.id:
                record.duplicate_of = first
        self._records.append(record)

    def _tally_as(self, signature: _Signature, step: int) -> None:
        """Count ``step`` records of ``signature`` in the totals and their scope's (lock
        held)."""
        _tally_as(self._counts, self._by_type, signature, step)
        scope = signature[-1]
        if scope is not None:
            counts, by_type = self._scopes.setdefault(scope, (Counter(), Counter()))
            _tally_as(counts, by_type, signature, step)
            counts["total"] += step
            if not counts["total"]:
                del self._scopes[scope]

    def _evict_past_bounds(self) -> bool:
        """Evict the oldest records while a bound is exceeded; whether any went (lock held)."""
        records, max_records, max_bytes = self._records, self.max_records, self.max_bytes
        evicted = False
        while True:
            kept = len(records) - self._start
            if max_records is not None and kept > max_records:
                bound = f"{max_records} records"
            elif max_bytes is not None and self._bytes > max_bytes and kept > 1:
                budget = (f"{max_bytes / 2**20:g} MB" if max_bytes >= 2**20
                          else f"{max_bytes:,} bytes")
                bound = f"{budget} of records (its byte budget)"
            else:
                break
            record = records[self._start]
            records[self._start] = _EVICTED
            self._start += 1
            self._evict(record, bound)
            evicted = True
        if self._start > _COMPACT_AFTER and self._start * 2 > len(records):
            del records[:self._start]
            self._start = 0
        return evicted

    def _evict(self, record: Record, bound: str) -> None:
        """Forget the oldest record, and say so the first time (lock held)."""
        self._tally_as(_signature(record), -1)
        self._bytes -= record._kept_bytes
        if self._by_type[record.type or "null"] == 0:
            del self._by_type[record.type or "null"]
        message_id = record.message_id
        if message_id and self._first_by_message_id.get(message_id) == record.id:
            del self._first_by_message_id[message_id]
        if self._dropped == 0:
            log.warning("mockseg: the journal holds at most %s; evicting the oldest "
                        "(see 'dropped' in /__mockseg/stats)", bound)
        self._dropped += 1

    def _offer(self, added: list[Record], evicted: bool) -> None:
        """Give each waiter the new records it wants; wake those that have enough. After an
        eviction, waiters let go of the evicted records they held (lock held)."""
        oldest = self._records[self._start].id if evicted else 0
        satisfied = []
        for waiter in self._waiters:
            waiter.found.extend(waiter.matching(added))
            found = waiter.found
            while found and found[0].id < oldest:
                found.popleft()
            if len(found) >= waiter.count or waiter.error is not None:
                waiter.event.set()
                satisfied.append(waiter)
        self._waiters.discard(satisfied)

    def _bounds(self, after: int, before: int | None) -> tuple[int, int]:
        """The list positions of the records with ``after < id < before`` (lock held)."""
        records, start = self._records, self._start
        low = bisect_right(records, after, lo=start, key=_ID)
        high = len(records) if before is None else bisect_left(records, before, lo=low, key=_ID)
        return low, high

    def select(
        self, where: CallFilter = _ANY, *, after: int = 0, limit: int | None = None
    ) -> list[Record]:
        """Matching records, oldest first: those with an id above ``after``, at most ``limit``."""
        return self.page(where, after=after, limit=limit)[0]

    def page(
        self,
        where: CallFilter = _ANY,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int | None = None,
        last: int | None = None,
    ) -> tuple[list[Record], int]:
        """Matching records with ``after < id < before``, oldest first: all, the oldest
        ``limit`` or the newest ``last`` of them; and how many match in all."""
        _check_window(limit, last)
        with self._lock:
            low, high = self._bounds(after, before)
            if where == _ANY:
                total = high - low
                if limit is not None:
                    high = min(high, low + limit)
                elif last is not None:
                    low = max(low, high - last)
                return self._records[low:high], total
            chosen = [record for record in self._records[low:high] if where.matches(record)]
        return _window(chosen, limit, last), len(chosen)

    def iter_select(
        self, where: CallFilter = _ANY, *, after: int = 0, before: int | None = None
    ) -> Iterator[Record]:
        """Matching records with ``after < id < before``, oldest first, as of the first
        ``next()``. They are read a page at a time and the lock is never held while the
        caller works, so a long listing delays no tracking call."""
        with self._lock:
            end = self._next_id
        end = end if before is None else min(end, before)
        cursor = after
        while cursor < end - 1:
            with self._lock:
                low, high = self._bounds(cursor, end)
                chunk = self._records[low:min(high, low + _PAGE)]
            if not chunk:
                return
            cursor = chunk[-1].id
            yield from (chunk if where == _ANY else
                        (record for record in chunk if where.matches(record)))

    def wait(
        self,
        count: int,
        timeout: float,
        where: CallFilter = _ANY,
        *,
        after: int = 0,
        cancelled: Cancelled | None = None,
    ) -> tuple[list[Record], bool]:
        """Block until ``count`` records (with an id above ``after``) match, ``timeout``
        seconds pass, or ``cancelled()`` (asked every half second) says the client has gone.
        Returns the matching records and whether there were enough of them.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._lock:
            low, _ = self._bounds(after, None)
            found = [record for record in self._records[low:] if where.matches(record)]
            if len(found) >= count or timeout <= 0:
                return found, len(found) >= count
            pending = self._waiters.register(_Waiter(where, after, count, found), held=True)
        with pending as waiter:
            while not waiter.event.is_set() and waiter.sleep(deadline, None, cancelled):
                pass
        if waiter.error is not None:
            raise waiter.error
        # No longer registered, the waiter is offered nothing more: what it found is settled.
        found = list(waiter.found)
        return found, len(found) >= count

    @property
    def waiting(self) -> int:
        """How many :meth:`wait` calls are pending."""
        return self._waiters.count()

    def wake_waiters(self) -> None:
        """Make every pending :meth:`wait` return now with what it has (a server stopping)."""
        self._waiters.wake_all()

    def clear(self, where: CallFilter = _ANY) -> None:
        """Forget the matching records (all, by default); ids keep increasing."""
        with self._lock:
            live = self._records[self._start:]
            kept = [] if where == _ANY else [r for r in live if not where.matches(r)]
            self._records, self._start, self._bytes = [], 0, 0
            self._first_by_message_id.clear()
            self._counts.clear()
            self._by_type.clear()
            self._scopes.clear()
            for record in kept:  # recount what stays, in order
                self._bytes += record._kept_bytes
                self._count(record, mark_duplicate=False)
            everything = where == _ANY
            for waiter in self._waiters:  # what they found is forgotten too
                waiter.found = deque() if everything else deque(
                    r for r in waiter.found if not where.matches(r))

    def stats(self, where: CallFilter = _ANY) -> dict[str, Any]:
        """Totals: ``total``, ``accepted``, ``rejected``, ``by_type``, ``dropped`` and more."""
        with self._lock:
            if where == _ANY:
                total = len(self._records) - self._start
                return _stats(total, self._counts, self._by_type, self._dropped)
            if where == CallFilter(scope=where.scope) and where.scope is not None:
                scoped = self._scopes.get(where.scope, (Counter(), Counter()))
                return _stats(scoped[0]["total"], *scoped, 0)
            chosen = [r for r in self._records[self._start:] if where.matches(r)]
        counts: Counter[str] = Counter()
        by_type: Counter[str] = Counter()
        for record in chosen:
            _tally(counts, by_type, record, 1)
        return _stats(len(chosen), counts, by_type, 0)

    def close(self) -> None:
        """Nothing to flush for memory; present so every journal can be closed alike."""

    def __len__(self) -> int:
        with self._lock:
            return len(self._records) - self._start


def _stats(total: int, counts: Mapping[str, int], by_type: Mapping[str, int],
           dropped: int) -> dict[str, Any]:
    return {
        "total": total,
        "accepted": counts.get("accepted", 0),
        "rejected": counts.get("rejected", 0),
        "by_type": {name: n for name, n in by_type.items() if n},
        "faults": counts.get("faults", 0),
        "duplicates": counts.get("duplicates", 0),
        "with_warnings": counts.get("with_warnings", 0),
        "violations": counts.get("violations", 0),
        "dropped": dropped,
    }


def __getattr__(name: str) -> Any:
    """``SqliteJournal`` lives in :mod:`mockseg.sqlite_journal`, which imports this module;
    it is re-exported here on first use."""
    if name == "SqliteJournal":
        from mockseg.sqlite_journal import SqliteJournal

        return SqliteJournal
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
