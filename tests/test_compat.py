"""What real SDKs need of the server, in-process: their paths, CDN settings, CORS with
credentials, and records that say how a call came."""

from __future__ import annotations

import gzip
import json

import pytest
from werkzeug.test import Client

from mockseg import MockSegment
from mockseg.routes import BATCH_PATHS, SHORT_PATHS, TRACKING_PATHS
from tests.conftest import B2B, Post, basic

ITEM = {**B2B, "messageId": "m-1"}
BATCH = {"batch": [ITEM]}


def _body_for(path: str) -> dict[str, object]:
    endpoint = SHORT_PATHS.get(path, path)
    if endpoint in BATCH_PATHS:
        return BATCH
    kind = TRACKING_PATHS[endpoint]
    return {"userId": "u1", "groupId": "g1", "event": "Signed Up", "previousId": "p",
            "type": kind}


ALL_PATHS = [*TRACKING_PATHS, *BATCH_PATHS, *SHORT_PATHS]


# --- paths --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ALL_PATHS)
def test_every_tracking_path_answers_with_a_trailing_slash_as_without(
        fake: MockSegment, post: Post, path: str) -> None:
    bare = post(path, _body_for(path))
    slashed = post(path + "/", _body_for(path))
    assert bare.status_code == slashed.status_code == 200, slashed.get_json()
    assert bare.get_json() == slashed.get_json() == {"success": True}
    assert [r.path for r in fake.calls[-1:]] == [path + "/"]
    assert fake.calls[-1].status == "accepted"


def test_java_sdk_default_path_import_slash_rejects_invalid_items_like_import(
        fake: MockSegment, post: Post) -> None:
    bad = {"batch": [{**ITEM, "groupId": "has space"}]}
    assert post("/v1/import/", bad).get_json() == post("/v1/import", bad).get_json()
    assert [r.path for r in fake.calls] == ["/v1/import/", "/v1/import"]


@pytest.mark.parametrize(("path", "hint"), [
    ("/v1/v1/batch", "The /v1 is given twice"),
    ("/v1/v1/import/", "The /v1 is given twice"),
    ("/batch", "The /v1 is missing: did you mean /v1/batch?"),
    ("/b", "The /v1 is missing: did you mean /v1/b?"),
    ("/v2/batch", "mockseg serves version 1 of the Tracking API, not v2: did you mean /v1/batch?"),
    ("/api/v1/group", "Unexpected /api before /v1"),
    ("/v1/groups", "Did you mean /v1/group?"),
])
def test_a_near_miss_404_names_the_likely_mistake(
        fake: MockSegment, post: Post, path: str, hint: str) -> None:
    response = post(path, BATCH)
    assert response.status_code == 404
    message = response.get_json()["error"]["message"]
    assert message.startswith(f"No endpoint at {path}. {hint}")
    assert "Valid paths: /v1/group" in message
    assert fake.calls[-1].errors[0].message == message  # recorded, with the hint


def test_a_path_that_is_nowhere_near_gets_only_the_list(post: Post) -> None:
    message = post("/healthz/deep", {}).get_json()["error"]["message"]
    assert message == ("No endpoint at /healthz/deep. Valid paths: /v1/group, /v1/identify, "
                       "/v1/track, /v1/page, /v1/screen, /v1/alias, /v1/batch, /v1/import")


# --- the CDN settings ---------------------------------------------------------------------------

def test_settings_point_the_segment_destination_at_this_server(fake: MockSegment,
                                                               client: Client) -> None:
    response = client.get("/v1/projects/wk_123/settings", base_url="http://mock.test:9999")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    document = response.get_json()
    destination = document["integrations"]["Segment.io"]
    assert destination["apiKey"] == "wk_123"
    assert destination["apiHost"] == "mock.test:9999/v1"
    assert destination["protocol"] == "http"
    assert document["metrics"]["sampleRate"] == 0  # no telemetry posts
    assert document["remotePlugins"] == [] and list(document["integrations"]) == ["Segment.io"]
    assert fake.calls == []  # a settings fetch is not a call


def test_settings_over_https_say_https(client: Client) -> None:
    document = client.get("/v1/projects/k/settings", base_url="https://localhost:8443").get_json()
    assert document["integrations"]["Segment.io"]["protocol"] == "https"
    assert document["integrations"]["Segment.io"]["apiHost"] == "localhost:8443/v1"


def test_settings_through_a_scope_point_at_the_scope(fake: MockSegment) -> None:
    with fake.scoped() as view:
        document = Client(view.app).get("/v1/projects/k/settings",
                                        base_url="http://h:1").get_json()
        api_host = document["integrations"]["Segment.io"]["apiHost"]
        assert api_host == f"h:1/_/{view.scope}/v1"
        Client(fake.app).post(f"/_/{view.scope}/v1/b", json=BATCH, headers=basic("k"))
        assert len(view.calls) == 1


def test_settings_are_logged_not_recorded(fake: MockSegment, client: Client,
                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="mockseg.calls"):
        client.get("/v1/projects/key%0Aforged/settings")
    assert any("settings" in r.getMessage() and "\\n" in r.getMessage()
               for r in caplog.records)
    assert all("\n" not in r.getMessage() for r in caplog.records)
    assert fake.calls == []


def test_own_settings_document_keeps_its_filters_and_is_pointed_here(tmp_path) -> None:  # type: ignore[no-untyped-def]
    own = {"integrations": {"Segment.io": {"apiKey": "theirs"}, "Amplitude": {"apiKey": "a"}},
           "middlewareSettings": {"routingRules": [{"matchers": [], "scope": "destinations"}]},
           "consentSettings": {"allCategories": ["C0001"]}}
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(own))
    fake = MockSegment(cdn_settings=path)
    document = Client(fake.app).get("/v1/projects/k/settings", base_url="http://h:2").get_json()
    assert document["middlewareSettings"] == own["middlewareSettings"]
    assert document["consentSettings"] == own["consentSettings"]
    assert document["integrations"]["Amplitude"] == {"apiKey": "a"}
    assert document["integrations"]["Segment.io"]["apiKey"] == "theirs"
    assert document["integrations"]["Segment.io"]["apiHost"] == "h:2/v1"


def test_own_settings_with_an_api_host_keep_it() -> None:
    own = {"integrations": {"Segment.io": {"apiHost": "proxy.example/v1", "protocol": "https"}}}
    fake = MockSegment(cdn_settings=own)
    document = Client(fake.app).get("/v1/projects/k/settings").get_json()
    assert document["integrations"]["Segment.io"]["apiHost"] == "proxy.example/v1"
    assert document["integrations"]["Segment.io"]["apiKey"] == "k"


@pytest.mark.parametrize(("content", "error"), [
    ("{", "is not JSON"), ("[]", "must hold a JSON object"),
    ('{"integrations": []}', "integrations must be an object"),
    ('{"integrations": {"Segment.io": 1}}', "must be an object"),
])
def test_unusable_settings_document_is_refused_with_its_reason(
        tmp_path, content: str, error: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=error):
        MockSegment(cdn_settings=path)


def test_settings_preflight_and_other_methods(fake: MockSegment, client: Client) -> None:
    preflight = client.options("/v1/projects/k/settings", headers={"Origin": "http://a.test"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://a.test"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert client.post("/v1/projects/k/settings", data="{}").status_code == 404
    assert len(fake.calls) == 1  # the POST is a call to a path that does not exist


# --- CORS ---------------------------------------------------------------------------------------

def test_tracking_answer_echoes_origin_with_credentials(fake: MockSegment, post: Post) -> None:
    origin = "https://app.example.com"
    for response in (post("/v1/b", BATCH, headers={"Origin": origin}),
                     post("/v1/g", {"groupId": "bad id"}, headers={"Origin": origin}),
                     post("/v1/nope", {}, headers={"Origin": origin})):
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert response.headers["Vary"] == "Origin"
    recorded = fake.calls[0].response
    assert recorded is not None
    assert recorded["headers"]["Access-Control-Allow-Origin"] == origin  # the exact answer


def test_admin_answers_carry_no_cors_headers(client: Client) -> None:
    for path in ("/__mockseg/calls", "/__mockseg/stats", "/__mockseg/", "/__mockseg/health"):
        response = client.get(path, headers={"Origin": "https://evil.example"})
        assert not [h for h, _ in response.headers.items() if h.startswith("Access-Control")], path


# --- what a record says about how the call came -------------------------------------------------

@pytest.mark.parametrize(("headers", "body_key", "auth", "key"), [
    (basic("hdr"), None, "basic", "hdr"),
    (basic("hdr"), "body", "basic+body", "hdr"),
    ({"Authorization": "Bearer tok"}, None, "bearer", "tok"),
    ({"Authorization": "Bearer tok"}, "body", "bearer+body", "tok"),
    ({}, "body", "body", "body"),
    ({}, None, None, None),
    ({"Authorization": "Basic \u00e9\u00e9"}, "body", "body", "body"),
])
def test_record_says_how_the_write_key_came(
        fake: MockSegment, client: Client, headers: dict[str, str], body_key: str | None,
        auth: str | None, key: str | None) -> None:
    body = {**BATCH, **({"writeKey": body_key} if body_key else {})}
    client.post("/v1/batch", json=body, headers=headers)
    record = fake.calls[-1]
    assert (record.auth, record.write_key) == (auth, key)
    assert record.to_dict()["auth"] == auth
    assert [r.id for r in fake.select(auth=auth or "null")] == [record.id]


def test_admin_filters_by_auth(fake: MockSegment, client: Client) -> None:
    client.post("/v1/batch", json=BATCH, headers=basic("k"))
    client.post("/v1/batch", json={**BATCH, "writeKey": "k"})
    basic_only = client.get("/__mockseg/calls?auth=basic").get_json()
    body_only = client.get("/__mockseg/calls?auth=body").get_json()
    assert [c["auth"] for c in basic_only["calls"]] == ["basic"]
    assert [c["auth"] for c in body_only["calls"]] == ["body"]


def test_record_keeps_the_headers_that_say_how_the_body_came(fake: MockSegment,
                                                             client: Client) -> None:
    data = gzip.compress(json.dumps(BATCH).encode())
    client.post("/v1/b", data=data, headers={
        **basic("k"), "Content-Encoding": "gzip", "Accept-Encoding": "gzip",
        "Origin": "http://localhost:3000", "User-Agent": "analytics-kotlin/1.27.0",
        "X-Retry-Count": "2", "Content-Type": "text/plain"})
    headers = dict(fake.calls[-1].headers)
    assert headers == {"User-Agent": "analytics-kotlin/1.27.0", "Content-Type": "text/plain",
                       "Content-Encoding": "gzip", "Content-Length": str(len(data)),
                       "Accept-Encoding": "gzip", "X-Retry-Count": "2",
                       "Origin": "http://localhost:3000"}
