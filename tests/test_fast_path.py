"""The compiled fast path (jsonschema-rs on the published schema) agrees with the rules: it may
only ever skip the rules for a message they would find nothing wrong with."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from werkzeug.test import Client

from mockseg import Limits, MockSegment, validation
from mockseg.golden import load_cases
from mockseg.strategies import InvalidCase, group_payloads, invalid_group_payloads
from mockseg.validation import DEFAULT_LIMITS, check_message, clean_batch
from tests.conftest import B2B, basic

fast = validation._compiled_group_check(DEFAULT_LIMITS)
pytestmark = pytest.mark.skipif(fast is None, reason="jsonschema-rs is not installed")


def rules_find_nothing(message: Any) -> bool:
    checks = validation._RULES_BY_KIND["group"]
    return not any(check(message, DEFAULT_LIMITS) for check in checks) and (
        message.get("type") in (None, "group"))


@pytest.mark.parametrize("case", [c for c in load_cases() if c.path == "/v1/group"
                                  and isinstance(c.body, dict)], ids=lambda c: c.name)
def test_fast_path_agrees_on_every_golden_group_body(case: Any) -> None:
    assert fast is not None
    assert fast(case.body) == rules_find_nothing(case.body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=group_payloads())
def test_fast_path_accepts_every_generated_valid_payload(payload: dict[str, Any]) -> None:
    assert fast is not None and fast(payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=invalid_group_payloads())
def test_fast_path_rejects_every_generated_invalid_payload(case: InvalidCase) -> None:
    assert fast is not None and not fast(case.payload)


def test_results_are_the_same_without_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {**B2B, "groupId": "a b", "traits": {"employees": "x", "website": "nope"}}
    with_fast = [check_message(m, "group") for m in (B2B, bad)]
    monkeypatch.setattr(validation, "_jsonschema_rs", None)
    validation._compiled_group_check.cache_clear()
    try:
        assert validation._compiled_group_check(DEFAULT_LIMITS) is None
        assert [check_message(m, "group") for m in (B2B, bad)] == with_fast
        fake = MockSegment()
        assert Client(fake.app).post("/v1/group", json=B2B, headers=basic("k")).status_code == 200
    finally:
        validation._compiled_group_check.cache_clear()


def test_custom_group_id_pattern_skips_the_fast_path() -> None:
    assert validation._compiled_group_check(Limits(group_id_pattern=r"[a-z@]+")) is None


def test_huge_integers_fall_back_to_the_rules() -> None:
    message = {**B2B, "traits": {"employees": 10**30, "seats": 10**40}}
    assert check_message(message, "group") == ([], [])


@pytest.mark.parametrize("limit", [1, 3, 255, 4095, 5000])
@pytest.mark.parametrize("char", ["x", "é", "\U0001f600", "\n"])
def test_compiled_checks_count_trait_names_in_characters_as_the_rules_do(
        limit: int, char: str) -> None:
    """The compiled checks say the trait-name limit as a pattern (or, past 4,095, as
    propertyNames); either way a name of ``limit`` characters passes and one more fails, in
    any script, as the rules judge it."""
    limits = Limits(max_trait_name_length=limit)
    group = validation._compiled_group_check(limits)
    batch = validation._compiled_batch_check(limits)
    assert group is not None and batch is not None
    for length in (limit, limit + 1):
        message = {**B2B, "traits": {char * length: 1}}
        by_rules = not any(check(message, limits) for check in validation._RULES_BY_KIND["group"])
        assert by_rules == (length <= limit)
        assert group(message) is by_rules
        assert validation._passes(batch, {"batch": [{**message, "type": "group"}]}) is by_rules


def test_compiled_clean_checks_allow_only_the_documented_address_fields() -> None:
    clean = validation._compiled_clean_group_check(DEFAULT_LIMITS)
    assert clean is not None
    address = {"street": "1 Main St", "city": "X", "state": "Y", "postalCode": "1",
               "country": "Z"}
    for fields, passes in ((address, True), ({**address, "zip": "1"}, False), ({}, True)):
        message = {**B2B, "traits": {**B2B["traits"], "address": fields}}
        assert clean(message) is passes
        assert (clean_batch({"batch": [{**message, "type": "group"}]}) is not None) is passes
