"""Slow and idle clients, concurrency and the bounded journal."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from werkzeug.test import Client

from mockseg import MockSegment
from tests.conftest import B2B, basic
from tests.helpers import Served


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    served = Served("--quiet", "--idle-timeout", "1.5")
    yield served
    served.stop()


def test_500_idle_connections_do_not_block_a_fresh_client(server: Served) -> None:
    idle = []
    try:
        for _ in range(500):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        started = time.monotonic()
        response = requests.post(server.url + "/v1/group", json=B2B, headers=basic("k"),
                                 timeout=5)
        assert response.status_code == 200
        assert time.monotonic() - started < 1.0
    finally:
        for sock in idle:
            sock.close()


def test_idle_connections_are_closed_after_the_timeout(server: Served) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(10) == b""  # the server closes it
        assert 1.0 < time.monotonic() - started < 5


def test_8_threads_x_500_requests_each_message_recorded_once(server: Served) -> None:
    requests.post(server.url + "/__mockseg/reset", timeout=5)
    sent: list[tuple[str, str]] = []  # (messageId, expected status)
    lock = threading.Lock()
    failures: list[str] = []

    def worker(n: int) -> None:
        rng = random.Random(n)
        mine: list[tuple[str, str]] = []
        with requests.Session() as session:
            for i in range(500):
                kind = rng.choice(("valid", "invalid", "batch"))
                mid = f"w{n}-{i}"
                if kind == "valid":
                    body, path = {**B2B, "messageId": mid}, "/v1/group"
                    expected = [(mid, "accepted")]
                elif kind == "invalid":
                    body, path = {**B2B, "groupId": "bad id", "messageId": mid}, "/v1/group"
                    expected = [(mid, "rejected")]
                else:
                    body = {"batch": [{**B2B, "messageId": f"{mid}-a"},
                                      {"type": "track", "userId": "u", "event": "e",
                                       "messageId": f"{mid}-b"}]}
                    path = "/v1/batch"
                    expected = [(f"{mid}-a", "accepted"), (f"{mid}-b", "accepted")]
                response = session.post(server.url + path, json=body, headers=basic("k"),
                                        timeout=30)
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {response.text}")
                mine += expected
        with lock:
            sent.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    calls = requests.get(server.url + "/__mockseg/calls", timeout=30).json()["calls"]
    assert sorted((c["payload"]["messageId"], c["status"]) for c in calls) == sorted(sent)
    assert len({c["id"] for c in calls}) == len(calls)
    stats = requests.get(server.url + "/__mockseg/stats", timeout=5).json()
    verdicts = Counter(c["status"] for c in calls)
    assert stats["total"] == len(calls) == len(sent)
    assert stats["accepted"] == verdicts["accepted"]
    assert stats["rejected"] == verdicts["rejected"]
    assert stats["by_type"] == dict(Counter(c["type"] for c in calls))


def test_memory_journal_is_bounded_evicts_oldest_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    fake = MockSegment(max_records=100)
    client = Client(fake.app)
    with caplog.at_level(logging.WARNING, logger="mockseg"):
        for n in range(150):
            client.post("/v1/group", json={**B2B, "messageId": f"m{n}"}, headers=basic("k"))
    calls = fake.calls
    assert len(calls) == 100
    assert calls[0].message_id == "m50" and calls[-1].message_id == "m149"
    stats = fake.stats
    assert stats["dropped"] == 50 and stats["total"] == 100 and stats["accepted"] == 100
    warnings = [r for r in caplog.records if "evicting the oldest" in r.getMessage()]
    assert len(warnings) == 1  # once, not per eviction


def test_default_bound_is_100000() -> None:
    assert MockSegment().journal.max_records == 100_000  # type: ignore[union-attr]
    assert MockSegment(max_records=None).journal.max_records is None  # type: ignore[union-attr]
