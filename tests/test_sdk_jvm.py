"""The real JVM SDKs against mockseg on a socket: analytics-java 3.5.1 and analytics-kotlin's core
1.27.0, both from Maven Central.

tests/clients/java/ drives ``com.segment.analytics.java:analytics:3.5.1`` built with
``Analytics.builder(key).endpoint(url)`` and a Callback, nothing else. Facts from its source
(analytics-parent-3.5.1: Analytics.java, AnalyticsClient.java, SegmentService.java): it posts each
batch to ``endpoint + "/v1/import/"`` with the write key in the body (``Batch.writeKey``) and no
Authorization header, as Retrofit's Gson JSON (``application/json; charset=UTF-8``) with a
Content-Length, not gzipped; it retries 5xx, 429 and IO errors up to 3 more times with a backoff
from 15 s (capped at 1 h), and gives up at once on any other status, telling the Callback's
``failure`` with the error body.

tests/clients/kotlin/ drives ``com.segment.analytics.kotlin:core:1.27.0`` from Java (its JVM core
needs no Kotlin compiler) with ``apiHost`` and ``cdnHost`` ``127.0.0.1:PORT/v1``. Facts from its
source (main at a14649b, checked against the 1.27.0 jar's classes, as no sources jar is
published: HTTPClient.kt, OkHttpURLConnection.kt, EventPipeline.kt, EventsFileManager.kt,
retry/RetryStateMachine.kt): it builds ``https://`` URLs only, so it runs against
``MockSegment(tls=True)`` and trusts only mockseg's CA through a PKCS12 trust store; it first GETs
``https://{cdnHost}/projects/{key}/settings`` and posts to the ``apiHost`` found there, at ``/b``;
the write key is in the body only; the body is ``text/plain`` and gzipped, and since 1.23 (OkHttp,
HTTP/2-capable) buffered, so it goes with a Content-Length, not chunked; with no ``httpConfig`` in
the settings (legacy mode) a 4xx other than 429 deletes the batch, while 429 and 5xx keep it for
the next flush. The client program says what it sets beyond ``apiHost``/``cdnHost`` and why.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mockseg import MockSegment
from mockseg.journal import Record
from tests.toolchains import CLIENTS, require, run

TRAITS = {
    "name": "ACME Corp",
    "industry": "Technology",
    "employees": 500,
    "plan": "enterprise",
    "revenue": 10000000.5,
    "address": {"street": "1 Main St", "city": "Berlin", "postalCode": "10115", "country": "DE"},
    "tags": ["vip", "early"],
}
USER_TRAITS = {"email": "jane@acme.example", "name": "Jane"}
PROPERTIES = {"plan": "enterprise", "seats": 3}
#: Breaks one rule of strict mode: a groupId with a space.
BAD_GROUP_ID = "acme corp"
BAD_GROUP_MESSAGE = "Group ID cannot contain spaces or special characters"
#: How long a client waits for its SDK to report; its subprocess gets a little more.
CLIENT_WAIT = 15
#: Where analytics-kotlin's default storage (ConcreteStorageProvider) keeps a write key's events.
KOTLIN_STORAGE = Path("/tmp/analytics-kotlin")
TRUSTSTORE_PASSWORD = "mockseg-tests"


@dataclass(frozen=True)
class JvmClient:
    """A built client: the command that runs it, and its folder."""

    command: tuple[str, ...]
    folder: Path


@dataclass
class Run:
    """One run of a client: its exit code, the JSON lines it printed, and its stderr."""

    returncode: int
    lines: list[dict[str, Any]]
    log: str

    @property
    def done(self) -> dict[str, Any]:
        return self.lines[-1]

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.lines}\n--- stderr\n{self.log[-4000:]}"


def build(name: str, main_class: str) -> JvmClient:
    """Build ``tests/clients/NAME`` once per hash of its pom, its sources and the JDK: Maven copies
    the dependencies (its ~/.m2 cache makes that quick), javac compiles the one source."""
    tools = require("java", "javac", "mvn")
    folder = CLIENTS / name
    sources = sorted(folder.glob("src/main/java/**/*.java"))
    digest = hashlib.sha256(str(Path(tools["javac"]).resolve()).encode())
    for path in [folder / "pom.xml", *sources]:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    cache = folder / "build"
    out = cache / digest.hexdigest()[:16]
    if not (out / "built").exists():
        cache.mkdir(exist_ok=True)
        partial = cache / f"{out.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        run([tools["mvn"], "-q", "-B", "-Dstyle.color=never", "-f", str(folder / "pom.xml"),
             "dependency:copy-dependencies", "-DincludeScope=runtime",
             f"-DoutputDirectory={partial / 'lib'}"],
            cwd=folder, timeout=240, what=f"mvn dependency:copy-dependencies for {name}")
        run([tools["javac"], "-encoding", "UTF-8", "-d", str(partial / "classes"),
             "-cp", str(partial / "lib" / "*"), *map(str, sources)],
            cwd=folder, timeout=120, what=f"javac of the {name} client")
        (partial / "built").write_text(digest.hexdigest() + "\n")
        for old in cache.iterdir():  # other hashes' builds, and an unfinished one of this hash
            if not old.name.startswith(out.name) or old.name == out.name:
                shutil.rmtree(old, ignore_errors=True)
        try:
            partial.replace(out)
        except OSError:  # another process finished the same build first
            shutil.rmtree(partial, ignore_errors=True)
    classpath = f"{out / 'classes'}{os.pathsep}{out / 'lib' / '*'}"
    return JvmClient((tools["java"], "-cp", classpath, main_class), folder)


def drive(client: JvmClient, url: str, key: str, calls: list[dict[str, Any]],
          java_options: tuple[str, ...] = ()) -> Run:
    """Run the client once; it exits by itself when its SDK has reported (or after CLIENT_WAIT)."""
    java, *rest = client.command
    try:
        done = subprocess.run([java, *java_options, *rest, url, key],
                              input=json.dumps({"calls": calls, "timeoutSeconds": CLIENT_WAIT}),
                              capture_output=True, text=True, timeout=CLIENT_WAIT + 30,
                              cwd=client.folder, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{client.folder.name} client hung: {exc.stdout!r} {exc.stderr!r}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    result = Run(done.returncode, lines, done.stderr)
    assert lines and lines[-1]["event"] == "done", result.describe()
    return result


def the_group(records: list[Record]) -> Record:
    [group] = [record for record in records if record.type == "group"]
    return group


def assert_group_intact(group: Record, user_id: str, group_id: str) -> None:
    assert (group.status, group.http_status) == ("accepted", 200), group.errors
    assert group.errors == [] and group.warnings == []
    payload = group.payload
    assert payload["userId"] == user_id and group.user_id == user_id
    assert payload["groupId"] == group_id and group.group_id == group_id
    assert payload["traits"] == TRAITS
    assert payload["traits"]["address"] == TRAITS["address"]
    assert payload["traits"]["employees"] == 500 and type(payload["traits"]["employees"]) is int
    assert payload["traits"]["plan"] == "enterprise"
    assert payload["type"] == "group" and "timestamp" in payload and payload["messageId"]


# --- analytics-java 3.5.1 ------------------------------------------------------------------------

JAVA_KEY = "java-write-key"
JAVA_CALLS = [
    {"type": "identify", "userId": "user_java", "traits": USER_TRAITS, "messageId": "java-id-1"},
    {"type": "group", "userId": "user_java", "groupId": "company_acme", "traits": TRAITS,
     "messageId": "java-group-1"},
    {"type": "track", "userId": "user_java", "event": "Plan Chosen", "properties": PROPERTIES,
     "messageId": "java-track-1"},
]


@pytest.fixture(scope="module")
def java_client() -> JvmClient:
    return build("java", "mockseg.client.JavaSdkClient")


@pytest.fixture(scope="module")
def java_delivered(java_client: JvmClient) -> Iterator[tuple[list[Record], Run]]:
    """identify, group and track sent once by analytics-java: the records and what it reported."""
    with MockSegment() as fake:
        result = drive(java_client, fake.url, JAVA_KEY, JAVA_CALLS)
        assert result.done["delivered"] == 3, result.describe()
        yield fake.wait_for(3, timeout=10), result


def test_java_sdk_delivers_the_group_call_with_every_field_intact(
        java_delivered: tuple[list[Record], Run]) -> None:
    records, result = java_delivered
    assert result.returncode == 0, result.describe()
    group = the_group(records)
    assert_group_intact(group, "user_java", "company_acme")
    assert group.message_id == "java-group-1"


def test_java_sdk_posts_one_batch_to_v1_import_with_a_trailing_slash(
        java_delivered: tuple[list[Record], Run]) -> None:
    records, _ = java_delivered
    assert [record.path for record in records] == ["/v1/import/"] * 3
    assert [record.type for record in records] == ["identify", "group", "track"]
    assert len({record.request_id for record in records}) == 1  # one POST carried all three


def test_java_sdk_callback_hears_success_for_every_message(
        java_delivered: tuple[list[Record], Run]) -> None:
    _, result = java_delivered
    heard = [(line["event"], line["type"], line["messageId"]) for line in result.lines[:-1]]
    assert sorted(heard) == sorted(("success", call["type"], call["messageId"])
                                   for call in JAVA_CALLS)
    assert result.done == {"event": "done", "delivered": 3, "failed": 0, "timedOut": False}


def test_java_sdk_authenticates_with_the_write_key_in_the_body_only(
        java_delivered: tuple[list[Record], Run]) -> None:
    records, _ = java_delivered
    for record in records:
        assert record.write_key == JAVA_KEY
        assert record.auth == "body"  # no Authorization header: the writeKey field of the batch


def test_java_sdk_sends_plain_json_with_a_content_length(
        java_delivered: tuple[list[Record], Run]) -> None:
    records, _ = java_delivered
    headers = records[0].headers
    assert headers["Content-Type"] == "application/json; charset=UTF-8"
    assert "Content-Encoding" not in headers and "Transfer-Encoding" not in headers
    assert int(headers["Content-Length"]) > 0
    assert headers["User-Agent"] == "analytics-java/3.5.1"


def test_java_sdk_gives_up_on_strict_modes_400_at_once_without_a_retry(
        java_client: JvmClient) -> None:
    with MockSegment() as fake:
        result = drive(java_client, fake.url, JAVA_KEY, [
            {"type": "group", "userId": "user_java", "groupId": BAD_GROUP_ID, "traits": TRAITS,
             "messageId": "java-bad-1"}])
        # The Callback heard of the failure and the program ended: a retry (for 5xx/429 only)
        # would have waited 15 s first, and the failure would have come only after 3 retries.
        assert result.returncode == 1, result.describe()
        [failure] = result.lines[:-1]
        assert (failure["event"], failure["messageId"]) == ("failure", "java-bad-1")
        assert failure["error"].startswith("java.io.IOException: ")  # the 400's body
        assert BAD_GROUP_MESSAGE in failure["error"]
        assert result.done == {"event": "done", "delivered": 0, "failed": 1, "timedOut": False}
        [record] = fake.calls
    assert (record.path, record.status, record.http_status) == ("/v1/import/", "rejected", 400)
    assert [error.field for error in record.errors] == ["batch[0].groupId"]
    assert "X-Retry-Count" not in record.headers


# --- analytics-kotlin core 1.27.0 ----------------------------------------------------------------

KOTLIN_CALLS = [
    {"type": "identify", "userId": "user_kotlin", "traits": USER_TRAITS},
    {"type": "group", "groupId": "company_acme", "traits": TRAITS},
    {"type": "track", "event": "Plan Chosen", "properties": PROPERTIES},
]


@pytest.fixture(scope="module")
def kotlin_client() -> JvmClient:
    require("keytool")
    return build("kotlin", "mockseg.client.KotlinCoreClient")


def kotlin_key() -> str:
    """A fresh write key: the SDK keeps events, settings and state per key under /tmp."""
    return f"kotlin-{uuid.uuid4().hex[:12]}"


def forget(key: str) -> None:
    shutil.rmtree(KOTLIN_STORAGE / key, ignore_errors=True)


def trusting(folder: Path, *servers: MockSegment) -> tuple[str, ...]:
    """JVM options that trust only these servers' CAs: a PKCS12 trust store made by keytool."""
    keytool = require("keytool")["keytool"]
    store = folder / f"truststore-{uuid.uuid4().hex[:8]}.p12"
    for number, server in enumerate(servers):
        assert server.ca_file is not None
        run([keytool, "-importcert", "-noprompt", "-alias", f"mockseg-ca-{number}",
             "-file", str(server.ca_file), "-keystore", str(store), "-storetype", "PKCS12",
             "-storepass", TRUSTSTORE_PASSWORD], cwd=folder, timeout=60, what="keytool")
    return (f"-Djavax.net.ssl.trustStore={store}", "-Djavax.net.ssl.trustStoreType=PKCS12",
            f"-Djavax.net.ssl.trustStorePassword={TRUSTSTORE_PASSWORD}")


@pytest.fixture(scope="module")
def kotlin_delivered(kotlin_client: JvmClient, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[tuple[list[Record], Run, str]]:
    """identify, group and track sent by the Kotlin core over HTTPS: records, report, key."""
    key = kotlin_key()
    try:
        with MockSegment(tls=True) as fake:
            assert fake.url.startswith("https://127.0.0.1:")
            trust = trusting(tmp_path_factory.mktemp("kotlin-trust"), fake)
            result = drive(kotlin_client, fake.url, key, KOTLIN_CALLS, trust)
            assert result.done["uploaded"] == 1, result.describe()
            yield fake.wait_for(3, timeout=10), result, key
    finally:
        forget(key)


def test_kotlin_core_delivers_the_group_call_with_every_field_intact_at_v1_b(
        kotlin_delivered: tuple[list[Record], Run, str]) -> None:
    records, result, _ = kotlin_delivered
    assert result.returncode == 0, result.describe()
    assert [record.path for record in records] == ["/v1/b"] * 3
    assert [record.type for record in records] == ["identify", "group", "track"]
    # userId is SDK state: the identify before the group set it.
    assert_group_intact(the_group(records), "user_kotlin", "company_acme")
    assert len({record.request_id for record in records}) == 1  # one flush, one POST


def test_kotlin_core_fetches_its_settings_from_mockseg_before_sending(
        kotlin_delivered: tuple[list[Record], Run, str]) -> None:
    _, result, key = kotlin_delivered
    assert result.done["settingsFetched"] is True, result.describe()
    assert f'"apiKey":"{key}"' in result.log  # the SDK's debug log of the settings it fetched
    assert result.done["uploaded"] == 1 and result.done["pendingUploads"] == 0


def test_kotlin_core_authenticates_with_the_write_key_in_the_body_only(
        kotlin_delivered: tuple[list[Record], Run, str]) -> None:
    records, _, key = kotlin_delivered
    for record in records:
        assert record.write_key == key
        assert record.auth == "body"


def test_kotlin_core_sends_gzipped_text_plain_with_a_content_length_not_chunked(
        kotlin_delivered: tuple[list[Record], Run, str]) -> None:
    records, _, _ = kotlin_delivered
    headers = records[0].headers
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "text/plain"
    # HttpURLConnection's setChunkedStreamingMode is a no-op in the SDK's OkHttp adapter (1.23+),
    # which buffers the body: a Content-Length, no Transfer-Encoding.
    assert int(headers["Content-Length"]) > 0 and "Transfer-Encoding" not in headers
    assert headers["User-Agent"] == "analytics-kotlin/1.27.0"


def test_kotlin_core_posts_to_the_api_host_its_cdn_settings_name(
        kotlin_client: JvmClient, tmp_path: Path) -> None:
    key = kotlin_key()
    with MockSegment(tls=True) as api:
        settings = {"integrations": {"Segment.io": {"apiHost": api.url.split("://")[1] + "/v1"}}}
        with MockSegment(tls=True, cdn_settings=settings) as cdn:
            try:
                result = drive(kotlin_client, cdn.url, key, KOTLIN_CALLS[1:2],
                               trusting(tmp_path, cdn, api))
            finally:
                forget(key)
            assert result.returncode == 0, result.describe()
            [record] = api.wait_for(1, timeout=10)
            assert cdn.calls == []  # configured apiHost was the CDN's server; settings won
    assert (record.path, record.status, record.group_id) == ("/v1/b", "accepted", "company_acme")


def test_kotlin_core_drops_a_batch_strict_mode_rejects_and_never_resends_it(
        kotlin_client: JvmClient, tmp_path: Path) -> None:
    key = kotlin_key()
    try:
        with MockSegment(tls=True) as fake:
            trust = trusting(tmp_path, fake)
            rejected = drive(kotlin_client, fake.url, key, [
                {"type": "group", "groupId": BAD_GROUP_ID, "traits": TRAITS}], trust)
            assert rejected.returncode == 1, rejected.describe()
            assert rejected.done["dropped"] is True and rejected.done["pendingUploads"] == 0
            assert rejected.done["rejection"].startswith("HTTPException: HTTP 400")
            assert BAD_GROUP_MESSAGE in rejected.done["rejection"]
            # The same key again, as an app's next start: a kept batch would go out first.
            again = drive(kotlin_client, fake.url, key, KOTLIN_CALLS[1:2], trust)
            assert again.returncode == 0, again.describe()
            records = fake.wait_for(2, timeout=10)
    finally:
        forget(key)
    assert [(r.group_id, r.http_status) for r in records] == [
        (BAD_GROUP_ID, 400), ("company_acme", 200)]
    assert [error.field for error in records[0].errors] == ["batch[0].groupId"]
    assert all("X-Retry-Count" not in record.headers for record in records)
