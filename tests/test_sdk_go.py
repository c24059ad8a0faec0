"""The real Go SDK, github.com/segmentio/analytics-go/v3 v3.3.0, against mockseg on a socket.

tests/clients/go/main.go drives it: ``analytics.NewWithConfig(key, analytics.Config{Endpoint:
url})``, then a scenario. It prints one JSON line per outcome that the SDK reports to its
``Callback``. Facts from the SDK's source (analytics.go, config.go; backo-go v1.0.0): it posts
every batch to ``Endpoint + "/v1/batch"`` with a Basic header and no writeKey in the body, plain
JSON with a Content-Length; it retries any answer of 300 or more (and any transport error) up to
10 attempts, waiting 100 ms * 2**n (capped at 10 s) between them, unless ``Close`` is called,
which drops the batch at the next wait.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from mockseg import MockSegment
from mockseg.journal import Record
from tests.helpers import assert_group_delivered
from tests.toolchains import CLIENTS, require, run

GO_CLIENT = CLIENTS / "go"
SOURCES = ("main.go", "go.mod", "go.sum")
#: The SDK's own constant ``analytics.Version``; v3.3.0 still says 3.0.0.
SDK_VERSION = "3.0.0"
#: Keep the build inside the module, with the committed go.sum, and never fetch a toolchain.
GO_ENV = {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -buildvcs=false"}


@dataclass
class Run:
    """What one run of the client printed: its outcomes (JSON lines) and its log (stderr)."""

    outcomes: list[dict[str, Any]]
    log: str


@pytest.fixture(scope="module")
def goclient() -> Path:
    """The client binary, built once per hash of its sources and the Go version."""
    go = require("go")["go"]
    version = run([go, "env", "GOVERSION"], cwd=GO_CLIENT, timeout=60, env=GO_ENV,
                  what="go env").stdout.strip()
    digest = hashlib.sha256(version.encode())
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + (GO_CLIENT / name).read_bytes())
    build = GO_CLIENT / ".build"
    binary = build / f"goclient-{digest.hexdigest()[:16]}"
    if not binary.exists():
        build.mkdir(exist_ok=True)
        for old in build.glob("goclient-*"):
            old.unlink()
        partial = binary.with_suffix(".partial")
        run([go, "build", "-o", str(partial), "."], cwd=GO_CLIENT, timeout=300, env=GO_ENV,
            what="go build of the analytics-go client")
        partial.replace(binary)
    return binary


def outcomes(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def summary(lines: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(outcome, type, messageId, status) per Callback outcome; a failure's error is "400 400 ..."
    (the status, then Go's Status line)."""
    return [(line["outcome"], line["type"], line["messageId"], line.get("error", "").split(" ")[0])
            for line in lines]


def drive(goclient: Path, fake: MockSegment, scenario: str, key: str = "go-key") -> Run:
    done = run([str(goclient), fake.url, key, scenario], cwd=GO_CLIENT, timeout=60,
               what=f"the analytics-go client ({scenario})")
    return Run(outcomes(done.stdout), done.stderr)


@pytest.fixture(scope="module")
def delivered(goclient: Path) -> Iterator[tuple[list[Record], Run]]:
    """identify, group and track sent once, and closed: the records and what the SDK said."""
    with MockSegment() as fake:
        result = drive(goclient, fake, "send")
        yield fake.wait_for(3), result


def test_group_call_arrives_at_v1_batch_with_every_field_intact(
        delivered: tuple[list[Record], Run]) -> None:
    records, _ = delivered
    payload = assert_group_delivered(records, "go-group-1")
    assert payload["type"] == "group" and "timestamp" in payload


def test_sdk_authenticates_with_a_basic_header_only(
        delivered: tuple[list[Record], Run]) -> None:
    records, _ = delivered
    for record in records:
        assert record.write_key == "go-key"
        assert record.auth == "basic", record


def test_sdk_sends_plain_json_with_a_content_length_and_its_user_agent(
        delivered: tuple[list[Record], Run]) -> None:
    records, _ = delivered
    headers = records[0].headers
    assert headers["User-Agent"] == f"analytics-go (version: {SDK_VERSION})"
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) > 0
    assert "Content-Encoding" not in headers
    assert "Transfer-Encoding" not in headers


def test_identify_and_track_travel_in_the_same_batch_and_each_is_reported_a_success(
        delivered: tuple[list[Record], Run]) -> None:
    records, result = delivered
    assert [record.type for record in records] == ["identify", "group", "track"]
    assert {record.path for record in records} == {"/v1/batch"}
    assert all(record.status == "accepted" for record in records)
    assert len({record.request_id for record in records}) == 1  # one POST carried all three
    assert sorted(summary(result.outcomes)) == [("success", "group", "go-group-1", ""),
                                                ("success", "identify", "go-identify-1", ""),
                                                ("success", "track", "go-track-1", "")]


def test_a_400_is_tried_once_and_reported_a_failure_when_the_client_closes_at_once(
        goclient: Path) -> None:
    # Close() drains the queue and sends the batch; the first failure meets the closed quit
    # channel at its first wait, so a short-lived program makes exactly one attempt.
    with MockSegment() as fake:
        result = drive(goclient, fake, "invalid-close")
        [record] = fake.calls
    assert (record.path, record.type, record.status, record.http_status) == (
        "/v1/batch", "group", "rejected", 400)
    assert record.errors[0].field == "batch[0].groupId"
    assert summary(result.outcomes) == [("failure", "group", "go-invalid-1", "400")]
    assert "dropped because they failed to be sent and the client was closed" in result.log
    assert "Group ID cannot contain spaces or special characters" in result.log  # body logged


def received(record: Record) -> datetime:
    return datetime.fromisoformat(record.received_at.replace("Z", "+00:00"))


def test_a_400_is_retried_with_the_same_message_and_growing_waits_until_close(
        goclient: Path) -> None:
    # Left open, the SDK retries the 400 (10 attempts over about 43 s in all). Watch the first
    # three, then close it: the batch is dropped then, well before the tenth attempt.
    with MockSegment() as fake:
        process = subprocess.Popen([str(goclient), fake.url, "go-key", "invalid-wait"],
                                   cwd=GO_CLIENT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            first = fake.wait_for(3, timeout=20, type="group")
        finally:
            stdout, stderr = process.communicate("\n", timeout=30)
        attempts = list(fake.calls)
    assert process.returncode == 0, stderr
    assert 3 <= len(attempts) < 10, attempts
    assert {record.message_id for record in attempts} == {"go-invalid-1"}
    assert {(record.status, record.http_status) for record in attempts} == {("rejected", 400)}
    assert all(record.payload == first[0].payload for record in attempts)  # the same bytes
    assert "X-Retry-Count" not in first[1].headers  # it does not say it is retrying
    # Waits of 100 ms, then 200 ms (backo's default): the gaps can only be longer.
    gaps = [(received(b) - received(a)).total_seconds() for a, b in pairwise(first)]
    assert gaps[0] >= 0.099 and gaps[1] >= 0.199, gaps
    assert summary(outcomes(stdout)) == [("failure", "group", "go-invalid-1", "400")]
    assert "dropped because they failed to be sent and the client was closed" in stderr
