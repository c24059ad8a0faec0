"""Real Node SDKs against mockseg on a socket: @segment/analytics-node 3.1.0, the legacy
analytics-node 6.2.0 and RudderStack's @rudderstack/rudder-sdk-node 3.0.13.

Each is driven by a small script in tests/clients/node/ that prints one JSON line per outcome
(a callback, an ``error`` event, an ``errorHandler`` call, the exit code). The tests install the
locked packages themselves (``npm ci``) when node_modules is missing or older than the lock.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mockseg import MockSegment
from mockseg.journal import Record
from tests.conftest import SDK_TRAITS
from tests.helpers import assert_group_delivered
from tests.toolchains import CLIENTS, require, run

NODE_CLIENT = CLIENTS / "node"
STAMP = NODE_CLIENT / "node_modules" / ".mockseg-installed"


@dataclass(frozen=True)
class Sdk:
    """One SDK: its driver script and what its source says it sends."""

    script: str
    prefix: str  # of the messageIds its driver sets
    auth: str  # as mockseg records it
    user_agent: str
    content_type: str
    content_encoding: str | None
    library: dict[str, str]


SDKS = {
    # packages/node/src/plugins/segmentio/publisher.ts: Basic header and writeKey in the body,
    # JSON through globalThis.fetch, POST to new URL(path ?? "/v1/batch", host).
    "segment-analytics-node": Sdk(
        "segment-analytics-node.js", "node-next", "basic+body", "analytics-node-next/latest",
        "application/json", None, {"name": "@segment/analytics-node", "version": "3.1.0"}),
    # index.js: axios 0.27 with auth {username: writeKey}, POST to host + (path || "/v1/batch").
    "analytics-node-legacy": Sdk(
        "analytics-node-legacy.js", "node-legacy", "basic", "analytics-node/6.2.0",
        "application/json", None, {"name": "analytics-node", "version": "6.2.0"}),
    # cjs/index.js: axios 1.x, gzip on by default (a Buffer body, so axios labels it
    # x-www-form-urlencoded); it names itself analytics-node, with its own version.
    "rudder-sdk-node": Sdk(
        "rudder-sdk-node.js", "rudder", "basic", "analytics-node/3.0.13",
        "application/x-www-form-urlencoded", "gzip",
        {"name": "analytics-node", "version": "3.0.13"}),
}


def installed_hash() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = NODE_CLIENT / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def node() -> str:
    """The path of node, with the locked SDKs installed into tests/clients/node/node_modules."""
    tools = require("node", "npm")
    if not STAMP.exists() or STAMP.read_text() != installed_hash():
        verb = "ci" if (NODE_CLIENT / "package-lock.json").exists() else "install"
        run([tools["npm"], verb, "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_CLIENT,
            timeout=300, what=f"npm {verb} of the Node SDKs")
        STAMP.write_text(installed_hash())
    return tools["node"]


@dataclass
class Run:
    """What one run of a driver printed, and how it ended."""

    returncode: int
    lines: list[dict[str, Any]]
    stderr: str

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["event"] == name]


def drive(node: str, script: str, fake: MockSegment, scenario: str, *,
          key: str = "node-key", expect_exit: int = 0) -> Run:
    """Run a driver to its end; fail with its output unless it exits with ``expect_exit``."""
    __tracebackhide__ = True
    command = [node, script, fake.url, key, scenario]
    if expect_exit == 0:
        done = run(command, cwd=NODE_CLIENT, timeout=60, what=f"{script} {scenario}")
    else:
        done = subprocess.run(command, cwd=NODE_CLIENT, capture_output=True, text=True,
                              timeout=60, check=False)
        if done.returncode != expect_exit:
            pytest.fail(f"{script} {scenario} exited {done.returncode}, not {expect_exit}\n"
                        f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return Run(done.returncode, lines, done.stderr)


# --- a valid group call, beside identify and track ----------------------------------------------

@pytest.fixture(scope="module", params=list(SDKS))
def delivered(request: pytest.FixtureRequest, node: str) -> Iterator[tuple[Sdk, list[Record], Run]]:
    """identify, group and track sent once per SDK: the SDK, the records and the driver's run."""
    sdk = SDKS[request.param]
    with MockSegment() as fake:
        result = drive(node, sdk.script, fake, "send")
        yield sdk, fake.wait_for(3), result


def test_group_call_arrives_at_v1_batch_with_every_field_intact(
        delivered: tuple[Sdk, list[Record], Run]) -> None:
    sdk, records, _ = delivered
    payload = assert_group_delivered(records, f"{sdk.prefix}-group-1")
    assert payload["context"]["library"] == sdk.library


def test_sdk_authenticates_as_its_source_says(
        delivered: tuple[Sdk, list[Record], Run]) -> None:
    sdk, records, _ = delivered
    for record in records:
        assert record.write_key == "node-key"
        assert record.auth == sdk.auth, record


def test_sdk_sends_the_encoding_and_user_agent_its_source_says(
        delivered: tuple[Sdk, list[Record], Run]) -> None:
    sdk, records, _ = delivered
    for record in records:
        headers = record.headers
        assert headers["User-Agent"] == sdk.user_agent
        assert headers["Content-Type"].split(";")[0] == sdk.content_type
        assert headers.get("Content-Encoding") == sdk.content_encoding
        assert int(headers["Content-Length"]) > 0 and "Transfer-Encoding" not in headers


def test_identify_and_track_arrive_too_and_every_callback_reports_success(
        delivered: tuple[Sdk, list[Record], Run]) -> None:
    _, records, result = delivered
    assert sorted(str(record.type) for record in records) == ["group", "identify", "track"]
    assert all(record.status == "accepted" and record.path == "/v1/batch" for record in records)
    assert sorted((line["call"], line["error"]) for line in result.events("callback")) == [
        ("group", None), ("identify", None), ("track", None)]
    assert result.events("exit") == [{"event": "exit", "code": 0}]


def test_segment_analytics_node_sends_the_three_calls_in_one_batch(node: str) -> None:
    # flushAt 3 in its driver; the legacy and rudder drivers use flushAt 1 (one POST each).
    with MockSegment() as fake:
        drive(node, SDKS["segment-analytics-node"].script, fake, "send")
        records = fake.wait_for(3)
    assert len({record.request_id for record in records}) == 1


# --- strict mode's 400 -------------------------------------------------------------------------

def rejected_once(fake: MockSegment, message_id: str) -> Record:
    """The one attempt the SDK made: rejected with 400 for the groupId."""
    __tracebackhide__ = True
    [record] = fake.calls
    assert (record.path, record.type, record.status, record.http_status) == (
        "/v1/batch", "group", "rejected", 400)
    assert record.message_id == message_id
    assert record.errors[0].field == "batch[0].groupId"
    return record


def test_segment_analytics_node_does_not_retry_a_400_and_emits_a_delivery_failure(
        node: str) -> None:
    # publisher.ts: "400 is always non-retriable"; the failed context reaches the callback
    # and an 'error' event {code: 'delivery_failure', reason}.
    with MockSegment() as fake:
        result = drive(node, SDKS["segment-analytics-node"].script, fake, "invalid")
        rejected_once(fake, "node-next-invalid-1")
    [callback] = result.events("callback")
    assert callback["error"].startswith("[400] ")
    [error] = result.events("error")
    assert error["code"] == "delivery_failure" and error["reason"].startswith("[400] ")
    assert [line["status"] for line in result.events("http_response")] == [400]
    assert result.events("closed") and result.events("exit") == [{"event": "exit", "code": 0}]


def test_segment_analytics_node_drops_a_400_silently_without_a_listener(node: str) -> None:
    with MockSegment() as fake:
        result = drive(node, SDKS["segment-analytics-node"].script, fake, "silent")
        rejected_once(fake, "node-next-silent-1")
    assert result.events("error") == [] and result.events("callback") == []
    assert result.events("closed") and result.events("exit") == [{"event": "exit", "code": 0}]
    assert result.stderr == ""


@pytest.mark.parametrize("name", ["analytics-node-legacy", "rudder-sdk-node"])
def test_sdk_without_an_error_handler_crashes_on_a_400_even_with_a_callback_set(
        node: str, name: str) -> None:
    # enqueue() calls flush() without a catch; flush rejects with Error(statusText) when no
    # errorHandler is set, and Node ends the process for the unhandled rejection before the
    # group call's callback (queued with setImmediate) can run.
    sdk = SDKS[name]
    with MockSegment() as fake:
        result = drive(node, sdk.script, fake, "invalid", expect_exit=1)
        rejected_once(fake, f"{sdk.prefix}-invalid-1")
    assert result.events("callback") == [] and result.events("closed") == []
    assert result.events("exit") == [{"event": "exit", "code": 1}]
    assert "error: bad request" in result.stderr.lower()  # Error(statusText), uncaught


@pytest.mark.parametrize("name", ["analytics-node-legacy", "rudder-sdk-node"])
def test_sdk_with_an_error_handler_reports_a_400_once_and_does_not_retry_it(
        node: str, name: str) -> None:
    # Their axios-retry condition retries network errors, 5xx and 429 only.
    sdk = SDKS[name]
    with MockSegment() as fake:
        result = drive(node, sdk.script, fake, "errorhandler")
        rejected_once(fake, f"{sdk.prefix}-errorhandler-1")
    assert result.events("errorHandler") == [
        {"event": "errorHandler", "error": "Request failed with status code 400"}]
    assert [(line["call"], line["error"]) for line in result.events("callback")] == [
        ("group", "Request failed with status code 400")]
    assert result.events("exit") == [{"event": "exit", "code": 0}]


# --- Node's own http client ---------------------------------------------------------------------

def test_node_expect_100_continue_pattern_gets_one_100_then_a_200(node: str) -> None:
    # The documented pattern: send the headers, write the body in req.on('continue').
    # A second "100 Continue" would end the request twice ("write after end").
    with MockSegment() as fake:
        result = drive(node, "expect-continue.js", fake, "group")
        [record] = fake.wait_for(1, type="group")
    assert result.events("continue") == [{"event": "continue"}]
    assert result.events("information") == [{"event": "information", "status": 100}]
    assert result.events("error") == []
    [response] = result.events("response")
    assert response["status"] == 200 and json.loads(response["body"]) == {"success": True}
    assert (record.path, record.status, record.http_status) == ("/v1/group", "accepted", 200)
    assert record.payload["traits"] == SDK_TRAITS and record.auth == "basic"
