"""plan_messages() and plan_violations(): drawn from a tracking plan, judged by both contracts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from werkzeug.test import Client

from mockseg import MockSegment, validate
from mockseg.golden import fixtures_dir
from mockseg.plans import load_plan
from mockseg.strategies import InvalidCase
from mockseg.strategies._plan import BREAKABLE_VIOLATIONS, plan_messages, plan_violations
from tests.conftest import basic

PLANS = fixtures_dir() / "tracking-plans"
B2B_PLAN = load_plan(PLANS / "b2b.json")
KEYWORDS_PLAN = load_plan(PLANS / "keywords.json")
#: Few examples: each draw runs hypothesis-jsonschema and both validators.
FEW = settings(max_examples=25, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow])
#: For hypothesis.find: generate only, no shrinking, no example database.
SEARCH = settings(phases=[Phase.generate], max_examples=400, database=None, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


def _contract_errors(message: dict[str, Any], kind: str) -> list[str]:
    return [f"{e.field}: {e.message}" for e in validate(message, kind) if e.severity == "error"]


def _find(strategy: st.SearchStrategy[Any], condition: Callable[[Any], bool]) -> Any:
    return find(strategy, condition, settings=SEARCH)


# --- valid messages -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["group", "track", "identify", "page", "screen", "alias"])
def test_plan_messages_are_valid_under_segments_contract_and_the_plan(kind: str) -> None:
    @FEW
    @given(plan_messages(B2B_PLAN, kind))
    def check(message: dict[str, Any]) -> None:
        assert _contract_errors(message, kind) == []
        assert B2B_PLAN.check(message, kind) == []
        assert json.loads(json.dumps(message)) == message

    check()


def test_plan_messages_follow_a_plan_of_every_other_keyword_too() -> None:
    @FEW
    @given(plan_messages(KEYWORDS_PLAN, "track"))
    def check(message: dict[str, Any]) -> None:
        assert message["event"] == "Cart Viewed"
        assert _contract_errors(message, "track") == []
        assert KEYWORDS_PLAN.check(message) == []

    check()


#: Reserved traits the plan names but leaves free: any JSON may be drawn, Segment types them.
OPEN_TRAITS = load_plan([{"type": "GROUP", "version": 1, "jsonSchema": {
    "required": ["traits"], "properties": {"traits": {
        "type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "employees": {}, "createdAt": {}, "address": {}}}}}}])


def test_what_the_plan_leaves_free_is_kept_within_segments_contract() -> None:
    @settings(FEW, max_examples=40)
    @given(plan_messages(OPEN_TRAITS))
    def check(message: dict[str, Any]) -> None:
        assert _contract_errors(message, "group") == []
        assert OPEN_TRAITS.check(message, "group") == []

    check()


def test_group_messages_are_accepted_by_the_fake() -> None:
    app = Client(MockSegment().app)

    @FEW
    @given(plan_messages(B2B_PLAN, "group"))
    def check(message: dict[str, Any]) -> None:
        response = app.post("/v1/group", json=message, headers=basic("test-key"))
        assert response.status_code == 200, response.get_json()

    check()


def test_track_messages_cover_every_version_of_the_event() -> None:
    def version(message: dict[str, Any]) -> Any:
        return message.get("context", {}).get("protocols", {}).get("event_version")

    strategy = plan_messages(B2B_PLAN, "track", event="Order Completed")
    assert version(_find(strategy, lambda m: version(m) == 2)) == 2
    assert "products" in _find(strategy, lambda m: version(m) == 2)["properties"]
    assert version(_find(strategy, lambda m: version(m) is None)) is None
    assert version(_find(strategy, lambda m: version(m) == 1)) == 1


def test_group_messages_draw_the_plans_optional_traits() -> None:
    for trait in ("plan", "tags", "address"):
        found = _find(plan_messages(B2B_PLAN), lambda m, t=trait: t in m["traits"])
        assert trait in found["traits"]


# --- one constraint broken -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["group", "track", "identify"])
def test_plan_violations_break_exactly_one_constraint_with_the_violation_expected(
        kind: str) -> None:
    @FEW
    @given(plan_violations(B2B_PLAN, kind))
    def check(case: InvalidCase) -> None:
        assert isinstance(case, InvalidCase)
        assert _contract_errors(case.payload, kind) == []
        found = B2B_PLAN.check(case.payload, kind)
        assert [(v.field, v.description) for v in found] == [(case.field, case.message)]

    check()


@pytest.mark.parametrize("wanted", sorted(BREAKABLE_VIOLATIONS - {"unplanned"}))
def test_plan_violations_break_each_kind_of_constraint_the_plan_has(wanted: str) -> None:
    @settings(FEW, max_examples=5)
    @given(plan_violations(B2B_PLAN, "group", constraints=[wanted]))
    def check(case: InvalidCase) -> None:
        (found,) = B2B_PLAN.check(case.payload, "group")
        assert (found.type, found.field, found.description) == (wanted, case.field, case.message)
        assert _contract_errors(case.payload, "group") == []

    check()


def test_a_track_violation_can_be_an_unplanned_event_unless_allowed() -> None:
    @settings(FEW, max_examples=5)
    @given(plan_violations(B2B_PLAN, "track", constraints=["unplanned"]))
    def check(case: InvalidCase) -> None:
        assert case.field == "event"
        assert case.payload["event"] not in B2B_PLAN.events
        assert case.message == (f"event {json.dumps(case.payload['event'], ensure_ascii=False)}"
                                " is not in the tracking plan")

    check()
    allowing = load_plan(B2B_PLAN, unplanned="allow")
    with pytest.raises(InvalidArgument, match="no constraint a track message could break"):
        plan_violations(allowing, "track", constraints=["unplanned"])


def test_a_broken_array_item_is_named_with_brackets() -> None:
    @settings(FEW, max_examples=5)
    @given(plan_violations(B2B_PLAN, "track", constraints=["minLength"]))
    def check(case: InvalidCase) -> None:
        assert case.field == "properties.products[0].sku"

    check()


def test_the_fast_path_agrees_with_the_library_on_drawn_messages() -> None:
    library_only = load_plan(PLANS / "b2b.json")
    for rule in library_only.rules:
        object.__setattr__(rule, "fast", None)  # this copy's own rules: no clean-up

    @settings(FEW, max_examples=40)
    @given(st.one_of(plan_violations(B2B_PLAN, "group").map(lambda case: case.payload),
                     plan_messages(B2B_PLAN, "group")))
    def check(message: dict[str, Any]) -> None:
        assert B2B_PLAN.check(message, "group") == library_only.check(message, "group")

    check()


# --- arguments ------------------------------------------------------------------------------


def test_a_plan_given_as_a_path_is_loaded() -> None:
    message = _find(plan_messages(str(PLANS / "b2b.json")), lambda m: True)
    assert B2B_PLAN.check(message, "group") == []


@pytest.mark.parametrize(("call", "match"), [
    (lambda: plan_messages(B2B_PLAN, "Group"), "type must be one of identify, track"),
    (lambda: plan_messages(B2B_PLAN, "group", event="Order Completed"), "for type='track' only"),
    (lambda: plan_messages(B2B_PLAN, "track", event="Order Shipped"),
     "event 'Order Shipped' is not in the plan; it names 'Order Completed'"),
    (lambda: plan_messages(load_plan([]), "track"), "the plan has no TRACK rule"),
    (lambda: plan_messages("/nonexistent/plan.json"),
     "cannot use the tracking plan: /nonexistent/plan.json: cannot read the file"),
    (lambda: plan_violations(load_plan([]), "group"),
     "the plan has no constraint a group message could break"),
    (lambda: plan_violations(B2B_PLAN, "identify", constraints=["uniqueItems"]),
     r"no constraint a identify message could break of \['uniqueItems'\]"),
    (lambda: plan_violations(B2B_PLAN, constraints=["oneOf"]), "cannot break oneOf"),
    (lambda: plan_violations(B2B_PLAN, constraints="Required"), "constraints must be"),
])
def test_bad_arguments_are_refused_eagerly(call: Callable[[], Any], match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        call()
