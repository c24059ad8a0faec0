"""Fuzzing the HTTP surface: the OpenAPI document, schemathesis against it, raw bytes and headers.

Everything runs in-process through werkzeug's test client; no socket is opened.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from mockseg import Limits, MockSegment
from mockseg.admin import PUBLIC_PATHS
from mockseg.app import BATCH_PATHS, SHORT_PATHS, TRACKING_PATHS
from mockseg.journal import CallFilter
from mockseg.openapi import openapi_document
from mockseg.schema import group_schema
from mockseg.strategies import batches, group_payloads
from tests.conftest import B2B, basic

DOC_PATH = "/__mockseg/openapi.json"
KEY = "fuzz-key"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TRACKING = [*TRACKING_PATHS, *BATCH_PATHS, *SHORT_PATHS]


def _config(headers: dict[str, str]) -> schemathesis.Config:
    """Modest and reproducible: 20 examples an operation, derandomized, fixed seed."""
    return schemathesis.Config.from_dict({
        "seed": 20_250_115,
        "headers": headers,
        "generation": {"mode": "all", "max-examples": 20, "deterministic": True,
                       "database": "none"},
        # The coverage phase builds ~27,000 deterministic cases for this document: minutes.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    })


def _error_validator() -> jsonschema.protocols.Validator:
    components = openapi_document()["components"]
    return jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/Error", "components": components})


ERROR_BODY = _error_validator()


# --- the document -------------------------------------------------------------------------------


def test_document_is_valid_openapi_3_1_with_valid_schemas() -> None:
    schema = schemathesis.openapi.from_wsgi(DOC_PATH, MockSegment().app)
    schema.validate()  # the OpenAPI 3.1 meta-schema
    doc = openapi_document()
    assert doc["openapi"] == "3.1.0"
    for component in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(component)

    def refs(node: Any) -> list[str]:
        found = []
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                found.append(node["$ref"])
            node = list(node.values())
        if isinstance(node, list):
            found += [ref for item in node for ref in refs(item)]
        return found

    for ref in refs(doc):  # every reference resolves inside the document
        target: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]


def test_document_is_served_with_the_servers_limits() -> None:
    client = Client(MockSegment().app)
    assert client.get(DOC_PATH).get_json() == openapi_document()
    small = Limits(max_batch_items=10)
    served = Client(MockSegment(limits=small).app).get(DOC_PATH).get_json()
    assert served == openapi_document(small)
    assert served["components"]["schemas"]["BatchRequest"]["properties"]["batch"][
        "maxItems"] == 10


def test_document_covers_every_route_and_nothing_else() -> None:
    app = MockSegment().app
    documented = {(method.upper(), path) for path, item in openapi_document()["paths"].items()
                  for method in item}
    tracking = {(method, path) for path in TRACKING for method in ("POST", "OPTIONS")}
    settings = {("GET", "/v1/projects/{writeKey}/settings")}
    assert documented == tracking | settings | set(app.admin.routes)


def test_group_message_component_is_the_group_schema_itself() -> None:
    schemas = openapi_document()["components"]["schemas"]
    prefix = "#/components/schemas/GroupMessage."
    text = json.dumps(schemas["GroupMessage"]).replace(prefix, "#/$defs/")
    rebuilt = json.loads(text)
    rebuilt["$defs"] = {name.removeprefix("GroupMessage."): json.loads(
        json.dumps(value).replace(prefix, "#/$defs/"))
        for name, value in schemas.items() if name.startswith("GroupMessage.")}
    original = group_schema()
    del original["$schema"], original["$id"]
    assert rebuilt == original


def test_calls_filters_in_the_document_are_the_journals() -> None:
    operation = openapi_document()["paths"]["/__mockseg/calls"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert names == {*CallFilter.QUERY_NAMES, "after", "before", "limit", "last", "wait",
                     "timeout"}


# --- schemathesis ---------------------------------------------------------------------------------

STRICT = schemathesis.openapi.from_wsgi(
    DOC_PATH, MockSegment().app, config=_config(basic(KEY)))
# Segment mode changes only how tracking calls are judged; the aliases answer as their endpoints.
SEGMENT = schemathesis.openapi.from_wsgi(
    DOC_PATH, MockSegment(mode="segment").app, config=_config({}),
).include(tag="tracking").exclude(path=list(SHORT_PATHS))


def _declared_statuses(method: str, path: str) -> set[int]:
    operation = openapi_document()["paths"][path].get(method.lower(), {"responses": {}})
    return {int(code) for code in operation["responses"] if code.isdigit()}


def _operations(**schemas: schemathesis.BaseSchema) -> list[Any]:
    """One test id an operation (``strict-POST /v1/group``): under pytest 9, schemathesis's own
    parametrize gives all of a function's items one node id, so ``-k`` and the progress line
    cannot tell them apart."""
    return [pytest.param(schema, result.ok(), id=f"{name}-{result.ok().label}")
            for name, schema in schemas.items() for result in schema.get_all_operations()]


@pytest.mark.parametrize(("schema", "operation"), _operations(strict=STRICT, segment=SEGMENT))
def test_every_operation_conforms_to_the_document(
        schema: schemathesis.BaseSchema, operation: schemathesis.APIOperation) -> None:
    config = schema.config  # the schema's generation settings and headers, as its parametrize
    modes = config.generation_for(operation=operation, phase="fuzzing").modes
    headers = config.headers_for(operation=operation)
    cases = st.one_of([operation.as_strategy(generation_mode=mode, headers=headers)
                       for mode in modes])

    @config.get_hypothesis_settings(operation=operation, phase="fuzzing")
    @given(case=cases)
    def conforms(case: schemathesis.Case[Any]) -> None:
        app = case.operation.schema.app
        app.faults.clear_all()  # a fault planned by an earlier case would answer this one
        if case.query and "wait" in case.query:
            case.query["timeout"] = 0  # the document allows 60 s; the suite cannot wait
        response = case.call_and_validate(checks=CHECKS)
        declared = _declared_statuses(case.method, case.operation.path)
        # ``default`` covers injected faults only; with none planned, the status is listed.
        # A method the path does not have gets 405.
        assert response.status_code in (declared or {405})

    conforms()


def test_recorded_calls_conform_to_the_document() -> None:
    """Every kind of record (accepted, rejected, unparseable, batch, fault) fits ``Record``."""
    fake = MockSegment()
    schema = schemathesis.openapi.from_wsgi(DOC_PATH, fake.app)
    client = Client(fake.app)
    key = basic(KEY)
    client.post("/v1/group", json=B2B, headers=key)
    client.post("/v1/group", json={"userId": "u"}, headers=key)
    client.post("/v1/g", data=b"{not json", headers=key)
    client.post("/v1/t", data=gzip.compress(b'{"userId":"u","event":"e"}'),
                headers={**key, "Content-Encoding": "gzip", "Content-Type": "text/plain"})
    client.post("/v1/batch", json={"batch": [B2B, {"type": "track"}], "writeKey": KEY})
    client.post("/v1/batch", json={"batch": []}, headers=key)
    client.post("/v1/nowhere", json={}, headers=key)
    client.post("/__mockseg/faults", json={"status": 503, "count": 1, "retry_after": 1.5})
    client.post("/v1/group", json=B2B, headers=key)
    client.post("/_/scope-a/v1/identify", json={"userId": "u"})
    for path in ("/__mockseg/calls", "/_/scope-a/__mockseg/calls"):
        operation = schema["/__mockseg/calls"]["GET"]
        case = operation.Case()
        response = client.get(path)
        assert response.status_code == 200
        case.validate_response(response, checks=CHECKS)
    assert client.get("/__mockseg/calls").get_json()["total"] == 10


# --- arbitrary bytes and headers ------------------------------------------------------------------

_ADMIN_ROUTES = sorted(MockSegment().app.admin.routes)
#: Near misses, trailing slashes and the CDN settings path, with their odd neighbours.
_NEAR_PATHS = [*(path + "/" for path in TRACKING), "/v1/v1/batch", "/batch", "/b/", "/v2/batch",
               "/api/v1/import", "/v1/groups", "/v1/projects/k/settings",
               "/v1/projects/k/settings/", "/v1/projects//settings", "/v1/projects/a/b/settings",
               "/v1/projects/%E2%9C%93/settings", "/v1/projects/k%0A/settings"]
_KNOWN_PATHS = [*TRACKING, *_NEAR_PATHS, *sorted({path for _, path in _ADMIN_ROUTES}), "/",
                "/v1", "/v1/", "/v2/group", "/__mockseg/nope", "/_/", "/_/s1", "/_//v1/group",
                "//v1/group"]
_PATH_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/%:@!$&'()*+,;="
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                     exclude_characters="\x7f"), max_size=60)
_HEADER_VALUES: dict[str, st.SearchStrategy[str]] = {
    "Content-Type": st.sampled_from(["application/json", "text/plain", "application/x-www-form-"
                                     "urlencoded", "multipart/form-data; boundary=x",
                                     "application/json; charset=latin-1", "*/*"]) | _HEADER_TEXT,
    "Content-Encoding": st.sampled_from(["gzip", "x-gzip", "deflate", "identity", "br", "GZIP",
                                         " gzip ", "gzip, deflate", ""]) | _HEADER_TEXT,
    "Authorization": st.sampled_from([basic(KEY)["Authorization"], "Basic", "Basic !!!",
                                      "Basic " + base64.b64encode(b"\xff\xfe:").decode(),
                                      "Basic " + base64.b64encode(b"no-colon").decode(),
                                      "Bearer", "Bearer tok", "Digest x"]) | _HEADER_TEXT,
    "Access-Control-Request-Headers": _HEADER_TEXT,
    "If-None-Match": st.sampled_from(["*", '"x"', "W/\"x\""]) | _HEADER_TEXT,
    "If-Modified-Since": _HEADER_TEXT,
    "Range": st.sampled_from(["bytes=0-1", "bytes=5-", "bytes=-1", "bytes=9-1"]) | _HEADER_TEXT,
    "X-Retry-Count": _HEADER_TEXT,
    "Origin": _HEADER_TEXT,
    "User-Agent": _HEADER_TEXT,
    "Transfer-Encoding": st.sampled_from(["chunked", "gzip"]) | _HEADER_TEXT,
    "Expect": st.just("100-continue"),
}
_TOKEN = st.text("abcdefghijklmnopqrstuvwxyz-ABCXYZ0123456789!#$%&'*+.^_`|~", min_size=1,
                 max_size=20)

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
_FAULT_SPECS = st.fixed_dictionaries({}, optional={
    "status": st.integers(-1, 700), "count": st.integers(-1, 3),
    "retry_after": st.none() | st.integers(-1, 5) | st.floats(-1, 5),
    "delay_ms": st.integers(-1, 70_000), "extra": st.just(1)})


@st.composite
def _targets(draw: st.DrawFn) -> tuple[str, str]:
    """A method and a path: mostly tracking calls, then admin routes, then anything."""
    kind = draw(st.sampled_from(["tracking"] * 6 + ["near"] + ["admin"] * 2 + ["any"] * 2))
    if kind == "tracking":
        method = draw(st.sampled_from(["POST"] * 8 + ["OPTIONS", "GET"]))
        path = draw(st.sampled_from(TRACKING))
    elif kind == "near":
        method = draw(st.sampled_from(["POST", "GET", "OPTIONS", "HEAD", "PUT"]))
        path = draw(st.sampled_from(_NEAR_PATHS))
    elif kind == "admin":
        method, path = draw(st.sampled_from(_ADMIN_ROUTES))
    else:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                                       "HEAD"]) | _TOKEN)
        path = draw(st.sampled_from(_KNOWN_PATHS) | st.text(_PATH_CHARS, max_size=30).map(
            lambda text: "/" + text))
    if draw(st.integers(0, 3)) == 0:
        path = "/_/" + draw(st.text(_PATH_CHARS.replace("/", ""), max_size=8)) + path
    query = draw(st.dictionaries(
        st.sampled_from([*CallFilter.QUERY_NAMES, "after", "limit", "x"]),
        _HEADER_TEXT, max_size=3))  # no ``wait``: it may hold the answer for a minute
    return method, path + ("?" + urlencode(query) if query else "")


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    raw: bytes = draw(st.one_of(
        st.binary(max_size=300),
        _JSON.map(lambda value: json.dumps(value).encode()),
        group_payloads().map(lambda value: json.dumps(value).encode()),
        batches().map(lambda value: json.dumps(value).encode()),
        _FAULT_SPECS.map(lambda value: json.dumps(value).encode()),
        st.integers(1, 200).map(lambda depth: b"[" * depth + b"]" * depth),
        st.sampled_from([b"", b" ", b"null", b"NaN", b"[1e400]", b'"\\ud800"', b"1" * 5000,
                         b"\xef\xbb\xbf{}", b'{"a":1,"a":2}', b"\xff\xfe{\x00}\x00"]),
    ))
    wrap = draw(st.sampled_from(["none", "gzip", "deflate", "truncated-gzip", "garbage"]))
    if wrap == "gzip":
        return gzip.compress(raw)
    if wrap == "deflate":
        return zlib.compress(raw)
    if wrap == "truncated-gzip":
        return gzip.compress(raw)[:-5]
    if wrap == "garbage":
        return b"\x1f\x8b\x08" + raw
    return raw


_HEADERS = st.dictionaries(
    st.sampled_from(sorted(_HEADER_VALUES)), st.none(), max_size=5,
).flatmap(lambda names: st.fixed_dictionaries(
    {name: _HEADER_VALUES[name] for name in names})) | st.dictionaries(_TOKEN, _HEADER_TEXT,
                                                                          max_size=3)


def _is_page(path: str) -> bool:
    bare = path.split("?", 1)[0]
    if bare.startswith("/_/"):
        bare = "/" + bare[3:].partition("/")[2]
    return bare in PUBLIC_PATHS


FUZZ_APP = MockSegment().app


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(target=_targets(), headers=_HEADERS, body=_bodies())
def test_arbitrary_requests_never_get_a_5xx(
    target: tuple[str, str], headers: dict[str, str], body: bytes
) -> None:
    method, path = target
    FUZZ_APP.faults.clear_all()
    response = Client(FUZZ_APP).open(path, method=method, headers=headers, data=body)
    assert response.status_code < 500, response.get_data()[:500]
    if response.status_code < 400 or method == "HEAD" or _is_page(path):
        return
    assert response.mimetype == "application/json"
    error = response.get_json()
    ERROR_BODY.validate(error)
    assert error["message"] == error["error"]["message"]


# --- what the fuzzing found (fixed) ---------------------------------------------------


def test_deeply_nested_fault_body_gets_400_not_500() -> None:
    response = Client(MockSegment().app).post("/__mockseg/faults", data=b"[" * 60_000,
                                              content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("retry_after", [b"NaN", b"Infinity", b"1e400"])
def test_non_finite_retry_after_is_rejected(retry_after: bytes) -> None:
    client = Client(MockSegment().app)
    response = client.post("/__mockseg/faults", data=b'{"retry_after": ' + retry_after + b"}",
                           content_type="application/json")
    assert response.status_code == 400
