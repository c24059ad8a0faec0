"""The admin API and the journal page serve the developer's own tools only: no other site's page
reads or changes the journal, no foreign Host reaches it, bodies are bounded JSON."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.test import Client

from mockseg import MockSegment
from mockseg.errors import Forbidden
from mockseg.faults import MAX_PENDING_FAULTS
from mockseg.guard import HostAllowList, check_same_site
from mockseg.journal import SqliteJournal
from mockseg.wsgi import create_app
from tests.conftest import B2B, Post
from tests.helpers import Served

CHANGES = [("POST", "/__mockseg/reset"), ("POST", "/__mockseg/faults"),
           ("DELETE", "/__mockseg/faults"), ("DELETE", "/__mockseg/calls")]


# --- Host ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["localhost", "localhost:8765", "127.0.0.1:8765", "[::1]:8765",
                                  "app.localhost:3000", "LOCALHOST", "127.0.0.1"])
def test_loopback_names_reach_the_admin_api(client: Client, host: str) -> None:
    assert client.get("/__mockseg/stats", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.test", "evil.test:8765", "localhost.evil.test",
                                  "127.0.0.1.nip.io", "10.0.0.5:8765", ""])
def test_a_foreign_host_is_refused_with_the_way_to_allow_it(client: Client, host: str) -> None:
    paths = ("/__mockseg/calls", "/__mockseg/", "/__mockseg/ui/app.js", "/_/s1/__mockseg/stats")
    for path in paths:
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 403, (path, host)
        error = response.get_json()["error"]
        assert error["type"] == "forbidden" and error["errors"][0]["field"] == "Host"
        assert "--allow-host" in error["message"] and "DNS rebinding" in error["message"]


def test_tracking_paths_accept_any_host(fake: MockSegment, client: Client) -> None:
    response = client.post("/v1/batch", json={"batch": [B2B], "writeKey": "k"},
                           headers={"Host": "mockseg:8765"})
    assert response.status_code == 200
    assert client.get("/v1/projects/k/settings", headers={"Host": "mockseg"}).status_code == 200


def test_allowed_names_and_wildcards() -> None:
    fake = MockSegment(allow_hosts=["mockseg", "*.dev.test"])
    client = Client(fake.app)
    for host, status in (("mockseg:8765", 200), ("api.dev.test", 200), ("dev.test", 403),
                         ("other", 403)):
        assert client.get("/__mockseg/stats", headers={"Host": host}).status_code == status, host
    everyone = Client(MockSegment(allow_hosts=["*"]).app)
    assert everyone.get("/__mockseg/stats", headers={"Host": "anything"}).status_code == 200


def test_host_allow_list_names() -> None:
    hosts = HostAllowList(["Build.Box"])
    assert hosts.allows("build.box:1") and hosts.allows("[::1]") and hosts.allows("a.b.localhost")
    assert not hosts.allows("build.box.evil") and not hosts.allows("[::2]:80")


def test_a_foreign_host_on_a_non_loopback_connection_is_served() -> None:
    """Bound to another address (a container), the check is off for remote connections."""
    fake = MockSegment(host="127.0.0.1").start()
    try:
        # A socket whose local address is not loopback stands in for a container's interface.
        class Remote:
            def getsockname(self) -> tuple[str, int]:
                return ("172.17.0.2", 8765)

        client = Client(fake.app)
        remote = client.get("/__mockseg/stats", headers={"Host": "mockseg:8765"},
                            environ_overrides={"werkzeug.socket": Remote()})
        local = client.get("/__mockseg/stats", headers={"Host": "mockseg:8765"})
        assert (remote.status_code, local.status_code) == (200, 403)
    finally:
        fake.stop()


def test_a_rebound_host_over_a_real_socket_is_refused() -> None:
    with MockSegment() as fake:
        with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as conn:
            conn.sendall(f"GET /__mockseg/calls HTTP/1.1\r\nHost: evil.test:{fake.port}\r\n"
                         "\r\n".encode())
            answer = conn.recv(65536)
        assert answer.startswith(b"HTTP/1.1 403 ")
        assert b"Access-Control" not in answer


# --- other sites' pages -------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), CHANGES)
@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://localhost:1"},  # another port is another origin
])
def test_state_changes_from_another_sites_page_are_refused(
        fake: MockSegment, client: Client, post: Post, method: str, path: str,
        headers: dict[str, str]) -> None:
    post("/v1/group", B2B)
    fake.fail_next(1)
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 403, response.get_json()
    assert response.get_json()["error"]["type"] == "forbidden"
    assert len(fake.calls) == 1 and fake.faults.count() == 1  # nothing changed


def test_a_simple_cross_site_form_post_is_refused(fake: MockSegment, client: Client,
                                                  post: Post) -> None:
    """text/plain needs no preflight: a page can send it blind, so its type is refused too."""
    post("/v1/group", B2B)
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x"):
        response = client.post("/__mockseg/faults", data='{"status": 500}',
                               content_type=content_type)
        assert response.status_code == 415
        assert response.get_json()["error"]["errors"][0]["field"] == "Content-Type"
    assert fake.faults.count() == 0


@pytest.mark.parametrize("headers", [
    {},                                                       # curl, SDKs
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},  # the journal page
    {"Sec-Fetch-Site": "none"},                               # typed in the address bar
])
def test_own_tools_may_change_state(fake: MockSegment, client: Client, post: Post,
                                    headers: dict[str, str]) -> None:
    post("/v1/group", B2B)
    assert client.post("/__mockseg/reset", headers=headers).status_code == 200
    assert fake.calls == []
    assert client.post("/__mockseg/faults", json={"count": 2}, headers=headers).status_code == 200


def test_admin_preflights_get_403_and_no_cors_headers(client: Client) -> None:
    response = client.options("/__mockseg/reset", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 403
    assert not [name for name, _ in response.headers.items() if name.startswith("Access-")]


def test_check_same_site_compares_the_whole_origin() -> None:
    check_same_site("POST", "http://127.0.0.1:8765", "same-origin", "127.0.0.1:8765", "http")
    with pytest.raises(Forbidden, match="only this server's own origin"):
        check_same_site("POST", "https://127.0.0.1:8765", None, "127.0.0.1:8765", "http")


# --- the admin token ----------------------------------------------------------------------------

@pytest.mark.parametrize("env", [{"MOCKSEG_ADMIN_TOKEN": ""}, {"MOCKSEG_ADMIN_TOKEN": "  "}])
def test_empty_admin_token_from_the_environment_stops_serve(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "mockseg", "serve", "--port", "0"],
                          capture_output=True, text=True, timeout=30, check=False,
                          env={**os.environ, **env})
    assert done.returncode == 2
    assert "MOCKSEG_ADMIN_TOKEN is empty" in done.stderr and "Traceback" not in done.stderr


def test_empty_admin_token_option_stops_serve() -> None:
    done = subprocess.run([sys.executable, "-m", "mockseg", "serve", "--port", "0",
                           "--admin-token", ""], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 2 and "--admin-token is empty" in done.stderr


def test_empty_admin_token_in_python_and_wsgi_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        MockSegment(admin_token="")
    with pytest.raises(ValueError, match="MOCKSEG_ADMIN_TOKEN is set but empty"):
        create_app({"MOCKSEG_ADMIN_TOKEN": ""})


def test_non_ascii_authorization_on_the_admin_api_is_a_401_not_a_500() -> None:
    client = Client(MockSegment(admin_token="s3cret").app)
    response = client.get("/__mockseg/stats", headers={"Authorization": "Basic \u00e9\u00e9"})
    assert response.status_code == 401


# --- bounded admin input ------------------------------------------------------------------------

def test_admin_bodies_over_64_kb_get_413_unread(client: Client) -> None:
    big = b'{"status": 503, "pad": "' + b"x" * 70_000 + b'"}'
    response = client.post("/__mockseg/faults", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["type"] == "payload_too_large"


def test_pending_faults_are_capped(fake: MockSegment, client: Client) -> None:
    assert client.post("/__mockseg/faults",
                       json={"count": MAX_PENDING_FAULTS}).status_code == 200
    over = client.post("/__mockseg/faults", json={"count": 1})
    assert over.status_code == 400
    assert "over the limit of 10000" in over.get_json()["error"]["message"]
    assert fake.faults.count() == MAX_PENDING_FAULTS


def test_a_faults_post_answers_with_a_summary(client: Client) -> None:
    client.post("/__mockseg/faults", json={"count": 3})
    answer = client.post("/__mockseg/faults", json={"status": 429, "count": 2, "retry_after": 1})
    assert answer.get_json() == {"added": 2, "pending": 5, "fault": {
        "status": 429, "retry_after": 1, "delay_ms": 0}}


@pytest.mark.parametrize("retry_after", [0.5, "1", True])
def test_retry_after_must_be_a_whole_number(client: Client, retry_after: object) -> None:
    response = client.post("/__mockseg/faults", json={"retry_after": retry_after})
    assert response.status_code == 400
    assert response.get_json()["error"]["errors"][0]["field"] == "retry_after"


def test_405_on_admin_paths_names_the_allowed_methods(client: Client) -> None:
    response = client.put("/__mockseg/faults")
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET, POST"


def test_the_page_and_its_assets_carry_one_date_header() -> None:
    with MockSegment() as fake, socket.create_connection(("127.0.0.1", fake.port),
                                                         timeout=5) as conn:
        for path in ("/__mockseg/", "/__mockseg/ui/app.js"):
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            lines = head.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
            assert sum(line.startswith(b"date:") for line in lines) == 1, path
            length = int(next(line.split(b":")[1] for line in lines
                              if line.startswith(b"content-length:")))
            rest = head.split(b"\r\n\r\n", 1)[1]
            while len(rest) < length:
                rest += conn.recv(65536)


def test_a_call_held_by_a_delayed_fault_is_recorded_even_if_the_server_stops_first(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    served = Served("--quiet", "--journal", str(journal))
    try:
        planned = requests.post(served.url + "/__mockseg/faults", timeout=5,
                                json={"status": 503, "delay_ms": 30_000})
        assert planned.status_code == 200
        held = threading.Thread(target=lambda: _post_quietly(served.url), daemon=True)
        held.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and requests.get(
                served.url + "/__mockseg/stats", timeout=5).json()["total"] == 0:
            time.sleep(0.05)
    finally:
        code, _ = served.stop()
    assert code == 0
    (record,) = SqliteJournal(journal).select()
    assert record.fault and record.http_status == 503 and record.type == "group"


def _post_quietly(url: str) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.post(url + "/v1/group", json=B2B, auth=("k", ""), timeout=60)


@pytest.mark.parametrize(("query", "field"), [
    ("wait=0.5", "wait"), ("wait=ten", "wait"), ("limit=1.5", "limit"), ("after=-1", "after"),
    ("last=2e3", "last"), ("wait=1&timeout=soon", "timeout"), ("wait=1&timeout=nan", "timeout"),
])
def test_admin_numbers_must_be_of_the_documented_kind(client: Client, query: str,
                                                      field: str) -> None:
    response = client.get(f"/__mockseg/calls?{query}")
    assert response.status_code == 400, query
    assert response.get_json()["error"]["errors"][0]["field"] == field
