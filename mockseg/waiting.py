"""Pending waits on a journal: each one registered, with its filter, until it returns.

Waiting costs the recording side almost nothing: a journal offers each new record once to each
registered :class:`_Waiter`, whose filter says whether it wants it. The memory journal keeps
what a waiter wants in its ``found``, so no waiter scans the journal again after its first
selection; the SQLite journal only wakes the waiter, which then reads the rows written since
it last looked. Which lock guards the waiters is the journal's choice (see :class:`_Waiters`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from mockseg.records import CallFilter, Record

#: How often a waiter asks its ``cancelled`` callable whether its client is still there.
_CANCEL_CHECK_SECONDS = 0.5

#: Asked while a wait is pending: whether the client that waits has gone.
Cancelled = Callable[[], bool]


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
