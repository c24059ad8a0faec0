"""The other real Python SDKs against mockseg on a real socket: Segment's legacy analytics-python
1.x and RudderStack's rudder-sdk-python, each from PyPI in its own venv (their pins clash with the
test venv's: analytics-python 1.x needs backoff 1.x). The official segment-analytics-python 2.x,
already in the test venv, runs through the same driver and the same assertions for symmetry.

Each venv lives in tests/clients/python/<sdk>/.venv (git-ignored), built from the committed
requirements.txt beside it and rebuilt only when that file's hash (or the Python) changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from mockseg import MockSegment
from tests.toolchains import CLIENTS, missing, run

pytestmark = pytest.mark.slow

HERE = CLIENTS / "python"
DRIVER = HERE / "driver.py"
WRITE_KEY = "test-key"
TRAITS = {
    "name": "ACME Corp",
    "plan": "enterprise",
    "employees": 500,
    "address": {"street": "1 Main St", "city": "Berlin", "postalCode": "10115", "country": "DE"},
}
GOOD = {"user_id": "user123", "group_id": "company_acme", "traits": TRAITS}
BAD = {"user_id": "user123", "group_id": "company acme", "traits": TRAITS}
BAD_GROUP_ID = "Group ID cannot contain spaces or special characters"
#: What pip prints when it cannot reach the package index (then the test skips locally).
OFFLINE = ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError", "ProxyError",
           "Network is unreachable", "Temporary failure in name resolution")


@dataclass(frozen=True)
class PythonSdk:
    """One SDK and what its source says it sends (the tests check each against the journal)."""

    name: str
    #: How its requests authenticate, as mockseg records it.
    auth: str
    gzip_by_default: bool
    #: Whether a retried request carries X-Retry-Count.
    counts_retries: bool
    #: Fields it adds to every message on its own.
    adds: dict[str, Any]
    #: Whether it refuses a message over 32 KB itself (RuntimeError) instead of sending it.
    checks_32_kb: bool
    #: False: already in the test venv (pyproject.toml), so it needs no venv of its own.
    own_venv: bool = True

    def __str__(self) -> str:
        return self.name


SDKS = [
    PythonSdk("analytics-python", auth="basic", gzip_by_default=False, counts_retries=False,
              adds={"integrations": {}}, checks_32_kb=False),
    # Its own limit is 4 MB (consumer.py MAX_MSG_SIZE), so a 40 KB message goes out.
    PythonSdk("rudder-sdk-python", auth="basic", gzip_by_default=True, counts_retries=False,
              adds={"integrations": {"All": True}, "channel": "server"}, checks_32_kb=False),
    PythonSdk("segment-analytics-python", auth="basic+body", gzip_by_default=False,
              counts_retries=True, adds={"integrations": {}}, checks_32_kb=True,
              own_venv=False),
]

#: SDK name -> its python, or the skip or failure its build ended in (not tried again).
_built: dict[str, Path | BaseException] = {}


def pinned_version(sdk: PythonSdk) -> str:
    """The version the tests expect to run: the requirements pin, or the test venv's."""
    if not sdk.own_venv:
        return version(sdk.name)
    requirements = (HERE / sdk.name / "requirements.txt").read_text().splitlines()
    return next(line.split("==", 1)[1] for line in requirements
                if line.startswith(f"{sdk.name}=="))


def build(folder: Path) -> Path:
    """The python of ``folder/.venv``, (re)built from ``folder/requirements.txt`` if stale."""
    requirements = folder / "requirements.txt"
    venv = folder / ".venv"
    python = venv / "bin" / "python"
    stamp = venv / "mockseg-requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()
                            + sys.base_prefix.encode()).hexdigest()
    with (folder / ".venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest run may be building it right now
        if python.exists() and stamp.exists() and stamp.read_text() == digest:
            return python
        run([sys.executable, "-m", "venv", "--clear", str(venv)], cwd=folder, timeout=120,
            what=f"python -m venv for {folder.name}")
        try:
            run([str(python), "-m", "pip", "install", "--quiet", "--no-input", "--retries", "2",
                 "--timeout", "30", "-r", str(requirements)], cwd=folder, timeout=300,
                what=f"pip install -r {requirements.relative_to(CLIENTS.parent.parent)}")
        except pytest.fail.Exception as failure:
            if any(marker in str(failure) for marker in OFFLINE):
                missing(f"PyPI is unreachable, so {folder.name} cannot be installed")
            raise
        stamp.write_text(digest)
    return python


def python_for(sdk: PythonSdk) -> Path:
    """The interpreter that has ``sdk`` installed, built once per session."""
    if not sdk.own_venv:
        return Path(sys.executable)
    if sdk.name not in _built:
        try:
            _built[sdk.name] = build(HERE / sdk.name)
        except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
            _built[sdk.name] = outcome
            raise
    found = _built[sdk.name]
    if isinstance(found, BaseException):
        raise found.with_traceback(None)  # the same skip (or failure) as the first test's
    return found


def drive(sdk: PythonSdk, fake: MockSegment, *calls: dict[str, Any], sync_mode: bool,
          max_retries: int = 0) -> dict[str, Any]:
    """Run tests/clients/python/driver.py in the SDK's environment; return its JSON report."""
    job = {"sdk": sdk.name, "url": fake.url, "write_key": WRITE_KEY, "sync_mode": sync_mode,
           "max_retries": max_retries, "gzip": None, "calls": list(calls)}
    done = run([str(python_for(sdk)), "-I", str(DRIVER), json.dumps(job)], cwd=HERE,
               timeout=60, what=f"the {sdk.name} driver")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["version"] == pinned_version(sdk)  # the SDK we meant is the one that ran
    return report


@pytest.fixture(params=SDKS, ids=str)
def sdk(request: pytest.FixtureRequest) -> PythonSdk:
    found: PythonSdk = request.param
    python_for(found)  # build (or skip) before the test starts its fake
    return found


@pytest.fixture
def server() -> Iterator[MockSegment]:
    with MockSegment() as fake:
        yield fake


def test_group_call_arrives_with_every_field_intact(sdk: PythonSdk, server: MockSegment) -> None:
    report = drive(sdk, server, GOOD, sync_mode=True)
    assert report["raised"] == []
    [record] = server.wait_for(1, type="group")
    assert (record.status, record.http_status) == ("accepted", 200), record.errors
    assert record.path == "/v1/batch"
    assert record.auth == sdk.auth
    assert record.write_key == WRITE_KEY
    assert record.user_id == "user123" and record.group_id == "company_acme"
    traits = record.payload["traits"]
    assert traits["address"] == TRAITS["address"]
    assert traits["employees"] == 500 and type(traits["employees"]) is int
    assert traits["plan"] == "enterprise"
    assert traits == TRAITS
    for field, value in sdk.adds.items():
        assert record.payload[field] == value, field
    library = {"name": "analytics-python", "version": report["version"]}
    assert record.payload["context"]["library"] == library  # rudder-sdk-python says so too
    assert record.headers["User-Agent"] == f"analytics-python/{report['version']}"
    assert record.headers["Content-Type"] == "application/json"
    assert record.headers.get("Content-Encoding") == ("gzip" if sdk.gzip_by_default else None)


def test_sync_mode_raises_strict_modes_400_with_its_code_and_message(
        sdk: PythonSdk, server: MockSegment) -> None:
    report = drive(sdk, server, BAD, sync_mode=True)
    assert report["raised"] == [{"type": "APIError", "status": 400, "code": "validation_error",
                                 "message": BAD_GROUP_ID}]
    [record] = server.calls
    assert (record.status, record.http_status) == ("rejected", 400)
    assert [e.field for e in record.errors] == ["batch[0].groupId"]


def test_async_400_reaches_on_error_once_and_is_not_retried(sdk: PythonSdk,
                                                            server: MockSegment) -> None:
    report = drive(sdk, server, BAD, sync_mode=False, max_retries=3)
    assert report["on_error"] == [{"type": "APIError", "status": 400, "code": "validation_error",
                                   "message": BAD_GROUP_ID, "group_ids": ["company acme"]}]
    # flush() returned only after on_error, so the journal is complete: exactly one attempt
    [record] = server.calls
    assert (record.status, record.http_status) == ("rejected", 400)


def test_503_is_retried_with_the_same_message_id(sdk: PythonSdk, server: MockSegment) -> None:
    server.fail_next(1, status=503)
    report = drive(sdk, server, GOOD, sync_mode=False, max_retries=1)
    assert report["on_error"] == []
    first, second = server.calls
    assert first.fault and first.http_status == 503
    assert second.status == "accepted" and second.duplicate_of == first.id
    assert second.headers.get("X-Retry-Count") == ("1" if sdk.counts_retries else None)


def test_group_call_over_32_kb_is_refused_before_sending_or_rejected_by_mockseg(
        sdk: PythonSdk, server: MockSegment) -> None:
    big = {**GOOD, "traits": {**TRAITS, "description": "x" * 40_000}}
    report = drive(sdk, server, big, sync_mode=True)
    [raised] = report["raised"]
    if sdk.checks_32_kb:
        assert raised["type"] == "RuntimeError"
        assert "Message exceeds" in raised["message"]
        assert server.calls == []
        return
    assert (raised["type"], raised["status"]) == ("APIError", 400)
    [record] = server.calls
    assert (record.status, record.http_status) == ("rejected", 400)
    assert [(e.field, e.message) for e in record.errors][:1] == [
        ("batch[0]", "Message too large: over 32768 bytes")]
