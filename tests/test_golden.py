"""Every golden case in fixtures/ runs through the app, and the schema agrees with the validator."""

from __future__ import annotations

import gzip
import json
import re

import jsonschema
import pytest
from werkzeug.test import Client

from mockseg import MockSegment, validate
from mockseg.golden import Case, load_cases
from mockseg.schema import load_group_schema

CASES = load_cases()


def _fake_for(case: Case) -> MockSegment:
    return MockSegment(mode=case.server.get("mode", "strict"),
                       write_keys=case.server.get("write_keys"))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_golden_case_gets_its_documented_answer(case: Case) -> None:
    fake = _fake_for(case)
    response = Client(fake.app).open(
        case.path, method=case.method, data=case.data(), headers=case.headers()
    )
    expect = case.expect
    body = response.get_json(silent=True)
    assert response.status_code == expect["status"], (case.description, body)
    assert response.headers["Access-Control-Allow-Origin"] == case.headers().get("Origin", "*")
    if expect["status"] == 200:
        assert body == {"success": True}
    elif expect["status"] >= 400:
        error = body["error"]
        assert error["type"] == expect["error_type"]
        if "message" in expect:
            assert error["message"] == expect["message"]
            assert body["message"] == expect["message"]
        if "message_prefix" in expect:
            assert error["message"].startswith(expect["message_prefix"])
        if "field" in expect:
            assert error["errors"][0]["field"] == expect["field"]
        assert error["errors"][0]["message"] == error["message"]
    records = fake.calls
    if "records" in expect:
        assert len(records) == expect["records"]
    if case.method == "POST":
        assert records, "every POST leaves at least one record"
        verdicts = {record.status for record in records}
        if expect["status"] == 200 and fake.settings.mode == "strict":
            assert verdicts == {"accepted"}
        if expect["status"] >= 400:
            assert verdicts == {"rejected"}
    if "warnings" in expect:
        assert sorted({w.field for r in records for w in r.warnings}) == sorted(expect["warnings"])
    if "write_key" in expect:
        assert {record.write_key for record in records} == {expect["write_key"]}
    if "auth" in expect:
        assert {record.auth for record in records} == {expect["auth"]}
    for name, value in expect.get("headers", {}).items():
        assert {record.headers.get(name) for record in records} == {value}, name


GROUP_BODIES = [
    case for case in CASES
    if case.path == "/v1/group" and isinstance(case.body, dict)
    and not case.server and case.request.get("auth", "test-key") is not None
]


@pytest.mark.parametrize("case", GROUP_BODIES, ids=lambda case: case.name)
def test_validator_and_published_schema_agree(case: Case) -> None:
    validator = jsonschema.Draft202012Validator(load_group_schema())
    schema_ok = validator.is_valid(case.body)
    errors = [v for v in validate(case.body, "group") if v.severity == "error"]
    assert schema_ok == (not errors), (errors, list(validator.iter_errors(case.body))[:3])
    too_large = case.expect.get("error_type") == "payload_too_large"
    assert (case.expect["status"] == 200) == (not errors) or too_large


def test_every_rule_of_the_table_has_an_invalid_case() -> None:
    numbers = {case.name.split("/")[1].split("-")[0] for case in load_cases("invalid")}
    assert {f"{n:02d}" for n in range(0, 17)} <= numbers


SDK_CASES = load_cases("sdks")
_VERSION = re.compile(r"\b(\d+\.\d+\.\d+|[0-9a-f]{7,40})\b")
_SOURCE_FILE = re.compile(r"[\w./-]+/[\w.-]+\.(swift|cs|php|rb|ts|js|py|kt|java|go)\b")


def test_every_replayed_sdk_has_a_valid_and_an_invalid_case() -> None:
    by_sdk: dict[str, set[int]] = {}
    for case in SDK_CASES:
        sdk = case.name.split("/")[1].split("-invalid-")[0].rsplit("-group-batch", 1)[0]
        by_sdk.setdefault(sdk, set()).add(case.expect["status"])
    assert set(by_sdk) >= {"swift", "csharp", "php", "ruby", "react-native"}
    assert all(statuses >= {200, 400} for statuses in by_sdk.values()), by_sdk


@pytest.mark.parametrize("case", SDK_CASES, ids=lambda case: case.name)
def test_sdk_case_description_names_its_version_and_source_file(case: Case) -> None:
    assert _VERSION.search(case.description), case.description
    assert _SOURCE_FILE.search(case.description), case.description


@pytest.mark.parametrize("case", SDK_CASES, ids=lambda case: case.name)
def test_sdk_case_sends_exactly_its_headers_and_a_batch_envelope(case: Case) -> None:
    assert case.exact_headers and case.headers() == case.request["headers"]
    envelope = json.loads(gzip_decoded(case))
    assert isinstance(envelope["batch"], list) and envelope["batch"]
    assert isinstance(envelope["sentAt"], str)
    has_basic = case.headers().get("Authorization", "").startswith("Basic ")
    assert has_basic or envelope.get("writeKey") == case.expect["write_key"]


def gzip_decoded(case: Case) -> bytes:
    """The case's body bytes before any gzip, as the SDK serialized them."""
    data = case.data()
    return gzip.decompress(data) if case.request.get("gzip") else data


def test_csharp_replay_sends_gzip_without_content_type() -> None:
    [case] = [c for c in SDK_CASES if c.name == "sdks/csharp-group-batch"]
    headers = case.headers()
    assert "Content-Type" not in headers and "Authorization" not in headers
    assert headers["Content-Encoding"] == "gzip" and case.data()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize("case", [c for c in SDK_CASES if c.expect["status"] == 200],
                         ids=lambda case: case.name)
def test_sdk_replay_group_arrives_with_every_field_intact(case: Case) -> None:
    fake = MockSegment()
    Client(fake.app).open(case.path, method=case.method, data=case.data(),
                          headers=case.headers())
    sent = [m for m in json.loads(gzip_decoded(case))["batch"] if m["type"] == "group"]
    groups = [record for record in fake.calls if record.type == "group"]
    assert sent and len(groups) == len(sent)
    for record, message in zip(groups, sent, strict=True):
        assert record.status == "accepted" and record.http_status == 200
        assert record.payload == message
        assert record.group_id == message["groupId"] and record.user_id == message["userId"]
        traits = record.payload["traits"]
        assert traits["address"]["city"] == "New York" and traits["employees"] == 500
        assert traits["plan"] == "enterprise" and traits["website"] == "https://acme.com"
