from __future__ import annotations

import threading

from mockseg.journal import CallFilter, Journal, Record


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
