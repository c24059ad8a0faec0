"""Shared test helpers: a `mockseg serve` process and raw HTTP over a socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

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
                chunk: int = 65536) -> bytes:
    """Send raw bytes on a fresh connection and read the whole answer (until close or a
    complete response with Content-Length)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            for start in range(0, len(data), chunk):
                sock.sendall(data[start:start + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything: fine
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            answer += part
            head, sep, body = answer.partition(b"\r\n\r\n")
            if sep:
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(body) >= length:
                    break
        return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])
