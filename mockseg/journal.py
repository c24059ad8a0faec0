"""The journal: one record per message received, accepted or not. Thread-safe; knows no HTTP.

Two stores share one interface: :class:`Journal` keeps records in memory, bounded by a count
and a byte budget (the oldest are evicted and counted once either is reached);
:class:`SqliteJournal` (in :mod:`mockseg.sqlite_journal`, re-exported here) keeps them in a
SQLite file in WAL mode, committed before the call is answered, shareable by several server
processes. What they keep, :class:`Record`, and the filter that selects it, :class:`CallFilter`,
are defined in :mod:`mockseg.records` and re-exported here; the pending waits of both are in
:mod:`mockseg.waiting`.

A pending :meth:`Journal.wait` selects once, from its ``after`` id by bisection (records are
kept in increasing id order), and is then offered only the new records, under the journal's
lock.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from mockseg.jsoncodec import dumps
from mockseg.records import _ANY as _ANY
from mockseg.records import CallFilter, Record
from mockseg.records import _plain as _plain
from mockseg.waiting import Cancelled as Cancelled
from mockseg.waiting import _Waiter as _Waiter
from mockseg.waiting import _Waiters as _Waiters

# The ``name as name`` imports re-export the internal names that were defined here before records
# and waiting were split off, for the code that still imports them from here.

if TYPE_CHECKING:
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


_ID = attrgetter("id")
#: Sits in the slots of evicted records until the list is compacted; it holds nothing.
_EVICTED: Record = Record.__new__(Record)
#: Evicted slots at the head of the list are dropped once there are this many and they are
#: more than the records kept (each compaction moves the kept references once).
_COMPACT_AFTER = 1024
#: Recorded-headers mappings whose size the journal remembers (see ``Journal.add``).
_HEADER_SIZES = 256
#: Records a listing reads per hold of the lock (``iter_select``).
_PAGE = 1000


def kept_bytes(record: Record, header_bytes: int | None = None) -> int:
    """What ``record`` counts against the memory journal's byte budget.

    Its payload's JSON bytes (the body as received), its raw body (a request that could not
    be parsed), the text of its errors, warnings, plan violations and recorded headers
    (headers shared by several records are counted for each; ``header_bytes``, when given, is
    their :func:`_header_bytes`), plus :data:`RECORD_OVERHEAD_BYTES` for the rest.
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
    if header_bytes is None:
        header_bytes = _header_bytes(record.headers)
    return size + header_bytes + RECORD_OVERHEAD_BYTES


def _header_bytes(headers: Mapping[str, str]) -> int:
    """The text of recorded headers: names and values."""
    return sum(map(len, headers)) + sum(map(len, headers.values()))


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
        # The size of each recorded-headers mapping seen lately, by its id (the mapping is
        # kept, so that its id is not reused): a request's records share one mapping, and the
        # app gives requests with the same recorded headers the same one.
        self._header_sizes: dict[int, tuple[Mapping[str, str], int]] = {}

    def add(self, records: Iterable[Record]) -> list[Record]:
        """Number ``records``, mark duplicates by messageId, store them, evict past the
        bounds and hand the new records to the waiters that want them."""
        added = list(records)
        if self.max_bytes is not None:
            sizes = self._header_sizes
            for record in added:
                headers = record.headers
                known = sizes.get(id(headers))
                if known is None or known[0] is not headers:
                    if len(sizes) >= _HEADER_SIZES:
                        sizes.clear()
                    known = sizes[id(headers)] = (headers, _header_bytes(headers))
                record._kept_bytes = kept_bytes(record, known[1])
        with self._lock:
            next_id = self._next_id
            for record in added:
                record.id = next_id
                next_id += 1
            self._next_id = next_id
            self._keep(added, mark_duplicate=True)
            evicted = self._evict_past_bounds()
            if self._waiters:
                self._offer(added, evicted)
        return added

    def _keep(self, records: list[Record], *, mark_duplicate: bool) -> None:
        """Store numbered records, oldest first: the list, the duplicate index, the bytes and
        the totals (lock held)."""
        first_ids = self._first_by_message_id
        signatures: dict[_Signature, int] = {}  # a request's records are mostly alike
        size = 0
        for record in records:
            message_id = record.message_id
            if isinstance(message_id, str) and message_id:
                first = first_ids.setdefault(message_id, record.id)
                if mark_duplicate and first != record.id:
                    record.duplicate_of = first
            size += record._kept_bytes
            signature = _signature(record)
            signatures[signature] = signatures.get(signature, 0) + 1
        self._records.extend(records)
        self._bytes += size
        for signature, count in signatures.items():
            self._tally_as(signature, count)

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
            self._keep(kept, mark_duplicate=False)  # recount what stays, in order
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
