"""The mockseg command: serve as a real process, validate files."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockseg.golden import fixtures_dir
from tests.conftest import B2B, basic
from tests.helpers import MOCKSEG, Served

SPEC_CURL_BODY = """{
    "userId": "user123",
    "groupId": "company_acme",
    "traits": {
      "name": "ACME Corp",
      "industry": "Technology",
      "employees": 500,
      "plan": "enterprise"
    }
  }"""


def serve(*options: str) -> Served:
    return Served(*options)


@pytest.fixture
def served() -> Iterator[Served]:
    server = serve()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_spec_curl_example_gets_success(served: Served) -> None:
    result = subprocess.run(
        ["curl", "-s", "-X", "POST", f"{served.url}/v1/group",
         "-H", "Authorization: Basic WU9VUl9XUklURV9LRVk6",  # base64 of "YOUR_WRITE_KEY:"
         "-H", "Content-Type: application/json", "-d", SPEC_CURL_BODY],
        capture_output=True, text=True, timeout=10, check=True,
    )
    assert json.loads(result.stdout) == {"success": True}
    calls = requests.get(f"{served.url}/__mockseg/calls", timeout=5).json()["calls"]
    assert calls[0]["write_key"] == "YOUR_WRITE_KEY"
    assert calls[0]["payload"] == json.loads(SPEC_CURL_BODY)


def test_serve_logs_one_line_per_call_and_stops_on_sigterm(served: Served) -> None:
    requests.post(f"{served.url}/v1/group", json=B2B, headers=basic("k"), timeout=5)
    requests.post(f"{served.url}/v1/group", json={"userId": "u", "groupId": "a b",
                                                   "traits": {"a": 1}},
                  headers=basic("k"), timeout=5)
    requests.get(f"{served.url}/__mockseg/calls", timeout=5)
    code, out = served.stop()
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2, out  # one per call; no access log, nothing for the admin request
    assert "200 accepted" in lines[0] and "groupId=company_enterprise_corp" in lines[0]
    assert "400 rejected" in lines[1] and "group" in lines[1]
    assert "groupId: Group ID cannot contain spaces or special characters" in lines[1]


def test_serve_logs_a_batch_as_one_time_stamped_line_per_message(served: Served) -> None:
    batch = {"batch": [{**B2B, "type": "group"}, {"type": "identify", "userId": "u"},
                       {**B2B, "type": "group", "groupId": "g 2"}]}
    requests.post(f"{served.url}/v1/batch", json=batch, headers=basic("k"), timeout=5)
    code, out = served.stop()
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3, out
    assert all(re.match(r"\d\d:\d\d:\d\d 400 rejected /v1/batch ", line) for line in lines), out
    assert "groupId=company_enterprise_corp" in lines[0] and "identify" in lines[1]
    assert "batch[2].groupId: Group ID cannot contain spaces" in lines[2]


def test_serve_stops_cleanly_on_sigint() -> None:
    code, out = serve().stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in out


def test_quiet_serve_logs_nothing_per_call() -> None:
    server = serve("--quiet", "--mode", "segment", "--write-key", "good")
    response = requests.post(f"{server.url}/v1/group", json={"userId": "u"},
                             headers=basic("bad"), timeout=5)
    assert response.json() == {"success": True}  # segment mode
    health = requests.get(f"{server.url}/__mockseg/health", timeout=5).json()
    assert health["mode"] == "segment" and health["write_keys"] == ["good"]
    code, out = server.stop()
    assert code == 0 and out.strip() == ""


def test_serve_group_id_pattern_option() -> None:
    server = serve("--group-id-pattern", "[a-z@]+")
    try:
        ok = requests.post(f"{server.url}/v1/group", json={"userId": "u", "groupId": "a@b"},
                           headers=basic("k"), timeout=5)
        assert ok.status_code == 200
    finally:
        server.stop()


def test_serve_reports_a_busy_port() -> None:
    server = serve()
    try:
        port = server.url.rsplit(":", 1)[1]
        result = subprocess.run([*MOCKSEG, "serve", "--port", port], capture_output=True,
                                text=True, timeout=10)
        assert result.returncode == 1 and "cannot listen" in result.stderr
    finally:
        server.stop()


def run_validate(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MOCKSEG, "validate", *args], input=stdin, capture_output=True,
                          text=True, timeout=30)


def test_validate_valid_files_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "b2b.json"
    path.write_text(json.dumps(B2B))
    result = run_validate(str(path))
    assert result.returncode == 0 and result.stdout.strip() == f"{path}: ok"


def test_validate_prints_each_error_and_exits_1(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(B2B))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"groupId": "a b", "traits": {"employees": "x"}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = run_validate(str(good), str(bad), str(broken))
    assert result.returncode == 1
    out = result.stdout
    assert f"{good}: ok" in out
    assert f"{bad}: error: groupId: Group ID cannot contain spaces or special characters" in out
    assert f"{bad}: error: userId: Missing required field: userId or anonymousId" in out
    assert f"{bad}: error: traits.employees: Trait employees must be an integer" in out
    assert f"{broken}: error: cannot read JSON" in out


def test_validate_reads_stdin_and_batches() -> None:
    batch = {"batch": [B2B, {"type": "track", "userId": "u"}]}
    result = run_validate("-", stdin=json.dumps(batch))
    assert result.returncode == 1
    assert "<stdin>: error: batch[1].event: Missing required field: event" in result.stdout
    warning = run_validate("-", stdin=json.dumps({**B2B, "traits": {}}))
    assert warning.returncode == 0
    assert "warning: traits: traits is missing or empty" in warning.stdout


PLAN = str(fixtures_dir() / "tracking-plans" / "b2b.json")


def test_validate_with_a_tracking_plan_prints_each_violation_and_exits_1(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(B2B))
    off_plan = tmp_path / "off-plan.json"
    off_plan.write_text(json.dumps({**B2B, "traits": {**B2B["traits"], "plan": "platinum"}}))
    result = run_validate("--tracking-plan", PLAN, str(good), str(off_plan))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{good}: ok",
        f'{off_plan}: violation: traits.plan: traits.plan must be one of the following: '
        f'"free", "pro", "enterprise"']
    assert run_validate(str(off_plan)).returncode == 0  # Segment's contract alone: valid


def test_validate_with_a_tracking_plan_checks_each_batch_item() -> None:
    batch = {"batch": [B2B, {"type": "track", "userId": "u", "event": "Order Shipped",
                             "context": {"library": {"name": "analytics.js"}}}]}
    result = run_validate("--tracking-plan", PLAN, "-", stdin=json.dumps(batch))
    assert result.returncode == 1
    assert result.stdout.strip() == ('<stdin>: violation: batch[1].event: event "Order Shipped" '
                                     "is not in the tracking plan")
    allowed = run_validate("--tracking-plan", PLAN, "--unplanned", "allow", "-",
                           stdin=json.dumps(batch))
    assert (allowed.returncode, allowed.stdout.strip()) == (0, "<stdin>: ok")


def test_validate_with_a_bad_tracking_plan_exits_2_naming_the_rule(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"type": "GROUP", "version": 1,
                                 "jsonSchema": {"type": "strin"}}]))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(B2B))
    result = run_validate("--tracking-plan", str(plan), str(good))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        f"mockseg: cannot use the tracking plan {plan}: rules[0] (GROUP v1): jsonSchema is not "
        "valid draft-07: 'strin' is not valid under any of the given schemas (at jsonSchema/type)")


def test_validate_agrees_with_the_golden_valid_cases() -> None:
    files = sorted(str(p) for p in (fixtures_dir() / "valid").glob("*.json"))
    bodies = [p for p in files if "body" in json.loads(Path(p).read_text())["request"]]
    # The files are whole cases; validate their bodies through stdin one by one is slow, so
    # write the bodies out and check them in one run.
    result = subprocess.run(
        [sys.executable, "-c",
         "import json,sys\nfrom mockseg import validate\n"
         "bad=[p for p in sys.argv[1:] if any(v.severity=='error' for v in "
         "validate(json.load(open(p))['request']['body'], 'group'))]\nprint(bad)",
         *bodies], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "[]"


def test_log_lines_escape_control_characters() -> None:
    from mockseg.cli import format_record
    from mockseg.journal import Record

    record = Record(request_id="r", received_at="t", path="/v1/group", type="group",
                    status="accepted", http_status=200, errors=[], warnings=[],
                    payload={"groupId": "acme\n200 accepted /v1/group group groupId=forged\x1b[2J",
                             "userId": "u"},
                    write_key="k", headers={})
    line = format_record(record)
    assert "\n" not in line and "\x1b" not in line
    assert "acme\\n200 accepted" in line and "\\x1b[2J" in line


@pytest.mark.parametrize(("port", "message"), [
    ("-1", "-1 is outside 0 to 65535"), ("99999", "99999 is outside 0 to 65535"),
    ("65536", "outside 0 to 65535"), ("http", "'http' is not a port number"),
])
def test_a_port_outside_0_to_65535_is_a_one_line_usage_error(port: str, message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "mockseg", "serve", "--port", port],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
