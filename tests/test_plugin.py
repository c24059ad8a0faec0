"""The pytest plugin, tested as a user would use it: test files run in a fresh pytest session."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SDK_HELPERS = '''
import time
from segment.analytics import Client

def client_for(url, **options):
    return Client("test-key", host=url, sync_mode=True, **options)
'''


def test_plugin_registers_through_the_pytest11_entry_point(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*mockseg*", "*--mockseg-mode*"])
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.mockseg(*"])
    result = pytester.runpytest_subprocess("-p", "no:mockseg", "--help")
    assert "--mockseg-mode" not in result.stdout.str()


def test_user_writes_def_test_x_mockseg_with_no_conftest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SDK_HELPERS + '''
def test_group_arrives(mockseg):
    client_for(mockseg.url).group(user_id="u1", group_id="company_acme",
                                   traits={"name": "ACME", "employees": 500})
    [call] = mockseg.assert_group(group_id="company_acme", user_id="u1",
                                  traits={"employees": 500})
    assert call.status == "accepted"
    mockseg.assert_no_rejections()

def test_next_test_starts_empty(mockseg):
    mockseg.assert_nothing_sent()
    assert mockseg.calls == []
''')
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_failed_assert_group_shows_near_misses_and_differing_fields(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SDK_HELPERS + '''
def test_wrong_employees(mockseg):
    client_for(mockseg.url).group(user_id="u1", group_id="company_acme",
                                   traits={"name": "ACME", "seats": "500",
                                           "address": {"city": "Berlin"}})
    mockseg.assert_group(group_id="company_acme",
                         traits={"seats": 500, "address": {"city": "Paris"}}, timeout=0.2)
''')
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*assert_group: expected at least 1 group call(s) matching group_id='company_acme'*",
        "*Nearest of the 1 recorded call(s):*",
        "*#* /v1/batch group accepted (200) groupId='company_acme' userId='u1'*",
        "*traits.seats: expected 500, got '500'*",
        "*traits.address.city: expected 'Paris', got 'Berlin'*",
    ])


def test_rejected_call_shows_its_error_in_the_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SDK_HELPERS + '''
import pytest
from segment.analytics.request import APIError

def test_bad_group_id(mockseg):
    with pytest.raises(APIError):
        client_for(mockseg.url).group(user_id="u1", group_id="company acme", traits={"a": 1})
    mockseg.assert_no_rejections()
''')
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*assert_no_rejections: 1 call(s) were rejected:*",
        "*error: batch?0?.groupId: Group ID cannot contain spaces or special characters*",
    ])


def test_mode_from_option_ini_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest, requests

def post(fake, body, key="k"):
    return requests.post(fake.url + "/v1/group", json=body, auth=(key, ""), timeout=5)

def test_default_mode(mockseg, pytestconfig):
    expected = pytestconfig.getoption("--mockseg-mode") or pytestconfig.getini("mockseg_mode")
    assert mockseg.settings.mode == expected
    status = post(mockseg, {"userId": "u"}).status_code
    assert status == (200 if expected == "segment" else 400)

@pytest.mark.mockseg(mode="segment")
def test_marker_mode(mockseg):
    assert post(mockseg, {"userId": "u"}).status_code == 200
    assert mockseg.calls[0].status == "rejected"

@pytest.mark.mockseg(mode="strict", write_keys=["good"])
def test_marker_write_keys(mockseg):
    assert post(mockseg, {"userId": "u", "groupId": "g"}, key="bad").status_code == 401
    assert post(mockseg, {"userId": "u", "groupId": "g"}, key="good").status_code == 200
''')
    pytester.runpytest_subprocess().assert_outcomes(passed=3)
    pytester.runpytest_subprocess("--mockseg-mode", "segment").assert_outcomes(passed=3)
    pytester.makeini("[pytest]\nmockseg_mode = segment\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=3)


def test_bad_marker_options_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest

@pytest.mark.mockseg(mood="happy")
def test_x(mockseg):
    pass
''')
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*unknown option(s) mood*"])
    assert result.ret != 0


def test_late_calls_from_an_earlier_tests_sdk_thread_do_not_leak(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import threading, time, requests

def test_first_leaves_a_call_in_flight(mockseg):
    url = mockseg.url
    def late():
        time.sleep(0.3)
        requests.post(url + "/v1/group", json={"userId": "u", "groupId": "late"},
                      auth=("k", ""), timeout=5)
    threading.Thread(target=late).start()

def test_second_sees_none_of_it(mockseg, mockseg_server):
    time.sleep(0.6)
    mockseg.assert_nothing_sent()
    # ... yet nothing is lost: the server's journal has it, under the first test's scope.
    late = mockseg_server.select(group_id="late")
    assert len(late) == 1 and late[0].scope != mockseg.scope
''')
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=2)


def test_faults_are_cleared_before_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import requests

def test_plan_faults(mockseg):
    mockseg.fail_next(5, status=503)

def test_clean(mockseg):
    response = requests.post(mockseg.url + "/v1/group", json={"userId": "u", "groupId": "g"},
                             auth=("k", ""), timeout=5)
    assert response.status_code == 200
''')
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=2)


def test_intercept_fixture_catches_the_sdk_at_its_default_host(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
from segment.analytics import Client

def test_default_host(mockseg_intercept):
    client = Client("test-key", sync_mode=True)   # host left at https://api.segment.io
    client.group(user_id="u1", group_id="company_acme", traits={"plan": "pro"})
    mockseg_intercept.assert_group(group_id="company_acme", traits={"plan": "pro"})
''')
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_hypothesis_given_with_per_example_clean_start(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import requests
from hypothesis import given, settings, strategies as st

@settings(max_examples=15, deadline=None)
@given(group_id=st.from_regex(r"[a-z]{1,20}", fullmatch=True))
def test_each_example_starts_clean(mockseg_server, group_id):
    with mockseg_server.scoped() as fake:
        requests.post(fake.url + "/v1/group", json={"userId": "u", "groupId": group_id},
                      auth=("k", ""), timeout=5)
        [call] = fake.assert_group(group_id=group_id, count=1)
        assert len(fake.calls) == 1
''')
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "HealthCheck" not in result.stdout.str()


def test_one_server_per_xdist_worker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import os, pytest, requests

@pytest.mark.parametrize("n", range(6))
def test_x(mockseg, mockseg_server, n):
    requests.post(mockseg.url + "/v1/group", json={"userId": "u", "groupId": f"g{n}"},
                  auth=("k", ""), timeout=5)
    mockseg.assert_group(group_id=f"g{n}", count=1)
    with open(f"port-{os.environ['PYTEST_XDIST_WORKER']}-{n}", "w") as f:
        f.write(str(mockseg_server.port))
''')
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=6)
    ports: dict[str, set[str]] = {}
    for path in pytester.path.glob("port-*"):
        worker = path.name.split("-")[1]
        ports.setdefault(worker, set()).add(path.read_text())
    assert len(ports) == 2
    assert all(len(p) == 1 for p in ports.values())  # one server per worker
    assert len(set().union(*ports.values())) == 2  # and each worker its own
