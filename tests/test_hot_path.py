"""The tracking hot path answers, records and refuses exactly as the plain path does: orjson
parsing against the standard library's, the compiled checks of a clean message and of a clean
batch against the rules, the prebuilt answers against werkzeug's responses, the environ reads
against werkzeug's request, and the in-process entry against a WSGI call."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import EnvironHeaders
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from mockseg import Limits, MockSegment, decoding, rules, validation
from mockseg.environ import RECORDED_HEADERS, credentials, new_request_id, recorded_headers
from mockseg.errors import InjectedFault, MethodNotAllowed, ValidationFailed
from mockseg.intercept import call_app
from mockseg.jsoncodec import dumps
from mockseg.responses import (
    Answer,
    answer_summary,
    error_answer,
    success_answer,
    with_cors,
    wsgi_answer,
)
from mockseg.strategies import batches, group_payloads
from mockseg.validation import DEFAULT_LIMITS, check_batch, check_message, clean_batch
from tests.conftest import B2B, basic

pytestmark = pytest.mark.skipif(validation._compiled_group_check(DEFAULT_LIMITS) is None,
                                reason="jsonschema-rs is not installed")
SOME = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- parsing ---------------------------------------------------------------------------------


def stdlib_parse(data: bytes, max_depth: int = 64) -> Any:
    """The plain path: the standard library's parse, then the depth walk."""
    too_deep = ValidationFailed(f"JSON nested too deeply (max {max_depth} levels)")
    value = decoding._strict_loads(data, too_deep)
    if isinstance(value, dict | list) and decoding.json_depth_over(value, max_depth):
        raise too_deep
    return value


def outcome(parse: Callable[[bytes], Any], data: bytes) -> tuple[str, str]:
    """What a parse gives, exactly: the value's repr (types, key order, -0.0) or the error."""
    try:
        return "value", repr(parse(data))
    except Exception as exc:
        return type(exc).__name__, str(exc)


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


EDGE_BODIES = [
    b"", b"   \n", b"\xc2\xa0", b"\xef\xbb\xbf{}", b"{}", b"[]", b"null", b'"x"', b"-0", b"-0.0",
    b"1e400", b"-1e400", b"1e-400", b"1E2", b"0.30000000000000001", b"1.5e308",
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"-9223372036854775809", b"18446744073709551615", b"18446744073709551616",
    b"123456789012345678", b"1234567890123456789", b'{"a": 1234567890123456789.5}',
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1, "b": 2, "a": 3}',
    b'{"a": {"b": 1}, "a": 2}', b'"\\ud800"', b'"\\udc00"', b'"\\ud800\\u0041"',
    b'"\\ud83d\\ude00"', b'"\\u0000"', b'"\x7f"', b'"\x01"', b'"\xed\xa0\x80"', b'"\xc0\xaf"',
    b'"\xf4\x90\x80\x80"', b"\xff\xfe{}", b'{"a": 1}\x00', b"[1,]", b'{"a" 1}', b"\x0c{}",
    b'{"a": "\\/"}', b"[1]  \n\t\r", b'{"groupId": ', b"9" * 5000,
    nested(64).encode(), nested(65).encode(), nested(1000).encode(), nested(1024).encode(),
    nested(1025).encode(), nested(5000).encode(),
]


@pytest.mark.parametrize("data", EDGE_BODIES, ids=lambda data: repr(data[:24]))
def test_edge_bodies_parse_as_the_standard_library_parses_them(data: bytes) -> None:
    assert outcome(lambda d: decoding.parse_json(d, 64), data) == outcome(stdlib_parse, data)


_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-10**25, 10**25)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=24)


@st.composite
def json_texts(draw: st.DrawFn) -> bytes:
    """JSON as clients write it, sometimes broken: any separators, escapes, a duplicate key,
    an odd number, a lone surrogate, bytes cut or spliced in."""
    value = draw(_JSON)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()),
                      indent=draw(st.sampled_from([None, 0, 2])))
    tweak = draw(st.sampled_from(["none", "splice", "cut", "dup", "number", "surrogate"]))
    if tweak == "splice":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(
            ["NaN", "1e999", "-0", "99999999999999999999", ",", "]", '"', "\\", "\x00", "\ufeff",
             '"\\udfff"', "1.0e-400", "\u00e9", "{", "[[[[[[["])) + text[at:]
    elif tweak == "cut" and text:
        text = text[:draw(st.integers(0, len(text) - 1))]
    elif tweak == "dup" and text.startswith("{") and len(text) > 2:
        text = '{"k": 1, "k": [2], ' + text[1:]
    elif tweak == "number":
        text = f"[{draw(st.sampled_from(['1e5', '12345678901234567890', '-0.0', '1E+2']))}, {text}]"
    elif tweak == "surrogate":
        text = f'["\\ud83d", {text}]'
    return text.encode("utf-8", "surrogatepass")


@SOME
@given(data=json_texts())
@example(data=b'{"a": 18446744073709551616}')
@example(data=b'[-9223372036854775809]')
def test_orjson_parse_gives_the_standard_librarys_value_or_error(data: bytes) -> None:
    assert outcome(lambda d: decoding.parse_json(d, 64), data) == outcome(stdlib_parse, data)


def batch_answer(data: bytes) -> tuple[int, str]:
    fake = MockSegment()
    response = Client(fake.app).post("/v1/batch", data=data, headers=basic("k"))
    body = response.get_json()
    return response.status_code, body["error"]["message"] if "error" in body else "ok"


TOO_DEEP = (400, "JSON nested too deeply (max 64 levels)")


@pytest.mark.parametrize("data", [
    nested(1010).encode(),
    b'{"batch": {"x": ' + nested(1010).encode() + b"}}",
    b'{"batch": [' + b",".join([b"{}"] * 2501) + b'], "x": ' + nested(1010).encode() + b"}",
    b'{"batch": [' + nested(1010).encode() + b"]}",
    b'{"batch": [{"type": "track", "userId": "u", "event": "e", "p": '
    + nested(1010).encode() + b"}]}",
], ids=["top-level-array", "batch-not-an-array", "too-many-items", "item", "item-field"])
def test_batch_nested_past_the_standard_librarys_reach_is_too_deep_before_all_else(
        data: bytes) -> None:
    """The standard library refuses such nesting as it parses, before any other check; orjson
    parses it, and the answer must not change (nor become a 500)."""
    assert batch_answer(data) == TOO_DEEP


def test_batch_nested_within_the_standard_librarys_reach_keeps_its_answers() -> None:
    assert batch_answer(nested(100).encode()) == (400, "Request body must be a JSON object")
    assert batch_answer(b'{"batch": {"x": ' + nested(100).encode() + b"}}") == (
        400, "batch must be an array")
    assert batch_answer(b'{"batch": [{"type": "track", "userId": "u", "event": "e", "p": '
                        + nested(61).encode() + b"}]}") == (200, "ok")
    assert batch_answer(b'{"batch": [{"type": "track", "userId": "u", "event": "e", "p": '
                        + nested(62).encode() + b"}]}") == TOO_DEEP


# --- batch items' bytes ---------------------------------------------------------------------------


def sized_item(size: int) -> dict[str, Any]:
    """A track item whose compact JSON is exactly ``size`` bytes, with text that a client's
    escaping makes longer (ASCII escapes of é)."""
    item = {"type": "track", "userId": "u", "event": "e", "properties": {"p": "", "q": ""}}
    item["properties"]["p"] = "é" * ((size - len(orjson.dumps(item))) // 4)
    item["properties"]["q"] = "x" * (size - len(orjson.dumps(item)))
    assert len(orjson.dumps(item)) == size
    return item


def test_item_size_limit_measures_compact_json_to_the_byte() -> None:
    fake = MockSegment()
    limit = DEFAULT_LIMITS.max_item_bytes
    for size, status in ((limit, 200), (limit + 1, 400)):
        body = {"batch": [sized_item(size), sized_item(200)]}
        data = json.dumps(body, indent=2, ensure_ascii=True).encode()  # longer than compact
        assert len(data) > 2 * limit
        response = Client(fake.app).post("/v1/batch", data=data, headers=basic("k"))
        assert response.status_code == status
    errors = fake.calls[-2].errors
    assert errors[0].field == "batch[0]" and errors[0].message.startswith("Message too large")
    assert [len(record._payload) for record in fake.calls[:2]] == [limit, 200]


def test_batch_records_keep_each_item_as_its_compact_json() -> None:
    fake = MockSegment()
    items = [B2B, {"type": "track", "userId": "u", "event": "é", "properties": {"n": 1.0}}]
    data = json.dumps({"batch": items}, indent=1, ensure_ascii=True).encode()
    assert Client(fake.app).post("/v1/batch", data=data, headers=basic("k")).status_code == 200
    assert [record._payload for record in fake.calls] == [orjson.dumps(item) for item in items]
    assert [record.payload for record in fake.calls] == items


# --- the compiled checks against the rules ------------------------------------------------------


@pytest.fixture
def rules_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Judge with the rules alone: every compiled check off."""
    monkeypatch.setattr(validation, "_compiled_group_check", lambda limits: None)
    yield


def found_by_rules(body: dict[str, Any]) -> list[str]:
    """What the plain path reports for a batch body: too deep, or each error and warning."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validation, "_compiled_group_check", lambda limits: None)
        items = body.get("batch")
        encoded = [dumps(item) for item in items] if isinstance(items, list) else []
        if decoding.batch_depth_over(body, encoded, DEFAULT_LIMITS.max_json_depth):
            return ["too deep"]
        judged, errors = check_batch(body, encoded=encoded)
    return [f"{v.field}: {v.message}" for v in errors] + [
        f"{v.field}: {v.message}" for item in judged for v in (*item.errors, *item.warnings)]


_ODD_VALUES = st.sampled_from([
    None, "", " ", "a b", 0, -1, 1.5, True, [], {}, {"x": 1}, [1, [2]], "2024-01-01",
    "2024-01-01T00:00:00Z", "https://x.io/p?q#f", "http://", "https://a b", "ftp://x.io",
    "HTTPS://X.IO", "mailto:a@b.c", "a@b.c", "a@b", "@b.c", "a@@b.c", "a b@c.d", "é@b.c",
    "https://[::1]/", "x" * 256, "group", "track", "identify", "alias", "page", "screen",
    "street", "city", 10**20,
])


@st.composite
def mutated_batches(draw: st.DrawFn) -> dict[str, Any]:
    """Valid batches, then a few of their values replaced, removed or added anywhere: odd
    values, any JSON, or nesting around the depth limit."""
    body = copy.deepcopy(draw(batches(max_size=4)))
    for _ in range(draw(st.integers(0, 3))):
        containers = list(_containers(body))
        node = draw(st.sampled_from(containers))
        value = copy.deepcopy(draw(_ODD_VALUES | _JSON | st.integers(55, 66).map(
            lambda n: json.loads(nested(n)))))  # the drawn constants stay as they are
        if isinstance(node, dict):
            key = draw(st.sampled_from([*node, "traits", "id", "email", "website", "extra",
                                        "type", "context", "integrations", "library"]))
            if draw(st.booleans()) and key in node:
                del node[key]
            else:
                node[key] = value
        elif node:
            node[draw(st.integers(0, len(node) - 1))] = value
    return body


def _containers(value: Any) -> Iterator[Any]:
    if isinstance(value, dict | list):
        yield value
        for child in value.values() if isinstance(value, dict) else value:
            yield from _containers(child)


@SOME
@given(body=mutated_batches())
def test_a_batch_the_compiled_check_passes_is_one_the_rules_find_nothing_in(
        body: dict[str, Any]) -> None:
    items = body.get("batch")
    sizes = [len(dumps(item)) for item in items] if isinstance(items, list) else None
    if clean_batch(body, sizes=sizes) is not None:
        assert found_by_rules(body) == []


@SOME
@given(message=group_payloads())
def test_a_group_message_the_compiled_clean_check_passes_has_no_error_or_warning(
        message: dict[str, Any]) -> None:
    message = copy.deepcopy(message)
    clean = validation._compiled_clean_group_check(DEFAULT_LIMITS)
    assert clean is not None
    for variant in (message, {**message, "traits": {**(message.get("traits") or {}),
                                                    "website": "ftp://x", "email": "a@b"}}):
        if clean(variant):
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(validation, "_compiled_group_check", lambda limits: None)
                assert check_message(variant, "group") == ([], [])


TRACK = {"type": "track", "userId": "u", "event": "Signed Up", "properties": {"a": [1, {"b": 2}]}}
CLEAN_ITEMS = [
    {**B2B},
    {"type": "identify", "anonymousId": "a", "traits": {"email": "a@b.c", "x": {"y": [1]}}},
    TRACK,
    {"type": "page", "userId": "u", "name": "Home", "properties": {"url": "https://x.io"}},
    {"type": "screen", "anonymousId": "a", "name": "Main"},
    {"type": "alias", "previousId": "p", "userId": "u"},
]


def test_clean_batches_of_every_type_take_the_fast_path() -> None:
    body = {"batch": CLEAN_ITEMS, "sentAt": "2025-01-15T14:30:00.000Z",
            "context": {"library": {"name": "x", "version": "1"}}, "integrations": {"All": True}}
    assert found_by_rules(body) == []
    judged = clean_batch(body)
    assert judged is not None
    assert [(item.type, item.errors, item.warnings) for item in judged] == [
        (item["type"], (), ()) for item in CLEAN_ITEMS]


def deep_at(depth: int) -> Any:
    """A value that makes a batch ``depth`` levels deep where it sits below an item's field
    (the body, the batch array and the item are three levels)."""
    return json.loads(nested(depth - 3))


def with_traits(**traits: Any) -> dict[str, Any]:
    return {**B2B, "traits": {**B2B["traits"], **traits}}


@pytest.mark.parametrize("item", [
    with_traits(id="another_company"), with_traits(website="enterprise-corp.com"),
    with_traits(avatar="https://"), with_traits(email="sales at corp"),
    with_traits(address={"street": "1 A St", "zip": "1"}), {**B2B, "traits": {}},
    {key: value for key, value in B2B.items() if key != "traits"},
    {**B2B, "groupId": "a b"}, {**B2B, "type": None}, {**B2B, "messageId": "m" * 101},
    with_traits(employees="many"), {**TRACK, "event": ""}, {**TRACK, "userId": 5},
    {"type": "alias", "userId": "u"}, {"type": "identify", "userId": "u", "traits": []},
    {**TRACK, "timestamp": "yesterday"}, {**TRACK, "context": {"ip": 1}},
    {**TRACK, "integrations": {"x": 1}}, {**TRACK, "properties": deep_at(65)},
    {**TRACK, "context": {"page": deep_at(64)}},
    {**TRACK, "context": {"library": {"name": "x", "extra": deep_at(63)}}},
    {**TRACK, "integrations": {"x": {"y": deep_at(63)}}},
    {"type": "identify", "userId": "u", "traits": {"x": deep_at(64)}},
], ids=lambda item: json.dumps(item)[:60])
def test_anything_the_rules_report_keeps_a_batch_off_the_fast_path(item: Any) -> None:
    body = {"batch": [B2B, item]}
    assert found_by_rules(body) != []
    assert clean_batch(body) is None


@pytest.mark.parametrize("body", [
    {"batch": [B2B], "sentAt": "now"}, {"batch": [B2B], "context": []},
    {"batch": [B2B], "integrations": {"x": "on"}}, {"batch": [B2B], "x": json.loads(nested(64))},
    {"batch": [B2B, 5]}, {"batch": [B2B, {}]}, {"batch": [{**B2B, "type": "Group"}]},
], ids=lambda body: json.dumps(body)[-40:])
def test_a_batch_the_rules_reject_on_its_own_keeps_off_the_fast_path(body: Any) -> None:
    assert found_by_rules(body) != []
    assert clean_batch(body) is None


def test_nesting_up_to_the_depth_limit_stays_on_the_fast_path() -> None:
    body = {"batch": [{**TRACK, "properties": deep_at(64)}], "x": json.loads(nested(63))}
    assert found_by_rules(body) == []
    assert clean_batch(body) is not None


@pytest.mark.parametrize("limits", [Limits(max_json_depth=10), Limits(max_json_depth=12,
                                                                     max_trait_depth=10)])
def test_the_fast_path_follows_custom_depth_limits(limits: Limits) -> None:
    deepest = limits.max_json_depth - 3  # below an item's field
    for where in ("properties", "traits"):
        item = {"type": "identify", "userId": "u"} if where == "traits" else dict(TRACK)
        for depth, clean in ((deepest, True), (deepest + 1, False)):
            body = {"batch": [{**item, where: {"x": json.loads(nested(depth - 1))}}]}
            encoded = [dumps(item) for item in body["batch"]]
            assert decoding.batch_depth_over(body, encoded, limits.max_json_depth) is not clean
            assert (clean_batch(body, limits) is not None) is clean
    # As deep as traits may be: too deep where the trait limit is the looser.
    body = {"batch": [{**B2B, "traits": {"a": json.loads(nested(limits.max_trait_depth))}}]}
    too_deep = decoding.batch_depth_over(body, [dumps(body["batch"][0])], limits.max_json_depth)
    assert too_deep is (limits.max_trait_depth + 4 > limits.max_json_depth)
    assert (clean_batch(body, limits) is None) is too_deep


def test_an_item_over_the_size_limit_keeps_a_batch_off_the_fast_path() -> None:
    body = {"batch": [B2B, B2B]}
    limit = DEFAULT_LIMITS.max_item_bytes
    assert clean_batch(body, sizes=[10, limit]) is not None
    assert clean_batch(body, sizes=[10, limit + 1]) is None


_URL_ISH = st.text(st.sampled_from("hHtTpPsS:/[]@.?#%-_aé 0\t\n\x00"), max_size=24)


@SOME
@given(text=_URL_ISH | _URL_ISH.map(lambda rest: "https://" + rest)
       | _URL_ISH.map(lambda rest: "http://" + rest))
def test_a_url_the_fast_path_takes_is_one_the_url_warning_takes(text: str) -> None:
    if jsonschema_rs.validator_for({"pattern": validation._PLAIN_HTTP_URL}).is_valid(text):
        assert rules.trait_urls({"traits": {"website": text}}, DEFAULT_LIMITS) == []


@SOME
@given(text=st.text(st.sampled_from("ab.@ é\t\n\x1c\u3000-+"), max_size=16))
def test_an_email_the_fast_path_takes_is_one_the_email_warning_takes(text: str) -> None:
    if jsonschema_rs.validator_for({"pattern": validation._PLAIN_EMAIL}).is_valid(text):
        assert rules.trait_email({"traits": {"email": text}}, DEFAULT_LIMITS) == []


# --- answers ----------------------------------------------------------------------------------


def werkzeug_answer(body: bytes, status: int, headers: dict[str, str],
                    origin: str | None) -> Response:
    """An answer as the app built it with werkzeug: JSON, its headers, then CORS."""
    response = Response(body, status=status, mimetype="application/json")
    response.headers.update(headers)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    else:
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _fault(status: int) -> InjectedFault:
    error = InjectedFault(f"Injected fault: HTTP {status}", field="request")
    error.code = status
    return error


ANSWERS = [
    (lambda: success_answer(), 200, {}, None),
    (lambda: success_answer(204, {"Retry-After": "1"}), 204, {"Retry-After": "1"}, None),
    (lambda: success_answer(299), 299, {}, None),
    (lambda: error_answer(MethodNotAllowed("no", field="method"), {"Allow": "POST, OPTIONS"}),
     405, {"Allow": "POST, OPTIONS"}, None),
    (lambda: error_answer(_fault(429), {"Retry-After": "3"}), 429, {"Retry-After": "3"}, None),
    (lambda: error_answer(_fault(304)), 304, {}, None),
    (lambda: error_answer(_fault(599)), 599, {}, None),
]


@pytest.mark.parametrize("origin", [None, "", "https://app.example"])
@pytest.mark.parametrize("method", ["POST", "HEAD"])
@pytest.mark.parametrize("make, status, headers, _", ANSWERS, ids=[str(a[1]) for a in ANSWERS])
def test_answers_go_out_exactly_as_werkzeug_responses_did(
        make: Callable[[], Answer], status: int, headers: dict[str, str], _: None,
        origin: str | None, method: str) -> None:
    answer = with_cors(make(), origin)
    response = werkzeug_answer(answer.body, status, headers, origin)
    environ = EnvironBuilder(method=method).get_environ()
    line, sent_headers, body = wsgi_answer(answer, environ)
    iterable, expected_line, expected_headers = response.get_wsgi_response(environ)
    assert (line, sent_headers, b"".join(body)) == (
        expected_line, expected_headers, b"".join(iterable))
    assert answer_summary(answer) == {"status": status, "headers": dict(response.headers),
                                      "body": response.get_data(as_text=True)}


def test_every_plain_success_shares_one_prebuilt_answer_and_summary() -> None:
    fake = MockSegment()
    client = Client(fake.app)
    for _ in range(2):
        client.post("/v1/group", json=B2B, headers=basic("k"))
    client.post("/v1/batch", json={"batch": [B2B, B2B]}, headers=basic("k"))
    assert with_cors(success_answer(), None) is with_cors(success_answer(), None)
    assert len({id(record.response) for record in fake.calls}) == 1


# --- the request, read from the environ ---------------------------------------------------------


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


AUTHORIZATIONS = [None, "", "Basic", "Basic !!!", "Basic " + "é", _basic(b"key:"),
                  _basic(b"key"), _basic(b":pw"), _basic(b"\xff:"), _basic("ké:".encode()),
                  "Bearer tok", "bearer tok", "Bearer", "Bearer a=b", "Digest x=1", "basic " +
                  base64.b64encode(b"k:").decode(), "Basic  " + base64.b64encode(b"k:").decode()]


def werkzeug_credentials(environ: dict[str, Any], body: dict[str, Any]) -> tuple[Any, Any]:
    """The write key as the app read it through werkzeug's ``Request.authorization``."""
    try:
        authorization = Request(environ).authorization
    except ValueError:
        authorization = None
    header_key = scheme = None
    if authorization is not None:
        if authorization.type == "basic" and authorization.username:
            header_key, scheme = authorization.username, "basic"
        elif authorization.type == "bearer" and authorization.token:
            header_key, scheme = authorization.token, "bearer"
    body_key = body.get("writeKey") if isinstance(body.get("writeKey"), str) else None
    body_key = body_key or None
    if scheme is None:
        return body_key, "body" if body_key is not None else None
    return header_key, scheme + "+body" if body_key is not None else scheme


@pytest.mark.parametrize("authorization", AUTHORIZATIONS)
@pytest.mark.parametrize("body", [{}, {"writeKey": "b"}, {"writeKey": ""}, {"writeKey": 5}])
def test_write_key_is_read_as_werkzeug_reads_it(authorization: str | None,
                                                 body: dict[str, Any]) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    environ = EnvironBuilder(method="POST", headers=headers).get_environ()
    assert credentials(environ.get("HTTP_AUTHORIZATION"), body) == werkzeug_credentials(
        environ, body)


@pytest.mark.parametrize("headers", [
    {}, {"User-Agent": "sdk/1", "X-Retry-Count": "2", "Origin": "https://a.example"},
    {"Content-Type": "", "Content-Encoding": "gzip", "Accept-Encoding": ""},
    {"Transfer-Encoding": "chunked", "x-retry-count": "0", "user-agent": ""},
])
def test_recorded_headers_are_read_as_werkzeug_reads_them(headers: dict[str, str]) -> None:
    environ = EnvironBuilder(method="POST", headers=headers, data=b"{}").get_environ()
    environ.pop("CONTENT_TYPE", None) if "Content-Type" not in headers else None
    seen = EnvironHeaders(environ)
    expected = {name: seen[name] for name in RECORDED_HEADERS if name in seen}
    assert dict(recorded_headers(environ)) == expected


def test_request_ids_are_random_version_4_uuids() -> None:
    ids = [new_request_id() for _ in range(200)]
    assert len(set(ids)) == 200
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert (parsed.hex, parsed.version, parsed.variant) == (value, 4, uuid.RFC_4122)


# --- the in-process entry ------------------------------------------------------------------------


REQUESTS = [
    ("POST", "/v1/group", B2B), ("POST", "/v1/batch", {"batch": [B2B, {"type": "x"}]}),
    ("POST", "/v1/group", {"userId": "u"}), ("GET", "/v1/group", None),
    ("OPTIONS", "/v1/batch", None), ("GET", "/__mockseg/stats", None),
    ("POST", "/v1/nope?x=1", B2B), ("HEAD", "/v1/track", None),
]


def test_in_process_entry_answers_and_records_as_a_wsgi_call_does() -> None:
    direct, wrapped = MockSegment(), MockSegment()

    def plain_wsgi(environ: Any, start_response: Any) -> Any:  # no respond(): call_wsgi
        return wrapped.app(environ, start_response)

    headers = [("Authorization", basic("k")["Authorization"]), ("Origin", "https://a.example"),
               ("User-Agent", "sdk/2"), ("Content-Type", "application/json")]
    for method, target, body in REQUESTS:
        data = b"" if body is None else json.dumps(body).encode()
        ours = call_app(direct.app, method, target, headers, data)
        theirs = call_app(plain_wsgi, method, target, headers, data)
        assert ours[:3] == theirs[:3]
        if target != "/__mockseg/stats":
            assert ours[3] == theirs[3]

    def comparable(record: Any) -> dict[str, Any]:
        return {key: value for key, value in record.to_dict().items()
                if key not in ("request_id", "received_at")}

    assert [comparable(r) for r in direct.calls] == [comparable(r) for r in wrapped.calls]
    assert len(direct.calls) == 7  # OPTIONS and the admin API leave no record
