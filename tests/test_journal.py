from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockseg.journal import CallFilter, Journal, Record, SqliteJournal


def record(message_id: str | None = None, type: str | None = "group",
           status: str = "accepted") -> Record:
    payload = {"messageId": message_id, "groupId": "g"} if message_id is not None else None
    return Record(request_id="r", received_at="t", path="/v1/group", type=type, status=status,
                  http_status=200, errors=[], warnings=[], payload=payload, write_key=None,
                  headers={})


def test_ids_increase_and_duplicates_point_at_the_first() -> None:
    journal = Journal()
    journal.add([record("a"), record("b"), record("a")])
    journal.add([record("a")])
    assert [r.id for r in journal.select()] == [1, 2, 3, 4]
    assert [r.duplicate_of for r in journal.select()] == [None, None, 1, 1]
    assert journal.stats()["duplicates"] == 2


def test_concurrent_adds_lose_nothing_and_keep_counters_true() -> None:
    journal = Journal()

    def worker(n: int) -> None:
        for i in range(500):
            journal.add([record(f"{n}-{i}", status="accepted" if i % 3 else "rejected")])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = journal.select()
    assert len(records) == 4000 == len(journal)
    assert sorted(r.id for r in records) == list(range(1, 4001))
    stats = journal.stats()
    assert stats["accepted"] + stats["rejected"] == 4000
    assert stats["rejected"] == sum(1 for r in records if r.status == "rejected")
    assert stats["duplicates"] == 0


def test_wait_wakes_when_records_arrive() -> None:
    journal = Journal()
    timer = threading.Timer(0.05, lambda: journal.add([record("x", type="track")]))
    timer.start()
    found, enough = journal.wait(1, 5, CallFilter(type="track"))
    assert enough and found[0].type == "track"
    found, enough = journal.wait(2, 0.05, CallFilter(type="track"))
    assert not enough and len(found) == 1


def test_filter_type_null_matches_unparsed_requests() -> None:
    journal = Journal()
    journal.add([record(type=None), record("m")])
    assert [r.id for r in journal.select(CallFilter(type="null"))] == [1]
    assert CallFilter.from_query({"groupId": "g", "other": "x"}) == CallFilter(group_id="g")


def test_clear_keeps_ids_increasing() -> None:
    journal = Journal()
    journal.add([record("a")])
    journal.clear()
    assert journal.select() == [] and journal.stats()["total"] == 0
    journal.add([record("a")])
    assert journal.select()[0].id == 2 and journal.select()[0].duplicate_of is None


def test_empty_message_ids_are_not_duplicates_of_each_other() -> None:
    journal = Journal()
    journal.add([record(""), record("")])
    assert [r.duplicate_of for r in journal.select()] == [None, None]


@pytest.fixture(params=["memory", "sqlite"])
def any_journal(request: pytest.FixtureRequest,
                tmp_path: Path) -> Iterator[Journal | SqliteJournal]:
    made = Journal() if request.param == "memory" else SqliteJournal(tmp_path / "j.sqlite")
    yield made
    made.close()


def test_page_gives_a_window_of_the_matches_and_counts_them_all(
        any_journal: Journal | SqliteJournal) -> None:
    any_journal.add(record(f"m{n}", status="rejected" if n % 3 == 0 else "accepted")
                    for n in range(30))

    def ids(**window: Any) -> tuple[list[int], int]:
        records, total = any_journal.page(**window)
        return [r.id for r in records], total

    assert ids(last=3) == ([28, 29, 30], 30)
    assert ids(limit=2, after=5) == ([6, 7], 25)
    assert ids(before=4) == ([1, 2, 3], 3)
    assert ids(after=10, before=15, last=2) == ([13, 14], 4)
    assert ids(where=CallFilter(status="rejected"), last=2) == ([25, 28], 10)
    assert ids(where=CallFilter(status="rejected"), before=10, limit=1) == ([1], 3)
    assert ids(last=0) == ([], 30) and ids(after=30) == ([], 0)
    with pytest.raises(ValueError, match="not both"):
        any_journal.page(limit=1, last=1)


def test_iter_select_yields_the_records_present_when_it_starts(
        any_journal: Journal | SqliteJournal) -> None:
    any_journal.add(record(f"m{n}") for n in range(2_500))
    listing = any_journal.iter_select(CallFilter(status="accepted"), after=2)
    first = next(listing)
    any_journal.add([record("late")])
    rest = [r.id for r in listing]
    assert first.id == 3 and rest == list(range(4, 2_501))
    assert [r.id for r in any_journal.iter_select(after=10, before=14)] == [11, 12, 13]


def test_id_bounds_stay_right_across_evictions_compaction_and_clear() -> None:
    journal = Journal(max_records=1_500)
    for n in range(5_000):
        journal.add([record(f"m{n}", status="rejected" if n % 2 else "accepted")])
    assert len(journal) == 1_500 and journal.stats()["dropped"] == 3_500
    assert [r.id for r in journal.select(after=4_997)] == [4_998, 4_999, 5_000]
    assert [r.id for r in journal.select(limit=2)] == [3_501, 3_502]
    assert [r.id for r in journal.iter_select()] == list(range(3_501, 5_001))
    assert journal.page(before=3_600)[1] == 99
    journal.clear(CallFilter(status="rejected"))
    assert [r.id for r in journal.select(after=4_990)] == [4_991, 4_993, 4_995, 4_997, 4_999]
    assert journal.stats()["total"] == 750 == len(journal)


def test_a_scopes_stats_are_kept_as_it_goes_and_match_a_scan() -> None:
    journal = Journal(max_records=50)
    for n in range(120):
        item = record(f"m{n % 40}", status="rejected" if n % 3 else "accepted")
        item.scope = "s1" if n % 2 else None
        journal.add([item])
    journal.clear(CallFilter(status="accepted", scope="s1"))
    scoped = journal.stats(CallFilter(scope="s1"))
    scanned = journal.stats(CallFilter(scope="s1", status=None, path="/v1/group"))
    assert scoped == scanned and scoped["total"] == len(journal.select(CallFilter(scope="s1"))) > 0
    assert journal.stats(CallFilter(scope="nobody"))["total"] == 0
