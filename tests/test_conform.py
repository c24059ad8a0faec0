"""mockseg conform against small clients written for the tests: one on the official Python SDK,
one in shell with curl; each correct, and with planted bugs that the report must name."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from mockseg.conform import PLACEHOLDERS, build_cases

CLIENTS = Path(__file__).parent / "conform_clients"
ARGS = [f"{{{name}}}" for name in PLACEHOLDERS]
SDK = [sys.executable, str(CLIENTS / "sdk_client.py"), *ARGS]
CURL = [str(CLIENTS / "curl_client.sh"), *ARGS]
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def conform(command: list[str], *options: str, bug: str = "",
            tmp_path: Path) -> tuple[int, str, dict[str, object]]:
    report = tmp_path / f"report-{bug or 'ok'}.json"
    done = subprocess.run(
        [sys.executable, "-m", "mockseg", "conform", "--cases", "4", "--jobs", "2",
         "--json", str(report), *options, "--", *command],
        capture_output=True, text=True, timeout=300, env={**os.environ, "BUG": bug})
    return done.returncode, done.stdout, json.loads(report.read_text())


def outcomes(report: dict[str, object], suite: str) -> list[str]:
    return [r["outcome"] for r in report["results"] if r["suite"] == suite]  # type: ignore


def test_cases_are_seeded_reproducible_and_include_the_documented_examples() -> None:
    first = build_cases("valid", 6, seed=7)
    again = build_cases("valid", 6, seed=7)
    other = build_cases("valid", 6, seed=8)
    assert [c.values for c in first] == [c.values for c in again]
    assert [c.values for c in first] != [c.values for c in other]
    assert any(c.source.startswith("fixture valid/") for c in first)
    assert len(build_cases("invalid", 6, seed=7)) == 6
    assert all(c.rule_message for c in build_cases("invalid", 6, seed=7))


def test_correct_sdk_client_passes_every_suite(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    code, out, report = conform(SDK, "--invalid", "--retry", "--junit-xml", str(junit),
                                tmp_path=tmp_path)
    assert code == 0, out
    assert "suite    cases  passed  failed" in out
    assert set(outcomes(report, "valid")) == {"ok"}
    assert set(outcomes(report, "invalid")) <= {"refused before sending",
                                                 "sent it and got the 400"}
    assert all(o.startswith("ok after") for o in outcomes(report, "retry"))
    suites = ElementTree.parse(junit).getroot()
    assert [s.get("name") for s in suites] == ["conform.valid", "conform.invalid",
                                               "conform.retry"]
    assert all(s.get("failures") == "0" for s in suites)


@pytest.mark.parametrize(("bug", "options", "named"), [
    ("drop-nested", [], "traits.address: expected {"),
    ("numbers-as-strings", [], "expected 500, got '500'"),
    ("employees-as-string", [], "batch[0].traits.employees: Trait employees must be an integer"),
    ("no-retry", ["--retry", "--only"], "did not retry"),
    ("new-message-id", ["--retry", "--only"], "new messageId on retry"),
])
def test_each_planted_sdk_bug_is_caught_and_named(tmp_path: Path, bug: str,
                                                  options: list[str], named: str) -> None:
    code, out, _report = conform(SDK, *options, bug=bug, tmp_path=tmp_path)
    assert code == 1
    assert named in out
    assert "--seed 0" in out  # each failure says how to reproduce it
    assert "passed," in out and "failed" in out


@needs_curl
def test_correct_curl_client_passes(tmp_path: Path) -> None:
    code, out, report = conform(CURL, "--invalid", "--retry", tmp_path=tmp_path)
    assert code == 0, out
    assert set(outcomes(report, "invalid")) == {"sent it and got the 400"}


@needs_curl
@pytest.mark.parametrize(("bug", "options", "named"), [
    ("numbers-as-strings", [], "expected 500, got '500'"),
    ("employees-as-string", [], "Trait employees must be an integer"),
    ("no-retry", ["--retry", "--only"], "did not retry"),
    ("new-message-id", ["--retry", "--only"], "new messageId on retry"),
])
def test_each_planted_curl_bug_is_caught_and_named(tmp_path: Path, bug: str,
                                                   options: list[str], named: str) -> None:
    code, out, _ = conform(CURL, *options, bug=bug, tmp_path=tmp_path)
    assert code == 1 and named in out


def test_an_sdk_that_treats_the_400_as_success_fails_the_invalid_suite(tmp_path: Path) -> None:
    lenient = tmp_path / "lenient.sh"
    lenient.write_text("#!/bin/sh\n"
                       "curl -s -u \"$2:\" -d \"{\\\"userId\\\":\\\"u\\\",\\\"groupId\\\":"
                       "\\\"$5\\\"}\" \"$1/v1/group\" >/dev/null\nexit 0\n")
    lenient.chmod(0o755)
    code, _out, report = conform([str(lenient), *ARGS], "--invalid", "--only",
                                tmp_path=tmp_path)
    assert code == 1
    assert "treated the 400 as success" in outcomes(report, "invalid")


def test_stateful_sequences_of_the_sdk_client_all_pass(tmp_path: Path) -> None:
    code, out, report = conform(SDK, "--stateful", "3", "--only", tmp_path=tmp_path)
    assert code == 0, out
    assert "3 stateful sequence(s), seed 0" in out
    assert outcomes(report, "stateful") == ["ok", "ok", "ok"]
    assert re.search(r"^stateful +3 +3 +0 +ok x3$", out, re.MULTILINE), out


@needs_curl
def test_a_stateful_sequence_that_loses_a_call_is_shrunk_and_shown_as_steps(
        tmp_path: Path) -> None:
    code, out, report = conform(CURL, "--stateful", "5", "--only", bug="no-retry",
                                tmp_path=tmp_path)
    assert code == 1
    assert outcomes(report, "stateful")[-1] == "lost after a 503"
    assert "FAIL stateful case" in out and "--seed 0" in out
    assert "was lost: its last attempt was answered 503, which is retryable" in out
    steps = out[out.index("shortest sequence:"):].splitlines()[1:5]
    assert [step.strip() for step in steps] == [
        "state = CommandLineDelivery()", "state.fail_retryable(retry_after=None, status=503)",
        "state.send(call=group(user_id='user-1', group_id='0', traits={}))",
        "state.teardown()"], out


def test_case_file_gives_the_case_on_stdin(tmp_path: Path) -> None:
    script = tmp_path / "stdin_client.py"
    script.write_text(
        "import json, sys\nfrom segment.analytics import Client\n"
        "case = json.load(sys.stdin)\n"
        "Client(case['writeKey'], host=case['url'], sync_mode=True).group(\n"
        "    user_id=case.get('userId'), anonymous_id=case.get('anonymousId'),\n"
        "    group_id=case['groupId'], traits=case.get('traits'), context=case.get('context'),\n"
        "    integrations=case.get('integrations'), message_id=case.get('messageId'),\n"
        "    timestamp=__import__('datetime').datetime.fromisoformat(\n"
        "        case['timestamp'].replace('Z', '+00:00')) if case.get('timestamp') else None)\n")
    code, out, _ = conform([sys.executable, str(script)], "--case-file", tmp_path=tmp_path)
    assert code == 0, out


def test_missing_command_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "mockseg", "conform"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "give the command" in done.stderr
