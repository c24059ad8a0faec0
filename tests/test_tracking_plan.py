"""mockseg.plans: a team's tracking plan, read as Segment exports it, checked as Protocols does."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import FormatChecker

from mockseg import validate
from mockseg.golden import fixtures_dir
from mockseg.plans import PlanViolation, TrackingPlan, TrackingPlanError, load_plan
from mockseg.plans import _load as plan_loading
from mockseg.plans._violations import WORDING
from tests.conftest import B2B

PLANS = fixtures_dir() / "tracking-plans"
B2B_PLAN = load_plan(PLANS / "b2b.json")
CASES = sorted((PLANS / "cases").glob("*.json"))
ORDER = {"type": "track", "userId": "user_12345", "event": "Order Completed",
         "properties": {"order_id": "ord_1", "total": 10},
         "context": {"library": {"name": "analytics.js"}}}


def _case(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return case


def _rules(*rules: dict[str, Any]) -> list[dict[str, Any]]:
    return list(rules)


def _rule(kind: str, schema: Any, key: str | None = None, version: int = 1) -> dict[str, Any]:
    rule: dict[str, Any] = {"type": kind, "version": version, "jsonSchema": schema}
    if key is not None:
        rule["key"] = key
    return rule


def _traits(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"traits": schema}}


def _found(plan: TrackingPlan, message: Any, kind: str | None = None) -> list[dict[str, str]]:
    return [violation.to_dict() for violation in plan.check(message, kind)]


def _error(source: Any) -> str:
    with pytest.raises(TrackingPlanError) as raised:
        load_plan(source)
    return str(raised.value)


# --- the golden cases -------------------------------------------------------------------------


@pytest.mark.parametrize("path", CASES, ids=lambda path: path.stem)
def test_golden_case_gets_exactly_its_violations_worded_as_protocols(path: Path) -> None:
    case = _case(path)
    plan = load_plan(PLANS / case.get("plan", "b2b.json"),
                     unplanned=case.get("unplanned", "violate"))
    assert _found(plan, case["message"], case.get("kind")) == case["violations"], (
        case["description"])


@pytest.mark.parametrize("path", CASES, ids=lambda path: path.stem)
def test_golden_case_breaks_segments_contract_only_where_it_says(path: Path) -> None:
    case = _case(path)
    errors = [e.to_dict() for e in validate(case["message"], case.get("kind"))
              if e.severity == "error"]
    assert errors == case.get("contract_errors", [])


def test_every_violation_type_has_a_golden_case() -> None:
    seen = {violation["type"] for path in CASES for violation in _case(path)["violations"]}
    assert seen == set(WORDING) - {"unchecked"}  # that one: see the test below


def test_the_seed_b2b_company_follows_the_example_plan() -> None:
    assert B2B_PLAN.check(B2B) == []
    assert B2B_PLAN.events == ("Order Completed",)


# --- loading Segment's export ---------------------------------------------------------------


GROUP_NAME = _rule("GROUP", _traits({"type": "object", "required": ["name"]}))
NO_NAME = {**B2B, "traits": {"plan": "pro", "website": "https://enterprise-corp.com"}}
SHAPES = {
    "bare list of rules": [GROUP_NAME],
    "PUT body": {"rules": [GROUP_NAME]},
    "List Rules answer": {"data": {"rules": [GROUP_NAME], "pagination": {"current": "MA=="}}},
    "list of pages": [{"data": {"rules": []}}, {"data": {"rules": [GROUP_NAME]}}],
}


@pytest.mark.parametrize("document", SHAPES.values(), ids=list(SHAPES))
def test_each_export_shape_loads_the_same_rules(document: Any, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document), "utf-8")
    for source in (document, path, str(path)):
        plan = load_plan(source)
        assert [rule.label for rule in plan.rules] == ["GROUP v1"]
        assert _found(plan, NO_NAME) == [
            {"type": "Required", "field": "traits.name", "description": "traits.name is required"}]


def test_a_deprecated_rule_is_no_longer_part_of_the_plan() -> None:
    old = {**_rule("TRACK", {"required": ["properties"]}, "Order Completed"),
           "deprecatedAt": "2025-02-01T00:00:00Z"}
    plan = load_plan([old])
    assert plan.rules == ()
    assert [v.type for v in plan.check(ORDER)] == ["unplanned"]


def test_a_null_json_schema_plans_the_event_without_constraints() -> None:
    plan = load_plan([_rule("TRACK", None, "Order Completed")])
    assert plan.check(ORDER) == []


def test_a_loaded_plan_is_reused_with_new_policies_and_its_rules_not_compiled_again() -> None:
    again = load_plan(B2B_PLAN, mode="block", unplanned="allow")
    assert (again.mode, again.unplanned) == ("block", "allow")
    assert again.rules is B2B_PLAN.rules


def test_a_file_that_does_not_exist_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "plan.json"
    assert _error(missing) == f"{missing}: cannot read the file: No such file or directory"


def test_a_file_that_is_not_json_names_where_it_breaks(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"data": {"rules": [}}', "utf-8")
    assert _error(path).startswith(f"{path}: the file is not JSON: Expecting value: line 1")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b'["\xff"]')
    assert _error(path).startswith(f"{path}: the file is not UTF-8")


def test_the_retired_config_api_format_says_which_export_to_use() -> None:
    legacy = {"name": "workspaces/w/tracking-plans/rs_1", "rules": {"events": [], "global": {}}}
    assert "Config API" in _error(legacy)
    assert "GET /tracking-plans/{id}/rules" in _error(legacy)


def test_a_document_without_rules_says_what_shapes_are_accepted() -> None:
    assert _error({"trackingPlan": {}}) == (
        '<tracking plan>: no rules found: expected a list of rules, {"rules": [...]}, or the '
        'Public API\'s answer {"data": {"rules": [...]}}')


BAD_RULES = {
    "not an object": ("GROUP", "rules[0]: a rule must be an object, not str"),
    "unknown type": ({"type": "ALIAS", "version": 1, "jsonSchema": {}},
                     "rules[0] (ALIAS v1): type must be one of TRACK, IDENTIFY, GROUP, PAGE, "
                     "SCREEN, COMMON"),
    "track without key": ({"type": "TRACK", "version": 1, "jsonSchema": {}},
                          "rules[0] (TRACK v1): a TRACK rule needs a key: the event's name"),
    "version not an integer": (_rule("GROUP", {}, version="2"),  # type: ignore[arg-type]
                               'rules[0] (GROUP v2): version must be an integer'),
    "schema not an object": (_rule("GROUP", "object"),
                             "rules[0] (GROUP v1): jsonSchema must be an object, not str"),
    "not draft-07": (_rule("TRACK", {"properties": {"properties": {"type": "strin"}}}, "Signed Up"),
                     'rules[0] (TRACK "Signed Up" v1): jsonSchema is not valid draft-07: '
                     "'strin' is not valid under any of the given schemas "
                     "(at jsonSchema/properties/properties/type)"),
    "invalid regex": (_rule("GROUP", _traits({"properties": {"plan": {"pattern": "(["}}})),
                      "rules[0] (GROUP v1): jsonSchema is not valid draft-07: '([' is not a "
                      "'regex' (at jsonSchema/properties/traits/properties/plan/pattern)"),
    "remote $ref": (_rule("GROUP", {"$ref": "https://example.com/group.json"}),
                    "rules[0] (GROUP v1): $ref 'https://example.com/group.json' points outside "
                    "the rule; a plan must be self-contained"),
}


@pytest.mark.parametrize(("rule", "message"), BAD_RULES.values(), ids=list(BAD_RULES))
def test_a_bad_rule_is_refused_naming_the_file_the_rule_and_the_reason(
        rule: Any, message: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"data": {"rules": [GROUP_NAME, rule]}}), "utf-8")
    assert _error(path) == f"{path}: " + message.replace("rules[0]", "rules[1]")


def test_two_rules_with_the_same_type_key_and_version_are_refused() -> None:
    twice = [_rule("TRACK", {}, "Order Completed"), _rule("TRACK", {}, "Order Completed", 2),
             _rule("TRACK", {"required": ["x"]}, "Order Completed")]
    assert _error(twice) == ('<tracking plan>: rules[2] (TRACK "Order Completed" v1): the same '
                             "rule as rules[0]")


def test_a_format_no_installed_checker_can_check_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_loading, "_FORMATS", FormatChecker(formats=["email"]))
    assert "format 'uri' cannot be checked: install jsonschema's format extra" in _error(
        [_rule("GROUP", _traits({"properties": {"website": {"format": "uri"}}}))])


def test_the_policies_are_checked_eagerly() -> None:
    with pytest.raises(ValueError, match="mode must be one of record, block, not 'strict'"):
        load_plan([], mode="strict")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unplanned must be one of allow, violate, block"):
        load_plan([], unplanned="warn")  # type: ignore[arg-type]


# --- which rule applies ---------------------------------------------------------------------


VERSIONED = load_plan([
    _rule("TRACK", {"properties": {"properties": {"required": ["v1"]}}}, "Order Completed", 1),
    _rule("TRACK", {"properties": {"properties": {"required": ["v3"]}}}, "Order Completed", 3),
])


def _missing_for(event_version: Any) -> list[str]:
    message = {**ORDER, "properties": {}, "context": {"protocols": {"event_version":
                                                                    event_version}}}
    return [violation.field for violation in VERSIONED.check(message)]


@pytest.mark.parametrize(("event_version", "missing"), [
    (3, "properties.v3"), (3.0, "properties.v3"), (1, "properties.v1"), (2, "properties.v1"),
    ("3", "properties.v1"), (True, "properties.v1"), (None, "properties.v1"),
    (3.5, "properties.v1")])
def test_event_version_picks_the_version_else_the_lowest(event_version: Any,
                                                         missing: str) -> None:
    assert _missing_for(event_version) == [missing]


def test_versions_are_kept_in_order_whatever_the_file_order() -> None:
    plan = load_plan([_rule("TRACK", {}, "A", 5), _rule("TRACK", {}, "A", 2)])
    assert [rule.version for rule in plan.versions("TRACK", "A")] == [2, 5]


PAGES = load_plan([
    _rule("PAGE", {"properties": {"properties": {"required": ["any_page"]}}}),
    _rule("PAGE", {"properties": {"properties": {"required": ["pricing"]}}}, "Pricing"),
    _rule("SCREEN", {"properties": {"properties": {"required": ["home"]}}}, "Home"),
])


@pytest.mark.parametrize(("message", "missing"), [
    ({"type": "page", "name": "Pricing"}, ["properties.pricing"]),
    ({"type": "page", "name": "About"}, ["properties.any_page"]),
    ({"type": "page"}, ["properties.any_page"]),
    ({"type": "screen", "name": "Home"}, ["properties.home"]),
    ({"type": "screen", "name": "Settings"}, []),
])
def test_page_and_screen_rules_match_by_name_else_the_unkeyed_rule(
        message: dict[str, Any], missing: list[str]) -> None:
    found = PAGES.check({**message, "userId": "u", "properties": {}})
    assert [violation.field for violation in found] == missing


def test_the_endpoint_kind_wins_over_a_missing_type_field() -> None:
    message = {key: value for key, value in NO_NAME.items() if key != "type"}
    assert [v.field for v in B2B_PLAN.check(message, "group")] == ["traits.name"]
    assert B2B_PLAN.check(message) == []  # no type, no kind: only COMMON, which it follows


def test_alias_is_checked_against_common_only() -> None:
    alias = {"type": "alias", "previousId": "a", "userId": "b", "context": {}}
    assert _found(B2B_PLAN, alias) == [{"type": "Required", "field": "context.library",
                                        "description": "context.library is required"}]


def test_what_is_not_a_message_has_no_violations() -> None:
    for value in (None, [], "group", 7):
        assert B2B_PLAN.check(value, "group") == []


def test_an_event_that_is_not_a_string_is_left_to_segments_contract() -> None:
    assert [v.type for v in B2B_PLAN.check({**ORDER, "event": 7})] == []


# --- policies -------------------------------------------------------------------------------


UNPLANNED_TRACK = {**ORDER, "event": "Order Shipped"}
BROKEN_GROUP = {**B2B, "traits": {**B2B["traits"], "plan": "platinum"}}


@pytest.mark.parametrize(("mode", "unplanned", "group_blocked", "unplanned_blocked"), [
    ("record", "violate", False, False),
    ("record", "block", False, True),
    ("record", "allow", False, False),
    ("block", "violate", True, True),
    ("block", "allow", True, False),
])
def test_blocks_follows_the_mode_and_the_unplanned_policy(
        mode: Any, unplanned: Any, group_blocked: bool, unplanned_blocked: bool) -> None:
    plan = load_plan(B2B_PLAN, mode=mode, unplanned=unplanned)
    assert plan.blocks(plan.check(BROKEN_GROUP)) is group_blocked
    assert plan.blocks(plan.check(UNPLANNED_TRACK)) is unplanned_blocked
    assert plan.blocks(plan.check(B2B)) is False


def test_unplanned_allow_gives_no_violation_but_common_still_applies() -> None:
    plan = load_plan(B2B_PLAN, unplanned="allow")
    assert plan.check(UNPLANNED_TRACK) == []
    no_library = {**UNPLANNED_TRACK, "context": {}}
    assert [v.field for v in plan.check(no_library)] == ["context.library"]


# --- the violations themselves --------------------------------------------------------------


def test_a_prefix_goes_before_each_field_but_not_into_the_description() -> None:
    (violation,) = B2B_PLAN.check(BROKEN_GROUP, None, prefix="batch[3].")
    assert violation.field == "batch[3].traits.plan"
    assert violation.description.startswith("traits.plan must be one of the following")


def test_violations_round_trip_through_their_dict_form() -> None:
    (violation,) = B2B_PLAN.check(BROKEN_GROUP)
    assert PlanViolation.from_dict(json.loads(json.dumps(violation.to_dict()))) == violation
    with pytest.raises(AttributeError):
        violation.field = "traits.name"  # type: ignore[misc]


def test_the_order_does_not_depend_on_the_order_of_the_schema() -> None:
    properties = {"b": {"type": "string"}, "a": {"type": "string"}, "c": {"type": "string"}}
    forward = _rule("GROUP", _traits({"properties": properties, "required": ["z", "y"]}))
    backward = _rule("GROUP", _traits({"properties": dict(reversed(properties.items())),
                                       "required": ["y", "z"]}))
    message = {**B2B, "traits": {"a": 1, "b": 2, "c": 3}}
    fields = [[v.field for v in load_plan([rule]).check(message)] for rule in (forward, backward)]
    assert fields[0] == fields[1] == ["traits.a", "traits.b", "traits.c", "traits.y", "traits.z"]


def test_a_repeated_error_is_reported_once() -> None:
    twice = _rule("GROUP", _traits({"allOf": [{"required": ["name"]}, {"required": ["name"]}]}))
    assert [v.field for v in load_plan([twice]).check(NO_NAME)] == ["traits.name"]


def test_array_items_are_named_with_brackets_as_mockseg_names_them() -> None:
    nested = _rule("GROUP", _traits({"properties": {"offices": {"items": {
        "properties": {"rooms": {"items": {"type": "integer"}}}}}}}))
    message = {**B2B, "traits": {"offices": [{"rooms": [1]}, {"rooms": [2, "x"]}]}}
    assert [v.field for v in load_plan([nested]).check(message)] == [
        "traits.offices[1].rooms[1]"]


def test_a_violation_of_the_whole_message_is_on_the_root() -> None:
    plan = load_plan([_rule("GROUP", {"maxProperties": 2})])
    assert _found(plan, B2B) == [{"type": "maxProperties", "field": "(root)",
                                  "description": "Must have at most 2 properties"}]


def test_multiple_of_is_exact_as_in_protocols_and_never_overflows() -> None:
    plan = load_plan([_rule("GROUP", _traits({"properties": {
        "price": {"multipleOf": 0.01}, "units": {"multipleOf": 0.5}}}))])
    assert plan.check({**B2B, "traits": {"price": 0.07, "units": 10**400}}) == []
    assert [v.field for v in plan.check({**B2B, "traits": {"price": 0.075}})] == ["traits.price"]


class _Failing:
    """A validator that fails as the library might on a value it cannot take."""

    def iter_errors(self, message: Any) -> Any:
        raise RecursionError("too deep")


def test_a_rule_the_library_fails_on_is_reported_not_raised() -> None:
    plan = load_plan([_rule("GROUP", _traits({"required": ["name"]}))])
    (rule,) = plan.rules
    object.__setattr__(rule, "fast", None)  # a fresh plan's own rule, so no clean-up
    object.__setattr__(rule, "validator", _Failing())
    assert _found(plan, B2B) == [{"type": "unchecked", "field": "(root)", "description":
                                  "The rule GROUP v1 could not check this message: "
                                  "RecursionError: too deep"}]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(traits=JSON, properties=JSON, context=JSON, event=JSON)
def test_any_json_is_judged_without_raising(traits: Any, properties: Any, context: Any,
                                            event: Any) -> None:
    for kind in ("group", "track", "identify"):
        message = {"type": kind, "traits": traits, "properties": properties,
                   "context": context, "event": event}
        for violation in B2B_PLAN.check(message, kind):
            assert violation.type != "unchecked", violation


# --- the fast path never hides a violation --------------------------------------------------


def test_every_rule_of_the_example_plan_has_a_fast_path() -> None:
    assert all(rule.fast is not None for rule in B2B_PLAN.rules)


@pytest.mark.parametrize("schema", [
    {"patternProperties": {"^x": {"type": "string"}}},
    {"properties": {"total": {"multipleOf": 0.01}}},
])
def test_what_the_engines_might_judge_differently_gets_no_fast_path(schema: Any) -> None:
    (rule,) = load_plan([_rule("GROUP", schema)]).rules
    assert rule.fast is None


def test_patterns_are_judged_by_pythons_re_on_the_fast_path_too() -> None:
    # To Python's re, U+FEFF is no whitespace; to jsonschema-rs's ECMA regex, it is.
    plan = load_plan([_rule("GROUP", _traits({"properties": {"gap": {"pattern": "^\\s$"}}}))])
    assert re.search("^\\s$", "\ufeff") is None
    assert [v.type for v in plan.check({**B2B, "traits": {"gap": "\ufeff"}})] == ["pattern"]


def test_the_fast_path_calls_no_message_valid_that_has_violations() -> None:
    messages = [_case(path)["message"] for path in CASES]
    messages += [copy.deepcopy(B2B), BROKEN_GROUP, ORDER, UNPLANNED_TRACK]
    for message in messages:
        for rule in B2B_PLAN.rules:
            if rule.fast is not None and rule.fast(message):
                assert list(rule.validator.iter_errors(message)) == [], (rule.label, message)
