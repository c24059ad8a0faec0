"""The ``sqlite-journal`` comparison: batch-100 throughput with the SQLite journal against the
memory journal, the same server otherwise.

Two ``MockSegment`` servers run in the harness's process, one with the default memory journal
and one with ``journal=FILE`` (a SQLite file in a temporary folder). Each is driven by the
clients of ``throughput-batch`` (a ``requests.Session``, and one raw ``http.client``
connection), in turn within each repeat. Every repeat is checked: each journal must hold
exactly the messages sent, all accepted; it is emptied between repeats, outside the timing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.harness import Context, Metric, Result, Side, Target, alternate, ratios
from bench.payloads import batch_bytes
from bench.servers import (
    RawClient,
    Served,
    SessionClient,
    checked_run,
    mockseg_server,
    quiet_werkzeug,
)

__all__ = ["run_sqlite_journal", "sqlite_server"]

Client = SessionClient | RawClient


@contextmanager
def sqlite_server(folder: Path) -> Iterator[Served]:
    """A ``MockSegment`` recording into ``folder/calls.sqlite``."""
    with mockseg_server(journal=str(folder / "calls.sqlite")) as served:
        served.label = "SQLite journal"
        yield served


def run_sqlite_journal(ctx: Context) -> Result:
    """``/v1/batch`` calls of 100 B2B messages: the SQLite journal against memory."""
    quiet_werkzeug()
    path, messages = "/v1/batch", 100
    body = batch_bytes(messages)
    count = ctx.count(full=150, smoke=5)
    result = Result("sqlite-journal", "POST /v1/batch (100 messages), SQLite journal vs memory "
                                      "journal: requests/s")
    result.repeats = ctx.repeats(full=7)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mockseg-bench-")))
        memory = stack.enter_context(mockseg_server())
        memory.label = "memory journal"
        sqlite = stack.enter_context(sqlite_server(folder))
        clients: list[tuple[str, Client]] = [
            ("memory, requests.Session", SessionClient(memory, path, body)),
            ("SQLite, requests.Session", SessionClient(sqlite, path, body)),
            ("memory, raw http.client", RawClient(memory, path, body)),
            ("SQLite, raw http.client", RawClient(sqlite, path, body)),
        ]
        for _, client in clients:
            stack.callback(client.close)
            client.run(max(count // 10, 2))  # warm up: connect, fill caches, grow the file
        for served in (memory, sqlite):
            served.reset()

        # Both count what they accept: every repeat is checked.
        assert memory.recorded is not None and sqlite.recorded is not None
        figures = alternate([(label, checked_run(client, count, messages))
                             for label, client in clients], result.repeats)
    labels = [label for label, _ in clients]
    result.sides = [Side(label, "req/s", figures[label]) for label in labels]
    result.notes.append(f"{count:,} requests per side per repeat, {len(body):,} bytes each; "
                        "the SQLite file is emptied (DELETE) between repeats, not removed")
    session_memory, session_sqlite, raw_memory, raw_sqlite = (figures[label] for label in labels)
    result.metrics = [
        Metric("SQLite / memory (requests.Session)", "x",
               ratios(session_sqlite, session_memory), Target(">=", 0.8)),
        Metric("SQLite / memory (raw http.client)", "x", ratios(raw_sqlite, raw_memory)),
    ]
    return result
