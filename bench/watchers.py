"""The ``watchers`` comparison: tracking throughput with 0, 1 and 10 long-polls waiting.

One ``MockSegment`` holds a full journal (100,000 records of the B2B example, its default
bound, so every new call evicts the oldest). Each side starts its long-polls, the requests a
journal page keeps open (``GET /__mockseg/calls?wait=1000000&timeout=60&groupId=never``: a
filter that never matches, so they stay pending), waits until the journal counts them as
pending, then times single ``/v1/group`` calls over one keep-alive ``http.client`` connection.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.harness import Context, Metric, Result, Side, Target, alternate, ratios
from bench.payloads import b2b_body, b2b_bytes, request_headers

if TYPE_CHECKING:
    from mockseg import MockSegment

__all__ = ["run_watchers"]

#: What a journal page's long-poll asks for, with a filter that never matches.
LONG_POLL = "/__mockseg/calls?wait=1000000&timeout=60&groupId=never"
WATCHERS = (0, 1, 10)


class LongPolls:
    """``count`` threads, each holding one long-poll open (and asking again when it ends)."""

    def __init__(self, fake: MockSegment, count: int) -> None:
        self.fake = fake
        self.port = fake.port
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._poll, daemon=True, name=f"watcher-{n}")
                        for n in range(count)]

    def _poll(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            while not self.stopping.is_set():
                connection.request("GET", LONG_POLL)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"the long-poll answered {response.status}")
        finally:
            connection.close()

    def __enter__(self) -> LongPolls:
        journal = self.fake.journal
        for thread in self.threads:
            thread.start()
        deadline = time.monotonic() + 30
        while journal.waiting < len(self.threads):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {journal.waiting} of {len(self.threads)} long-polls "
                                   "are pending after 30 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.fake.journal.wake_waiters()
        for thread in self.threads:
            thread.join(30)


def fill(fake: MockSegment, count: int) -> None:
    """Fill the journal with ``count`` records of the B2B example, as the app records them."""
    from mockseg.journal import Record

    body, data = b2b_body(), b2b_bytes()
    headers = {"Content-Type": "application/json", "User-Agent": "mockseg-bench/1"}
    journal = fake.journal
    for start in range(0, count, 1_000):
        journal.add([Record(
            request_id=f"fill-{n}", received_at="2026-01-01T00:00:00.000Z", path="/v1/group",
            type="group", status="accepted", http_status=200, errors=[], warnings=[],
            payload={**body, "messageId": f"fill-{n}"}, payload_json=data, write_key="test-key",
            headers=headers, auth="basic") for n in range(start, min(start + 1_000, count))])


def run_watchers(ctx: Context) -> Result:
    """Group calls/s on a full journal with 0, 1 and 10 long-polls pending."""
    from mockseg import MockSegment

    full = ctx.count(full=100_000, smoke=2_000)
    calls = ctx.count(full=2_000, smoke=50)
    result = Result("watchers", f"POST /v1/group on a full journal ({full:,} records) with "
                                "long-polls pending: requests/s")
    fake = MockSegment(max_records=full).start()
    try:
        fill(fake, full)
        connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=30)
        body, headers = b2b_bytes(), request_headers()

        def send(count: int) -> float:
            started = time.perf_counter()
            for _ in range(count):
                connection.request("POST", "/v1/group", body, headers)
                response = connection.getresponse()
                data = response.read()
                if response.status != 200:
                    raise RuntimeError(f"mockseg answered {response.status}: {data!r}")
            return count / (time.perf_counter() - started)

        def side(watchers: int) -> Callable[[], float]:
            def measure() -> float:
                with LongPolls(fake, watchers):
                    figure = send(calls)
                if len(fake.journal) != full:
                    raise RuntimeError(f"the journal holds {len(fake.journal)} records, "
                                       f"not {full}")
                return figure

            return measure

        send(max(calls // 10, 10))  # warm up: connect, fill caches
        sides = [(f"{n} long-poll{'' if n == 1 else 's'}", side(n)) for n in WATCHERS]
        result.repeats = ctx.repeats(full=7)
        figures = alternate(sides, result.repeats)
        connection.close()
    finally:
        fake.stop()
    labels = [label for label, _ in sides]
    result.sides = [Side(label, "req/s", figures[label]) for label in labels]
    none = figures[labels[0]]
    result.metrics = [Metric(f"{label} / none", "x", ratios(figures[label], none),
                             Target(">=", 0.9)) for label in labels[1:]]
    result.notes.append(f"{calls:,} requests per side per repeat over one keep-alive "
                        f"http.client connection; long-polls: GET {LONG_POLL}")
    return result
