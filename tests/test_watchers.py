"""Watchers cost nothing and memory is bounded in bytes (issue 11, points 3 and 4).

A pending wait is handed just the new records; a waiter whose client has gone is released;
the journal page loads the newest calls and older ones on demand; a whole listing is streamed,
a record at a time; the memory journal evicts the oldest past its byte budget.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.test import Client, EnvironBuilder

from mockseg import MockSegment
from mockseg.journal import CallFilter, Journal, Record, SqliteJournal, kept_bytes
from tests.conftest import B2B, basic
from tests.helpers import Served
from tests.test_ui import browser  # noqa: F401  (the module's Chromium, as a fixture)

#: A group call of about 32 KB, the most one message may be.
BIG = json.dumps({**B2B, "traits": {**B2B["traits"], "notes": "x" * 31_000}}).encode()
HEADERS = {**basic("test-key"), "Content-Type": "application/json"}


def record(group_id: str = "g", size: int = 0) -> Record:
    payload = {"type": "group", "groupId": group_id, "userId": "u", "pad": "x" * size}
    return Record(request_id="r", received_at="t", path="/v1/group", type="group",
                  status="accepted", http_status=200, errors=[], warnings=[], payload=payload,
                  payload_json=json.dumps(payload).encode(), write_key="k", headers={})


class CountingFilter:
    """A ``where`` that matches one groupId and counts its ``matches`` calls."""

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.calls = 0

    def matches(self, record: Record) -> bool:
        self.calls += 1
        return bool(record.group_id == self.group_id)


def eventually(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` (a guard, not a timing)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {seconds:g} s")
        time.sleep(0.01)


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(target()), daemon=True)
    thread.start()
    return thread, result


@pytest.fixture(params=["memory", "sqlite"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal | SqliteJournal]:
    made = Journal() if request.param == "memory" else SqliteJournal(tmp_path / "j.sqlite")
    yield made
    made.close()


# --- waiters -----------------------------------------------------------------------------------

def test_a_new_record_costs_each_waiter_one_match_not_a_rescan_of_the_journal() -> None:
    journal = Journal()
    journal.add(record(f"old-{n}") for n in range(50_000))
    where = CountingFilter("wanted")
    waits = [in_thread(lambda: journal.wait(1, 30, where)) for _ in range(20)]  # type: ignore[arg-type]
    eventually(lambda: journal.waiting == 20, "20 waiters registered")
    where.calls = 0
    journal.add([record("other")])
    journal.add([record("other"), record("other")])
    assert where.calls == 20 * 3  # each new record once per waiter; none of the 50,000 again
    journal.add([record("wanted")])
    for thread, result in waits:
        thread.join(10)
        assert not thread.is_alive()
        found, enough = result[0]
        assert enough and [r.id for r in found] == [50_004]
    assert journal.waiting == 0


def test_a_waiter_gets_only_records_after_its_id_and_matching_its_filter(
        journal: Journal | SqliteJournal) -> None:
    journal.add([record("a"), record("b"), record("a")])
    thread, result = in_thread(lambda: journal.wait(2, 10, CallFilter(group_id="a"), after=1))
    eventually(lambda: journal.waiting == 1, "waiting")
    journal.add([record("b")])
    journal.add([record("a")])
    thread.join(10)
    found, enough = result[0]
    assert enough and [r.id for r in found] == [3, 5]


def test_a_waiter_whose_client_has_gone_returns_before_its_timeout(
        journal: Journal | SqliteJournal) -> None:
    gone = threading.Event()
    thread, result = in_thread(lambda: journal.wait(1, 60, cancelled=gone.is_set))
    eventually(lambda: journal.waiting == 1, "waiting")
    gone.set()
    thread.join(10)
    assert not thread.is_alive(), "the waiter outlived its client"
    assert result == [([], False)] and journal.waiting == 0


def test_wake_waiters_releases_every_pending_wait(journal: Journal | SqliteJournal) -> None:
    waits = [in_thread(lambda: journal.wait(5, 60)) for _ in range(3)]
    eventually(lambda: journal.waiting == 3, "3 waiting")
    journal.add([record()])
    journal.wake_waiters()
    for thread, result in waits:
        thread.join(10)
        assert not thread.is_alive() and len(result[0][0]) == 1 and result[0][1] is False


class Broken:
    """A matcher that raises on the record of groupId ``boom``."""

    def matches(self, record: Record) -> bool:
        if record.group_id == "boom":
            raise KeyError("boom")
        return False


def broken_wait(journal: Journal | SqliteJournal) -> str:
    """Wait with a :class:`Broken` matcher: the error it raised, or ``"no error"``."""
    try:
        journal.wait(1, 30, Broken())  # type: ignore[arg-type]
    except KeyError as error:
        return str(error)
    return "no error"


def test_a_matcher_that_raises_fails_its_own_wait_not_the_call_being_recorded() -> None:
    journal = Journal()
    thread, result = in_thread(lambda: broken_wait(journal))
    eventually(lambda: journal.waiting == 1, "waiting")
    journal.add([record("boom")])  # does not raise here
    thread.join(10)
    assert result == ["'boom'"] and len(journal) == 1


def test_a_waiter_lets_go_of_records_the_journal_evicts() -> None:
    journal = Journal(max_records=5)
    thread, result = in_thread(lambda: journal.wait(1_000, 60))
    eventually(lambda: journal.waiting == 1, "waiting")
    for n in range(20):
        journal.add([record(f"g{n}")])
    journal.wake_waiters()
    thread.join(10)
    found, _ = result[0]
    assert [r.id for r in found] == [16, 17, 18, 19, 20]  # not the 15 evicted ones


def test_clear_forgets_what_pending_waiters_found(journal: Journal | SqliteJournal) -> None:
    thread, result = in_thread(lambda: journal.wait(2, 60))
    eventually(lambda: journal.waiting == 1, "waiting")
    journal.add([record("a")])
    journal.clear()
    journal.add([record("b")])
    journal.add([record("c")])
    thread.join(10)
    found, enough = result[0]
    assert enough and [r.group_id for r in found] == ["b", "c"]


def test_a_wait_leaves_no_waiter_registered_however_it_ends(
        journal: Journal | SqliteJournal) -> None:
    journal.add([record("a")])
    found, enough = journal.wait(1, 10)
    assert enough and [r.id for r in found] == [1] and journal.waiting == 0  # at once
    assert journal.wait(5, 0.05)[1] is False and journal.waiting == 0  # timed out
    thread, result = in_thread(lambda: journal.wait(5, 60))
    eventually(lambda: journal.waiting == 1, "waiting")
    journal.wake_waiters()
    thread.join(10)
    assert result[0][1] is False and journal.waiting == 0  # woken
    thread, result = in_thread(lambda: broken_wait(journal))
    eventually(lambda: journal.waiting == 1, "waiting")
    journal.add([record("boom")])
    thread.join(10)
    assert result == ["'boom'"] and journal.waiting == 0  # its matcher raised


def test_a_sqlite_waiter_sees_another_process_and_never_reselects_while_polling(
        tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    mine, theirs = SqliteJournal(path), SqliteJournal(path)  # two connections, as two processes
    mine.add(record(f"old-{n}") for n in range(200))
    statements: list[str] = []
    mine._db.set_trace_callback(statements.append)
    thread, result = in_thread(lambda: mine.wait(1, 10, CallFilter(group_id="new"), after=100))
    eventually(lambda: mine.waiting == 1, "waiting")
    eventually(lambda: sum("max(id)" in s for s in statements) >= 4, "polling")
    theirs.add([record("other"), record("new")])
    thread.join(10)
    found, enough = result[0]
    assert enough and [r.id for r in found] == [202]
    selects = [s for s in statements if s.startswith("SELECT record")]
    # The first selection, then only the rows written since the last poll (id > 200).
    assert len(selects) == 2 and "id > 100" in selects[0] and "id > 200" in selects[1], selects
    mine.close()
    theirs.close()


# --- byte budget -------------------------------------------------------------------------------

def test_the_memory_journal_evicts_the_oldest_past_its_byte_budget_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    each = kept_bytes(record("g00", size=10_000))
    assert each >= 10_000
    journal = Journal(max_records=None, max_bytes=each * 10)
    with caplog.at_level(logging.WARNING, logger="mockseg"):
        for n in range(25):
            journal.add([record(f"g{n:02d}", size=10_000)])
    assert len(journal) == 10 and journal.stats()["dropped"] == 15
    assert [r.group_id for r in journal.select()] == [f"g{n}" for n in range(15, 25)]
    warnings = [r.getMessage() for r in caplog.records if "evicting the oldest" in r.getMessage()]
    assert len(warnings) == 1 and "byte budget" in warnings[0], warnings


def test_the_count_bound_is_named_when_it_is_the_one_reached(
        caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal(max_records=3)
    with caplog.at_level(logging.WARNING, logger="mockseg"):
        journal.add(record() for _ in range(5))
    assert [r.getMessage() for r in caplog.records] == [
        "mockseg: the journal holds at most 3 records; evicting the oldest "
        "(see 'dropped' in /__mockseg/stats)"]


def test_the_newest_record_is_kept_even_alone_over_the_budget() -> None:
    journal = Journal(max_bytes=100)
    journal.add([record(size=5_000)])
    journal.add([record("last", size=5_000)])
    assert [r.group_id for r in journal.select()] == ["last"] and journal.stats()["dropped"] == 1


def test_kept_bytes_counts_the_payload_raw_body_problems_and_headers() -> None:
    bare = record()
    base = kept_bytes(bare)
    fat = record()
    fat.raw_body = "r" * 1000
    fat.headers = {"User-Agent": "u" * 500}
    assert kept_bytes(fat) == base + 1000 + len("User-Agent") + 500
    assert kept_bytes(record(size=3000)) == base + 3000


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_the_byte_budget_must_be_a_positive_integer_or_none(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        Journal(max_bytes=bad)
    assert Journal(max_bytes=None).max_bytes is None
    assert Journal().max_bytes == 256 * 1024 * 1024


# --- listings ----------------------------------------------------------------------------------

@pytest.fixture(params=["memory", "sqlite"])
def fake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MockSegment]:
    journal = None if request.param == "memory" else tmp_path / "calls.sqlite"
    made = MockSegment(journal=journal)
    yield made
    made.close()


def fill(fake: MockSegment, count: int) -> None:
    client = Client(fake.app)
    for n in range(count):
        body = {**B2B, "messageId": f"m{n}", "groupId": "bad id" if n % 7 == 0 else f"g{n}"}
        client.post("/v1/group", json=body, headers=basic("test-key"))


def body_pieces(fake: MockSegment, query: str) -> list[bytes]:
    """The pieces of the WSGI body of ``GET /__mockseg/calls?query``, as the app yields them."""
    environ = EnvironBuilder(path="/__mockseg/calls", query_string=query).get_environ()
    started: list[str] = []
    body = fake.app(environ, lambda status, headers, exc_info=None: started.append(status))
    try:
        return list(body)
    finally:
        getattr(body, "close", lambda: None)()


def test_a_whole_listing_is_streamed_in_pieces_and_equals_the_built_one(
        fake: MockSegment) -> None:
    fill(fake, 300)
    pieces = body_pieces(fake, "")
    assert len(pieces) > 3, "the listing was built whole, not streamed"
    streamed = json.loads(b"".join(pieces))
    built = json.loads(b"".join(body_pieces(fake, "limit=1000000")))
    assert streamed == built and streamed["total"] == 300 == len(streamed["calls"])
    assert [c["id"] for c in streamed["calls"]] == list(range(1, 301))


def test_a_streamed_listing_keeps_filters_bounds_and_the_wait_verdict(fake: MockSegment) -> None:
    fill(fake, 50)
    query = "status=rejected&after=3&wait=1&timeout=0"
    streamed = json.loads(b"".join(body_pieces(fake, query)))
    built = json.loads(b"".join(body_pieces(fake, query + "&limit=100")))
    assert streamed == built and streamed["timed_out"] is False
    assert [c["id"] for c in streamed["calls"]] == [8, 15, 22, 29, 36, 43, 50]
    bounded = json.loads(b"".join(body_pieces(fake, "status=rejected&after=3&before=40")))
    assert [c["id"] for c in bounded["calls"]] == [8, 15, 22, 29, 36] == list(
        range(8, 40, 7)) and bounded["total"] == 5


def test_last_gives_the_newest_and_before_pages_back_through_older_ones(
        fake: MockSegment) -> None:
    fill(fake, 30)
    client = Client(fake.app)

    def ids(query: str) -> tuple[list[int], int]:
        body = client.get(f"/__mockseg/calls?{query}").get_json()
        return [c["id"] for c in body["calls"]], body["total"]

    assert ids("last=10") == (list(range(21, 31)), 30)
    assert ids("last=10&before=21") == (list(range(11, 21)), 20)
    assert ids("last=10&before=5") == ([1, 2, 3, 4], 4)
    assert ids("limit=3&before=10&after=2") == ([3, 4, 5], 7)
    assert ids("last=0") == ([], 30)
    assert ids("last=2&status=rejected") == ([22, 29], 5)


@pytest.mark.parametrize(("query", "field"), [
    ("limit=2&last=2", "last"), ("before=0", "before"), ("before=x", "before"),
    ("last=-1", "last"), ("wait=1&before=5", "before"),
])
def test_contradictory_or_malformed_listing_bounds_get_a_clear_400(
        query: str, field: str) -> None:
    response = Client(MockSegment().app).get(f"/__mockseg/calls?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["errors"][0]["field"] == field


def test_an_admin_long_poll_returns_once_its_client_has_gone() -> None:
    fake = MockSegment()
    client = Client(fake.app)
    thread, result = in_thread(lambda: client.get(
        "/__mockseg/calls?wait=1&timeout=60",
        environ_overrides={"mockseg.client_gone": lambda: True}).get_json())
    thread.join(10)
    assert not thread.is_alive(), "the long-poll outlived its client"
    assert result == [{"calls": [], "total": 0, "timed_out": True}]


def test_a_long_poll_whose_socket_closes_is_released_on_the_server() -> None:
    with MockSegment() as fake:
        sock = socket.create_connection(("127.0.0.1", fake.port), timeout=10)
        sock.sendall(b"GET /__mockseg/calls?wait=1&timeout=60 HTTP/1.1\r\n"
                     b"Host: localhost\r\n\r\n")
        eventually(lambda: fake.journal.waiting == 1, "waiting")
        sock.close()
        eventually(lambda: fake.journal.waiting == 0, "released")


def test_a_streamed_listing_over_the_socket_is_chunked_and_whole() -> None:
    with MockSegment() as fake:
        fill(fake, 200)
        with requests.Session() as session:
            streamed = session.get(f"{fake.url}/__mockseg/calls", timeout=10)
            built = session.get(f"{fake.url}/__mockseg/calls?limit=1000", timeout=10)
            again = session.get(f"{fake.url}/__mockseg/stats", timeout=10)  # same connection
        assert streamed.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" in built.headers
        assert streamed.json() == built.json() and streamed.json()["total"] == 200
        assert again.json()["total"] == 200


# --- the journal page --------------------------------------------------------------------------

def test_the_page_shows_the_newest_500_calls_and_loads_older_ones_on_demand(
        browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    with MockSegment() as fake:
        fill(fake, 1_200)
        page = browser.new_page(viewport={"width": 1400, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(f"{fake.url}/__mockseg/")
        rows, older = page.locator("#rows tr"), page.locator("#older")
        expect(rows).to_have_count(500)
        expect(rows.first).to_have_attribute("data-id", "1200")
        expect(older).to_have_text("Load older calls (700 not loaded)")
        older.click()
        expect(rows).to_have_count(1_000)
        expect(older).to_have_text("Load older calls (200 not loaded)")
        older.click()
        expect(rows).to_have_count(1_200)
        expect(rows.last).to_have_attribute("data-id", "1")
        expect(older).to_be_hidden()
        # New calls still arrive live on top; the page keeps what it has loaded, no more.
        Client(fake.app).post("/v1/group", json=B2B, headers=basic("test-key"))
        expect(rows.first).to_have_attribute("data-id", "1201")
        expect(rows).to_have_count(1_200)
        expect(older).to_have_text("Load older calls (1 not loaded)")
        page.close()
        fake.journal.wake_waiters()  # answer the page's long-poll before stopping
        assert errors == []
        listings = [url for url in asked if "/__mockseg/calls" in url]
        assert listings and all("last=" in url or "limit=" in url for url in listings), listings


# --- the hostile battery -----------------------------------------------------------------------

def flood(server: Served, count: int) -> None:
    """POST ``count`` group calls of 32 KB over one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for _ in range(count):
            connection.request("POST", "/v1/group", BIG, HEADERS)
            response = connection.getresponse()
            response.read()
            assert response.status == 200
    finally:
        connection.close()


def read_listing(server: Served) -> tuple[int, int]:
    """``GET /__mockseg/calls`` read as it streams: its size in bytes and its ``total``."""
    size, tail = 0, b""
    with requests.get(f"{server.url}/__mockseg/calls", stream=True, timeout=120) as response:
        assert response.status_code == 200
        for piece in response.iter_content(1 << 20):
            size += len(piece)
            tail = (tail + piece)[-200:]
    return size, int(tail.rsplit(b'"total":', 1)[1].rstrip(b"}"))


def battery(budget_mb: int, calls: int) -> tuple[float, float, dict[str, Any], int]:
    server = Served("--quiet", "--max-journal-bytes", str(budget_mb * 2**20))
    try:
        flood(server, 20)
        start_mb = server.peak_rss_mb()
        flood(server, calls - 20)
        stats = requests.get(f"{server.url}/__mockseg/stats", timeout=10).json()
        size, total = read_listing(server)
        assert total == stats["total"] and size > total * len(BIG)
        return start_mb, server.peak_rss_mb(), stats, size
    finally:
        server.kill()


def test_memory_stays_within_the_byte_budget_through_a_flood_and_a_whole_listing() -> None:
    """Scaled: 4,000 calls of 32 KB (125 MB) against a 32 MB budget, then the whole listing."""
    start_mb, peak_mb, stats, _ = battery(budget_mb=32, calls=4_000)
    assert stats["dropped"] > 0 and stats["total"] + stats["dropped"] == 4_000
    assert stats["total"] * len(BIG) <= 32 * 2**20
    # Without the budget the flood alone adds 125 MB; built whole, the listing adds twice the
    # journal's size again.
    assert peak_mb - start_mb < 32 + 30, (start_mb, peak_mb)


@pytest.mark.slow
def test_rss_stays_under_400_mb_after_100000_calls_of_32_kb_and_a_whole_listing() -> None:
    """The issue's figure: 100,000 calls of 32 KB (3.2 GB) against the default 256 MB budget."""
    _, peak_mb, stats, size = battery(budget_mb=256, calls=100_000)
    assert stats["dropped"] > 90_000 and size > 200 * 2**20
    assert peak_mb < 400, peak_mb
