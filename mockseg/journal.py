"""The journal: one record per message received, accepted or not. Thread-safe; knows no HTTP."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from mockseg.validation import Violation

__all__ = ["CallFilter", "Journal", "Record"]


class Record:
    """One recorded message, with the journal's field names as attributes."""

    __slots__ = (
        "duplicate_of",
        "errors",
        "fault",
        "headers",
        "http_status",
        "id",
        "path",
        "payload",
        "raw_body",
        "received_at",
        "request_id",
        "response",
        "scope",
        "status",
        "type",
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
    ) -> None:
        self.id = 0
        self.request_id = request_id
        self.received_at = received_at
        self.path = path
        self.type = type
        self.status = status
        self.http_status = http_status
        self.errors = errors
        self.warnings = warnings
        self.payload = payload
        self.write_key = write_key
        self.headers = headers
        self.duplicate_of: int | None = None
        self.fault = fault
        self.raw_body = raw_body
        self.scope = scope
        #: The exact answer: ``{"status", "headers", "body"}`` (shared by a request's records).
        self.response: Mapping[str, Any] | None = None

    def _field(self, name: str) -> Any:
        return self.payload.get(name) if isinstance(self.payload, dict) else None

    @property
    def group_id(self) -> Any:
        """The payload's ``groupId``, or None."""
        return self._field("groupId")

    @property
    def user_id(self) -> Any:
        """The payload's ``userId``, or None."""
        return self._field("userId")

    @property
    def anonymous_id(self) -> Any:
        """The payload's ``anonymousId``, or None."""
        return self._field("anonymousId")

    @property
    def message_id(self) -> Any:
        """The payload's ``messageId``, or None."""
        return self._field("messageId")

    @property
    def traits(self) -> Any:
        """The payload's ``traits``, or None."""
        return self._field("traits")

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
            "headers": dict(self.headers),
            "duplicate_of": self.duplicate_of,
            "fault": self.fault,
            "scope": self.scope,
            "response": _plain(self.response),
        }
        if self.raw_body is not None:
            data["raw_body"] = self.raw_body
        return data

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
    """An append-only list of records, with ids, duplicate detection, counters and waiting."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._records: list[Record] = []
        self._next_id = 1
        self._first_by_message_id: dict[str, int] = {}
        self._counts: Counter[str] = Counter()
        self._by_type: Counter[str] = Counter()

    def add(self, records: Iterable[Record]) -> list[Record]:
        """Number ``records``, mark duplicates by messageId, store them and wake waiters."""
        added = list(records)
        with self._changed:
            for record in added:
                record.id = self._next_id
                self._next_id += 1
                self._count(record, mark_duplicate=True)
            self._changed.notify_all()
        return added

    def _count(self, record: Record, *, mark_duplicate: bool) -> None:
        """Store one numbered record: duplicate index and counters (lock held)."""
        message_id = record.message_id
        if isinstance(message_id, str):
            first = self._first_by_message_id.setdefault(message_id, record.id)
            if mark_duplicate and first != record.id:
                record.duplicate_of = first
        if record.duplicate_of is not None:
            self._counts["duplicates"] += 1
        self._records.append(record)
        self._counts[record.status] += 1
        self._by_type[record.type or "null"] += 1
        if record.fault:
            self._counts["faults"] += 1
        if record.warnings:
            self._counts["with_warnings"] += 1

    def select(
        self, where: CallFilter = _ANY, *, after: int = 0, limit: int | None = None
    ) -> list[Record]:
        """Matching records, oldest first: those with an id above ``after``, at most ``limit``."""
        with self._changed:
            records = self._records
            if after:
                records = [record for record in records if record.id > after]
            chosen = [record for record in records if where.matches(record)]
        return chosen if limit is None else chosen[:limit]

    def wait(
        self, count: int, timeout: float, where: CallFilter = _ANY, *, after: int = 0
    ) -> tuple[list[Record], bool]:
        """Block until ``count`` records (with an id above ``after``) match, or ``timeout``
        seconds pass. Returns the matching records and whether there were enough of them.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._changed:
            while True:
                chosen = [record for record in self._records
                          if record.id > after and where.matches(record)]
                remaining = deadline - time.monotonic()
                if len(chosen) >= count or remaining <= 0:
                    return chosen, len(chosen) >= count
                self._changed.wait(remaining)

    def clear(self, where: CallFilter = _ANY) -> None:
        """Forget the matching records (all, by default); ids keep increasing."""
        with self._changed:
            if where == _ANY:
                kept: list[Record] = []
            else:
                kept = [record for record in self._records if not where.matches(record)]
            self._records = []
            self._first_by_message_id.clear()
            self._counts.clear()
            self._by_type.clear()
            for record in kept:  # recount what stays, in order
                self._count(record, mark_duplicate=False)
            self._changed.notify_all()

    def stats(self, where: CallFilter = _ANY) -> dict[str, Any]:
        """Totals: ``total``, ``accepted``, ``rejected``, ``by_type`` and a few more."""
        with self._changed:
            if where == _ANY:
                counts, by_type, total = self._counts, self._by_type, len(self._records)
            else:
                chosen = [record for record in self._records if where.matches(record)]
                counts = Counter(record.status for record in chosen)
                counts["faults"] = sum(record.fault for record in chosen)
                counts["duplicates"] = sum(record.duplicate_of is not None for record in chosen)
                counts["with_warnings"] = sum(bool(record.warnings) for record in chosen)
                by_type = Counter(record.type or "null" for record in chosen)
                total = len(chosen)
            return {
                "total": total,
                "accepted": counts["accepted"],
                "rejected": counts["rejected"],
                "by_type": dict(by_type),
                "faults": counts["faults"],
                "duplicates": counts["duplicates"],
                "with_warnings": counts["with_warnings"],
            }

    def __len__(self) -> int:
        with self._changed:
            return len(self._records)
