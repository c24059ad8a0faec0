from __future__ import annotations

import copy

import pytest

from mockseg import Limits, Violation, validate
from mockseg.rules import RESERVED_TRAITS, RULES
from tests.conftest import B2B


def errors(message: object, kind: str | None = None, **limits: object) -> list[str]:
    found = validate(message, kind, limits=Limits(**limits) if limits else None)  # type: ignore[arg-type]
    return [v.message for v in found if v.severity == "error"]


def test_documented_b2b_example_is_valid_and_clean() -> None:
    assert validate(B2B) == []


def test_violation_has_field_message_and_severity() -> None:
    found = validate({"userId": "u", "groupId": "a b", "traits": {"x": 1}})
    assert found == [Violation("groupId", "Group ID cannot contain spaces or special characters",
                               "error")]
    assert found[0].to_dict() == {"field": "groupId",
                                  "message": "Group ID cannot contain spaces or special characters"}


def test_errors_come_in_table_order_and_warnings_after() -> None:
    message = {"groupId": None, "traits": {"employees": "many", "website": "nope"}}
    found = validate(message)
    assert [v.message for v in found] == [
        "Missing required field: groupId",
        "Missing required field: userId or anonymousId",
        "Trait employees must be an integer",
        "Trait website should be an http(s) URL",
    ]
    assert [v.severity for v in found] == ["error", "error", "error", "warning"]


def test_null_companion_of_user_id_is_valid() -> None:
    assert errors({"userId": "u", "anonymousId": None, "groupId": "g", "traits": {"a": 1}}) == []


@pytest.mark.parametrize("trait", RESERVED_TRAITS, ids=lambda t: t.name)
def test_each_reserved_trait_of_the_wrong_type_is_named(trait: object) -> None:
    wrong = [] if trait.name != "address" else "123 Main St"  # type: ignore[attr-defined]
    message = {"userId": "u", "groupId": "g", "traits": {trait.name: wrong}}  # type: ignore[attr-defined]
    assert errors(message) == [trait.message]  # type: ignore[attr-defined]


def test_integral_float_counts_as_integer_like_json_schema() -> None:
    assert errors({"userId": "u", "groupId": "g", "traits": {"employees": 5000.0}}) == []
    assert errors({"userId": "u", "groupId": "g", "traits": {"employees": 12.5}}) == [
        "Trait employees must be an integer"]


def test_depth_counts_traits_as_level_zero() -> None:
    ok = {"userId": "u", "groupId": "g", "traits": {"a": {"b": {"c": {"d": 1}}}}}
    assert errors(ok) == []
    deep = copy.deepcopy(ok)
    deep["traits"]["a"]["b"]["c"]["d"] = []  # type: ignore[index]
    assert errors(deep) == ["Traits nested too deeply (max 3 levels): traits.a.b.c.d"]
    arrays = {"userId": "u", "groupId": "g", "traits": {"tags": [[["x", {"y": 1}]]]}}
    assert errors(arrays) == ["Traits nested too deeply (max 3 levels): traits.tags[0][0][1]"]


def test_group_id_pattern_and_limits_are_configurable() -> None:
    message = {"userId": "u", "groupId": "acme@corp", "traits": {"a": 1}}
    assert errors(message) == ["Group ID cannot contain spaces or special characters"]
    assert errors(message, group_id_pattern=r"[A-Za-z0-9_\-.:@]+") == []
    assert errors({**message, "groupId": "abcdef"}, max_id_length=5) == [
        "Group ID too long (max 5 characters)"]
    assert errors({"userId": "u", "groupId": "g", "traits": {"a": {"b": {}}}},
                  max_trait_depth=1) == ["Traits nested too deeply (max 1 levels): traits.a.b"]
    assert errors({"userId": "u", "groupId": "g", "traits": {"a": 1, "b": 2}},
                  max_traits=1) == ["Too many traits (max 1)"]


def test_bad_limits_are_refused_eagerly() -> None:
    with pytest.raises(ValueError, match="group_id_pattern"):
        Limits(group_id_pattern="[")
    with pytest.raises(ValueError, match="max_traits"):
        Limits(max_traits=-1)


def test_kind_selects_the_other_types_rules() -> None:
    assert errors({"userId": "u"}, "track") == ["Missing required field: event"]
    assert errors({"userId": "u", "event": 5}, "track") == ["event must be a string"]
    assert errors({"userId": "u", "traits": []}, "identify") == ["traits must be an object"]
    assert errors({"userId": "u"}, "alias") == ["Missing required field: previousId"]
    assert errors({"previousId": "a", "userId": "b"}, "alias") == []
    assert errors({"anonymousId": "a", "name": "Home"}, "page") == []
    assert errors({"event": "x"}, "track") == ["Missing required field: userId or anonymousId"]


def test_common_rules_apply_to_every_type() -> None:
    common = {"userId": "u", "timestamp": "yesterday", "messageId": 5, "context": "x",
              "integrations": []}
    for kind in ("identify", "page", "screen"):
        assert errors(common, kind) == [
            "timestamp must be an ISO 8601 date-time",
            "messageId must be a string of at most 100 characters",
            "context must be an object",
            "integrations must be an object",
        ]


def test_kind_defaults_to_the_declared_type_then_group() -> None:
    assert errors({"type": "track", "userId": "u"}) == ["Missing required field: event"]
    assert errors({"type": "bogus", "userId": "u", "groupId": "g"}) == ['type must be "group"']
    with pytest.raises(ValueError, match="kind"):
        validate({}, "bogus")


def test_non_object_message_is_one_error() -> None:
    assert errors([1, 2]) == ["Message must be a JSON object"]


@pytest.mark.parametrize("stamp", [
    "2025-01-15T14:30:00.000Z", "2025-01-15T14:30:00Z", "2025-01-15T14:30:00.123456+00:00",
    "2025-01-15T14:30:00+0100", "2025-01-15T14:30Z", "2025-01-15T14:30:00", "2025-01-15t14:30:00z",
])
def test_iso_8601_forms_are_accepted(stamp: str) -> None:
    assert errors({"userId": "u", "groupId": "g", "timestamp": stamp}) == []


@pytest.mark.parametrize("stamp", [
    "2025-01-15", "2025-13-01T00:00:00Z", "2025-01-15 14:30:00", "1736951400",
    "2025-01-15T14:30:00Z\n",
    "\uff12\uff10\uff12\uff15-01-15T14:30:00Z",  # fullwidth digits are not ASCII digits
])
def test_non_iso_timestamps_are_rejected(stamp: str) -> None:
    assert errors({"userId": "u", "groupId": "g", "timestamp": stamp}) == [
        "timestamp must be an ISO 8601 date-time"]


def test_rule_table_numbers_follow_contract_order() -> None:
    numbers = [rule.number for rule in RULES]
    assert numbers[:4] == ["1", "2", "3", "4"]
    plain = [int(n) for n in numbers if n.isdigit()]
    assert plain == sorted(plain)
