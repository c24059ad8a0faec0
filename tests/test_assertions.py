"""assert_group and friends, on a fake used in-process."""

from __future__ import annotations

import threading
import time

import pytest
from werkzeug.test import Client

from mockseg import MockSegment
from mockseg.assertions import same_json
from tests.conftest import B2B, basic


@pytest.fixture
def fake() -> MockSegment:
    fake = MockSegment()
    client = Client(fake.app)
    client.post("/v1/group", json=B2B, headers=basic("k"))
    client.post("/v1/group", json={**B2B, "groupId": "team_x", "traits": {"seats": "5"}},
                headers=basic("k"))
    client.post("/v1/group", json={"userId": "u", "groupId": "bad id"}, headers=basic("k"))
    return fake


def test_subset_traits_match_and_return_the_calls(fake: MockSegment) -> None:
    [call] = fake.assert_group(group_id="company_enterprise_corp", user_id="user_12345",
                               traits={"employees": 5000, "address": {"city": "New York"}})
    assert call.id == 1


def test_exact_traits_must_match_whole(fake: MockSegment) -> None:
    fake.assert_group(group_id="team_x", exact_traits={"seats": "5"})
    with pytest.raises(AssertionError) as caught:
        fake.assert_group(group_id="company_enterprise_corp", exact_traits={"name": "x"},
                          timeout=0)
    text = str(caught.value)
    assert "traits.name: expected 'x', got 'Enterprise Corp'" in text
    assert "traits.employees: expected <missing>, got 5000" in text


def test_count_is_exact(fake: MockSegment) -> None:
    fake.assert_group(user_id="user_12345", count=2)
    with pytest.raises(AssertionError, match="expected 1 group call"):
        fake.assert_group(user_id="user_12345", count=1, timeout=0)
    fake.assert_group(group_id="nothing", count=0, timeout=0)


def test_numbers_strings_and_booleans_are_told_apart() -> None:
    assert same_json(500, 500.0)
    assert not same_json(500, "500")
    assert not same_json(1, True)
    assert not same_json({"a": [1]}, {"a": ["1"]})


def test_near_misses_name_the_differing_fields(fake: MockSegment) -> None:
    with pytest.raises(AssertionError) as caught:
        fake.assert_group(group_id="team_x", traits={"seats": 5}, timeout=0)
    text = str(caught.value)
    assert "found 0" in text and "Nearest of the 3 recorded call(s):" in text
    first_miss = text.split("Nearest")[1].splitlines()[1]
    assert "groupId='team_x'" in first_miss
    assert "traits.seats: expected 5, got '5'" in text


def test_rejected_calls_are_not_matches_unless_asked(fake: MockSegment) -> None:
    with pytest.raises(AssertionError) as caught:
        fake.assert_group(group_id="bad id", timeout=0)
    assert "status: expected 'accepted', got 'rejected'" in str(caught.value)
    assert "error: groupId: Group ID cannot contain spaces" in str(caught.value)
    [call] = fake.assert_group(group_id="bad id", status=None)
    assert call.status == "rejected"


def test_assert_group_waits_for_a_late_call() -> None:
    fake = MockSegment()

    def later() -> None:
        time.sleep(0.2)
        Client(fake.app).post("/v1/group", json=B2B, headers=basic("k"))

    threading.Thread(target=later).start()
    fake.assert_group(group_id="company_enterprise_corp", timeout=5)


def test_nothing_recorded_says_so() -> None:
    with pytest.raises(AssertionError, match="No calls were recorded at all"):
        MockSegment().assert_group(group_id="g", timeout=0.01)


def test_assert_no_rejections_lists_them(fake: MockSegment) -> None:
    with pytest.raises(AssertionError) as caught:
        fake.assert_no_rejections()
    assert "1 call(s) were rejected" in str(caught.value)
    assert "groupId='bad id'" in str(caught.value)
    MockSegment().assert_no_rejections()


def test_assert_nothing_sent(fake: MockSegment) -> None:
    MockSegment().assert_nothing_sent(timeout=0.01)
    with pytest.raises(AssertionError, match="3 call\\(s\\) arrived"):
        fake.assert_nothing_sent()
