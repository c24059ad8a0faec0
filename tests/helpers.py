"""Shared test helpers: a `mockseg serve` process, raw HTTP over a socket, and the check of the
group call that a real SDK delivered."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mockseg.journal import Record
from tests.conftest import SDK_TRAITS

MOCKSEG = [sys.executable, "-m", "mockseg"]


class Served:
    """A ``mockseg serve`` subprocess, started and listening."""

    def __init__(self, *options: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*MOCKSEG, "serve", "--port", "0", *options],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        assert self.process.stdout is not None
        lines = []
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("mockseg serve exited:\n" + "".join(lines))
            lines.append(line)
            if line.startswith("mockseg listening on "):
                break
        self.preamble = "".join(lines[:-1])
        self.url = lines[-1].strip().rsplit(" ", 1)[1]
        self.port = int(self.url.rsplit(":", 1)[1])
        #: With ``--tls``: the CA certificate file named on the line after the listening line.
        self.ca_file: str | None = None
        if self.url.startswith("https://") and "--tls-cert" not in options:
            line = self.process.stdout.readline()
            assert line.startswith("mockseg CA certificate: "), line
            self.ca_file = line.strip().split(": ", 1)[1]

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory (VmHWM), in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines()
                  if line.startswith("VmHWM:"))
        return kb / 1024

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=15)


def raw_request(port: int, data: bytes, *, timeout: float = 10, shut_write: bool = False,
                until_close: bool = False, chunk: int = 65536) -> bytes:
    """Send raw bytes on a fresh connection and read the whole answer (until close or a
    complete response with Content-Length).

    ``until_close=True`` reads until the server closes the connection, whatever the answers
    say: every answer on it is read, and a server that keeps the connection open (waiting for
    more) fails the test with a timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            for start in range(0, len(data), chunk):
                sock.sendall(data[start:start + chunk])
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything: fine
        answer = b""
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            answer += part
            if until_close:
                continue
            head, sep, body = answer.partition(b"\r\n\r\n")
            if sep:
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(body) >= length:
                    break
        return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def assert_group_delivered(records: Sequence[Record], message_id: str) -> dict[str, Any]:
    """The one group record among ``records``, checked to be the SDK drivers' group call,
    accepted at ``/v1/batch`` with every field intact; returns its payload.

    pytest does not rewrite the asserts of this module, so each one shows what it compared."""
    [group] = [record for record in records if record.type == "group"]
    assert (group.path, group.status, group.http_status) == ("/v1/batch", "accepted", 200), group
    assert group.errors == [] and group.warnings == [], (group.errors, group.warnings)
    payload: dict[str, Any] = group.payload
    assert payload["userId"] == "user123", payload
    assert payload["groupId"] == "company_acme", payload
    assert payload["messageId"] == message_id, payload
    traits = payload["traits"]
    assert traits == SDK_TRAITS, traits
    assert traits["address"] == SDK_TRAITS["address"], traits
    assert traits["employees"] == 500 and type(traits["employees"]) is int, traits
    assert traits["plan"] == "enterprise", traits
    return payload
