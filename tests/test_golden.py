"""Every golden case in fixtures/ runs through the app, and the schema agrees with the validator."""

from __future__ import annotations

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
    assert response.headers["Access-Control-Allow-Origin"] == "*"
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
