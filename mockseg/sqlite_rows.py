"""The SQLite journal's file: its table, its columns, and the rows a request's records become.

:class:`mockseg.sqlite_journal.SqliteJournal` writes and reads them. A record's ``record``
column holds its whole admin-API form (``Record.to_dict()``) as JSON, assembled from bytes:
the payload's JSON (the body as received) spliced in as it is, the fields a request's records
share encoded once for all of them, and the rest through orjson. Only the id and
``duplicate_of``, which the file decides under the write lock, are added then
(:func:`with_ids`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from mockseg.jsoncodec import dumps
from mockseg.records import Record, _plain

__all__ = ["ADDED_COLUMNS", "FILTER_COLUMNS", "INSERT_ROWS", "LAST_ID", "LOOKUP_CHUNK",
           "LOOKUP_SIZES", "OWN_COLUMNS", "SCHEMA", "SHARED_COLUMNS", "Prepared",
           "first_ids_query", "insert_query", "prepared_rows", "with_ids"]

SCHEMA = """
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
ADDED_COLUMNS = {"auth": "TEXT", "has_violations": "INTEGER"}
#: CallFilter field -> column; payload fields are stored as text only when they are strings.
FILTER_COLUMNS = {"type": "type", "status": "status", "group_id": "group_id",
                  "user_id": "user_id", "anonymous_id": "anonymous_id",
                  "message_id": "message_id", "path": "path", "write_key": "write_key",
                  "auth": "auth", "request_id": "request_id", "scope": "scope",
                  "violations": "has_violations"}
#: The columns an INSERT sets, in its order: those a request's records share (bound once per
#: statement), then each record's own, those known before the file is asked first.
SHARED_COLUMNS = ("request_id", "path", "scope", "http_status", "write_key", "fault", "auth")
OWN_COLUMNS = ("type", "status", "group_id", "user_id", "anonymous_id", "message_id",
               "has_warnings", "has_violations", "id", "duplicate_of", "record")
#: Rows per INSERT (at most): one statement of many rows costs SQLite less than as many
#: statements.
INSERT_ROWS = 100
#: The highest id ever given (AUTOINCREMENT's counter survives deletes), by any process.
LAST_ID = ("SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'calls'), 0),"
           " coalesce((SELECT max(id) FROM calls), 0))")
#: messageIds looked up per query (SQLite bounds the parameters of one statement), and the
#: sizes a query is padded to (with NULLs, which match nothing).
LOOKUP_CHUNK = 512
LOOKUP_SIZES = (1, 4, 16, 64, 128, 256, LOOKUP_CHUNK)


@cache
def insert_query(rows: int) -> str:
    """An INSERT of ``rows`` rows that share their :data:`SHARED_COLUMNS`: those are bound
    once, as ``?1`` to ``?7``, and each row's :data:`OWN_COLUMNS` follow (a request's 100
    records bind 1,107 values, not 1,800)."""
    shared = [f"?{number}" for number in range(1, len(SHARED_COLUMNS) + 1)]
    width = len(OWN_COLUMNS)
    values = []
    for row in range(rows):
        first = len(shared) + 1 + row * width
        values.append("(" + ",".join([*shared, *(f"?{first + k}" for k in range(width))]) + ")")
    return (f"INSERT INTO calls ({', '.join((*SHARED_COLUMNS, *OWN_COLUMNS))}) VALUES "
            + ",".join(values))


@cache
def first_ids_query(size: int) -> str:
    """The first id of each of ``size`` messageIds: one index search each (``min(id)`` of an
    ``IN`` list grouped by messageId would read every duplicate)."""
    return ("WITH wanted(message_id) AS (VALUES " + ",".join(["(?)"] * size) + ")"
            " SELECT message_id, (SELECT min(id) FROM calls"
            " WHERE calls.message_id = wanted.message_id) FROM wanted")


def _shared_fields(record: Record) -> bytes:
    """The fields a request's records share, encoded: ``"request_id":...,"response":{...}``
    (no braces)."""
    return dumps({
        "request_id": record.request_id,
        "received_at": record.received_at,
        "path": record.path,
        "http_status": record.http_status,
        "write_key": record.write_key,
        "auth": record.auth,
        "headers": dict(record.headers),
        "fault": record.fault,
        "scope": record.scope,
        "response": _plain(record.response),
    })[1:-1]


def _own_fields(record: Record) -> bytes:
    """The fields of this record alone, but its payload, id and duplicate (no braces)."""
    own: dict[str, Any] = {
        "type": record.type,
        "status": record.status,
        "errors": [error.to_dict() for error in record.errors],
        "warnings": [warning.to_dict() for warning in record.warnings],
        "violations": [violation.to_dict() for violation in record.violations],
    }
    if record.raw_body is not None:
        own["raw_body"] = record.raw_body
    return dumps(own)[1:-1]


def _payload_json(record: Record) -> bytes:
    """The payload's JSON: the bytes the record keeps (the body as received), unparsed; or,
    for a record that keeps its payload parsed, that encoded."""
    payload = record._payload
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    return dumps(record.payload)


def with_ids(body: str, record_id: int, duplicate_of: int | None) -> str:
    """The stored JSON: ``{"id":...,"duplicate_of":...`` then ``body``."""
    return (f'{{"id":{record_id},"duplicate_of":'
            f'{"null" if duplicate_of is None else duplicate_of}{body}')


#: A record ready to insert: the values of its :data:`SHARED_COLUMNS` (one tuple for all the
#: records of a request), those of its own columns but id, duplicate_of and record; its
#: messageId (a non-empty string, or None); its stored JSON after id and duplicate_of
#: (``,...}``).
Prepared = tuple[tuple[Any, ...], tuple[Any, ...], str | None, str]


def prepared_rows(records: list[Record]) -> list[Prepared]:
    """What :meth:`SqliteJournal.add` inserts for each record, but what the file decides.

    A request's records share their scalar fields, headers and answer (alive here, so their
    ids stand for them): those are encoded once, and their column values are one tuple; so are
    the own fields of a record with no error, warning or violation, which depend only on its
    type and status.
    """
    shared_cache: dict[tuple[Any, ...], tuple[bytes, tuple[Any, ...]]] = {}
    own_cache: dict[tuple[str | None, str], bytes] = {}
    prepared = []
    for record in records:
        key = (record.request_id, record.received_at, record.path, record.http_status,
               record.write_key, record.auth, record.fault, record.scope,
               id(record.headers), id(record.response))
        known = shared_cache.get(key)
        if known is None:
            known = shared_cache[key] = (
                b"," + _shared_fields(record) + b",",
                (record.request_id, record.path, record.scope, record.http_status,
                 record.write_key, int(record.fault), record.auth))
        shared, shared_columns = known
        plain = not (record.errors or record.warnings or record.violations
                     or record.raw_body is not None)
        own = own_cache.get((record.type, record.status)) if plain else None
        if own is None:
            own = _own_fields(record) + b',"payload":'
            if plain:
                own_cache[(record.type, record.status)] = own
        message_id, group_id = record.message_id, record.group_id
        user_id, anonymous_id = record.user_id, record.anonymous_id
        message_id = message_id if type(message_id) is str and message_id else None
        columns = (record.type, record.status,
                   group_id if type(group_id) is str else None,
                   user_id if type(user_id) is str else None,
                   anonymous_id if type(anonymous_id) is str else None,
                   message_id, int(bool(record.warnings)), int(bool(record.violations)))
        body = b"".join((shared, own, _payload_json(record), b"}")).decode("utf-8")
        prepared.append((shared_columns, columns, message_id, body))
    return prepared
