"""The SQLite journal: records in a SQLite file (WAL mode), committed before the call is
answered, kept across restarts and shared by several server processes.

Writing is the hot path. An :meth:`SqliteJournal.add` is one transaction in which one INSERT
statement writes up to 100 records; each record's row and stored JSON are made from bytes
(:mod:`mockseg.sqlite_rows`, the file's table and columns) before the write lock is taken.
Under the lock, the file says the next id and, through its messageId index, the first record of
each messageId, so ids stay unique and increasing and ``duplicate_of`` points at the first
record in the file, whichever process wrote it.

Processes that share a file take turns writing on a lock file beside it (``FILE-lock``, a
blocking ``flock``): a waiting writer wakes as soon as the other commits, where SQLite's own
busy handler would sleep a millisecond or more before it looked again. A thread copies the WAL
into the file in the background (see :class:`_Checkpointer`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import IO, Any

from mockseg.journal import _PAGE, _check_window, _stats, _window
from mockseg.records import _ANY, CallFilter, Record
from mockseg.sqlite_rows import (
    ADDED_COLUMNS,
    FILTER_COLUMNS,
    INSERT_ROWS,
    LAST_ID,
    LOOKUP_CHUNK,
    LOOKUP_SIZES,
    OWN_COLUMNS,
    SCHEMA,
    SHARED_COLUMNS,
    first_ids_query,
    insert_query,
    prepared_rows,
    with_ids,
)
from mockseg.waiting import Cancelled, _Waiter, _Waiters

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler alone serializes the writers
    fcntl = None  # type: ignore[assignment]

__all__ = ["SqliteJournal"]

log = logging.getLogger("mockseg")

#: Statements a connection keeps prepared: an INSERT per row count up to INSERT_ROWS, the
#: messageId look-ups and the admin API's queries.
_STATEMENTS = 256
#: Bytes of records a process writes between two background checkpoints (about 1,000 pages
#: of 4 KB, SQLite's default), and the WAL pages at which a writer checkpoints it itself
#: (40 MB of 8 KB pages).
_CHECKPOINT_BYTES = 4_000_000
_BACKSTOP_PAGES = 5_000
#: The page size of a new journal file.
_PAGE_SIZE = 8192
#: How often a waiter looks for records that other processes wrote.
_POLL_SECONDS = 0.05



class _FileLock:
    """An exclusive ``flock`` on ``FILE-lock``, for the writers of every process sharing the
    file; opened anew in a forked child (a lock inherited across fork would be shared)."""

    def __init__(self, path: Path) -> None:
        #: None for a database no other process can open (``:memory:``).
        self.path = Path(f"{path}-lock") if str(path) != ":memory:" else None
        self._file: IO[bytes] | None = None
        self._pid = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        if fcntl is None or self.path is None:
            yield
            return
        if self._file is None or self._pid != os.getpid():
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open with the journal
            self._pid = os.getpid()
        fileno = self._file.fileno()
        fcntl.flock(fileno, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fileno, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _Checkpointer:
    """Copies the WAL into the database file from a thread of its own, so that calls do not:
    SQLite's automatic checkpoint copies the WAL inside the COMMIT of whichever call crosses
    its threshold (1,000 pages by default: 10 to 30 ms, fsyncs included, once every ~30
    batches of 100).

    A passive checkpoint takes no lock that writers or readers wait on, so writers go on
    appending meanwhile; but SQLite starts the WAL over only at a commit that finds all of it
    copied, which a checkpoint racing busy writers rarely leaves. So the writing connection
    keeps SQLite's own checkpoint at :data:`_BACKSTOP_PAGES`: by then the thread has copied
    nearly everything, and that checkpoint only copies the rest and syncs, once per ~40 MB of WAL.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._due = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._written = 0

    def wrote(self, size: int) -> None:
        """Count ``size`` bytes written; past the threshold, have the WAL checkpointed."""
        self._written += size
        if self._written < _CHECKPOINT_BYTES or self._closing:
            return
        self._written = 0
        if self._thread is None or self._pid != os.getpid():  # none yet, or forked since
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="mockseg:checkpoint",
                                            daemon=True)
            self._thread.start()
        self._due.set()

    def _run(self) -> None:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            while True:
                self._due.wait()
                self._due.clear()
                if self._closing:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:  # the next one, or the backstop, will do
                    log.warning("mockseg: checkpointing %s failed: %s", self.path, error)
        finally:
            db.close()

    def close(self) -> None:
        """Stop the thread (after the checkpoint it is running, if any)."""
        self._closing = True
        self._due.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join()


class SqliteJournal:
    """Records in a SQLite file (WAL mode): committed before the call is answered, kept across
    restarts, and shareable by several server processes (ids stay unique and increasing)."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._writers = _FileLock(self.path)
        self._waiters = _Waiters()  # a lock of their own, never held while taking _lock
        self._clears = 0
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                                   isolation_level=None, cached_statements=_STATEMENTS)
        self._checkpointer = _Checkpointer(self.path)
        # Older SQLite builds take at most 999 parameters per statement.
        variables = self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._insert_rows = max(1, min(INSERT_ROWS, (variables - len(SHARED_COLUMNS))
                                       // len(OWN_COLUMNS)))
        self._lookup_chunk = max(1, min(LOOKUP_CHUNK, variables))
        with self._lock, self._writers.held():  # processes opening a new file take turns
            # A new file gets 8 KB pages: a batch's rows fill fewer of them, so its commit
            # writes less (an existing file keeps its page size; this is a no-op there).
            self._db.execute(f"PRAGMA page_size={_PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # survives a killed process
            self._db.execute("PRAGMA busy_timeout=30000")
            # The checkpointer thread copies the WAL into the file; SQLite's own checkpoint,
            # which runs inside a call's COMMIT, stays as the backstop for a WAL it lets grow.
            self._db.execute(f"PRAGMA wal_autocheckpoint={_BACKSTOP_PAGES}")
            self._db.executescript(SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(calls)")}
            for column, kind in ADDED_COLUMNS.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE calls ADD COLUMN {column} {kind}")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on leaving (lock held by the caller)."""
        with self._writers.held():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _first_ids(self, message_ids: set[str]) -> dict[str, int]:
        """The first id in the file of each of ``message_ids`` that it holds (lock held)."""
        found: dict[str, int] = {}
        wanted = list(message_ids)
        step = self._lookup_chunk
        for start in range(0, len(wanted), step):
            chunk: list[str | None] = list(wanted[start:start + step])
            size = min(LOOKUP_SIZES[bisect_left(LOOKUP_SIZES, len(chunk))], step)
            chunk += [None] * (size - len(chunk))  # a few statement shapes, all cached
            found.update((message_id, first) for message_id, first in self._db.execute(
                first_ids_query(size), chunk) if first is not None)
        return found

    def add(self, records: Iterable[Record]) -> list[Record]:
        """Write ``records`` in one transaction, committed before this returns; number them
        and mark duplicates by messageId, as the file says (other processes write to it)."""
        added = list(records)
        if not added:
            return added
        prepared = prepared_rows(added)
        wanted = {message_id for _, _, message_id, _ in prepared if message_id is not None}
        numbered: list[tuple[int, int | None]] = []
        with self._lock, self._writing() as db:
            last = int(db.execute(LAST_ID).fetchone()[0])
            first = self._first_ids(wanted) if wanted else {}
            # One statement per run of records that share their request's columns, of at
            # most _insert_rows rows: [shared values, rows, values].
            statements: list[list[Any]] = []
            current: list[Any] = [None, self._insert_rows, []]
            for shared, columns, message_id, body in prepared:
                last += 1
                duplicate_of = None
                if message_id is not None:
                    duplicate_of = first.setdefault(message_id, last)
                    if duplicate_of == last:
                        duplicate_of = None
                numbered.append((last, duplicate_of))
                if shared is not current[0] or current[1] == self._insert_rows:
                    current = [shared, 0, list(shared)]
                    statements.append(current)
                current[1] += 1
                values = current[2]
                values += columns
                values += (last, duplicate_of, with_ids(body, last, duplicate_of))
            for _, rows, values in statements:
                db.execute(insert_query(rows), values)
            self._checkpointer.wrote(sum(len(body) for _, _, _, body in prepared))
        for record, (record_id, duplicate_of) in zip(added, numbered, strict=True):
            record.id, record.duplicate_of = record_id, duplicate_of
        # Only the waiters that want one of these look now; the others poll.
        for waiter in self._waiters.snapshot():
            if waiter.matching(added):
                waiter.event.set()
        return added

    @staticmethod
    def _where(where: CallFilter, after: int, before: int | None = None) -> tuple[str, list[Any]]:
        clauses, values = ["id > ?"], [after]
        if before is not None:
            clauses.append("id < ?")
            values.append(before)
        for name, column in FILTER_COLUMNS.items():
            wanted = getattr(where, name)
            if wanted is None:
                continue
            if name in ("type", "auth") and wanted == "null":
                clauses.append(f"{column} IS NULL")
            elif name == "violations":
                clauses.append(f"coalesce({column}, 0) = ?")
                values.append(int(wanted))
            else:
                clauses.append(f"{column} = ?")
                values.append(wanted)
        return " AND ".join(clauses), values

    @staticmethod
    def _narrowed(where: CallFilter) -> CallFilter:
        """What SQL can filter by: ``where`` itself, or the ``prefilter`` of a matcher object."""
        return where if isinstance(where, CallFilter) else getattr(where, "prefilter", _ANY)

    def _rows(self, where: CallFilter, after: int, before: int | None = None,
              tail: str = "") -> list[Record]:
        """Records with ``after < id < before`` that ``where`` matches, oldest first."""
        base = self._narrowed(where)
        clause, values = self._where(base, after, before)
        with self._lock:
            rows = self._db.execute(f"SELECT record FROM calls WHERE {clause} ORDER BY id{tail}",
                                    values).fetchall()
        records = [Record.from_dict(json.loads(row[0])) for row in rows]
        return records if base is where else [r for r in records if where.matches(r)]

    def select(
        self, where: CallFilter = _ANY, *, after: int = 0, limit: int | None = None
    ) -> list[Record]:
        """Matching records, oldest first: those with an id above ``after``, at most ``limit``.

        ``where`` may also be any object with ``matches(record)``; its ``prefilter``
        (a CallFilter), if it has one, narrows the query first.
        """
        if limit is not None and isinstance(where, CallFilter):
            return self._rows(where, after, tail=f" LIMIT {int(limit)}")
        return _window(self._rows(where, after), limit, None)

    def page(
        self,
        where: CallFilter = _ANY,
        *,
        after: int = 0,
        before: int | None = None,
        limit: int | None = None,
        last: int | None = None,
    ) -> tuple[list[Record], int]:
        """As :meth:`Journal.page`: a window of the matches and how many match in all."""
        _check_window(limit, last)
        if not isinstance(where, CallFilter):
            chosen = self._rows(where, after, before)
            return _window(chosen, limit, last), len(chosen)
        clause, values = self._where(where, after, before)
        query = f"SELECT record FROM calls WHERE {clause} ORDER BY id"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        elif last is not None:
            query += f" DESC LIMIT {int(last)}"
        with self._lock:
            self._db.execute("BEGIN")  # one snapshot for both
            try:
                rows = self._db.execute(query, values).fetchall()
                total = self._db.execute(f"SELECT count(*) FROM calls WHERE {clause}",
                                         values).fetchone()[0]
            finally:
                self._db.execute("COMMIT")
        records = [Record.from_dict(json.loads(row[0])) for row in rows]
        if last is not None:
            records.reverse()
        return records, int(total)

    def iter_select(
        self, where: CallFilter = _ANY, *, after: int = 0, before: int | None = None
    ) -> Iterator[Record]:
        """As :meth:`Journal.iter_select`: a page of rows per query, no lock held between."""
        end = self._top() + 1
        end = end if before is None else min(end, before)
        base = self._narrowed(where)
        cursor = after
        while cursor < end - 1:
            clause, values = self._where(base, cursor, end)
            with self._lock:
                rows = self._db.execute(f"SELECT id, record FROM calls WHERE {clause}"
                                        f" ORDER BY id LIMIT {_PAGE}", values).fetchall()
            if not rows:
                return
            cursor = rows[-1][0]
            for _, text in rows:
                record = Record.from_dict(json.loads(text))
                if base is where or where.matches(record):
                    yield record

    def _top(self) -> int:
        """The highest id written so far, by any process (0 for none)."""
        with self._lock:
            return int(self._db.execute("SELECT coalesce(max(id), 0) FROM calls").fetchone()[0])

    def _count(self, where: CallFilter, after: int) -> int:
        if not isinstance(where, CallFilter):
            return len(self.select(where, after=after))
        clause, values = self._where(where, after)
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM calls WHERE {clause}",
                                        values).fetchone()[0])

    def wait(
        self,
        count: int,
        timeout: float,
        where: CallFilter = _ANY,
        *,
        after: int = 0,
        cancelled: Cancelled | None = None,
    ) -> tuple[list[Record], bool]:
        """As :meth:`Journal.wait`. Sees other processes' writes by polling: each poll reads
        the highest id, then only the rows written since the last poll."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._waiters.register(_Waiter(where, after, count)) as waiter:
            clears = self._clears
            seen = max(self._top(), after)
            found = self._rows(where, after, seen + 1)
            while (len(found) < count and not waiter.woken
                   and waiter.sleep(deadline, _POLL_SECONDS, cancelled)):
                waiter.event.clear()
                if waiter.error is not None:
                    raise waiter.error
                if self._clears != clears:  # records were deleted: select afresh
                    clears, seen = self._clears, max(self._top(), after)
                    found = self._rows(where, after, seen + 1)
                    continue
                top = self._top()
                if top > seen:
                    found += self._rows(where, seen, top + 1)
                    seen = top
            if len(found) < count:  # woken or timed out: what was written meanwhile counts
                top = self._top()
                if top > seen:
                    found += self._rows(where, seen, top + 1)
        return found, len(found) >= count

    @property
    def waiting(self) -> int:
        """How many :meth:`wait` calls are pending in this process."""
        return self._waiters.count()

    def wake_waiters(self) -> None:
        """Make every pending :meth:`wait` return now with what it has (a server stopping)."""
        self._waiters.wake_all()

    def clear(self, where: CallFilter = _ANY) -> None:
        """Delete the matching records (all, by default); ids keep increasing."""
        clause, values = self._where(where, 0)
        with self._lock, self._writing() as db:
            db.execute(f"DELETE FROM calls WHERE {clause}", values)
        self._clears += 1
        for waiter in self._waiters.snapshot():  # each selects afresh
            waiter.event.set()

    def stats(self, where: CallFilter = _ANY) -> dict[str, Any]:
        """Totals, as :meth:`Journal.stats` (``dropped`` is always 0: the file keeps all)."""
        clause, values = self._where(where, 0)
        with self._lock:
            total, accepted, rejected, faults, duplicates, warned, violated = self._db.execute(
                "SELECT count(*), total(status = 'accepted'), total(status = 'rejected'),"
                " total(fault), total(duplicate_of IS NOT NULL), total(has_warnings),"
                f" total(has_violations) FROM calls WHERE {clause}", values).fetchone()
            by_type = self._db.execute(
                f"SELECT coalesce(type, 'null'), count(*) FROM calls WHERE {clause}"
                " GROUP BY 1", values).fetchall()
        counts = {"accepted": int(accepted), "rejected": int(rejected), "faults": int(faults),
                  "duplicates": int(duplicates), "with_warnings": int(warned),
                  "violations": int(violated)}
        return _stats(int(total), counts, dict(by_type), 0)

    def close(self) -> None:
        """Checkpoint the WAL into the file and close it."""
        self._checkpointer.close()
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._db.close()
                self._writers.close()

    def __len__(self) -> int:
        return self._count(_ANY, 0)
