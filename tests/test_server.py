"""MockSegment on real sockets, driven by real clients: http.client and the official Python SDK."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from segment.analytics import Client as SegmentClient
from segment.analytics.request import APIError

from mockseg import MockSegment
from tests.conftest import B2B, basic

TRAITS = {
    "name": "ACME Corp",
    "industry": "Technology",
    "employees": 500,
    "plan": "enterprise",
    "revenue": 10000000.5,
    "address": {"city": "Berlin", "postalCode": "10115"},
    "tags": ["vip", "early"],
    "nested": {"a": {"b": {"c": 1}}},
}


@pytest.fixture
def server() -> Iterator[MockSegment]:
    with MockSegment() as fake:
        yield fake


def sdk(fake: MockSegment, **options: object) -> SegmentClient:
    return SegmentClient("test-key", host=fake.url, **options)  # type: ignore[arg-type]


def test_start_returns_self_with_an_ephemeral_loopback_url() -> None:
    fake = MockSegment()
    assert fake.start() is fake
    try:
        assert fake.url.startswith("http://127.0.0.1:") and fake.port > 0
        assert requests.get(fake.url + "/__mockseg/health", timeout=5).json()["status"] == "ok"
    finally:
        fake.stop()
    fake.stop()  # a second stop is harmless
    with pytest.raises(RuntimeError):
        _ = fake.url


def test_stop_returns_without_a_poll_wait() -> None:
    # werkzeug's serve_forever polls every 0.5 s; ours wakes at once. Take the best of three
    # so that a busy machine does not make this flaky.
    durations = []
    for _ in range(3):
        fake = MockSegment().start()
        started = time.perf_counter()
        fake.stop()
        durations.append(time.perf_counter() - started)
    assert min(durations) < 0.25, durations


def test_stop_closes_idle_keep_alive_connections(server: MockSegment) -> None:
    connection = socket.create_connection(("127.0.0.1", server.port))
    connection.sendall(b"GET /__mockseg/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert b"200" in connection.recv(1000)
    server.stop()
    connection.settimeout(2)
    assert connection.recv(1000) == b""  # closed by the server, not left hanging
    connection.close()


def test_two_fakes_run_side_by_side() -> None:
    with MockSegment() as one, MockSegment(mode="segment") as two:
        assert one.port != two.port
        requests.post(one.url + "/v1/group", json=B2B, headers=basic("k"), timeout=5)
        assert len(one.calls) == 1 and two.calls == []


def test_connections_are_kept_alive(server: MockSegment) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    headers = {**basic("k"), "Content-Type": "application/json"}
    connection.request("POST", "/v1/group", body=json.dumps(B2B), headers=headers)
    first = connection.getresponse()
    assert first.status == 200 and first.read() == b'{"success":true}'
    assert not first.will_close
    sock = connection.sock
    for body in (b"{bad", json.dumps({"userId": "u"}).encode(), json.dumps(B2B).encode()):
        connection.request("POST", "/v1/group", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        assert not response.will_close
    assert connection.sock is sock  # the same TCP connection served all four
    assert [c.http_status for c in server.calls] == [200, 400, 400, 200]


def test_unread_large_body_closes_the_connection_at_once(server: MockSegment) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(5)
    started = time.monotonic()
    sock.sendall(b"POST /v1/group HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n"
                 b"Authorization: Basic azo=\r\n\r\n{")
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    assert time.monotonic() - started < 3
    assert answer.startswith(b"HTTP/1.1 400") and b"Connection: close" in answer
    assert b"payload_too_large" in answer
    sock.close()


def test_chunked_request_body_is_read(server: MockSegment) -> None:
    body = json.dumps(B2B).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(5)
    sock.sendall(b"POST /v1/group HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Authorization: Basic azo=\r\n\r\n" + f"{len(body):x}\r\n".encode() + body
                 + b"\r\n0\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    sock.close()
    assert server.calls[0].payload == B2B


def test_oversized_headers_get_a_json_4xx_and_a_record(server: MockSegment) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(5)
    sock.sendall(b"POST /v1/group HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    answer = sock.recv(65536)
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431")
    assert json.loads(body)["error"]["type"] == "request_header_too_large"
    assert server.calls[0].http_status == 431


def test_many_threads_post_at_once_and_nothing_is_lost(server: MockSegment) -> None:
    def worker(n: int) -> None:
        with requests.Session() as session:
            for i in range(25):
                message = {**B2B, "messageId": f"m-{n}-{i}"}
                assert session.post(server.url + "/v1/group", json=message, headers=basic("k"),
                                    timeout=10).status_code == 200

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls = server.calls
    assert len(calls) == 200
    assert len({c.message_id for c in calls}) == 200
    assert [c.id for c in calls] == sorted(c.id for c in calls)
    assert server.stats["accepted"] == 200


# --- the official Python SDK, unchanged --------------------------------------------------


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_python_sdk_group_call_is_accepted_with_traits_intact(server: MockSegment,
                                                              gzip: bool) -> None:
    client = sdk(server, sync_mode=True, gzip=gzip)
    client.group(user_id="user123", group_id="company_acme", traits=TRAITS,
                 context={"ip": "10.0.0.1"}, integrations={"Salesforce": False})
    [record] = server.wait_for(1, type="group")
    assert record.status == "accepted" and record.path == "/v1/batch"
    assert record.traits == TRAITS
    assert record.payload["anonymousId"] is None
    assert record.payload["context"]["library"]["name"] == "analytics-python"
    assert record.payload["integrations"] == {"Salesforce": False}
    assert record.write_key == "test-key"
    assert record.headers["User-Agent"].startswith("analytics-python/")
    assert record.headers.get("Content-Encoding") == ("gzip" if gzip else None)


def test_python_sdk_async_batches_flush_into_one_request(server: MockSegment) -> None:
    client = sdk(server)
    for n in range(5):
        client.group(user_id=f"user{n}", group_id=f"company_{n}", traits={"name": f"C{n}"})
    client.flush()
    records = server.wait_for(5, type="group")
    assert sorted(r.group_id for r in records) == [f"company_{n}" for n in range(5)]
    assert {r.status for r in records} == {"accepted"}
    client.shutdown()


def test_python_sdk_sync_mode_raises_the_documented_400(server: MockSegment) -> None:
    client = sdk(server, sync_mode=True)
    with pytest.raises(APIError) as caught:
        client.group(user_id="user123", group_id="company acme", traits={"name": "ACME"})
    assert caught.value.status == 400
    assert caught.value.code == "validation_error"
    assert caught.value.message == "Group ID cannot contain spaces or special characters"


def test_python_sdk_reports_invalid_call_through_on_error_and_does_not_retry(
        server: MockSegment) -> None:
    failures: list[tuple[Exception, list[dict[str, object]]]] = []
    client = sdk(server, on_error=lambda error, batch: failures.append((error, batch)),
                 max_retries=3)
    client.group(user_id="user123", group_id="company acme", traits={"employees": "many"})
    client.flush()
    client.shutdown()
    [(error, batch)] = failures
    assert isinstance(error, APIError) and error.status == 400
    assert error.message == "Group ID cannot contain spaces or special characters"
    assert batch[0]["groupId"] == "company acme"
    time.sleep(0.3)
    [record] = server.calls  # exactly one attempt: a 400 is not retried
    assert record.status == "rejected"
    assert [e.field for e in record.errors] == ["batch[0].groupId", "batch[0].traits.employees"]


def test_python_sdk_retries_a_503_with_the_same_message_id(server: MockSegment) -> None:
    server.fail_next(1, status=503)
    client = sdk(server, max_retries=3)
    client.group(user_id="user123", group_id="company_acme", traits={"name": "ACME"})
    client.flush()
    client.shutdown()
    first, second = server.wait_for(2, type="group")
    assert first.fault and first.http_status == 503
    assert second.status == "accepted"
    assert second.duplicate_of == first.id
    assert second.headers["X-Retry-Count"] == "1"


def test_stop_answers_a_pending_long_poll_at_once() -> None:
    fake = MockSegment().start()
    answers: list[int] = []

    def long_poll() -> None:
        response = requests.get(fake.url + "/__mockseg/calls?wait=1&timeout=30", timeout=30)
        answers.append(response.status_code)

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(0.3)
    started = time.monotonic()
    fake.stop()
    poller.join(5)
    assert time.monotonic() - started < 2
    assert answers == [200]
