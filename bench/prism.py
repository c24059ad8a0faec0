"""The ``prism`` comparison: Stoplight Prism's validating mock server beside mockseg.

Prism (``@stoplight/prism-cli``, locked in ``bench/prism/package-lock.json``) mocks mockseg's own
OpenAPI document (``mockseg.openapi.openapi_document()``, what ``/__mockseg/openapi.json``
serves), written to a temporary file. ``prism mock`` validates every request against the
document by default; an invalid one gets a 400 with an ``sl-violations`` header. It is the peer
that does mockseg's job: check requests against a contract.

Both run as their own server process (``prism mock`` and ``mockseg serve``), each without a log
line per request, and get the same valid calls: single ``/v1/group`` calls of the B2B example
and ``/v1/batch`` calls of 100 of them, the payloads of the ``throughput-*`` comparisons. The
targets' client is one keep-alive TCP connection per server (``bench.servers.SocketClient``:
the request as prebuilt bytes, the answer read by its length): it costs about 0.05 ms of CPU a
request, so the figures are the servers'. The same calls also go over ``http.client`` (0.13 ms
a request) and a ``requests.Session`` (what an SDK sees; about 0.7 ms a request). A client's
own cost is common to both sides and pulls every ratio toward 1: the Session caps a single-call
ratio near 3x. Two more sides, for
information: Prism at its default log level (``info``: several lines per request, to a file)
and mockseg in the harness's process, as the ``throughput-*`` comparisons run it; and the two
floors of :mod:`bench.floor` (http.server with werkzeug's environ, and mockseg's HTTP stack,
each answering success without looking at the body), which bound what any server built on
them can reach against Prism. Then four
invalid calls go to each: one the schema forbids (a ``groupId`` with a space) and three it does
not express (a body over mockseg's 32 KB limit, JSON nested deeper than 64 levels, no write key
in strict mode); the notes say who rejected what.

The locked packages are installed with ``npm ci`` into ``bench/prism/node_modules`` when it is
missing or older than the lock (a stamp holds the hash of package.json and the lock). Without
node or npm the comparison is skipped with the reason; under ``CI=true`` that is an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import Context, Metric, Result, Side, Target, alternate, ratios
from bench.payloads import b2b_body, b2b_bytes, batch_bytes, compact, request_headers
from bench.servers import (
    RawClient,
    Served,
    SessionClient,
    SocketClient,
    admin_call,
    mockseg_server,
    settle,
)

__all__ = ["run_prism"]

NAME = "prism"
TITLE = ("Stoplight Prism's validating mock vs mockseg, one keep-alive connection each: "
         "requests/s")
#: The suffix of the lanes whose client is a bare socket (the targets'), and of those whose
#: client is an ``http.client`` connection.
SOCKET = ", socket"
RAW = ", http.client"
Client = SessionClient | RawClient | SocketClient
PRISM = Path(__file__).resolve().parent / "prism"
STAMP = PRISM / "node_modules" / ".mockseg-installed"
PRISM_CLI = PRISM / "node_modules" / "@stoplight" / "prism-cli" / "dist" / "index.js"
IN_CI = os.environ.get("CI") == "true"
#: The metrics with a target: (label, target); a skipped run reports them without values.
TARGETS = (("mockseg / Prism, single calls", Target(">=", 4.0)),
           ("mockseg / Prism, batch-100", Target(">=", 3.0)))
#: The two payloads' lane prefixes, and how a metric's label names them.
_KINDS = (("single", "single calls"), ("batch-100", "batch-100"))
#: bench/floor.py's servers: what answering costs before any of mockseg's work.
FLOORS = ("werkzeug floor", "mockseg's HTTP stack, idle app")
START_TIMEOUT = 60.0
INSTALL_TIMEOUT = 600.0


class Unavailable(Exception):
    """Prism cannot run here: node or npm is missing."""


# --- the install ----------------------------------------------------------------------------


def installed_hash() -> str:
    """The hash of what ``npm ci`` installs from: package.json and the lock."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update(name.encode() + b"\0" + (PRISM / name).read_bytes())
    return digest.hexdigest()


def install(log: Callable[[str], None]) -> tuple[str, float | None]:
    """node's path, with the locked Prism installed; and the seconds ``npm ci`` took, if it
    had to run. Raises :class:`Unavailable` without node or npm."""
    tools = {tool: shutil.which(tool) for tool in ("node", "npm")}
    absent = [tool for tool, path in tools.items() if path is None]
    if absent:
        raise Unavailable(f"{' and '.join(absent)} {'are' if len(absent) > 1 else 'is'} not "
                          "on PATH")
    node, npm = tools["node"] or "", tools["npm"] or ""
    if STAMP.exists() and STAMP.read_text("utf-8") == installed_hash() and PRISM_CLI.exists():
        return node, None
    log("  npm ci of @stoplight/prism-cli into bench/prism/node_modules ...")
    started = time.perf_counter()
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                          cwd=PRISM, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"npm ci in bench/prism failed (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-500:]}")
    STAMP.write_text(installed_hash(), "utf-8")
    return node, time.perf_counter() - started


# --- the server processes -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    """A server process the comparison started: its command, port and log file."""

    label: str
    command: list[str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(self.command, cwd=cwd, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT)

    def wait_listening(self, deadline: float) -> None:
        """Until the port accepts connections; raises if the process ends or time runs out."""
        assert self.process is not None
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited {self.process.returncode} before "
                                   f"listening: {self.tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.label} is not listening on port {self.port} "
                                       f"after {START_TIMEOUT:g} s: {self.tail()}") from None
                time.sleep(0.02)

    def tail(self) -> str:
        text = self.log.read_text("utf-8", "replace").strip() if self.log.exists() else ""
        return text[-600:] or "(no output)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def cpu_seconds(self) -> float | None:
        """The process's user and system CPU time so far, from /proc (None elsewhere)."""
        assert self.process is not None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def processes(started: list[Process], cwd: Path) -> Iterator[list[Process]]:
    """Start every process at once (their start-ups overlap), wait until all listen."""
    try:
        for process in started:
            process.start(cwd)
        deadline = time.monotonic() + START_TIMEOUT
        for process in started:
            process.wait_listening(deadline)
        yield started
    finally:
        for process in started:
            process.stop()


def prism_command(node: str, document: Path, port: int, *, quiet: bool) -> list[str]:
    """``prism mock`` on the document; request validation is on by default. ``quiet``:
    ``-v error``, no log lines for valid requests."""
    level = ["-v", "error"] if quiet else []
    return [node, str(PRISM_CLI), "mock", "-h", "127.0.0.1", "-p", str(port), *level,
            str(document)]


def floor_command(kind: str, port: int) -> list[str]:
    """One of :mod:`bench.floor`'s servers: ``werkzeug`` or ``stack``."""
    return [sys.executable, str(Path(__file__).with_name("floor.py")), kind, str(port)]


def mockseg_command(port: int, *, quiet: bool) -> list[str]:
    """``mockseg serve``; ``quiet``: ``--quiet``, no log line per call."""
    return [sys.executable, "-m", "mockseg", "serve", "--host", "127.0.0.1", "--port", str(port),
            *(["--quiet"] if quiet else [])]


def _admin(url: str, method: str, path: str) -> Any:
    parts = urlsplit(url)
    return admin_call(parts.hostname or "", parts.port, method, path, timeout=30)


def served_mockseg(process: Process) -> Served:
    """``mockseg serve``, its journal read and emptied through its admin API."""
    url = process.url
    return Served(process.label, url, lambda: _admin(url, "POST", "/__mockseg/reset"),
                  lambda: int(_admin(url, "GET", "/__mockseg/stats")["accepted"]))


# --- invalid calls ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """An invalid call (in mockseg's default strict mode): what is wrong with it."""

    label: str
    path: str
    body: bytes
    keyless: bool = False  # sent without the Authorization header


def probes() -> list[Probe]:
    from mockseg.rules import Limits

    limits = Limits()
    spaced = b2b_body()
    spaced["groupId"] = "company acme"
    large = b2b_body()
    large["traits"]["description"] = "x" * limits.max_body_bytes
    deep = b2b_body()
    nested: Any = []
    for _ in range(limits.max_json_depth + 1):
        nested = [nested]
    deep["_metadata"] = nested  # an unknown field: allowed, so the schema says nothing of it
    return [
        Probe("groupId 'company acme' (the schema's pattern forbids the space)", "/v1/group",
              compact(spaced)),
        Probe(f"a {len(compact(large)):,}-byte body, over the {limits.max_body_bytes:,}-byte "
              "limit (only the document's prose says it)", "/v1/group", compact(large)),
        Probe(f"an extra field nested {limits.max_json_depth + 2} levels deep, over the "
              f"{limits.max_json_depth}-level limit", "/v1/group", compact(deep)),
        Probe("no write key (the document allows it, for segment mode; strict mode refuses it)",
              "/v1/group", b2b_bytes(), keyless=True),
    ]


def answer_of(url: str, probe: Probe) -> tuple[bool, str]:
    """Whether the server rejected the probe, and what it said."""
    import requests

    headers = request_headers()
    if probe.keyless:
        del headers["Authorization"]
    response = requests.post(url + probe.path, data=probe.body, headers=headers, timeout=30)
    said = f"{response.status_code}"
    violations = response.headers.get("sl-violations")
    if violations:
        first = json.loads(violations)[0]
        said += (f", sl-violations: {first.get('code')} at "
                 f"{'.'.join(str(part) for part in first.get('location', []))}")
    else:
        try:
            error = response.json().get("error")
        except ValueError:
            error = None
        if isinstance(error, dict):
            said += f" {error.get('type')}: {error.get('message')}"
    return response.status_code >= 400, said


# --- the comparison ---------------------------------------------------------------------------


def skipped(reason: str) -> Result:
    """The comparison without Prism: its targets listed, without figures, with the reason."""
    if IN_CI:
        raise RuntimeError(f"CI=true, and the prism comparison cannot run: {reason}")
    why = f"skipped: {reason}; Prism runs on node and is installed with npm"
    result = Result(NAME, TITLE, notes=[why])
    result.metrics = [Metric(label, "x", [], target, failure=why) for label, target in TARGETS]
    return result


@dataclass
class Lane:
    """One side: a payload sent to one server over its own session, and the server's CPU
    time per request in each repeat (for a server process of its own)."""

    label: str
    client: Client
    messages: int
    count: int
    process: Process | None
    cpu_ms: list[float] = field(default_factory=list)
    client_ms: list[float] = field(default_factory=list)

    def run(self) -> float:
        before = self.process.cpu_seconds() if self.process is not None else None
        client_before = time.process_time()
        figure = self.client.run(self.count)
        client_after = time.process_time()
        after = self.process.cpu_seconds() if self.process is not None else None
        if before is not None and after is not None:
            self.cpu_ms.append((after - before) * 1e3 / self.count)
            # the harness's process is only the client here: its server is elsewhere
            self.client_ms.append((client_after - client_before) * 1e3 / self.count)
        settle(self.client.served, self.count * self.messages)  # outside the timing
        return figure


def run_prism(ctx: Context) -> Result:
    """Prism 5 and mockseg on the same valid calls, then on invalid ones."""
    from mockseg.openapi import openapi_document

    try:
        node, installing = install(ctx.log)
    except Unavailable as missing:
        return skipped(str(missing))
    result = Result(NAME, TITLE)
    result.repeats = ctx.repeats(full=5)
    singles = ctx.count(full=600, smoke=10)
    batches = ctx.count(full=120, smoke=2)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mockseg-prism-")))
        document = folder / "openapi.json"
        document.write_text(json.dumps(openapi_document()), "utf-8")
        ports = [free_port() for _ in range(6)]
        servers = [
            Process("mockseg", mockseg_command(ports[0], quiet=True), ports[0],
                    folder / "mockseg.log"),
            Process("Prism", prism_command(node, document, ports[1], quiet=True), ports[1],
                    folder / "prism.log"),
            Process("mockseg, default logging", mockseg_command(ports[2], quiet=False),
                    ports[2], folder / "mockseg-info.log"),
            Process("Prism, default logging",
                    prism_command(node, document, ports[3], quiet=False), ports[3],
                    folder / "prism-info.log"),
            Process(FLOORS[0], floor_command("werkzeug", ports[4]), ports[4],
                    folder / "floor-werkzeug.log"),
            Process(FLOORS[1], floor_command("stack", ports[5]), ports[5],
                    folder / "floor-stack.log"),
        ]
        began = time.perf_counter()
        stack.enter_context(processes(servers, PRISM))
        start_seconds = time.perf_counter() - began
        ours, ours_logging = served_mockseg(servers[0]), served_mockseg(servers[2])
        inside = stack.enter_context(mockseg_server())
        inside.label = "mockseg in-process"
        # (server, its process, its clients besides the socket one)
        peers: list[tuple[Served, Process | None, tuple[type[Client], ...]]] = [
            (ours, servers[0], (RawClient, SessionClient)),
            (Served(servers[1].label, servers[1].url, lambda: None), servers[1],
             (RawClient, SessionClient)),
            (ours_logging, servers[2], ()),
            (Served(servers[3].label, servers[3].url, lambda: None), servers[3], ()),
            *((Served(floor.label, floor.url, lambda: None), floor, ())
              for floor in servers[4:]),
            (inside, None, (SessionClient,)),
        ]
        suffixes = {SocketClient: SOCKET, RawClient: RAW, SessionClient: ""}
        lanes = []
        for kind, path, body, messages, count in (
                ("single", "/v1/group", b2b_bytes(), 1, singles),
                ("batch-100", "/v1/batch", batch_bytes(100), 100, batches)):
            for served, process, others in peers:
                for make in ((SocketClient,) if process is not None else ()) + others:
                    client = make(served, path, body)
                    stack.callback(client.close)
                    lanes.append(Lane(f"{kind}: {served.label}{suffixes[make]}", client,
                                      messages, count, process))
        for lane in lanes:  # warm up: connect, and let V8 compile Prism's code
            lane.client.run(max(lane.count // 3, 2))
        ours.reset()
        outcomes = {served.label: [answer_of(served.url, probe) for probe in probes()]
                    for served, _, _ in peers[:2]}
        if not all(rejected for rejected, _ in outcomes["mockseg"]):
            raise RuntimeError(f"mockseg accepted an invalid call: {outcomes['mockseg']}")
        recorded = _admin(ours.url, "GET", "/__mockseg/stats")
        for served in (ours, ours_logging, inside):
            served.reset()
        figures = alternate([(lane.label, lane.run) for lane in lanes], result.repeats)
    result.sides = [Side(lane.label, "req/s", figures[lane.label]) for lane in lanes]
    result.metrics = _metrics(figures, outcomes, {lane.label: lane.cpu_ms for lane in lanes})
    result.notes = _notes(singles, batches, installing, len(servers), start_seconds, outcomes,
                          recorded)
    cpu = [f"{lane.label} {statistics.median(lane.cpu_ms):.2f} (client "
           f"{statistics.median(lane.client_ms):.2f})" for lane in lanes if lane.cpu_ms]
    if cpu:
        result.notes.insert(1, "CPU ms per request, median over repeats, of the server process "
                               "(user+system, from /proc) and of the client (the harness's "
                               f"process): {'; '.join(cpu)}")
    return result


def _metrics(figures: dict[str, list[float]], outcomes: dict[str, list[tuple[bool, str]]],
             cpu_ms: dict[str, list[float]]) -> list[Metric]:
    metrics = []
    for (label, target), kind in zip(TARGETS, ("single", "batch-100"), strict=True):
        metrics.append(Metric(label, "x", ratios(figures[f"{kind}: mockseg{SOCKET}"],
                                                 figures[f"{kind}: Prism{SOCKET}"]), target))
    for kind, what in _KINDS:
        theirs, ours = cpu_ms[f"{kind}: Prism{SOCKET}"], cpu_ms[f"{kind}: mockseg{SOCKET}"]
        if theirs and len(theirs) == len(ours) and all(ours):  # not below the clock's tick
            metrics.append(Metric(f"Prism / mockseg server CPU per request, {what}", "x",
                                  ratios(theirs, ours)))
    for kind, what in _KINDS:
        for floor in FLOORS:
            metrics.append(Metric(f"{floor} / Prism, {what}", "x",
                                  ratios(figures[f"{kind}: {floor}{SOCKET}"],
                                         figures[f"{kind}: Prism{SOCKET}"])))
    for kind, what in _KINDS:
        metrics.append(Metric(f"mockseg / Prism over http.client, {what}", "x",
                              ratios(figures[f"{kind}: mockseg{RAW}"],
                                     figures[f"{kind}: Prism{RAW}"])))
    for kind, what in _KINDS:
        metrics.append(Metric(f"mockseg / Prism over requests.Session, {what}", "x",
                              ratios(figures[f"{kind}: mockseg"], figures[f"{kind}: Prism"])))
    for kind, what in _KINDS:
        metrics.append(Metric(f"mockseg / Prism, each at its default log level, {what}", "x",
                              ratios(figures[f"{kind}: mockseg, default logging{SOCKET}"],
                                     figures[f"{kind}: Prism, default logging{SOCKET}"])))
    count = len(next(iter(outcomes.values())))
    for label, answers in outcomes.items():
        metrics.append(Metric(f"invalid calls {label} rejected (of {count})", "",
                              [float(sum(rejected for rejected, _ in answers))]))
    return metrics


def _notes(singles: int, batches: int, installing: float | None, started: int,
           start_seconds: float,
           outcomes: dict[str, list[tuple[bool, str]]], recorded: dict[str, Any]) -> list[str]:
    notes = [
        f"{singles:,} single calls ({len(b2b_bytes()):,} bytes) and {batches:,} batch-100 calls "
        f"({len(batch_bytes(100)):,} bytes) per side per repeat; the targets compare "
        "`mockseg serve --quiet` with `prism mock -v error`, each its own process, over one "
        "keep-alive TCP connection each, whose client sends prebuilt bytes and reads the "
        "answer by its length (about 0.05 ms of CPU a request; http.client costs 0.13, a "
        "requests.Session 0.7, and both lanes are kept for information)",
        "validation: Prism checks each request against the document's JSON Schemas; mockseg "
        "also checks what the schema does not say (body size, JSON depth, the write key in "
        "strict mode), answers the contract's exact messages, and records every call, valid or "
        "not, in its journal",
        "floors, for information: bench/floor.py's two servers answer success without "
        "reading the body's JSON (http.server and werkzeug's environ alone; mockseg's own HTTP "
        "stack with an idle app): no server built on them can be faster",
        f"the {started} server processes started in {start_seconds:.1f} s"
        + (f"; npm ci installed Prism in {installing:.1f} s first" if installing else ""),
    ]
    for index, probe in enumerate(probes()):
        answers = "; ".join(f"{label}: {'rejected' if outcomes[label][index][0] else 'ACCEPTED'}"
                            f" ({outcomes[label][index][1]})" for label in outcomes)
        notes.append(f"invalid call {index + 1}, {probe.label}: {answers}")
    notes.append(f"mockseg's journal after the invalid calls: {recorded['total']} records, "
                 f"{recorded['rejected']} rejected; Prism keeps none")
    return notes
