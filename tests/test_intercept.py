"""Socketless interception of requests/urllib3 and httpx calls to the Segment hosts."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest
import requests
import urllib3
from segment.analytics import Client as SegmentClient

from mockseg import MockSegment
from mockseg.intercept import intercept
from tests.conftest import B2B, basic


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to open a network connection: interception must need none."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_official_sdk_at_its_default_host_is_caught_in_process(no_sockets: None) -> None:
    fake = MockSegment()
    with fake.intercept():
        client = SegmentClient("test-key", sync_mode=True)  # https://api.segment.io
        client.group(user_id="user123", group_id="company_acme", traits={"plan": "pro"})
    [call] = fake.assert_group(group_id="company_acme", traits={"plan": "pro"})
    assert call.path == "/v1/batch" and call.write_key == "test-key"


def test_sdk_gzip_and_eu_host(no_sockets: None) -> None:
    fake = MockSegment()
    with fake.intercept():
        client = SegmentClient("k", host="https://events.eu1.segmentapis.com", gzip=True,
                               sync_mode=True)
        client.group(user_id="u", group_id="g", traits={"a": 1})
    assert fake.calls[0].headers["Content-Encoding"] == "gzip"


def test_requests_urllib3_and_httpx_are_all_covered(no_sockets: None) -> None:
    fake = MockSegment()
    with fake.intercept():
        assert requests.post("https://api.segment.io/v1/group", json=B2B, headers=basic("k"),
                             timeout=5).json() == {"success": True}
        pool = urllib3.PoolManager()
        response = pool.request("POST", "http://api.segment.io/v1/track",
                                body=json.dumps({"userId": "u", "event": "e"}),
                                headers=basic("k"))
        assert response.status == 200
        assert httpx.post("https://api.segment.io/v1/group", json={"userId": "u"},
                          headers=basic("k")).status_code == 400

        async def send() -> int:
            async with httpx.AsyncClient() as client:
                result = await client.post("https://api.segment.io/v1/group", json=B2B,
                                           headers=basic("k"))
                return result.status_code

        assert asyncio.run(send()) == 200
    assert [c.type for c in fake.calls] == ["group", "track", "group", "group"]
    assert [c.status for c in fake.calls] == ["accepted", "accepted", "rejected", "accepted"]


def test_error_responses_reach_the_client_intact(no_sockets: None) -> None:
    fake = MockSegment()
    fake.fail_next(1, status=429, retry_after=2)
    with fake.intercept():
        response = requests.post("https://api.segment.io/v1/group", json=B2B,
                                 headers=basic("k"), timeout=5)
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"


def test_other_hosts_pass_through_untouched() -> None:
    with MockSegment() as real, MockSegment() as other:
        with other.intercept():
            response = requests.post(real.url + "/v1/group", json=B2B, headers=basic("k"),
                                     timeout=5)
            assert response.status_code == 200
            assert httpx.post(real.url + "/v1/group", json=B2B,
                              headers=basic("k")).status_code == 200
        assert len(real.calls) == 2 and other.calls == []


def test_interception_ends_with_the_block_and_hosts_are_configurable() -> None:
    fake = MockSegment()
    with fake.intercept(hosts=["segment.internal"]):
        assert requests.post("http://segment.internal/v1/group", json=B2B, headers=basic("k"),
                             timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.post("http://segment.internal/v1/group", json=B2B, timeout=2)
    with pytest.raises(ValueError, match="at least one host"), intercept(fake.app, hosts=[]):
        pass


def test_scoped_interception_records_under_the_scope(no_sockets: None) -> None:
    server = MockSegment()
    with server.scoped() as view, view.intercept():
        requests.post("https://api.segment.io/v1/group", json=B2B, headers=basic("k"),
                      timeout=5)
    assert view.calls[0].scope == view.scope


def test_call_app_builds_the_environ_a_server_would() -> None:
    """Headers become HTTP_* keys (Content-Type and Content-Length without the prefix), a
    repeated header is joined with commas, and the same headers give the same environ on every
    call (they are translated once)."""
    from mockseg.intercept import call_app

    seen: list[dict[str, object]] = []

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        seen.append({key: value for key, value in environ.items() if key != "wsgi.input"})
        start_response("204 No Content", [])  # type: ignore[operator]
        return []

    headers = [("X-Retry-Count", "1"), ("content-type", "application/json"), ("x-retry-count", "2"),
               ("Authorization", "Basic azo=")]
    for _ in range(2):
        assert call_app(app, "POST", "/v1/batch?x=1", headers, b"{}")[0] == 204
    assert seen[0] == seen[1] != {}
    environ = seen[0]
    assert environ["HTTP_X_RETRY_COUNT"] == "1,2"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["HTTP_AUTHORIZATION"] == "Basic azo="
    assert (environ["CONTENT_LENGTH"], environ["PATH_INFO"], environ["QUERY_STRING"]) == (
        "2", "/v1/batch", "x=1")
