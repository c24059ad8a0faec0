"""The README's gunicorn recipe: threaded workers, so long-polls (open journal pages) hold a
thread each, never a whole worker, and tracking calls are answered while they wait."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import B2B, basic

#: The recipe's worker settings, as the README gives them.
RECIPE = ["-k", "gthread", "--threads", "8", "-w", "2"]
LONG_POLL = (b"GET /__mockseg/calls?wait=1000&timeout=20 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Connection: close\r\n\r\n")


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[str]:
    """``gunicorn`` running the recipe on an ephemeral port, with a SQLite journal; its URL."""
    env = {**os.environ, "MOCKSEG_JOURNAL": str(tmp_path / "calls.sqlite")}
    process = subprocess.Popen(
        # A short --graceful-timeout only so that stopping does not wait out the long-polls.
        [sys.executable, "-m", "gunicorn", *RECIPE, "-b", "127.0.0.1:0",
         "--graceful-timeout", "1", "mockseg.wsgi:create_app()"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    try:
        lines = []
        while "Listening at: " not in (line := process.stdout.readline()):
            lines.append(line)
            if not line:
                pytest.fail("gunicorn did not start:\n" + "".join(lines))
        url = line.split("Listening at: ", 1)[1].split()[0]
        deadline = time.monotonic() + 20
        while True:  # the workers boot after the arbiter has bound the port
            try:
                requests.get(url + "/__mockseg/health", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn's workers did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_four_long_polls_do_not_delay_a_tracking_call(gunicorn: str) -> None:
    port = int(gunicorn.rsplit(":", 1)[1])
    polls = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(4)]
    try:
        for poll in polls:
            poll.sendall(LONG_POLL)  # each waits 20 s for 1,000 calls that never come
        time.sleep(1)  # let the workers take them up (with sync workers, this pins them all)
        response = requests.post(gunicorn + "/v1/group", json=B2B, headers=basic("k"),
                                 timeout=10)
        assert response.status_code == 200
        # Answered while all four long-polls were still waiting.
        assert select.select(polls, [], [], 0)[0] == []
    finally:
        for poll in polls:
            poll.close()
    stats = requests.get(gunicorn + "/__mockseg/stats", timeout=10).json()
    assert stats["accepted"] == 1


def test_threaded_workers_record_concurrent_calls_exactly_once(gunicorn: str) -> None:
    def send(n: int) -> int:
        return requests.post(gunicorn + "/v1/group", json={**B2B, "messageId": f"t{n}"},
                             headers=basic("k"), timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(send, range(40))) == [200] * 40
    for _ in range(4):  # new connections: both workers answer from the one file
        stats = requests.get(gunicorn + "/__mockseg/stats", timeout=10).json()
        assert stats["total"] == 40 and stats["accepted"] == 40 and stats["duplicates"] == 0
