"""HTTPS on real sockets and TLS, and the HTTP details SDKs rely on: one ``100 Continue``, chunked
bodies recorded as such."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme
from segment.analytics import Client as SegmentClient

from mockseg import MockSegment
from tests.conftest import B2B
from tests.helpers import Served

ITEM = {**B2B, "messageId": "tls-1"}
BODY = json.dumps({"batch": [ITEM], "writeKey": "k"}).encode()


@pytest.fixture(scope="module")
def https() -> Iterator[MockSegment]:
    with MockSegment(tls=True) as fake:
        yield fake
    fake.close()


@pytest.fixture
def fake_https(https: MockSegment) -> MockSegment:
    https.reset()
    return https


def _raw(port: int, request: bytes, *, read_until: bytes = b"}") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        data = b""
        while read_until not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


# --- HTTPS --------------------------------------------------------------------------------------

def test_https_url_and_ca_file(fake_https: MockSegment) -> None:
    assert fake_https.url.startswith("https://127.0.0.1:")
    assert fake_https.ca_file is not None
    assert fake_https.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_official_python_sdk_over_https_trusting_only_mocksegs_ca(
        fake_https: MockSegment, monkeypatch: pytest.MonkeyPatch) -> None:
    # requests reads REQUESTS_CA_BUNDLE: the one CA trusted, as the README tells users.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_https.ca_file))
    errors: list[Exception] = []
    client = SegmentClient("wk", host=fake_https.url, sync_mode=True,
                           on_error=lambda error, batch: errors.append(error))
    client.group("user_12345", "company_enterprise_corp", traits=B2B["traits"])
    client.flush()
    assert errors == []
    (record,) = fake_https.calls
    assert record.status == "accepted" and record.path == "/v1/batch"
    assert record.payload["traits"] == B2B["traits"]
    assert record.auth == "basic+body" and record.write_key == "wk"  # it sends both


def test_a_client_that_does_not_trust_the_ca_fails_its_handshake_and_the_server_goes_on(
        fake_https: MockSegment) -> None:
    other = trustme.CA()
    context = ssl.create_default_context()
    other.configure_trust(context)
    with socket.create_connection(("127.0.0.1", fake_https.port), timeout=5) as conn, \
            pytest.raises(ssl.SSLCertVerificationError), \
            context.wrap_socket(conn, server_hostname="localhost"):
        pass
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(fake_https.url + "/v1/batch", data=BODY, timeout=5)  # system CAs only
    answer = requests.post(fake_https.url + "/v1/batch", data=BODY, timeout=5,
                           verify=str(fake_https.ca_file))
    assert answer.json() == {"success": True}
    assert len(fake_https.calls) == 1  # failed handshakes leave no call behind


def test_plain_http_to_the_tls_port_gets_a_clear_400_and_a_record(fake_https: MockSegment) -> None:
    data = _raw(fake_https.port, b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: "
                + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request"
    assert error["message"].startswith("This port speaks HTTPS: use https://")
    (record,) = fake_https.calls
    assert record.status == "rejected" and record.path == "/v1/batch"
    assert requests.get(fake_https.url + "/__mockseg/health", verify=str(fake_https.ca_file),
                        timeout=5).ok


def test_a_silent_client_does_not_stall_other_handshakes(fake_https: MockSegment) -> None:
    with socket.create_connection(("127.0.0.1", fake_https.port), timeout=5):
        answer = requests.post(fake_https.url + "/v1/batch", data=BODY, timeout=5,
                               verify=str(fake_https.ca_file))
    assert answer.ok


def test_keep_alive_over_tls_and_stop_closes_the_connections() -> None:
    fake = MockSegment(tls=True).start()
    session = requests.Session()  # (requests ignores session.verify when REQUESTS_CA_BUNDLE is set)
    for _ in range(3):
        assert session.post(fake.url + "/v1/batch", data=BODY, timeout=5,
                            verify=str(fake.ca_file)).ok
    ca_file = fake.ca_file
    assert ca_file is not None
    fake.close()
    assert not ca_file.exists()  # this run's CA is removed with it
    assert len(fake.calls) == 3


def test_own_certificate_is_served(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("mockseg.test", "127.0.0.1")
    cert, key, trust = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(trust))
    with MockSegment(tls_cert=(cert, key)) as fake:
        assert fake.ca_file is None and fake.url.startswith("https://")
        assert requests.post(fake.url + "/v1/batch", data=BODY, verify=str(trust),
                             timeout=5).ok


def test_tls_host_names_are_in_the_certificate() -> None:
    with MockSegment(tls=True, tls_hosts=["mockseg", "*.dev.localhost"]) as fake:
        context = ssl.create_default_context(cafile=str(fake.ca_file))
        for name in ("mockseg", "api.dev.localhost", "localhost"):
            with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as conn, \
                    context.wrap_socket(conn, server_hostname=name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    fake.close()


def test_a_kept_ca_dir_gives_the_same_ca_on_the_next_start(tmp_path: Path) -> None:
    with MockSegment(tls=True, tls_ca_dir=tmp_path) as first:
        pem = Path(str(first.ca_file)).read_bytes()
    first.close()
    key_file = tmp_path / "mockseg-ca-key.pem"
    assert key_file.stat().st_mode & 0o077 == 0  # the CA's key: its owner's only
    with MockSegment(tls=True, tls_ca_dir=tmp_path) as second:
        assert Path(str(second.ca_file)).read_bytes() == pem
        assert requests.post(second.url + "/v1/batch", data=BODY, verify=str(second.ca_file),
                             timeout=5).ok
    second.close()
    assert key_file.exists()  # kept, unlike a run's temporary CA


def test_mockseg_serve_tls_prints_the_ca_line_and_serves_https() -> None:
    served = Served("--tls", "--tls-host", "mockseg.internal")
    try:
        assert served.url.startswith("https://127.0.0.1:")
        ca_file = served.ca_file  # read from the line "mockseg CA certificate: PATH"
        assert ca_file is not None
        answer = requests.post(served.url + "/v1/import/", data=BODY, verify=ca_file, timeout=5)
        assert answer.json() == {"success": True}
    finally:
        code, _ = served.stop()
    assert code == 0
    assert not Path(ca_file).exists()


@pytest.mark.parametrize(("options", "message"), [
    (["--tls-cert", "x.pem"], "--tls-cert and --tls-key go together"),
    (["--tls-host", "a"], "options of --tls"),
    (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.pem"],
     "cannot use the certificate"),
])
def test_mockseg_serve_tls_usage_errors_are_one_line(options: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "mockseg", "serve", "--port", "0", *options],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode in (1, 2)
    assert message in done.stderr and "Traceback" not in done.stderr


def test_marker_tls_gives_an_https_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest, requests

        @pytest.mark.mockseg(tls=True)
        def test_https(mockseg):
            assert mockseg.url.startswith("https://")
            answer = requests.post(mockseg.url + "/v1/b", json={"batch": [
                {"type": "group", "userId": "u", "groupId": "g"}]}, auth=("k", ""),
                verify=str(mockseg.ca_file))
            assert answer.ok
            mockseg.assert_group(group_id="g")

        def test_plain(mockseg):
            assert mockseg.url.startswith("http://") and mockseg.ca_file is None
    """)
    pytester.runpytest_subprocess().assert_outcomes(passed=2)


# --- HTTP details -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plain() -> Iterator[MockSegment]:
    with MockSegment() as fake:
        yield fake


def test_expect_100_continue_gets_exactly_one_interim_answer(plain: MockSegment) -> None:
    plain.reset()
    with socket.create_connection(("127.0.0.1", plain.port), timeout=5) as conn:
        conn.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n")
        interim = conn.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(BODY)
        data = b""
        while b"}" not in data:
            data += conn.recv(65536)
    assert b"100 Continue" not in data
    assert data.startswith(b"HTTP/1.1 200 ")
    assert plain.calls[-1].status == "accepted"


def test_expect_100_continue_from_an_http_1_0_client_gets_none(plain: MockSegment) -> None:
    data = _raw(plain.port, b"POST /v1/batch HTTP/1.0\r\nExpect: 100-continue\r\n"
                b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
    assert b"100 Continue" not in data and b" 200 " in data.split(b"\r\n", 1)[0]


def test_a_chunked_body_is_recorded_as_chunked(plain: MockSegment) -> None:
    plain.reset()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                      for part in (BODY[:10], BODY[10:])) + b"0\r\n\r\n"
    data = _raw(plain.port, b"POST /v1/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + chunks)
    assert b" 200 " in data.split(b"\r\n", 1)[0]
    (record,) = plain.calls
    assert record.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in record.headers


def test_many_https_clients_at_once_lose_nothing(fake_https: MockSegment) -> None:
    def worker(n: int) -> None:
        session = requests.Session()
        for i in range(5):
            body = json.dumps({"batch": [{**ITEM, "messageId": f"{n}-{i}"}],
                               "writeKey": "k"}).encode()
            assert session.post(fake_https.url + "/v1/batch", data=body, timeout=10,
                                verify=str(fake_https.ca_file)).ok

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake_https.stats["accepted"] == 40


def test_a_204_preflight_carries_no_transfer_encoding(plain: MockSegment) -> None:
    data = _raw(plain.port, b"OPTIONS /v1/b HTTP/1.1\r\nHost: x\r\nOrigin: http://a.test\r\n\r\n",
                read_until=b"\r\n\r\n")
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 204 ")
    assert b"transfer-encoding" not in head
