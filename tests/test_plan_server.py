"""A tracking plan on the server: violations in records, the admin API, stats, the log, block
mode, the command line and the pytest plugin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.test import Client

from mockseg import MockSegment
from mockseg.golden import fixtures_dir
from mockseg.journal import CallFilter, SqliteJournal
from tests.conftest import B2B, basic
from tests.helpers import Served

PLAN = fixtures_dir() / "tracking-plans" / "b2b.json"
OFF_PLAN = {**B2B, "traits": {**B2B["traits"], "plan": "platinum"}}
ENUM = 'traits.plan must be one of the following: "free", "pro", "enterprise"'
UNPLANNED_TRACK = {"type": "track", "userId": "u", "event": "Order Shipped",
                   "context": {"library": {"name": "analytics.js"}}}


def post(fake: MockSegment, path: str, body: Any) -> Any:
    return Client(fake.app).post(path, json=body, headers=basic("k"))


def test_a_violation_changes_no_answer_by_default_and_is_recorded() -> None:
    fake = MockSegment(tracking_plan=PLAN)
    response = post(fake, "/v1/group", OFF_PLAN)
    assert response.status_code == 200  # as in production: Segment's contract alone decides
    (record,) = fake.calls
    assert record.status == "accepted" and record.errors == []
    assert [(v.type, v.field, v.description) for v in record.violations] == [
        ("enum", "traits.plan", ENUM)]
    assert record.to_dict()["violations"] == [
        {"type": "enum", "field": "traits.plan", "description": ENUM}]


def test_batch_items_are_checked_by_their_own_type_with_prefixed_fields() -> None:
    fake = MockSegment(tracking_plan=PLAN)
    post(fake, "/v1/batch", {"batch": [B2B, OFF_PLAN, UNPLANNED_TRACK]})
    assert [[(v.type, v.field) for v in r.violations] for r in fake.calls] == [
        [], [("enum", "batch[1].traits.plan")], [("unplanned", "batch[2].event")]]


def test_admin_filters_and_stats_count_violations() -> None:
    fake = MockSegment(tracking_plan=PLAN)
    client = Client(fake.app)
    post(fake, "/v1/batch", {"batch": [B2B, OFF_PLAN]})
    broken = client.get("/__mockseg/calls?violations=true").get_json()
    clean = client.get("/__mockseg/calls?violations=false").get_json()
    assert [c["id"] for c in broken["calls"]] == [2] and [c["id"] for c in clean["calls"]] == [1]
    assert client.get("/__mockseg/stats").get_json()["violations"] == 1
    bad = client.get("/__mockseg/calls?violations=maybe")
    assert bad.status_code == 400 and "violations must be true or false" in bad.get_data(True)
    assert fake.select(violations=True)[0].id == 2


def test_sqlite_journal_keeps_violations(tmp_path: Path) -> None:
    fake = MockSegment(tracking_plan=PLAN, journal=tmp_path / "j.db")
    post(fake, "/v1/group", OFF_PLAN)
    fake.journal.close()
    reopened = SqliteJournal(tmp_path / "j.db")
    (record,) = reopened.select()
    assert record.violations[0].field == "traits.plan"
    assert [r.id for r in reopened.select(CallFilter(violations=True))] == [1]
    assert reopened.stats()["violations"] == 1
    reopened.close()


@pytest.mark.parametrize(("mode", "status"), [("strict", 400), ("segment", 200)])
def test_block_mode_answers_a_violation_like_a_contract_error(mode: str, status: int) -> None:
    fake = MockSegment(mode, tracking_plan=PLAN, tracking_plan_mode="block")  # type: ignore[arg-type]
    response = post(fake, "/v1/group", OFF_PLAN)
    assert response.status_code == status
    (record,) = fake.calls
    assert record.status == "rejected"  # dropped, as production drops an invalid message
    assert (record.errors[0].field, record.errors[0].message) == ("traits.plan", ENUM)
    if status == 400:
        error = response.get_json()["error"]
        assert error["errors"] == [{"field": "traits.plan", "message": ENUM}]
    assert post(fake, "/v1/group", B2B).status_code == 200  # a planned call still goes through


def test_unplanned_events_allow_violate_or_block() -> None:
    for unplanned, status, count in (("allow", 200, 0), ("violate", 200, 1), ("block", 400, 1)):
        fake = MockSegment(tracking_plan=PLAN, unplanned=unplanned)
        assert post(fake, "/v1/track", UNPLANNED_TRACK).status_code == status, unplanned
        assert len(fake.calls[0].violations) == count, unplanned


def test_scoped_views_take_their_own_plan() -> None:
    fake = MockSegment()
    with fake.scoped(tracking_plan=PLAN) as view:
        Client(view.app).post("/v1/group", json=OFF_PLAN, headers=basic("k"))
        assert view.calls[0].violations
    post(fake, "/v1/group", OFF_PLAN)
    assert fake.calls[-1].violations == ()


def test_assert_group_fails_on_a_matching_call_that_breaks_the_plan() -> None:
    fake = MockSegment(tracking_plan=PLAN)
    post(fake, "/v1/group", OFF_PLAN)
    with pytest.raises(AssertionError) as caught:
        fake.assert_group(group_id=B2B["groupId"], timeout=0)
    message = str(caught.value)
    assert "break the tracking plan (pass violations=True to allow that)" in message
    assert f"traits.plan: {ENUM} (the payload has 'platinum')" in message
    assert fake.assert_group(group_id=B2B["groupId"], timeout=0, violations=True)


def test_assert_no_violations_lists_each_with_the_payloads_value() -> None:
    fake = MockSegment(tracking_plan=PLAN)
    post(fake, "/v1/group", B2B)
    fake.assert_no_violations()
    post(fake, "/v1/group", {**OFF_PLAN, "traits": {"plan": "platinum"}})
    with pytest.raises(AssertionError) as caught:
        fake.assert_no_violations()
    message = str(caught.value)
    assert message.startswith("assert_no_violations: 1 call(s) break the tracking plan")
    assert "traits.name: traits.name is required (absent)" in message
    assert "(the payload has 'platinum')" in message


def test_serve_with_a_plan_logs_the_first_violation() -> None:
    served = Served("--tracking-plan", str(PLAN))
    try:
        requests.post(served.url + "/v1/group", json=OFF_PLAN, auth=("k", ""), timeout=5)
        stats = requests.get(served.url + "/__mockseg/stats", timeout=5).json()
    finally:
        _, out = served.stop()
    assert stats["violations"] == 1
    line = next(line for line in out.splitlines() if "groupId=" in line)
    assert line.endswith(f"violation traits.plan: {ENUM}")


def test_serve_with_an_unusable_plan_stops_at_start_naming_the_rule(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"type": "GROUP", "version": 1, "jsonSchema": {"type": "x"}}]))
    done = subprocess.run([sys.executable, "-m", "mockseg", "serve", "--port", "0",
                           "--tracking-plan", str(plan)], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 2
    assert f"cannot use the tracking plan {plan}: rules[0] (GROUP v1)" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_fixture_takes_a_plan_from_the_marker_and_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makefile(".json", plan=PLAN.read_text())
    pytester.makeini("[pytest]\nmockseg_tracking_plan = plan.json\n")
    pytester.makepyfile(f"""
        import pytest, requests

        OFF = {OFF_PLAN!r}

        def send(fake):
            requests.post(fake.url + "/v1/group", json=OFF, auth=("k", ""), timeout=5)

        def test_ini_plan(mockseg):
            send(mockseg)
            mockseg.wait_for(1)
            mockseg.assert_no_violations()

        @pytest.mark.mockseg(tracking_plan="plan.json")
        def test_marker_plan(mockseg):
            send(mockseg)
            assert mockseg.wait_for(1)[0].violations
    """)
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*assert_no_violations: 1 call(s) break the tracking plan*"])


def test_the_readmes_plan_walkthrough_fails_as_it_shows(pytester: pytest.Pytester) -> None:
    """Step 3 of the README's tracking-plan walkthrough, run as a user would run it."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    plan = re.search(r"\$ cat tracking-plan.json\n(.*?)```", readme, re.S)
    step = readme.split("**3. A test that fails on the first call off the plan.**", 1)[1]
    ini = re.search(r"```ini\n# pytest.ini\n(.*?)```", step, re.S)
    test = re.search(r"```python\n(.*?)```", step, re.S)
    shown = re.search(r"```text\n(.*?)```", step, re.S)
    assert plan and ini and test and shown
    pytester.makefile(".json", **{"tracking-plan": plan[1]})
    pytester.makeini(ini[1])
    pytester.makepyfile(test_signup=test[1])
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--tb=short")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    for line in shown[1].splitlines():
        assert line in output, line


def test_health_says_which_plan_checks_the_calls() -> None:
    health = Client(MockSegment().app).get("/__mockseg/health").get_json()
    assert health["tracking_plan"] is None
    fake = MockSegment(tracking_plan=PLAN, tracking_plan_mode="block", unplanned="allow")
    plan = Client(fake.app).get("/__mockseg/health").get_json()["tracking_plan"]
    assert plan == {"source": str(PLAN), "rules": len(fake.app.settings.tracking_plan.rules),
                    "mode": "block", "unplanned": "allow"}
    assert plan["rules"] > 0
