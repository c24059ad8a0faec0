"""The ``scaling`` comparison: do more cores help with a shared SQLite journal?

Each side is a server in processes of its own, recording into a SQLite file of its own:

- ``mockseg serve --journal FILE`` (one process, its threaded server);
- ``gunicorn -k gthread -w 1 --threads 8 'mockseg.wsgi:create_app()'`` with ``MOCKSEG_JOURNAL``;
- the same with ``-w 2``: two worker processes sharing the file.

The load is :data:`CLIENTS` client processes, each posting batch-100 bodies (100 B2B group
messages, as ``throughput-batch`` sends) one after another over a keep-alive
``http.client.HTTPConnection``, for :data:`SECONDS` seconds from a common start. A client opens
a new connection every :data:`RECONNECT_EVERY` requests, so that gunicorn's workers, which each
keep the connections they accept, share the clients evenly over a run. The figure is the
requests all clients completed per second. Every repeat is checked (every answer is 200; where
one admin API sees every call, the journal holds exactly the messages answered, all accepted)
and the journal emptied, outside the timing.

Besides requests/s, each side's CPU use is reported (the server's processes and the clients',
in cores, from ``/proc``): on a machine with two cores, it says how much room the second worker
had.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from bench.harness import Context, Metric, Result, Side, Target, alternate, python, ratios
from bench.payloads import batch_bytes, request_headers
from bench.servers import admin_call

__all__ = ["run_scaling"]

CLIENTS = 4
SECONDS = 3.0
RECONNECT_EVERY = 25
MESSAGES = 100
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    """A server in its own process(es): where it listens and its root process."""

    label: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    #: Whether one admin API sees every call (not so for workers with a journal each).
    shared: bool = True

    def request(self, method: str, path: str) -> Any:
        return admin_call(self.host, self.port, method, path, label=self.label)

    def cpu_seconds(self) -> float:
        """CPU time of the root process and its children, so far."""
        return sum(_cpu_of(pid) for pid in (self.process.pid, *_children(self.process.pid)))


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                found.append(int(entry.name))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(server: Server, deadline: float) -> None:
    while True:
        try:
            server.request("GET", "/__mockseg/health")
            return
        except (OSError, RuntimeError, http.client.HTTPException):
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server.label} did not start") from None
            time.sleep(0.1)


@contextmanager
def gunicorn_server(workers: int, journal: Path | None) -> Iterator[Server]:
    """gunicorn's threaded workers on ``journal`` (None: a memory journal per worker)."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("MOCKSEG_JOURNAL", "MOCKSEG_WRITE_KEYS")}
    if journal is not None:
        env["MOCKSEG_JOURNAL"] = str(journal)
    process = subprocess.Popen(
        [python(), "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", "8",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "mockseg.wsgi:create_app()"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(f"gunicorn -w {workers}, {'SQLite' if journal else 'memory'}", "127.0.0.1",
                    port, process, shared=journal is not None or workers == 1)
    try:
        _wait_healthy(server, time.monotonic() + 30)
        yield server
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def serve_server(journal: Path) -> Iterator[Server]:
    process = subprocess.Popen(
        [python(), "-m", "mockseg", "serve", "--port", "0", "--quiet", "--journal",
         str(journal)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        while True:
            line = process.stdout.readline().decode()
            if not line:
                raise RuntimeError("mockseg serve exited before listening")
            if line.startswith("mockseg listening on "):
                break
        port = int(line.strip().rsplit(":", 1)[1])
        server = Server("mockseg serve, SQLite", "127.0.0.1", port, process)
        _wait_healthy(server, time.monotonic() + 30)
        yield server
    finally:
        process.terminate()
        process.wait(30)


# --- clients -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """One client's part of a measurement."""

    sent: int  # every request, the warm-up included
    timed: int
    seconds: float
    cpu: float
    error: str | None = None


def _client(commands: Any, start: Barrier, results: Any) -> None:
    """A client process: for each ``(port, seconds)`` command, connect and warm up, wait for
    the common start, then post batches until the time is up; ``None`` ends it."""
    body, headers = batch_bytes(MESSAGES), request_headers()
    while (command := commands.get()) is not None:
        port, seconds = command
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def post(connection: http.client.HTTPConnection = connection) -> None:
            connection.request("POST", "/v1/batch", body, headers)
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"answered {response.status}: {data[:200]!r}")

        sent = 0
        try:
            post()  # connected and warm
            sent += 1
            start.wait(60)
            began, cpu_began = time.perf_counter(), time.process_time()
            deadline = began + seconds
            count = 0
            while time.perf_counter() < deadline:
                post()
                count += 1
                if count % RECONNECT_EVERY == 0:
                    connection.close()  # the next request connects anew
            tally = Tally(sent + count, count, time.perf_counter() - began,
                          time.process_time() - cpu_began)
        except Exception as exc:  # reported to the harness, which raises it
            start.abort()
            tally = Tally(sent, 0, 0.0, 0.0, f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
        results.put(tally)


class Clients:
    """``count`` client processes, started once and driven one measurement at a time."""

    def __init__(self, count: int) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.start = spawn.Barrier(count + 1)
        self.results: Any = spawn.Queue()
        self.commands: list[Any] = [spawn.Queue() for _ in range(count)]
        self.processes = [spawn.Process(target=_client, args=(queue, self.start, self.results),
                                        daemon=True) for queue in self.commands]
        for process in self.processes:
            process.start()

    def measure(self, server: Server, seconds: float) -> Load:
        """One measurement of ``server``: requests/s, and the cores it and the clients used."""
        dropped = int(server.request("GET", "/__mockseg/stats")["dropped"])  # so far
        for queue in self.commands:
            queue.put((server.port, seconds))
        try:
            self.start.wait(120)  # every client connected and warm
        except threading.BrokenBarrierError:
            self.start.reset()
            tallies = [self.results.get(timeout=60) for _ in self.processes]
            raise RuntimeError(f"{server.label}: a client failed: "
                               f"{next(t.error for t in tallies if t.error)}") from None
        cpu_before, began = server.cpu_seconds(), time.perf_counter()
        tallies = [self.results.get(timeout=seconds + 60) for _ in self.processes]
        wall = time.perf_counter() - began
        cpu = server.cpu_seconds() - cpu_before
        errors = [tally.error for tally in tallies if tally.error]
        if errors:
            self.start.reset()
            raise RuntimeError(f"{server.label}: a client failed: {errors[0]}")
        if server.shared:
            sent = sum(tally.sent for tally in tallies)
            stats = server.request("GET", "/__mockseg/stats")
            # A memory journal past its bound has dropped the oldest: they count as recorded.
            accepted = int(stats["accepted"]) + int(stats["dropped"]) - dropped
            if accepted != sent * MESSAGES or stats["rejected"]:
                raise RuntimeError(f"{server.label} accepted {accepted} of "
                                   f"{sent * MESSAGES} messages")
        for _ in range(1 if server.shared else 8):  # each on a new connection: any worker
            server.request("DELETE", "/__mockseg/calls")  # outside the timing: empty again
        timed = sum(tally.timed for tally in tallies)
        elapsed = max(tally.seconds for tally in tallies)
        return Load(timed / elapsed, cpu / wall, sum(tally.cpu for tally in tallies) / wall)

    def close(self) -> None:
        for queue in self.commands:
            queue.put(None)
        for process in self.processes:
            process.join(30)


@dataclass
class Load:
    """What one measurement of one side found."""

    requests_per_second: float
    server_cores: float
    client_cores: float


# --- the comparison ------------------------------------------------------------------------------


def run_scaling(ctx: Context) -> Result:
    """Batch-100 requests/s from several client processes: one process vs two gunicorn
    workers on a SQLite journal, and the same two with memory journals (the machine's own
    ceiling: nothing shared between the workers)."""
    result = Result("scaling", f"POST /v1/batch (100 messages) from {CLIENTS} client processes: "
                               "requests/s, 1 process vs 2 gunicorn workers on a SQLite journal")
    result.repeats = ctx.repeats(full=5, smoke=1)
    seconds = ctx.count(full=SECONDS, smoke=0.5)
    loads: dict[str, list[Load]] = {}
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix="mockseg-bench-")))
        clients = Clients(CLIENTS)
        stack.callback(clients.close)
        servers = [
            stack.enter_context(serve_server(folder / "serve.sqlite")),
            stack.enter_context(gunicorn_server(1, folder / "one.sqlite")),
            stack.enter_context(gunicorn_server(2, folder / "two.sqlite")),
            stack.enter_context(gunicorn_server(1, None)),
            stack.enter_context(gunicorn_server(2, None)),
        ]
        for server in servers if not ctx.smoke else ():  # warm up: imports, files, caches
            clients.measure(server, 1.0)

        def measure(server: Server) -> Callable[[], float]:
            def run() -> float:
                load = clients.measure(server, seconds)
                loads.setdefault(server.label, []).append(load)
                return load.requests_per_second

            return run

        figures = alternate([(server.label, measure(server)) for server in servers],
                            result.repeats)
    labels = list(figures)
    result.sides = [Side(label, "req/s", figures[label]) for label in labels]
    serve, one, two, one_memory, two_memory = (figures[label] for label in labels)
    sqlite_scaling, memory_scaling = ratios(two, one), ratios(two_memory, one_memory)
    result.metrics = [
        Metric("gunicorn -w 2 / -w 1, SQLite", "x", sqlite_scaling, Target(">=", 1.5)),
        Metric("gunicorn -w 2 / mockseg serve, SQLite", "x", ratios(two, serve)),
        Metric("gunicorn -w 2 / -w 1, memory (the ceiling)", "x", memory_scaling),
        Metric("SQLite's scaling / memory's", "x", ratios(sqlite_scaling, memory_scaling)),
        Metric("gunicorn -w 2 SQLite / -w 1 memory", "x", ratios(two, one_memory)),
    ]
    result.notes.append(
        f"{CLIENTS} client processes, each a keep-alive http.client connection (a new one "
        f"every {RECONNECT_EVERY} requests), {seconds:g} s per side per repeat; "
        f"{len(batch_bytes(MESSAGES)):,} bytes per request; {os.cpu_count()} CPUs, load "
        f"average {os.getloadavg()[0]:.2f} at the end")
    for label in labels:
        server_cores = statistics.median(load.server_cores for load in loads[label])
        client_cores = statistics.median(load.client_cores for load in loads[label])
        result.notes.append(f"{label}: CPU used, median: server {server_cores:.2f} cores, "
                            f"clients {client_cores:.2f} cores")
    return result
