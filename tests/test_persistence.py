"""The SQLite journal: committed before answering, survives kill -9, restarts append, and
several processes (mockseg serve twice, or gunicorn workers) share one file."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import requests

from mockseg import MockSegment, sqlite_journal
from mockseg.journal import CallFilter, Record, SqliteJournal
from mockseg.plans import PlanViolation
from mockseg.validation import Violation
from tests.conftest import B2B, basic
from tests.helpers import Served


def stored_message_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT message_id FROM calls ORDER BY id")]


def test_a_call_is_committed_before_it_is_answered(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    with MockSegment(journal=str(path)) as fake:
        for n in range(5):
            response = requests.post(fake.url + "/v1/group", json={**B2B, "messageId": f"m{n}"},
                                     headers=basic("k"), timeout=5)
            assert response.status_code == 200
            # Another connection (another process would do the same) already sees it.
            assert stored_message_ids(path)[-1] == f"m{n}"
        assert [c.message_id for c in fake.calls] == [f"m{n}" for n in range(5)]
        assert fake.stats["accepted"] == 5
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    fake.journal.close()


def test_sqlite_journal_behaves_like_the_memory_one(tmp_path: Path) -> None:
    fake = MockSegment(journal=str(tmp_path / "calls.sqlite"))
    from werkzeug.test import Client

    client = Client(fake.app)
    client.post("/v1/group", json=B2B, headers=basic("k"))
    client.post("/v1/batch", json={"batch": [B2B, {"type": "track", "userId": "u"}]},
                headers=basic("k"))
    client.post("/v1/group", data=b"{oops", headers=basic("k"))
    calls = fake.calls
    assert [c.duplicate_of for c in calls] == [None, 1, None, None]
    assert [c.status for c in calls] == ["accepted", "rejected", "rejected", "rejected"]
    assert calls[3].type is None and calls[3].raw_body == "{oops"
    assert calls[0].payload == B2B and calls[2].errors[0].field == "batch[1].event"
    assert fake.select(type="null") == [calls[3]] or fake.select(type="null")[0].id == 4
    stats = fake.stats
    assert stats["total"] == 4 and stats["accepted"] == 1 and stats["duplicates"] == 1
    assert stats["by_type"] == {"group": 2, "track": 1, "null": 1}
    [found] = fake.wait_for(1, timeout=1, type="track")
    assert found.id == 3
    fake.assert_group(group_id="company_enterprise_corp", count=1)
    fake.reset()
    assert fake.calls == [] and len(fake.journal) == 0
    fake.journal.close()


def test_kill_9_during_load_loses_no_answered_call(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    server = Served("--quiet", "--journal", str(path))
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(n: int) -> None:
        with requests.Session() as session:
            i = 0
            while not stop.is_set():
                mid = f"w{n}-{i}"
                try:
                    response = session.post(server.url + "/v1/group",
                                            json={**B2B, "messageId": mid},
                                            headers=basic("k"), timeout=5)
                except requests.RequestException:
                    return
                if response.status_code == 200:
                    with lock:
                        answered.append(mid)
                i += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    os.kill(server.process.pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join()
    server.process.communicate(timeout=10)
    assert len(answered) > 50
    stored = set(stored_message_ids(path))
    assert set(answered) <= stored

    # A restarted server keeps appending to the same file.
    again = Served("--quiet", "--journal", str(path))
    try:
        requests.post(again.url + "/v1/group", json={**B2B, "messageId": "after-restart"},
                      headers=basic("k"), timeout=5)
        calls = requests.get(again.url + "/__mockseg/calls", timeout=30).json()["calls"]
        assert calls[-1]["payload"]["messageId"] == "after-restart"
        assert calls[-1]["id"] > max(c["id"] for c in calls[:-1])
        assert len(calls) == len(stored) + 1
    finally:
        again.stop()


def test_two_server_processes_share_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "calls.sqlite")
    one, two = Served("--quiet", "--journal", path), Served("--quiet", "--journal", path)
    try:
        for n in range(10):
            target = one if n % 2 else two
            requests.post(target.url + "/v1/group", json={**B2B, "messageId": f"m{n}"},
                          headers=basic("k"), timeout=5)
        for server in (one, two):
            calls = requests.get(server.url + "/__mockseg/calls", timeout=5).json()["calls"]
            assert sorted(c["payload"]["messageId"] for c in calls) == [f"m{n}" for n in range(10)]
        waited = requests.get(one.url + "/__mockseg/calls?wait=11&timeout=1&after=0", timeout=10)
        threading.Timer(0.2, lambda: requests.post(two.url + "/v1/group", json=B2B,
                                                   headers=basic("k"), timeout=5)).start()
        assert waited.json()["timed_out"] is True  # 10 < 11 when it answered...
        held = requests.get(one.url + "/__mockseg/calls?wait=11&timeout=5", timeout=10).json()
        assert held["timed_out"] is False and held["total"] == 11  # ...and sees the other's
    finally:
        one.stop()
        two.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gunicorn_workers_share_the_journal(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MOCKSEG_JOURNAL": str(tmp_path / "calls.sqlite"),
           "MOCKSEG_WRITE_KEYS": "test-key"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
         "mockseg.wsgi:create_app()"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(url + "/__mockseg/health", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.1)
        for n in range(40):  # new connections: the two workers share them
            response = requests.post(url + "/v1/group", json={**B2B, "messageId": f"g{n}"},
                                     headers=basic("test-key"), timeout=5)
            assert response.status_code == 200
        assert requests.post(url + "/v1/group", json=B2B, headers=basic("other"),
                             timeout=5).status_code == 401
        for _ in range(4):
            body = requests.get(url + "/__mockseg/stats", timeout=5).json()
            assert body["total"] == 41 and body["accepted"] == 40
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    assert "Booting worker" in out


def test_sigterm_answers_in_flight_requests_then_closes_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    server = Served("--quiet", "--journal", str(path))
    requests.post(server.url + "/__mockseg/faults", json={"status": 200, "delay_ms": 1500},
                  timeout=5)
    result: dict[str, object] = {}

    def slow_call() -> None:
        response = requests.post(server.url + "/v1/group", json={**B2B, "messageId": "slow"},
                                 headers=basic("k"), timeout=10)
        result["status"] = response.status_code

    thread = threading.Thread(target=slow_call)
    thread.start()
    time.sleep(0.5)
    code, _ = server.stop(signal.SIGTERM)
    thread.join()
    assert code == 0
    assert result["status"] == 200  # answered, not cut off
    assert "slow" in stored_message_ids(path)
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0
    json.dumps(result)


# --- the stored form, old files, several writers, the checkpointer ------------------------------


def every_field_records() -> list[Record]:
    """Records with every field set, as the app makes them and as Python code may."""
    answer = MappingProxyType({"status": 400, "headers": MappingProxyType({"X-A": "1"}),
                               "body": '{"success":false}'})
    headers = MappingProxyType({"User-Agent": "sdk/1", "Content-Type": "application/json"})
    received = {"type": "group", "groupId": "g1", "userId": "u1", "messageId": "m-é",
                "traits": {"name": "Zoë", "n": 12345678901234567890123}}
    common: dict[str, Any] = dict(request_id="r1", received_at="2026-01-01T00:00:00.000Z",
                                  path="/v1/batch", http_status=400, write_key="k",
                                  headers=headers, auth="basic+body", scope="s1", fault=True)
    kept = Record(**common, type="group", status="rejected",
                  errors=[Violation("groupId", "Missing groupId")],
                  warnings=[Violation("traits.x", "odd", "warning")],
                  payload=received,
                  payload_json=b'{ "type": "group", "groupId": "g1", "userId": "u1",\n'
                               b' "messageId": "m-\xc3\xa9", "traits": {"name": "Zo\\u00eb",'
                               b' "n": 12345678901234567890123}}',
                  violations=[PlanViolation("Required", "traits.plan", "is required")])
    parsed = Record(**common, type="track", status="rejected", errors=[], warnings=[],
                    payload={"type": "track", "messageId": "m-é", "anonymousId": "a"})
    unread = Record(request_id="r2", received_at="t", path="/v1/group", type=None,
                    status="rejected", http_status=400, errors=[Violation("body", "bad")],
                    warnings=[], payload=None, write_key=None, headers={},
                    raw_body="{oops \\x00")
    for record in (kept, parsed):
        record.response = answer
    unread.response = {"status": 400, "headers": {}, "body": "x"}
    return [kept, parsed, unread]


def test_records_read_back_with_every_field_and_the_file_holds_their_admin_form(
        tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "calls.sqlite")
    written = journal.add(every_field_records())
    assert [r.id for r in written] == [1, 2, 3] and [r.duplicate_of for r in written] == [
        None, 1, None]
    expected = [record.to_dict() for record in written]
    assert [record.to_dict() for record in journal.select()] == expected
    with sqlite3.connect(tmp_path / "calls.sqlite") as db:  # another reader of the file
        stored = [json.loads(row[0]) for row in db.execute("SELECT record FROM calls")]
    assert stored == expected
    assert journal.select()[0].payload["traits"] == {"name": "Zoë",
                                                    "n": 12345678901234567890123}
    assert journal.select(CallFilter(violations=True, auth="basic+body", scope="s1"))[0].id == 1
    journal.close()


OLD_SCHEMA = """
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT, path TEXT, scope TEXT, type TEXT, status TEXT, http_status INTEGER,
    group_id TEXT, user_id TEXT, anonymous_id TEXT, message_id TEXT, write_key TEXT,
    duplicate_of INTEGER, fault INTEGER, has_warnings INTEGER, record TEXT NOT NULL
);
CREATE INDEX calls_message_id ON calls (message_id);
"""


def test_a_file_of_an_older_mockseg_opens_gets_the_new_columns_and_goes_on(
        tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = Record(request_id="r", received_at="t", path="/v1/group", type="group",
                 status="accepted", http_status=200, errors=[], warnings=[],
                 payload={"type": "group", "messageId": "m1", "groupId": "g"},
                 write_key="k", headers={"User-Agent": "old"})
    old.id = 7
    with sqlite3.connect(path) as db:  # as the first mockseg wrote it; ids 1-6 were deleted
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('calls', 7)")
        db.execute("INSERT INTO calls (id, request_id, path, type, status, http_status,"
                   " group_id, message_id, write_key, fault, has_warnings, record)"
                   " VALUES (7, 'r', '/v1/group', 'group', 'accepted', 200, 'g', 'm1', 'k',"
                   " 0, 0, ?)", (json.dumps(old.to_dict()),))
    journal = SqliteJournal(path)
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(calls)")}
    assert {"auth", "has_violations"} <= columns
    (again,) = journal.select()
    assert again.to_dict() == old.to_dict()
    new = journal.add([Record.from_dict({**old.to_dict(), "id": 0})])
    assert new[0].id == 8 and new[0].duplicate_of == 7  # after the old ids; first is the old
    assert journal.stats()["duplicates"] == 1 and len(journal) == 2
    journal.close()


def test_ids_and_duplicates_come_from_the_file_whichever_connection_writes(
        tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    one, two = SqliteJournal(path), SqliteJournal(path)  # as two processes

    def made(*message_ids: str | None) -> list[Record]:
        return [Record(request_id="r", received_at="t", path="/v1/batch", type="group",
                       status="accepted", http_status=200, errors=[], warnings=[],
                       payload={"messageId": mid} if mid is not None else {}, write_key=None,
                       headers={}) for mid in message_ids]

    one.add(made("a", "b", "a"))
    two.add(made("b", "c", None, "c"))
    one.add(made("c", "a", ""))
    two.clear(CallFilter(message_id="b"))
    one.add(made("b", "b"))
    seen = [(r.id, r.message_id, r.duplicate_of) for r in two.select()]
    assert seen == [(1, "a", None), (3, "a", 1), (5, "c", None), (6, None, None),
                    (7, "c", 5), (8, "c", 5), (9, "a", 1), (10, "", None),
                    (11, "b", None), (12, "b", 11)]  # the deleted "b"s no longer count
    one.close()
    two.close()


def _write_batches(path: str, worker: int, batches: int) -> None:
    journal = SqliteJournal(path)
    for n in range(batches):
        journal.add(Record(request_id=f"{worker}-{n}", received_at="t", path="/v1/batch",
                           type="group", status="accepted", http_status=200, errors=[],
                           warnings=[], payload={"messageId": f"m{(n * 7 + i) % 50}"},
                           write_key=None, headers={}) for i in range(10))
    journal.close()


def test_processes_writing_at_once_keep_ids_increasing_and_duplicates_first(
        tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    SqliteJournal(path).close()  # the schema exists before both start
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_write_batches, args=(path, worker, 40))
               for worker in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, message_id, duplicate_of, request_id, record FROM calls"
                          " ORDER BY id").fetchall()
    assert [row[0] for row in rows] == list(range(1, 1201))
    first: dict[str, int] = {}
    for record_id, message_id, duplicate_of, _, text in rows:
        assert duplicate_of == first.get(message_id), (record_id, message_id)
        first.setdefault(message_id, record_id)
        stored = json.loads(text)
        assert (stored["id"], stored["duplicate_of"]) == (record_id, duplicate_of)
    batches = [[row[3] for row in rows[start:start + 10]] for start in range(0, 1200, 10)]
    assert all(len(set(batch)) == 1 for batch in batches)  # a batch's rows are contiguous


def test_a_call_that_cannot_be_stored_leaves_nothing_and_takes_no_id(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "calls.sqlite")
    good, bad = every_field_records()[1], every_field_records()[1]
    bad._payload = {"not json": object()}
    with pytest.raises(TypeError):
        journal.add([good, bad])
    assert journal.select() == [] and good.id == 0
    assert [r.id for r in journal.add([good])] == [1]
    journal.close()


def test_the_wal_is_copied_into_the_file_by_a_thread_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_journal, "_CHECKPOINT_BYTES", 50_000)
    path = tmp_path / "calls.sqlite"
    journal = SqliteJournal(path)
    empty = path.stat().st_size
    big = Record.from_dict({**every_field_records()[2].to_dict(), "raw_body": "x" * 6000})
    for _ in range(20):  # about 120 KB: far below the writer's own checkpoint (40 MB)
        journal.add([big])
    deadline = time.monotonic() + 10
    while path.stat().st_size < empty + 60_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.stat().st_size >= empty + 60_000  # copied there, not only in the WAL
    assert any(t.name == "mockseg:checkpoint" for t in threading.enumerate())
    journal.close()
    assert not any(t.name == "mockseg:checkpoint" for t in threading.enumerate())


def _open_fresh_files(folder: str, rounds: int, start: Any, failures: Any) -> None:
    for n in range(rounds):
        start.wait(30)
        try:
            SqliteJournal(Path(folder) / f"new-{n}.sqlite").close()
        except sqlite3.Error as error:
            failures.put(f"round {n}: {error}")


def test_processes_opening_a_new_file_at_once_all_open_it(tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    rounds, start, failures = 8, spawn.Barrier(4), spawn.Queue()
    openers = [spawn.Process(target=_open_fresh_files, args=(str(tmp_path), rounds, start,
                                                             failures)) for _ in range(4)]
    for process in openers:
        process.start()
    for process in openers:
        process.join(60)
        assert process.exitcode == 0
    found = []
    while not failures.empty():
        found.append(failures.get())
    assert found == []  # without taking turns: "database is locked" in some rounds
    with sqlite3.connect(tmp_path / f"new-{rounds - 1}.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_batch_larger_than_one_statement_is_written_whole_with_its_duplicates(
        tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "calls.sqlite")
    journal.add([Record(request_id="r", received_at="t", path="/v1/batch", type="group",
                        status="accepted", http_status=200, errors=[], warnings=[],
                        payload={"messageId": "m5"}, write_key=None, headers={})])
    big = [Record(request_id="b", received_at="t", path="/v1/batch", type="group",
                  status="accepted", http_status=200, errors=[], warnings=[],
                  payload={"messageId": f"m{n % 600}"}, write_key=None, headers={})
           for n in range(1200)]  # more messageIds, and rows, than one statement takes
    journal.add(big)
    assert [r.id for r in big] == list(range(2, 1202))
    expected = [1 if n % 600 == 5 else (None if n < 600 else n - 600 + 2) for n in range(1200)]
    assert [r.duplicate_of for r in journal.select()][1:] == expected
    journal.close()
