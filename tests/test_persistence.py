"""The SQLite journal: committed before answering, survives kill -9, restarts append, and
several processes (mockseg serve twice, or gunicorn workers) share one file."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from mockseg import MockSegment
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
