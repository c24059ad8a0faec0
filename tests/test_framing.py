"""The standalone server's guards at the socket: strict HTTP/1.1 framing (RFC 9112), a deadline
for a request's head, a pause instead of a spin when out of file descriptors, and
``environ["mockseg.client_gone"]`` for a client that has left. All over real sockets."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from mockseg import MockSegment
from mockseg.serving import CLIENT_GONE, KeepAliveServer
from tests import helpers
from tests.conftest import B2B
from tests.helpers import Served, raw_request, status_of

AUTH = b"Authorization: Basic azo=\r\n"  # write key "k"
BODY = json.dumps({**B2B, "messageId": "framed"}).encode()
#: A whole, valid tracking call. Sent where a body belongs, it is what a lenient server would
#: read as a second request: then the journal would hold two records, not one.
SMUGGLED = (b"POST /v1/group HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + AUTH
            + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)


@pytest.fixture(scope="module")
def server() -> Iterator[MockSegment]:
    with MockSegment(idle_timeout=5) as fake:
        yield fake
    fake.close()


@pytest.fixture
def fake(server: MockSegment) -> MockSegment:
    server.reset()
    return server


def responses(answer: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split a stream of HTTP/1.1 answers (each with Content-Length) into (status, headers,
    body)."""
    found = []
    while answer:
        head, _, rest = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        length = int(headers["Content-Length"])
        found.append((int(lines[0].split(" ")[1]), headers, rest[:length]))
        answer = rest[length:]
    return found


def post(headers: bytes, body: bytes = SMUGGLED, version: bytes = b"HTTP/1.1") -> bytes:
    return (b"POST /v1/group " + version + b"\r\nHost: x\r\nContent-Type: application/json\r\n"
            + AUTH + headers + b"\r\n" + body)


def chunked(*chunks: bytes, last: bytes = b"0\r\n\r\n") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + last


def assert_refused_alone(fake: MockSegment, answer: bytes, error_type: str,
                         status: int = 400) -> dict[str, Any]:
    """One answer (the refusal), the connection closed after it, and exactly one record."""
    [(code, headers, body)] = responses(answer)
    assert code == status, body
    assert headers["Connection"] == "close"
    error = json.loads(body)
    assert error["error"]["type"] == error_type
    [record] = fake.calls
    assert record.http_status == status and record.status == "rejected"
    return dict(error)


# --- refused framing ----------------------------------------------------------------------------

REFUSED = {
    "content-length-and-transfer-encoding": (
        b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(chunked(BODY)),
        chunked(BODY) + SMUGGLED),
    "transfer-encoding-and-content-length": (
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n" + SMUGGLED),
    "two-different-content-lengths": (b"Content-Length: 0\r\nContent-Length: %d\r\n"
                                      % len(SMUGGLED), SMUGGLED),
    "a-list-of-different-content-lengths": (b"Content-Length: 0, %d\r\n" % len(SMUGGLED),
                                            SMUGGLED),
    "content-length-plus-sign": (b"Content-Length: +10\r\n", SMUGGLED),
    "content-length-underscore": (b"Content-Length: 1_0\r\n", SMUGGLED),
    "content-length-form-feed-before-digits": (b"Content-Length: \x0c10\r\n", SMUGGLED),
    "content-length-folded-onto-next-line": (b"Content-Length:\r\n 10\r\n", SMUGGLED),
    "content-length-hex": (b"Content-Length: 0x10\r\n", SMUGGLED),
    "content-length-negative": (b"Content-Length: -1\r\n", SMUGGLED),
    "content-length-empty": (b"Content-Length: \r\n", SMUGGLED),
    "content-length-space-inside": (b"Content-Length: 1 0\r\n", SMUGGLED),
    "transfer-encoding-gzip": (b"Transfer-Encoding: gzip\r\n", SMUGGLED),
    "transfer-encoding-chunked-not-last": (b"Transfer-Encoding: chunked, gzip\r\n",
                                           chunked(BODY) + SMUGGLED),
    "transfer-encoding-gzip-then-chunked": (b"Transfer-Encoding: gzip, chunked\r\n",
                                            chunked(BODY) + SMUGGLED),
    "transfer-encoding-chunked-twice": (b"Transfer-Encoding: chunked\r\n"
                                        b"Transfer-Encoding: chunked\r\n",
                                        chunked(BODY) + SMUGGLED),
    "transfer-encoding-identity": (b"Transfer-Encoding: identity\r\n", SMUGGLED),
    "transfer-encoding-empty": (b"Transfer-Encoding: \r\n", SMUGGLED),
    "space-before-the-colon-of-transfer-encoding": (b"Transfer-Encoding : chunked\r\n",
                                                    chunked(BODY) + SMUGGLED),
    "tab-before-the-colon-of-content-length": (b"Content-Length\t: 0\r\n", SMUGGLED),
    "space-inside-a-header-name": (b"Content Length: 0\r\n", SMUGGLED),
    "folded-header-line": (b"X-Note: a\r\n b\r\n", SMUGGLED),
    "header-line-without-colon": (b"Transfer-Encoding chunked\r\n", SMUGGLED),
    "header-line-with-empty-name": (b": chunked\r\n", SMUGGLED),
    "nul-in-a-header-value": (b"X-Note: a\x00b\r\n", SMUGGLED),
    "bare-cr-in-a-header-value": (b"X-Note: a\rTransfer-Encoding: chunked\r\n",
                                  chunked(BODY) + SMUGGLED),
    "two-host-headers": (b"Host: y\r\n", SMUGGLED),
}


@pytest.mark.parametrize("headers,body", REFUSED.values(), ids=REFUSED.keys())
def test_ambiguous_framing_gets_400_closes_and_leaves_one_record(
    fake: MockSegment, headers: bytes, body: bytes
) -> None:
    answer = raw_request(fake.port, post(headers, body), until_close=True)
    assert_refused_alone(fake, answer, "invalid_request")


def test_transfer_encoding_on_http_1_0_gets_400(fake: MockSegment) -> None:
    answer = raw_request(fake.port, post(b"Transfer-Encoding: chunked\r\n",
                                         chunked(BODY) + SMUGGLED, version=b"HTTP/1.0"),
                         until_close=True)
    error = assert_refused_alone(fake, answer, "invalid_request")
    assert "HTTP/1.1" in error["error"]["message"]


def test_refusal_names_the_header_and_the_rule(fake: MockSegment) -> None:
    answer = raw_request(fake.port, post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
                         until_close=True)
    error = assert_refused_alone(fake, answer, "invalid_request")
    assert error["error"]["errors"][0]["field"] == "Transfer-Encoding"
    assert "both Content-Length and Transfer-Encoding" in error["error"]["message"]
    answer = raw_request(fake.port, post(b"Transfer-Encoding : chunked\r\n"), until_close=True)
    assert "no space before the colon" in json.loads(responses(answer)[0][2])["message"]


def test_head_cut_off_before_its_empty_line_gets_400(fake: MockSegment) -> None:
    answer = raw_request(fake.port, b"POST /v1/group HTTP/1.1\r\nHost: x\r\nContent-Le",
                         shut_write=True, until_close=True)
    assert_refused_alone(fake, answer, "invalid_request")


def test_expect_100_continue_with_bad_framing_gets_400_and_no_continue(
    fake: MockSegment
) -> None:
    answer = raw_request(fake.port, post(b"Expect: 100-continue\r\nContent-Length: +5\r\n", b""),
                         until_close=True)
    assert not answer.startswith(b"HTTP/1.1 100")
    assert_refused_alone(fake, answer, "invalid_request")


# --- chunked bodies: what is valid is read, what is not is refused --------------------------

def test_chunk_extensions_are_accepted(fake: MockSegment) -> None:
    half = len(BODY) // 2
    body = (b"%x;name=value\r\n%s\r\n" % (half, BODY[:half])
            + b'%x ; a = b ;q="x\\"y; z" ;flag\r\n%s\r\n' % (len(BODY) - half, BODY[half:])
            + b"0;last=1\r\n\r\n")
    answer = raw_request(fake.port, post(b"Transfer-Encoding: chunked\r\nConnection: close\r\n",
                                         body), until_close=True)
    assert [code for code, _, _ in responses(answer)] == [200]
    [record] = fake.calls
    assert record.payload == json.loads(BODY)


def test_trailers_after_the_last_chunk_are_accepted(fake: MockSegment) -> None:
    body = chunked(BODY, last=b"0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n")
    answer = raw_request(fake.port, post(b"Transfer-Encoding: Chunked\r\nConnection: close\r\n",
                                         body), until_close=True)
    assert [code for code, _, _ in responses(answer)] == [200]
    assert [call.message_id for call in fake.calls] == ["framed"]


def test_a_chunked_body_with_trailers_keeps_the_connection_for_the_next_request(
    fake: MockSegment
) -> None:
    second = json.dumps({**B2B, "messageId": "second"}).encode()
    first = post(b"Transfer-Encoding: chunked\r\n", chunked(BODY, last=b"0\r\nX-T: 1\r\n\r\n"))
    then = post(b"Content-Length: %d\r\nConnection: close\r\n" % len(second), second)
    answer = raw_request(fake.port, first + then, until_close=True)
    assert [code for code, _, _ in responses(answer)] == [200, 200]
    assert [call.message_id for call in fake.calls] == ["framed", "second"]


def test_identical_repeated_content_lengths_are_one_length(fake: MockSegment) -> None:
    # RFC 9110 §8.6 lets a recipient take "42, 42" as 42; they cannot be read two ways.
    length = len(BODY)
    answer = raw_request(fake.port, post(b"Content-Length: %d\r\nContent-Length: %d, %d  \r\n"
                                         b"Connection: close\r\n" % (length, length, length),
                                         BODY), until_close=True)
    assert [code for code, _, _ in responses(answer)] == [200]
    assert len(fake.calls) == 1


BROKEN_CHUNKS = {
    "hex-prefix-size": b"0x%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY),
    "plus-sign-size": b"+%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY),
    "space-inside-size": b"%x 0\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY),
    "underscore-size": b"0_%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY),
    "bare-lf-size-line": b"%x\n%s\r\n0\r\n\r\n" % (len(BODY), BODY),
    "no-crlf-after-data": b"%x\r\n%sXX0\r\n\r\n" % (len(BODY), BODY),
    "chunk-longer-than-its-size": b"5\r\n%s\r\n0\r\n\r\n" % BODY,
    "extension-with-bad-name": b"%x;=v\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY),
    "trailer-with-space-before-colon": b"%x\r\n%s\r\n0\r\nX-T : 1\r\n\r\n" % (len(BODY), BODY),
    "bare-lf-after-trailers": b"%x\r\n%s\r\n0\r\nX-T: 1\r\n\n" % (len(BODY), BODY),
}


@pytest.mark.parametrize("body", BROKEN_CHUNKS.values(), ids=BROKEN_CHUNKS.keys())
def test_malformed_chunked_body_gets_400_closes_and_nothing_after_it_is_read(
    fake: MockSegment, body: bytes
) -> None:
    answer = raw_request(fake.port, post(b"Transfer-Encoding: chunked\r\n", body + SMUGGLED),
                         until_close=True)
    [(code, headers, _)] = responses(answer)
    assert code == 400 and headers["Connection"] == "close"
    [record] = fake.calls
    assert record.http_status == 400


# --- no dropped connection -----------------------------------------------------------------

def test_a_target_urllib_cannot_split_gets_400_and_a_record(fake: MockSegment) -> None:
    answer = raw_request(fake.port, b"POST http://[x/v1/group HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Length: 2\r\n\r\n{}", until_close=True)
    error = assert_refused_alone(fake, answer, "invalid_request")
    assert "Invalid request target" in error["message"]


class Failing:
    """A WSGI app with a bug, which records what the server refers to it."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        raise RuntimeError("a bug")

    def record_protocol_error(self, path: str, error: Any) -> bytes:
        self.recorded.append((path, error.code))
        return json.dumps({"error": {"type": error.type, "message": error.message}}).encode()


def test_an_app_that_raises_gets_a_500_answer_and_a_record_not_a_dropped_connection(
    caplog: pytest.LogCaptureFixture
) -> None:
    app = Failing()
    server = KeepAliveServer("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = raw_request(server.server_port, b"GET /v1/x?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
                             until_close=True)
    finally:
        server.stop()
        thread.join(5)
        server.close()
    [(code, headers, body)] = responses(answer)
    assert code == 500 and headers["Connection"] == "close"
    assert json.loads(body)["error"]["type"] == "internal_error"
    assert app.recorded == [("/v1/x", 500)]
    assert "a bug" in caplog.text


# --- a deadline for the head --------------------------------------------------------------------

def test_headers_trickled_a_byte_at_a_time_get_408_within_the_idle_timeout() -> None:
    with MockSegment(idle_timeout=1) as fake, \
            socket.create_connection(("127.0.0.1", fake.port), timeout=10) as sock:
        head = post(b"X-Slow: " + b"a" * 100 + b"\r\n", b"")
        started = time.monotonic()
        answer = b""
        for byte in head:  # one byte every 0.1 s: 15 s in all, were it never cut off
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.1)
            if time.monotonic() - started > 10:
                pytest.fail("the server kept reading a head that trickled in for 10 s")
            if select.select([sock], [], [], 0)[0]:  # an answer, or the close
                answer = sock.recv(65536)
                break
        [(code, _, body)] = responses(answer)
        assert code == 408
        assert json.loads(body)["error"]["type"] == "invalid_request"
        assert [call.http_status for call in fake.calls] == [408]
    fake.close()


def test_an_idle_keep_alive_connection_is_closed_without_a_record() -> None:
    with MockSegment(idle_timeout=0.5) as fake, \
            socket.create_connection(("127.0.0.1", fake.port), timeout=10) as sock:
        assert sock.recv(100) == b""  # closed by the server after its idle timeout
        assert fake.calls == []
    fake.close()


# --- out of file descriptors --------------------------------------------------------------------

NOFILE = 64
LAUNCH = ("import resource, sys; "
          f"resource.setrlimit(resource.RLIMIT_NOFILE, ({NOFILE}, {NOFILE})); "
          "from mockseg.cli import main; sys.exit(main())")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_out_of_descriptors_the_server_waits_idle_then_serves_again(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helpers, "MOCKSEG", [sys.executable, "-c", LAUNCH])
    server = Served("--quiet")
    pid = server.process.pid
    idle: list[socket.socket] = []
    try:
        for _ in range(NOFILE + 20):  # more than the server can hold; the rest wait in backlog
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        deadline = time.monotonic() + 10
        while open_descriptors(pid) < NOFILE:
            assert time.monotonic() < deadline, f"only {open_descriptors(pid)} open"
            time.sleep(0.05)
        before = cpu_seconds(pid)
        time.sleep(2)
        assert cpu_seconds(pid) - before < 0.5  # pausing, not retrying accept() in a loop
        waiting = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        waiting.sendall(b"GET /__mockseg/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Connection: close\r\n\r\n")
        for sock in idle:
            sock.close()
        idle.clear()
        answer = b""
        while part := waiting.recv(65536):
            answer += part
        waiting.close()
        assert status_of(answer) == 200
    finally:
        for sock in idle:
            sock.close()
        code, out = server.stop(signal.SIGTERM)
    assert code == 0, out
    assert out.count("cannot accept a connection (Too many open files)") == 1, out


# --- environ["mockseg.client_gone"] -------------------------------------------------------------

class Probe:
    """A WSGI app that watches ``client_gone`` while it holds a request, as a long-poll does."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.body_sent = threading.Event()
        self.gone = threading.Event()
        self.seen: list[bool] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        client_gone = environ[CLIENT_GONE]
        self.seen.append(client_gone())
        self.started.set()
        if environ["PATH_INFO"] == "/wait":  # until the client leaves (10 s at most)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if client_gone():
                    self.gone.set()
                    break
                time.sleep(0.02)
            body = b"gone"
        else:  # "/echo": watch while the body arrives, then read it
            self.body_sent.wait(10)
            for _ in range(10):
                self.seen.append(client_gone())
                time.sleep(0.02)
            body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(params=["plain", "tls"])
def probed(request: pytest.FixtureRequest, ca: trustme.CA) -> Iterator[
        tuple[Probe, Callable[[], socket.socket]]]:
    probe = Probe()
    context = None
    if request.param == "tls":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
    server = KeepAliveServer("127.0.0.1", 0, probe, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def connect() -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", server.server_port), timeout=10)
        if context is None:
            return sock
        client = ssl.create_default_context()
        ca.configure_trust(client)
        return client.wrap_socket(sock, server_hostname="127.0.0.1")

    yield probe, connect
    server.stop()
    thread.join(5)
    server.close()


@pytest.mark.parametrize("probed,close_notify", [("plain", False), ("tls", False), ("tls", True)],
                         ids=["plain", "tls", "tls-close-notify"], indirect=["probed"])
def test_client_gone_turns_true_once_the_client_closes(
    probed: tuple[Probe, Callable[[], socket.socket]], close_notify: bool
) -> None:
    probe, connect = probed
    sock = connect()
    sock.sendall(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
    assert probe.started.wait(10)
    assert not probe.gone.wait(0.3)  # connected: not gone
    if close_notify and isinstance(sock, ssl.SSLSocket):
        # A TLS close_notify first: unwrap() sends it, then fails on the answer the server
        # writes once it has seen the client go.
        with contextlib.suppress(ssl.SSLError, OSError):
            sock.unwrap()
    sock.close()
    assert probe.gone.wait(10)
    assert probe.seen == [False]


def test_client_gone_keeps_the_bytes_it_reads_ahead(
    probed: tuple[Probe, Callable[[], socket.socket]]
) -> None:
    probe, connect = probed
    body = os.urandom(3000).hex().encode()
    with connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert probe.started.wait(10)
        sock.sendall(body)  # arrives while the app is asking whether the client has gone
        probe.body_sent.set()
        answer = b""
        while not answer.endswith(body) and (part := sock.recv(65536)):
            answer += part
    assert answer.split(b"\r\n\r\n", 1)[1] == body
    assert probe.seen == [False] * 11


# --- the fast header path ------------------------------------------------------------------------

_FIELD_BYTES = st.sampled_from([b"a", b"Z", b"-", b"_", b":", b" ", b"\t", b"\r", b"\x7f",
                                b"\xe9", b"From ", b"0", b"~", b"("])


@given(st.lists(st.one_of(
    st.sampled_from([b"Host: x", b"Content-Length: 10", b"X-A:  b ", b"Accept:", b" folded",
                     b"From x", b"Bad Name: v", b"Caf\xe9: v", b"K: v\xe9", b"K:\tv\t"]),
    st.lists(_FIELD_BYTES, max_size=8).map(b"".join)), max_size=6),
    st.sampled_from([b"\r\n", b"\n"]), st.sampled_from([b"\r\n", b"\n", b""]),
    st.sampled_from([b"", b"{}", b"GET / HTTP/1.1\r\n\r\n"]))
@settings(max_examples=400, deadline=None)
def test_plain_heads_read_as_the_email_parser_reads_them(
        fields: list[bytes], ending: bytes, blank: bytes, after: bytes) -> None:
    """The fast path reads a head's header lines exactly as ``http.client.parse_headers``
    does, and takes exactly the head's bytes; or it leaves the head to it (None)."""
    import http.client
    import io

    from mockseg.connection import plain_head

    line = b"POST /v1/batch HTTP/1.1\r\n"
    block = b"".join(field + ending for field in fields) + blank
    fast = plain_head(line + block + after)
    if fast is None:
        return
    length, request_line, headers = fast
    stream = io.BytesIO(block + after)
    slow = http.client.parse_headers(stream)
    assert request_line == line and length == len(line) + stream.tell()
    assert headers.items() == slow.items()
    names = [*slow.keys(), *(name.upper() for name in slow.keys()), "Absent"]
    assert [headers.get_all(name) for name in names] == [slow.get_all(name) for name in names]
    assert [headers.get(name, "-") for name in names] == [slow.get(name, "-") for name in names]
    assert [headers[name] for name in names] == [slow[name] for name in names]


@given(st.sampled_from(["GET", "POST", "OPTIONS", "M"]),
       st.lists(st.sampled_from(["/", "//", "a", "v1", "%2F", "?", "x=1", "http:", "~", "\\"]),
                min_size=1, max_size=6).map("".join),
       st.sampled_from(["HTTP/1.0", "HTTP/1.1"]), st.sampled_from(["\r\n", "\n"]))
@settings(max_examples=300, deadline=None)
def test_plain_request_lines_read_as_parse_request_reads_them(
        method: str, target: str, version: str, ending: str) -> None:
    """The fast path makes of a plain request line what http.server's ``parse_request``
    makes of it: method, path (``//`` reduced), version and whether the connection closes."""
    import io

    from mockseg.connection import plain_head
    from mockseg.serving import KeepAliveHandler

    line = f"{method} {target} {version}{ending}".encode()
    read = plain_head(line + b"\r\n")
    assert (read is not None) == (ending == "\r\n")  # a bare LF: read line by line
    if read is None:
        return
    assert read[:2] == (len(line) + 2, line)
    fast, slow = KeepAliveHandler.__new__(KeepAliveHandler), KeepAliveHandler.__new__(
        KeepAliveHandler)
    for handler in (fast, slow):
        handler.raw_requestline = line
        handler.close_connection = True
    fast._take_request_line()
    slow.rfile = io.BytesIO(b"\r\n")
    assert slow.parse_request()
    seen = ("command", "path", "request_version", "requestline", "close_connection")
    assert [getattr(fast, name) for name in seen] == [getattr(slow, name) for name in seen]


def test_fast_header_path_keeps_connection_and_expect_handling() -> None:
    with MockSegment() as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        body = json.dumps(B2B).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"POST /v1/group HTTP/1.1\r\nHost: x\r\nAuthorization: Basic azo=\r\n"
                         b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                         b"Connection: close\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\n\r\n")
            assert conn.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
            conn.sendall(body)
            answer = b""
            while chunk := conn.recv(65536):  # Connection: close: the server closes after
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ") and b'{"success":true}' in answer
        assert len(fake.calls) == 1
