"""Hostile input against a real `mockseg serve` process over sockets: every input gets a clear
4xx in the documented shape, is recorded, and the server stays up within its memory bound."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import B2B
from tests.helpers import Served, raw_request, status_of

AUTH = b"Authorization: Basic dGVzdC1rZXk6\r\n"  # write key "test-key"


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    served = Served("--quiet", "--idle-timeout", "2")
    yield served
    served.stop()


def post(path: str, body: bytes, *extra: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n".encode()
            + AUTH + b"".join(extra) + b"\r\n")
    return head + body


def error_of(answer: bytes) -> dict[str, object]:
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert set(body) >= {"error", "code", "message"}
    assert set(body["error"]) >= {"type", "message", "errors"}
    return body["error"]  # type: ignore[no-any-return]


def journal_size(server: Served) -> int:
    return int(requests.get(server.url + "/__mockseg/stats", timeout=5).json()["total"])


def check(server: Served, request: bytes, status: int, error_type: str,
          records: int = 1, **options: object) -> dict[str, object]:
    before = journal_size(server)
    answer = raw_request(server.port, request, **options)  # type: ignore[arg-type]
    assert status_of(answer) == status, answer[:300]
    error = error_of(answer)
    assert error["type"] == error_type, error
    assert journal_size(server) == before + records, "the attempt must be recorded"
    assert requests.get(server.url + "/__mockseg/health", timeout=5).status_code == 200
    return error


def gzip_of_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


def test_json_nested_100000_levels(server: Served) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    error = check(server, post("/v1/batch", deep), 400, "validation_error")
    assert error["message"] == "JSON nested too deeply (max 64 levels)"
    check(server, post("/v1/group", deep), 400, "payload_too_large")


def test_gzip_bombs(server: Served) -> None:
    # ~300 KB of gzip that inflates to 300 MB: small enough to be read, so this shows that
    # inflating stops at the limit (the memory check at the end would fail otherwise).
    small = gzip_of_zeros(300 << 20)
    assert len(small) < 400_000
    started = time.monotonic()
    check(server, post("/v1/batch", small, b"Content-Encoding: gzip\r\n"), 400,
          "payload_too_large")
    big = gzip_of_zeros(1 << 30)  # ~1 MB of gzip that inflates to 1 GB
    check(server, post("/v1/batch", big, b"Content-Encoding: gzip\r\n"), 400,
          "payload_too_large")
    assert time.monotonic() - started < 10


def test_content_length_of_10_gb_is_answered_at_once(server: Served) -> None:
    request = (b"POST /v1/group HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n" + AUTH
               + b"\r\n" + b"{" * 1000)
    started = time.monotonic()
    check(server, request, 400, "payload_too_large")
    assert time.monotonic() - started < 2


def test_body_shorter_than_its_content_length(server: Served) -> None:
    request = (b"POST /v1/group HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n" + AUTH
               + b"\r\n" + b'{"groupId": "g"')
    check(server, request, 400, "invalid_json", shut_write=True)
    started = time.monotonic()  # a client that stalls instead gets the idle timeout (2 s here)
    check(server, request, 400, "invalid_json")
    assert time.monotonic() - started < 6


def test_chunked_transfer_encoding(server: Served) -> None:
    body = json.dumps(B2B).encode()
    request = (b"POST /v1/group HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + AUTH
               + b"\r\n" + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    before = journal_size(server)
    assert status_of(raw_request(server.port, request)) == 200
    assert journal_size(server) == before + 1
    huge = (b"POST /v1/group HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + AUTH
            + b"\r\n" + b"".join(b"8000\r\n" + b" " * 0x8000 + b"\r\n" for _ in range(3))
            + b"0\r\n\r\n")
    check(server, huge, 400, "payload_too_large")
    broken = (b"POST /v1/group HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + AUTH
              + b"\r\nzz\r\n{}\r\n0\r\n\r\n")
    check(server, broken, 400, "invalid_json")


@pytest.mark.parametrize("body", [
    b'{"groupId": "\xff\xfe"}',
    b'{"groupId": "\xed\xa0\x80"}',
    b'{"groupId": "\\ud800", "userId": "u"}',
    b'{"groupId": "g", "userId": "u", "traits": {"n": NaN}}',
    b'{"groupId": "g", "userId": "u", "traits": {"n": Infinity}}',
    b'{"groupId": "g", "userId": "u", "traits": {"n": -Infinity}}',
    b'{"groupId": "g", "userId": "u", "traits": {"n": ' + b"7" * 10_000 + b"}}",
    b"",
    b"  \r\n\t ",
], ids=["invalid-utf8", "encoded-surrogate", "escaped-lone-surrogate", "nan", "infinity",
        "minus-infinity", "10000-digit-integer", "empty", "whitespace"])
def test_unreadable_bodies_are_invalid_json(server: Served, body: bytes) -> None:
    check(server, post("/v1/group", body), 400, "invalid_json")


def test_json_null_body(server: Served) -> None:
    error = check(server, post("/v1/group", b"null"), 400, "validation_error")
    assert error["message"] == "Request body must be a JSON object"


def test_duplicate_keys_last_one_wins(server: Served) -> None:
    body = b'{"userId": "u", "groupId": "bad id", "groupId": "good_id", "traits": {"a": 1}}'
    assert status_of(raw_request(server.port, post("/v1/group", body))) == 200
    calls = requests.get(server.url + "/__mockseg/calls", timeout=5).json()["calls"]
    assert calls[-1]["payload"]["groupId"] == "good_id"


def test_size_limits(server: Served) -> None:
    items = json.dumps({"batch": [{"type": "track", "userId": "u", "event": "e"}] * 2501})
    error = check(server, post("/v1/batch", items.encode()), 400, "payload_too_large")
    assert "2501" in str(error["message"])
    single = json.dumps({**B2B, "traits": {"blob": "x" * 33_000}}).encode()
    check(server, post("/v1/group", single), 400, "payload_too_large")
    batch = json.dumps({"batch": [{**B2B, "traits": {"blob": "x" * 20_000}}] * 30}).encode()
    assert 600_000 < len(batch) < 650_000
    check(server, post("/v1/batch", batch), 400, "payload_too_large")
    gzipped = gzip.compress(batch)
    check(server, post("/v1/batch", gzipped, b"Content-Encoding: gzip\r\n"), 400,
          "payload_too_large")


def test_headers_of_64_kb(server: Served) -> None:
    big = b"X-Big: " + b"a" * 65536 + b"\r\n"
    check(server, post("/v1/group", b"{}", big), 431, "request_header_too_large")
    many = b"".join(b"X-H%d: %d\r\n" % (n, n) for n in range(120))
    check(server, post("/v1/group", b"{}", many), 431, "request_header_too_large")


def test_garbage_request_line(server: Served) -> None:
    check(server, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n", 400,
          "invalid_request")
    check(server, b"POST /v1/group HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400,
          "invalid_request")


def test_unsupported_http_version_is_a_4xx(server: Served) -> None:
    check(server, b"POST /v1/group HTTP/2.0\r\nHost: x\r\n\r\n", 400, "invalid_request")


def test_peak_memory_stays_under_200_mb(server: Served) -> None:
    # Runs last in this module (pytest keeps file order): after the whole battery.
    assert server.peak_rss_mb() < 200
    assert requests.get(server.url + "/__mockseg/health", timeout=5).status_code == 200


# --- the TLS port -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_server() -> Iterator[Served]:
    served = Served("--quiet", "--tls", "--idle-timeout", "2")
    yield served
    served.stop()


def _tls_ok(server: Served) -> bool:
    answer = requests.post(server.url + "/v1/import/", data=post_body(), timeout=5,
                           verify=server.ca_file)
    return answer.json() == {"success": True}


def post_body() -> bytes:
    return json.dumps({"batch": [B2B], "writeKey": "test-key"}).encode()


@pytest.mark.parametrize("hello", [
    b"\x16\x03\x01\x00\x05hello",            # a handshake record that is not a ClientHello
    b"\x16\x03\x01\xff\xff" + b"\x00" * 64,  # a record longer than what follows, then close
    b"\x16" + bytes(range(256)) * 8,          # garbage after the handshake byte
    b"\x16",                                  # one byte, then silence until the idle timeout
    b"\x80\x2e\x01\x03\x01",                  # an SSLv2-style hello
    b"GET / HTTP/1.1\r\n\r\n",                # plain HTTP, no Host
    b"\xff" * 1000,                           # noise
    b"",                                      # connect and close
])
def test_hostile_bytes_on_the_tls_port_never_take_it_down(tls_server: Served,
                                                          hello: bytes) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as conn:
        if hello:
            conn.sendall(hello)
        conn.settimeout(3)
        try:
            while conn.recv(65536):
                pass
        except (TimeoutError, ConnectionResetError):
            pass
    assert tls_server.process.poll() is None
    assert _tls_ok(tls_server)


def test_settings_endpoint_on_the_tls_port_points_at_https(tls_server: Served) -> None:
    answer = requests.get(tls_server.url + "/v1/projects/test-key/settings", timeout=5,
                          verify=tls_server.ca_file)
    destination = answer.json()["integrations"]["Segment.io"]
    assert destination["protocol"] == "https"
    assert destination["apiHost"] == f"127.0.0.1:{tls_server.port}/v1"


# --- arbitrary bytes in every header, over a real socket ------------------------------------------

_HEADER_NAMES = st.sampled_from([b"Authorization", b"Content-Type", b"Content-Encoding",
                                 b"Origin", b"User-Agent", b"X-Retry-Count", b"Host",
                                 b"Accept-Encoding", b"Expect", b"Sec-Fetch-Site"]) | st.binary(
    min_size=1, max_size=12)
#: Anything but the CR and LF that end a line (those make other requests, tested above).
_HEADER_BYTES = st.binary(max_size=40).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(extra=st.lists(st.tuples(_HEADER_NAMES, _HEADER_BYTES), max_size=4))
def test_arbitrary_header_bytes_get_an_answer_and_a_record(
        server: Served, extra: list[tuple[bytes, bytes]]) -> None:
    before = journal_size(server)
    body = json.dumps({"batch": [B2B]}).encode()
    head = b"".join(name + b": " + value + b"\r\n" for name, value in extra)
    answer = raw_request(server.port, post("/v1/batch", body, head))
    status = status_of(answer)
    assert 200 <= status < 500, answer[:300]
    if status >= 400:
        error_of(answer)  # the documented shape
    assert journal_size(server) == before + 1, "every request leaves exactly one record"
