"""The journal: one record per message received, accepted or not. Thread-safe; knows no HTTP.

Two stores share one interface: :class:`Journal` keeps records in memory, bounded (the oldest
are evicted and counted once the bound is reached); :class:`SqliteJournal` keeps them in a SQLite
file in WAL mode, committed before the call is answered, shareable by several server processes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar

from mockseg.validation import Violation

__all__ = ["DEFAULT_MAX_RECORDS", "CallFilter", "Journal", "Record", "SqliteJournal"]

log = logging.getLogger("mockseg")

#: How many records the memory journal keeps before it evicts the oldest.
DEFAULT_MAX_RECORDS = 100_000


class Record:
    """One recorded message, with the journal's field names as attributes.

    The payload is kept as its JSON bytes (for a single call, the body exactly as received)
    and decoded on each read of :attr:`payload`: a parsed message takes several times the
    memory of its text. The ids that filters and assertions look at are kept decoded.
    """

    __slots__ = (
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
    ) -> None:
        """``payload`` is the message as parsed; pass ``payload_json``, its JSON bytes, to have
        the record keep those instead of the parsed object."""
        self.id = 0
        self.request_id = request_id
        self.received_at = received_at
        self.path = path
        self.type = type
        self.status = status
        self.http_status = http_status
        self.errors = errors
        self.warnings = warnings
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
    }

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> CallFilter:
        """A filter from the admin API's query parameters (``groupId``, ``userId``, ...)."""
        return cls(**{attr: args[name] for name, attr in cls.QUERY_NAMES.items() if name in args})

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


class Journal:
    """Records in memory: ids, duplicate detection, counters and waiting.

    At most ``max_records`` are kept (None: no bound). Past that the oldest are evicted; the
    ``dropped`` count in :meth:`stats` says how many, and the first eviction logs a warning.
    """

    def __init__(self, max_records: int | None = DEFAULT_MAX_RECORDS) -> None:
        if max_records is not None and (isinstance(max_records, bool) or max_records < 1):
            raise ValueError(f"max_records must be a positive integer or None, not {max_records!r}")
        self.max_records = max_records
        self._changed = threading.Condition()
        self._records: deque[Record] = deque()
        self._next_id = 1
        self._first_by_message_id: dict[str, int] = {}
        self._counts: Counter[str] = Counter()
        self._by_type: Counter[str] = Counter()
        self._dropped = 0
        self._wakeups = 0

    def add(self, records: Iterable[Record]) -> list[Record]:
        """Number ``records``, mark duplicates by messageId, store them and wake waiters."""
        added = list(records)
        with self._changed:
            for record in added:
                record.id = self._next_id
                self._next_id += 1
                self._count(record, mark_duplicate=True)
            if self.max_records is not None:
                while len(self._records) > self.max_records:
                    self._evict(self._records.popleft())
            self._changed.notify_all()
        return added

    def _count(self, record: Record, *, mark_duplicate: bool) -> None:
        """Store one numbered record: duplicate index and counters (lock held)."""
        message_id = record.message_id
        if isinstance(message_id, str) and message_id:
            first = self._first_by_message_id.setdefault(message_id, record.id)
            if mark_duplicate and first != record.id:
                record.duplicate_of = first
        self._records.append(record)
        self._tally(record, 1)

    def _tally(self, record: Record, step: int) -> None:
        self._counts[record.status] += step
        self._by_type[record.type or "null"] += step
        self._counts["faults"] += step * record.fault
        self._counts["duplicates"] += step * (record.duplicate_of is not None)
        self._counts["with_warnings"] += step * bool(record.warnings)

    def _evict(self, record: Record) -> None:
        """Forget the oldest record, and say so the first time (lock held)."""
        self._tally(record, -1)
        if self._by_type[record.type or "null"] == 0:
            del self._by_type[record.type or "null"]
        message_id = record.message_id
        if message_id and self._first_by_message_id.get(message_id) == record.id:
            del self._first_by_message_id[message_id]
        if self._dropped == 0:
            log.warning("mockseg: the journal holds at most %d records; evicting the oldest "
                        "(see 'dropped' in /__mockseg/stats)", self.max_records)
        self._dropped += 1

    def select(
        self, where: CallFilter = _ANY, *, after: int = 0, limit: int | None = None
    ) -> list[Record]:
        """Matching records, oldest first: those with an id above ``after``, at most ``limit``."""
        with self._changed:
            chosen = [record for record in self._records
                      if record.id > after and where.matches(record)]
        return chosen if limit is None else chosen[:limit]

    def wait(
        self, count: int, timeout: float, where: CallFilter = _ANY, *, after: int = 0
    ) -> tuple[list[Record], bool]:
        """Block until ``count`` records (with an id above ``after``) match, or ``timeout``
        seconds pass. Returns the matching records and whether there were enough of them.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._changed:
            woken = self._wakeups
            while True:
                chosen = [record for record in self._records
                          if record.id > after and where.matches(record)]
                remaining = deadline - time.monotonic()
                if len(chosen) >= count or remaining <= 0 or self._wakeups != woken:
                    return chosen, len(chosen) >= count
                self._changed.wait(remaining)

    def wake_waiters(self) -> None:
        """Make every pending :meth:`wait` return now with what it has (a server stopping)."""
        with self._changed:
            self._wakeups += 1
            self._changed.notify_all()

    def clear(self, where: CallFilter = _ANY) -> None:
        """Forget the matching records (all, by default); ids keep increasing."""
        with self._changed:
            kept = [] if where == _ANY else [r for r in self._records if not where.matches(r)]
            self._records = deque()
            self._first_by_message_id.clear()
            self._counts.clear()
            self._by_type.clear()
            for record in kept:  # recount what stays, in order
                self._count(record, mark_duplicate=False)
            self._changed.notify_all()

    def stats(self, where: CallFilter = _ANY) -> dict[str, Any]:
        """Totals: ``total``, ``accepted``, ``rejected``, ``by_type``, ``dropped`` and more."""
        with self._changed:
            if where == _ANY:
                return _stats(len(self._records), self._counts, self._by_type, self._dropped)
            chosen = [record for record in self._records if where.matches(record)]
        counts: Counter[str] = Counter()
        by_type: Counter[str] = Counter()
        for record in chosen:
            counts[record.status] += 1
            by_type[record.type or "null"] += 1
            counts["faults"] += record.fault
            counts["duplicates"] += record.duplicate_of is not None
            counts["with_warnings"] += bool(record.warnings)
        return _stats(len(chosen), counts, by_type, 0)

    def close(self) -> None:
        """Nothing to flush for memory; present so every journal can be closed alike."""

    def __len__(self) -> int:
        with self._changed:
            return len(self._records)


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
        "dropped": dropped,
    }


_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT, path TEXT, scope TEXT, type TEXT, status TEXT, http_status INTEGER,
    group_id TEXT, user_id TEXT, anonymous_id TEXT, message_id TEXT, write_key TEXT,
    duplicate_of INTEGER, fault INTEGER, has_warnings INTEGER,
    record TEXT NOT NULL, auth TEXT
);
CREATE INDEX IF NOT EXISTS calls_message_id ON calls (message_id);
"""
#: Columns added since the first schema, with their types: a journal file from an older
#: mockseg gets them on open.
_ADDED_COLUMNS = {"auth": "TEXT"}
#: CallFilter field -> column; payload fields are stored as text only when they are strings.
_COLUMNS = {"type": "type", "status": "status", "group_id": "group_id", "user_id": "user_id",
            "anonymous_id": "anonymous_id", "message_id": "message_id", "path": "path",
            "write_key": "write_key", "auth": "auth", "request_id": "request_id",
            "scope": "scope"}
#: How often a waiter looks for records that other processes wrote.
_POLL_SECONDS = 0.05


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class SqliteJournal:
    """Records in a SQLite file (WAL mode): committed before the call is answered, kept across
    restarts, and shareable by several server processes (ids stay unique and increasing)."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._wakeups = 0
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # survives a killed process
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._db.executescript(_SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(calls)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE calls ADD COLUMN {column} {kind}")

    def add(self, records: Iterable[Record]) -> list[Record]:
        """Write ``records`` in one transaction, committed before this returns."""
        added = list(records)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for record in added:
                    message_id = _text(record.message_id) or None
                    if message_id is not None:
                        row = self._db.execute("SELECT min(id) FROM calls WHERE message_id = ?",
                                               (message_id,)).fetchone()
                        record.duplicate_of = row[0]
                    cursor = self._db.execute(
                        "INSERT INTO calls (request_id, path, scope, type, status, http_status,"
                        " group_id, user_id, anonymous_id, message_id, write_key, duplicate_of,"
                        " fault, has_warnings, auth, record)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'')",
                        (record.request_id, record.path, record.scope, record.type,
                         record.status, record.http_status, _text(record.group_id),
                         _text(record.user_id), _text(record.anonymous_id), message_id,
                         record.write_key, record.duplicate_of, int(record.fault),
                         int(bool(record.warnings)), record.auth))
                    record.id = int(cursor.lastrowid or 0)
                    self._db.execute("UPDATE calls SET record = ? WHERE id = ?",
                                     (json.dumps(record.to_dict(), ensure_ascii=False),
                                      record.id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        with self._changed:
            self._changed.notify_all()
        return added

    @staticmethod
    def _where(where: CallFilter, after: int) -> tuple[str, list[Any]]:
        clauses, values = ["id > ?"], [after]
        for name, column in _COLUMNS.items():
            wanted = getattr(where, name)
            if wanted is None:
                continue
            if name in ("type", "auth") and wanted == "null":
                clauses.append(f"{column} IS NULL")
            else:
                clauses.append(f"{column} = ?")
                values.append(wanted)
        return " AND ".join(clauses), values

    def select(
        self, where: CallFilter = _ANY, *, after: int = 0, limit: int | None = None
    ) -> list[Record]:
        """Matching records, oldest first: those with an id above ``after``, at most ``limit``.

        ``where`` may also be any object with ``matches(record)``; its ``prefilter``
        (a CallFilter), if it has one, narrows the query first.
        """
        base = where if isinstance(where, CallFilter) else getattr(where, "prefilter", _ANY)
        clause, values = self._where(base, after)
        query = f"SELECT record FROM calls WHERE {clause} ORDER BY id"
        if limit is not None and base is where:
            query += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(query, values).fetchall()
        records = [Record.from_dict(json.loads(row[0])) for row in rows]
        if base is not where:
            records = [record for record in records if where.matches(record)][:limit]
        return records

    def _count(self, where: CallFilter, after: int) -> int:
        if not isinstance(where, CallFilter):
            return len(self.select(where, after=after))
        clause, values = self._where(where, after)
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM calls WHERE {clause}",
                                        values).fetchone()[0])

    def wait(
        self, count: int, timeout: float, where: CallFilter = _ANY, *, after: int = 0
    ) -> tuple[list[Record], bool]:
        """Block until ``count`` records match or ``timeout`` passes; sees other processes'
        writes by polling."""
        deadline = time.monotonic() + max(timeout, 0.0)
        woken = self._wakeups
        while True:
            remaining = deadline - time.monotonic()
            if self._count(where, after) >= count or remaining <= 0 or self._wakeups != woken:
                chosen = self.select(where, after=after)
                return chosen, len(chosen) >= count
            with self._changed:
                self._changed.wait(min(remaining, _POLL_SECONDS))

    def wake_waiters(self) -> None:
        """Make every pending :meth:`wait` return now with what it has (a server stopping)."""
        with self._changed:
            self._wakeups += 1
            self._changed.notify_all()

    def clear(self, where: CallFilter = _ANY) -> None:
        """Delete the matching records (all, by default); ids keep increasing."""
        clause, values = self._where(where, 0)
        with self._lock:
            self._db.execute(f"DELETE FROM calls WHERE {clause}", values)

    def stats(self, where: CallFilter = _ANY) -> dict[str, Any]:
        """Totals, as :meth:`Journal.stats` (``dropped`` is always 0: the file keeps all)."""
        clause, values = self._where(where, 0)
        with self._lock:
            total, accepted, rejected, faults, duplicates, warned = self._db.execute(
                "SELECT count(*), total(status = 'accepted'), total(status = 'rejected'),"
                " total(fault), total(duplicate_of IS NOT NULL), total(has_warnings)"
                f" FROM calls WHERE {clause}", values).fetchone()
            by_type = self._db.execute(
                f"SELECT coalesce(type, 'null'), count(*) FROM calls WHERE {clause}"
                " GROUP BY 1", values).fetchall()
        counts = {"accepted": int(accepted), "rejected": int(rejected), "faults": int(faults),
                  "duplicates": int(duplicates), "with_warnings": int(warned)}
        return _stats(int(total), counts, dict(by_type), 0)

    def close(self) -> None:
        """Checkpoint the WAL into the file and close it."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._db.close()

    def __len__(self) -> int:
        return self._count(_ANY, 0)
