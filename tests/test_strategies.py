"""mockseg.strategies: what it generates is what the contract, the app and the schema say."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import subprocess
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, find, given, settings, target
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning, InvalidArgument, NoSuchExample
from jsonschema import Draft202012Validator
from segment.analytics import Client as SegmentClient
from werkzeug.test import Client

from mockseg import Limits, MockSegment, validate
from mockseg.jsoncodec import dumps as compact_utf8
from mockseg.schema import load_group_schema
from mockseg.strategies import (
    InvalidCase,
    batches,
    contexts,
    group_calls,
    group_ids,
    group_payloads,
    invalid_group_payloads,
    reserved_traits,
    timestamps,
    traits,
)
from tests.conftest import basic
from tests.toolchains import require

SCHEMA = Draft202012Validator(load_group_schema())
BODY_LIMIT = 32_768
HEADERS = {**basic("test-key"), "Content-Type": "application/json"}
#: For hypothesis.find: generate only (no shrinking), no example database.
SEARCH = settings(phases=[Phase.generate], max_examples=3000, database=None)
#: Small limits, to show that the strategies follow configured ones.
SMALL = Limits(max_id_length=20, max_traits=10, max_trait_name_length=8, max_trait_depth=1,
               max_message_id_length=12)
RESERVED = ("name", "email", "website", "phone", "industry", "employees", "revenue", "plan",
            "address", "description", "avatar", "createdAt", "updatedAt")
TIMESTAMP_FIELDS = ("timestamp", "sentAt", "originalTimestamp")
#: Each rule's message, as CONTRACT.md's table gives it.
RULE_MESSAGES = {
    "1": r"Missing required field: groupId",
    "2": r"groupId must be a string",
    "3": r"Group ID too long \(max \d+ characters\)",
    "4": r"Group ID cannot contain spaces or special characters",
    "5": r"Missing required field: userId or anonymousId",
    "6": r"(userId|anonymousId) must be a string",
    "7": r"traits must be an object",
    "8": r"Too many traits \(max \d+\)",
    "9": r"Trait name too long \(max \d+ characters\)",
    "10": r"Traits nested too deeply \(max \d+ levels\): traits\..*",
    "11": r"Trait \w+ must be (a string|an integer|a number|an object|an ISO 8601 date-time)",
    "12": r"(timestamp|sentAt|originalTimestamp) must be an ISO 8601 date-time",
    "13": r"messageId must be a string of at most \d+ characters",
    "14": r"context(\.ip|\.userAgent|\.library(\.name|\.version)?)? must be (a string|an object)",
    "15": r"integrations(\..*)? must be (an object|a boolean or an object)",
    "16": r'type must be "group"',
}
#: The ISO 8601 forms the validator accepts, each told apart by a pattern.
ISO_FORMS = {
    "Z": r".*:\d\dZ", "fractional seconds": r".*:\d\d[.,]\d+.*", "+00:00": r".*\+00:00",
    "+0100": r".*[+-]\d{4}", "+01": r".*:\d\d(\.\d+)?[+-]\d\d",
    "no seconds": r".*[Tt]\d\d:\d\d(\D.*)?", "no zone": r".*[Tt][\d:.,]+",
    "lower-case t and z": r".*t.*z", "leap second": r".*:60(\D.*)?",
}


def encoded(payload: Any) -> list[bytes]:
    """``payload`` as JSON in the encodings the size bounds hold for: compact and ASCII-escaped,
    compact UTF-8 (orjson, as mockseg itself writes), and ``json.dumps``' defaults (spaced
    separators, ASCII escapes), which ``requests``' ``json=`` and the Python SDK send."""
    return [json.dumps(payload, separators=(",", ":")).encode(), compact_utf8(payload),
            json.dumps(payload).encode()]


def largest(payload: Any) -> int:
    return max(len(body) for body in encoded(payload))


def errors(payload: Any, limits: Limits | None = None) -> list[tuple[str, str]]:
    return [(v.field, v.message) for v in validate(payload, "group", limits=limits)
            if v.severity == "error"]


def depth(value: Any) -> int:
    """How many container levels ``value`` holds below itself."""
    children = value.values() if isinstance(value, dict) else value
    return max((1 + depth(child) for child in children if isinstance(child, dict | list)),
               default=0)


def traits_of(payload: dict[str, Any]) -> dict[str, Any]:
    value = payload.get("traits")
    return value if isinstance(value, dict) else {}


def generated(strategy: st.SearchStrategy[Any],
              conditions: dict[str, Callable[[Any], bool]]) -> set[str]:
    """The names of the ``conditions`` some example meets; the search stops once all are met."""
    seen: set[str] = set()

    def all_seen(example: Any) -> bool:
        seen.update(name for name, holds in conditions.items()
                    if name not in seen and holds(example))
        return len(seen) == len(conditions)

    with contextlib.suppress(NoSuchExample), warnings.catch_warnings():
        warnings.simplefilter("ignore", HypothesisWarning)  # find() reprs what it found: large
        find(strategy, all_seen, settings=SEARCH)
    return seen


def post(app: Client, path: str, body: bytes) -> Any:
    return app.post(path, data=body, headers=HEADERS)


# --- the strategies themselves, at 1000 examples: no health check may fire -------------------


@settings(max_examples=1000, deadline=None)
@given(group_payloads())
def test_group_payloads_are_valid_and_fit_the_body_limit(payload: dict[str, Any]) -> None:
    assert errors(payload) == []
    assert all(len(body) <= BODY_LIMIT for body in encoded(payload))


@settings(max_examples=1000, deadline=None)
@given(invalid_group_payloads())
def test_invalid_cases_break_one_rule_and_name_its_first_error(case: InvalidCase) -> None:
    assert errors(case.payload)[0] == (case.field, case.message)
    assert all(len(body) <= BODY_LIMIT for body in encoded(case.payload))


# --- against the app and the published schema ----------------------------------------------


@settings(max_examples=150, deadline=None)
@given(group_payloads(), st.booleans())
def test_every_valid_payload_is_accepted_by_the_app(payload: dict[str, Any],
                                                     ascii_only: bool) -> None:
    fake = MockSegment()
    response = post(Client(fake.app), "/v1/group", encoded(payload)[0 if ascii_only else 1])
    assert response.status_code == 200, response.get_json()
    [record] = fake.calls
    assert record.status == "accepted" and record.payload == payload


@settings(max_examples=150, deadline=None)
@given(invalid_group_payloads(), st.booleans())
def test_every_invalid_case_is_rejected_with_its_message_and_field(case: InvalidCase,
                                                                   ascii_only: bool) -> None:
    fake = MockSegment()
    response = post(Client(fake.app), "/v1/group", encoded(case.payload)[0 if ascii_only else 1])
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "validation_error" and error["message"] == case.message
    assert error["errors"][0] == {"field": case.field, "message": case.message}
    [record] = fake.calls
    assert record.status == "rejected"


@settings(max_examples=300, deadline=None)
@given(st.one_of(group_payloads(), invalid_group_payloads().map(lambda case: case.payload)))
def test_validator_and_json_schema_agree(payload: dict[str, Any]) -> None:
    assert SCHEMA.is_valid(payload) == (errors(payload) == [])


# --- every rule, every variant, every edge is reached --------------------------------------


@pytest.mark.parametrize("rule", list(RULE_MESSAGES))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_each_rule_can_be_broken_alone(rule: str, data: st.DataObject) -> None:
    case = data.draw(invalid_group_payloads(rules=[rule]))
    assert re.fullmatch(RULE_MESSAGES[rule], case.message, re.DOTALL)
    assert errors(case.payload)[0] == (case.field, case.message)


#: The ways each rule can be broken, by rule: each must occur among that rule's cases.
VARIANTS: dict[str, dict[str, Callable[[InvalidCase], bool]]] = {
    "1": {"absent": lambda c: "groupId" not in c.payload,
          "null": lambda c: "groupId" in c.payload and c.payload["groupId"] is None,
          "empty": lambda c: c.payload.get("groupId") == ""},
    "2": {"a number": lambda c: isinstance(c.payload["groupId"], int | float),
          "an object": lambda c: isinstance(c.payload["groupId"], dict)},
    "4": {"a space": lambda c: " " in c.payload["groupId"],
          "255 characters": lambda c: len(c.payload["groupId"]) == 255},
    "5": {"no ids at all": lambda c: "userId" not in c.payload and "anonymousId" not in c.payload,
          "null and empty ids": lambda c: c.payload.get("userId", 0) is None
          and c.payload.get("anonymousId") == ""},
    "6": {"userId": lambda c: c.field == "userId",
          "anonymousId": lambda c: c.field == "anonymousId"},
    "7": {"a list": lambda c: isinstance(c.payload["traits"], list),
          "a string": lambda c: isinstance(c.payload["traits"], str)},
    "8": {"with reserved traits among them": lambda c: "plan" in c.payload["traits"]},
    "10": {"objects": lambda c: c.field.count(".") == 4,
           "arrays": lambda c: c.field.count("[") == 3},
    "11": {name: lambda c, name=name: c.field == f"traits.{name}" for name in RESERVED},
    "12": {name: lambda c, name=name: c.field == name for name in TIMESTAMP_FIELDS},
    "13": {"too long": lambda c: isinstance(c.payload["messageId"], str),
           "not a string": lambda c: not isinstance(c.payload["messageId"], str)},
    "14": {name: lambda c, name=name: c.field == name for name in (
        "context", "context.ip", "context.userAgent", "context.library",
        "context.library.name", "context.library.version")},
    "15": {"not an object": lambda c: c.field == "integrations",
           "a value neither boolean nor object": lambda c: c.field.startswith("integrations.")},
    "16": {"track": lambda c: c.payload["type"] == "track",
           "not a string": lambda c: not isinstance(c.payload["type"], str)},
}


@pytest.mark.parametrize("rule", list(VARIANTS))
def test_every_variant_of_every_rule_is_generated(rule: str) -> None:
    variants = VARIANTS[rule]
    assert generated(invalid_group_payloads(rules=[rule]), variants) == set(variants)


EDGES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "255-character groupId": lambda p: len(p["groupId"]) == 255,
    "255 traits": lambda p: len(traits_of(p)) == 255,
    "255-character trait name": lambda p: any(len(name) == 255 for name in traits_of(p)),
    "traits nested 3 levels": lambda p: depth(traits_of(p)) == 3,
    "anonymousId only": lambda p: bool(p.get("anonymousId")) and "userId" not in p,
    "userId only": lambda p: bool(p.get("userId")) and "anonymousId" not in p,
    "both ids": lambda p: bool(p.get("userId")) and bool(p.get("anonymousId")),
    "null anonymousId beside a userId": lambda p: bool(p.get("userId"))
    and "anonymousId" in p and p["anonymousId"] is None,
    "null userId beside an anonymousId": lambda p: "userId" in p and p["userId"] is None,
    "emoji": lambda p: any(ord(char) >= 0x1F300 for char in encoded(p)[1].decode()),
    "non-ASCII text": lambda p: not encoded(p)[1].isascii(),
    "within 100 bytes of the body limit": lambda p: largest(p) > BODY_LIMIT - 100,
    "100-character messageId": lambda p: len(p.get("messageId") or "") == 100,
    "boolean integration": lambda p: True in (p.get("integrations") or {}).values(),
    "object integration": lambda p: any(
        isinstance(v, dict) for v in (p.get("integrations") or {}).values()),
    "context with ip, userAgent and library": lambda p: isinstance(p.get("context"), dict)
    and {"ip", "userAgent", "library"} <= set(p["context"]),
    "no type": lambda p: "type" not in p,
    "type group": lambda p: p.get("type") == "group",
    "unknown extra fields": lambda p: "_metadata" in p and "channel" in p,
    "traits null": lambda p: "traits" in p and p["traits"] is None,
    **{f"reserved trait {name}": lambda p, name=name: traits_of(p).get(name) is not None
       for name in RESERVED},
    **{f"{field} as {form}": lambda p, field=field, form=form: re.fullmatch(
        ISO_FORMS[form], str(p.get(field))) is not None
       for field in TIMESTAMP_FIELDS for form in ISO_FORMS},
}


def test_every_edge_case_is_generated() -> None:
    assert generated(group_payloads(), EDGES) == set(EDGES)


# --- narrowing and building blocks ---------------------------------------------------------

NARROWED: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
    ({"with_anonymous_id": False}, lambda p: "anonymousId" not in p and bool(p["userId"])),
    ({"with_user_id": False}, lambda p: "userId" not in p and bool(p["anonymousId"])),
    ({"with_user_id": True, "with_anonymous_id": True},
     lambda p: bool(p["userId"]) and bool(p["anonymousId"])),
    ({"with_traits": True}, lambda p: bool(p["traits"])),
    ({"with_traits": False}, lambda p: not p.get("traits")),
    ({"group_id": "acme"}, lambda p: p["groupId"] == "acme"),
    ({"group_id": st.sampled_from(["a", "b"])}, lambda p: p["groupId"] in ("a", "b")),
    ({"traits": st.just({"plan": "pro"})}, lambda p: p["traits"] == {"plan": "pro"}),
    ({"limits": Limits(group_id_pattern=r"[a-z]+@[a-z]+", max_trait_depth=0),
      "group_id": st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}", fullmatch=True)},
     lambda p: "@" in p["groupId"] and depth(traits_of(p)) == 0),
]


@pytest.mark.parametrize(("kwargs", "holds"), NARROWED)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_narrowing_arguments_narrow(kwargs: dict[str, Any],
                                    holds: Callable[[dict[str, Any]], bool],
                                    data: st.DataObject) -> None:
    payload = data.draw(group_payloads(**kwargs))
    assert holds(payload)
    assert errors(payload, kwargs.get("limits")) == []


@settings(max_examples=80, deadline=None)
@given(group_payloads(limits=SMALL), invalid_group_payloads(limits=SMALL))
def test_payloads_follow_configured_limits(payload: dict[str, Any], case: InvalidCase) -> None:
    app = Client(MockSegment(limits=SMALL).app)
    assert len(payload["groupId"]) <= 20 and len(traits_of(payload)) <= 10
    assert post(app, "/v1/group", encoded(payload)[0]).status_code == 200
    response = post(app, "/v1/group", encoded(case.payload)[0])
    assert response.status_code == 400
    assert response.get_json()["error"]["errors"][0] == {"field": case.field,
                                                         "message": case.message}


@settings(max_examples=60, deadline=None)
@given(group_ids(max_size=40), traits(max_size=20), reserved_traits(), contexts(),
       timestamps())
def test_building_blocks_make_valid_parts(group_id: str, custom: dict[str, Any],
                                          reserved: dict[str, Any], context: dict[str, Any],
                                          stamp: str) -> None:
    assert 1 <= len(group_id) <= 40 and len(custom) <= 20
    for part in ({"traits": custom}, {"traits": reserved}, {"context": context},
                 {"sentAt": stamp}):
        assert errors({"groupId": group_id, "userId": "u", **part}) == []


@pytest.mark.parametrize("make", [
    lambda: group_payloads(with_user_id=False, with_anonymous_id=False),
    lambda: group_payloads(with_traits="yes"),
    lambda: group_payloads(group_id="has space"),
    lambda: group_payloads(limits=Limits(group_id_pattern=r"[a-z@]+")),
    lambda: group_payloads(traits={"plan": "pro"}),
    lambda: group_payloads(traits=st.just({}), with_traits=False),
    lambda: group_payloads(limits="strict"),
    lambda: invalid_group_payloads(rules=["17"]),
    lambda: invalid_group_payloads(rules="3"),
    lambda: invalid_group_payloads(rules=[]),
    lambda: invalid_group_payloads(rules=["8"], limits=Limits(max_body_bytes=1000)),
    lambda: group_ids(min_size=5, max_size=2),
    lambda: group_ids(max_size=256),
    lambda: traits(min_size=-1),
    lambda: reserved_traits(names=["plan", "seats"]),
    lambda: contexts(with_library=1),
    lambda: timestamps(min_value=datetime(2020, 1, 1, tzinfo=UTC)),
    lambda: batches(min_size=5, max_size=2),
    lambda: batches(types=["group", "groups"]),
    lambda: batches(max_size=2501),
    lambda: group_calls(with_user_id=False, with_anonymous_id=False),
    lambda: group_calls(max_traits=256),
])
def test_bad_arguments_fail_at_once(make: Callable[[], object]) -> None:
    with pytest.raises(InvalidArgument):
        make()


# --- batches and the Python SDK -----------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(batches())
def test_batches_are_accepted_whole(body: dict[str, Any]) -> None:
    fake = MockSegment()
    assert all(len(data) <= 512_000 for data in encoded(body))
    assert all(len(data) <= BODY_LIMIT for item in body["batch"] for data in encoded(item))
    response = post(Client(fake.app), "/v1/batch", encoded(body)[1])
    assert response.status_code == 200, response.get_json()
    assert [record.status for record in fake.calls] == ["accepted"] * len(body["batch"])


@settings(max_examples=3, deadline=None)
@given(batches(min_size=2500, max_size=2500))
def test_a_batch_of_2500_items_is_accepted(body: dict[str, Any]) -> None:
    fake = MockSegment()
    response = post(Client(fake.app), "/v1/batch", encoded(body)[0])
    assert response.status_code == 200, response.get_json()
    assert len(fake.calls) == 2500


def test_group_calls_through_the_python_sdk_arrive_accepted() -> None:
    with MockSegment() as fake:
        sdk = SegmentClient("test-key", host=fake.url, sync_mode=True)  # type: ignore[no-untyped-call]
        calls = 0

        @settings(max_examples=50, deadline=None, derandomize=True, database=None)
        @given(group_calls(max_traits=255))
        def check(call: dict[str, Any]) -> None:
            nonlocal calls
            calls += 1
            fake.reset()
            # The SDK adds context.library to what it gets, and raises RuntimeError("Message
            # exceeds 32kb limit") for a message its own json.dumps measure finds too large.
            sdk.group(**copy.deepcopy(call))
            [record] = fake.calls
            assert record.status == "accepted", record.errors
            sent = record.payload
            assert sent["groupId"] == call["group_id"]
            assert sent["userId"] == (None if call["user_id"] is None else str(call["user_id"]))
            assert sent["traits"] == call["traits"]

        check()
        assert calls >= 50


# --- sizes hold for every encoder: requests' json=, the SDK's own check, JSON.stringify ------


@pytest.fixture(scope="module")
def live() -> Iterator[MockSegment]:
    with MockSegment() as fake:
        yield fake


#: Derandomized, steered toward the largest payloads (json.dumps' form is the one that grows).
SIZED = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


def test_group_payloads_posted_with_requests_json_are_never_refused_for_size(
        live: MockSegment) -> None:
    session = requests.Session()

    @SIZED
    @given(group_payloads())
    def check(payload: dict[str, Any]) -> None:
        target(float(len(json.dumps(payload))))
        response = session.post(f"{live.url}/v1/group", json=payload, headers=basic("k"))
        assert response.status_code == 200, response.text[:300]

    check()


def test_batches_posted_with_requests_json_are_accepted_whole(live: MockSegment) -> None:
    session = requests.Session()

    @SIZED
    @given(batches(max_size=40))
    def check(body: dict[str, Any]) -> None:
        target(float(len(json.dumps(body))))
        with live.scoped() as fake:
            response = session.post(f"{fake.url}/v1/batch", json=body, headers=basic("k"))
            assert response.status_code == 200, response.text[:300]
            assert {record.status for record in fake.calls} == {"accepted"}

    check()


def test_payloads_and_batches_fit_the_limits_as_json_stringify_writes_them() -> None:
    """Node's JSON.stringify writes some floats longer than Python does: 1e+20 is 21 digits."""
    node = require("node")["node"]
    drawn: list[dict[str, Any]] = []

    @settings(max_examples=500, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(group_payloads(), batches(max_size=30)))
    def collect(body: dict[str, Any]) -> None:
        drawn.append(body)

    collect()
    script = """
    for (const line of require("fs").readFileSync(0, "utf8").trim().split("\\n")) {
      const body = JSON.parse(line), size = (v) => Buffer.byteLength(JSON.stringify(v));
      console.log(size(body), Math.max(0, ...(body.batch || []).map(size)));
    }"""
    done = subprocess.run([node, "-e", script], input="\n".join(map(json.dumps, drawn)),
                          capture_output=True, text=True, timeout=60, check=True)
    sizes = [tuple(map(int, line.split())) for line in done.stdout.splitlines()]
    assert len(sizes) == len(drawn) == 500
    for body, (whole, largest_item) in zip(drawn, sizes, strict=True):
        assert whole <= (512_000 if "batch" in body else BODY_LIMIT)
        assert largest_item <= BODY_LIMIT


#: JSON values that stress each encoder: long floats, characters Go escapes, emoji, DEL.
STRESS = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64),
              st.floats(allow_nan=False, allow_infinity=False),
              st.sampled_from([1e20, -9.5e18, 1.5e-06, 1e-05, 0.5, 1e21, 5e-324]),
              st.text(st.sampled_from("a<>&\"\\\x7f\n\u2028é東🚀"), max_size=6)),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=4),
    max_leaves=20)


#: Programs that read one JSON value a line and print the byte length of their encoding of it.
ENCODER_PROGRAMS = {
    "JSON.stringify": ("node", "measure.js", """
for (const line of require("fs").readFileSync(0, "utf8").trim().split("\\n"))
  console.log(Buffer.byteLength(JSON.stringify(JSON.parse(line))));
"""),
    "Go encoding/json": ("go", "measure.go", """package main

import ("bufio"; "encoding/json"; "fmt"; "os")

func main() {
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<20), 1<<26)
	for lines.Scan() {
		var value interface{}
		if err := json.Unmarshal(lines.Bytes(), &value); err != nil { panic(err) }
		out, err := json.Marshal(value)
		if err != nil { panic(err) }
		fmt.Println(len(out))
	}
}
"""),
}


def sizes_written_by(encoder: str, values: list[Any], tmp_path: Any) -> list[int]:
    tool, name, source = ENCODER_PROGRAMS[encoder]
    program = tmp_path / name
    program.write_text(source)
    command = [require(tool)[tool], *(["run"] if tool == "go" else []), str(program)]
    done = subprocess.run(command, input="\n".join(map(json.dumps, values)), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"})
    return [int(size) for size in done.stdout.split()]


@pytest.mark.parametrize("encoder", list(ENCODER_PROGRAMS))
def test_the_size_measure_bounds_every_encoder(encoder: str, tmp_path: Any) -> None:
    """The one measure the strategies budget with is never below what an encoder writes:
    JSON.stringify writes 1e+20 as 21 digits, Go writes < > & as 6-byte escapes."""
    from mockseg.strategies._base import _size

    drawn: list[Any] = []

    @settings(max_examples=400, deadline=None, derandomize=True, database=None)
    @given(STRESS)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    written = sizes_written_by(encoder, drawn, tmp_path)
    assert len(written) == len(drawn)
    for value, size in zip(drawn, written, strict=True):
        assert _size(value) >= max(size, *map(len, encoded(value))), value
