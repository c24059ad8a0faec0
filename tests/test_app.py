"""The WSGI app in-process, through werkzeug's test Client: no socket."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib

from werkzeug.test import Client

from mockseg import MockSegment
from mockseg.app import MockSegmentApp
from tests.conftest import B2B, Post, basic


def test_valid_group_call_is_accepted_and_recorded_exactly(fake: MockSegment, post: Post) -> None:
    response = post("/v1/group", B2B)
    assert response.status_code == 200
    assert response.get_json() == {"success": True}
    [record] = fake.calls
    assert record.payload == B2B
    assert record.status == "accepted" and record.http_status == 200
    assert record.type == "group" and record.path == "/v1/group"
    assert record.write_key == "test-key"
    assert record.errors == [] and record.warnings == []
    assert record.received_at.endswith("Z")


def test_error_body_has_documented_shape_and_sdk_keys(post: Post) -> None:
    body = post("/v1/group", {"userId": "u"}).get_json()
    assert body["error"] == {
        "type": "validation_error",
        "message": "Missing required field: groupId",
        "errors": [{"field": "groupId", "message": "Missing required field: groupId"}],
    }
    assert body["code"] == "validation_error"
    assert body["message"] == "Missing required field: groupId"


def test_every_error_is_listed_first_one_is_the_message(post: Post) -> None:
    body = post("/v1/group", {"groupId": "a b", "traits": {"employees": "x"}}).get_json()
    fields = [e["field"] for e in body["error"]["errors"]]
    assert fields == ["groupId", "userId", "traits.employees"]


def test_body_is_json_whatever_the_content_type(fake: MockSegment, post: Post) -> None:
    data = json.dumps(B2B).encode()
    assert post("/v1/group", data=data, headers={"Content-Type": "text/plain"}).status_code == 200
    assert post("/v1/group", data=data, headers={"Content-Type": "x/y"}).status_code == 200


def test_gzip_body_is_inflated(fake: MockSegment, post: Post) -> None:
    data = gzip.compress(json.dumps({"batch": [B2B, B2B]}).encode())
    response = post("/v1/batch", data=data, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert [r.payload for r in fake.calls] == [B2B, B2B]
    assert fake.calls[0].headers["Content-Encoding"] == "gzip"


def test_gzip_bomb_stops_at_the_limit_without_inflating_it(fake: MockSegment, post: Post) -> None:
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]", compresslevel=9)
    assert len(bomb) < 100_000
    response = post("/v1/group", data=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert response.get_json()["error"]["type"] == "payload_too_large"
    assert fake.calls[0].type is None and fake.calls[0].status == "rejected"


def test_corrupt_gzip_is_invalid_json_not_a_crash(post: Post) -> None:
    response = post("/v1/group", data=b"\x1f\x8bnot gzip", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert response.get_json()["error"]["type"] == "invalid_json"
    deflated = zlib.compress(json.dumps(B2B).encode())
    assert post("/v1/group", data=deflated,
                headers={"Content-Encoding": "deflate"}).status_code == 200


def test_unknown_content_encoding_is_415(post: Post) -> None:
    response = post("/v1/group", data=b"{}", headers={"Content-Encoding": "br"})
    assert response.status_code == 415
    assert response.get_json()["error"]["type"] == "unsupported_encoding"


def test_size_limits_single_batch_and_item(fake: MockSegment, post: Post) -> None:
    big = {**B2B, "traits": {"blob": "x" * 33_000}}
    response = post("/v1/group", big)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("Exceed payload limit:")
    # The same message is fine in size for a batch, but it is an invalid item.
    response = post("/v1/batch", {"batch": [B2B, big]})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "validation_error"
    assert error["errors"][0]["field"] == "batch[1]"
    huge = {"batch": [{**B2B, "traits": {"blob": "x" * 30_000}}] * 18}
    response = post("/v1/batch", huge)
    assert response.get_json()["error"]["type"] == "payload_too_large"
    many = {"batch": [{"type": "track", "userId": "u", "event": "e"}] * 2501}
    response = post("/v1/batch", many)
    assert response.get_json()["error"]["type"] == "payload_too_large"
    assert "2501" in response.get_json()["error"]["message"]


def test_invalid_json_literals_and_huge_integers_are_invalid_json(post: Post) -> None:
    for data in (b'{"groupId": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}',
                 b'{"a": ' + b"9" * 10_000 + b"}", b"\xff\xfe{}", b'{"a": "\xed\xa0\x80"}',
                 b'{"a": "\\ud800"}', b"", b"   \n"):
        response = post("/v1/group", data=data)
        assert response.status_code == 400, data[:30]
        assert response.get_json()["error"]["type"] == "invalid_json", data[:30]


def test_surrogate_pair_escape_is_fine(post: Post) -> None:
    body = json.dumps({**B2B, "traits": {"name": "\U0001F600"}}, ensure_ascii=True).encode()
    assert b"\\ud83d" in body
    assert post("/v1/group", data=body).status_code == 200


def test_non_object_and_too_deep_bodies_are_validation_errors(post: Post) -> None:
    for data in (b"[]", b"null", b'"x"', b"5"):
        body = post("/v1/group", data=data).get_json()
        assert body["error"]["message"] == "Request body must be a JSON object"
    deep = b'{"a":' * 65 + b"1" + b"}" * 65
    body = post("/v1/group", data=deep).get_json()
    assert body["error"] == {"type": "validation_error",
                             "message": "JSON nested too deeply (max 64 levels)",
                             "errors": [{"field": "body",
                                         "message": "JSON nested too deeply (max 64 levels)"}]}
    very_deep = b"[" * 100_000 + b"]" * 100_000
    body = post("/v1/batch", data=very_deep).get_json()
    assert body["error"]["message"] == "JSON nested too deeply (max 64 levels)"
    ok = b'{"userId":"u","groupId":"g","traits":{"a":1},"x":' + b"[" * 62 + b"]" * 62 + b"}"
    assert post("/v1/group", data=ok).status_code == 200


def test_unparseable_request_still_leaves_a_record_with_its_bytes(fake: MockSegment,
                                                                   post: Post) -> None:
    post("/v1/group", data=b'{"groupId": ')
    [record] = fake.calls
    assert record.type is None and record.payload is None
    assert record.raw_body == '{"groupId": '
    assert record.to_dict()["raw_body"] == '{"groupId": '


def test_write_key_from_basic_auth_with_or_without_colon_or_body(fake: MockSegment,
                                                                 client: Client) -> None:
    import base64
    no_colon = {"Authorization": "Basic " + base64.b64encode(b"abc").decode()}
    assert client.post("/v1/group", json=B2B, headers=no_colon).status_code == 200
    assert client.post("/v1/group", json={**B2B, "writeKey": "body-key"}).status_code == 200
    assert [r.write_key for r in fake.calls] == ["abc", "body-key"]


def test_strict_auth_missing_and_invalid_keys() -> None:
    fake = MockSegment(write_keys=["good"])
    client = Client(fake.app)
    missing = client.post("/v1/group", json=B2B)
    assert missing.status_code == 401
    assert missing.get_json()["error"]["message"] == "Missing write key"
    invalid = client.post("/v1/group", json=B2B, headers=basic("bad"))
    assert invalid.status_code == 401
    assert invalid.get_json()["error"] == {
        "type": "authentication_error", "message": "Invalid write key",
        "errors": [{"field": "writeKey", "message": "Invalid write key"}]}
    assert client.post("/v1/group", json=B2B, headers=basic("good")).status_code == 200
    assert [r.status for r in fake.calls] == ["rejected", "rejected", "accepted"]
    assert fake.calls[1].write_key == "bad"


def test_segment_mode_answers_200_and_records_the_verdict() -> None:
    fake = MockSegment(mode="segment", write_keys=["good"])
    client = Client(fake.app)
    response = client.post("/v1/group", json={"userId": "u"})
    assert response.status_code == 200 and response.get_json() == {"success": True}
    response = client.post("/v1/batch", json={"batch": [B2B, {"type": "group"}]},
                           headers=basic("other"))
    assert response.status_code == 200
    assert client.post("/v1/group", data=b"{oops").status_code == 400
    assert client.post("/v1/group", json={**B2B, "traits": {"b": "x" * 40_000}}).status_code == 400
    records = fake.calls
    assert [r.status for r in records] == ["rejected", "accepted", "rejected", "rejected",
                                           "rejected"]
    assert records[0].errors[0].message == "Missing required field: groupId"
    assert records[0].warnings[0].message == "Missing write key"
    assert records[1].write_key == "other"


def test_strict_batch_with_one_bad_item_accepts_none(fake: MockSegment, post: Post) -> None:
    response = post("/v1/batch", {"batch": [B2B, {"type": "group", "userId": "u"}, B2B]})
    assert response.status_code == 400
    assert response.get_json()["error"]["errors"][0]["field"] == "batch[1].groupId"
    records = fake.calls
    assert len(records) == 3 and len({r.request_id for r in records}) == 1
    assert {r.status for r in records} == {"rejected"}
    assert records[0].errors[0].message.startswith("Not accepted: the batch was rejected")


def test_batch_shape_errors(fake: MockSegment, post: Post) -> None:
    assert post("/v1/batch", {}).get_json()["error"]["message"] == "Missing required field: batch"
    assert post("/v1/batch", {"batch": {}}).get_json()["error"]["message"] == (
        "batch must be an array")
    body = post("/v1/batch", {"batch": [5]}).get_json()
    assert body["error"]["errors"][0] == {"field": "batch[0]",
                                          "message": "Message must be a JSON object"}
    body = post("/v1/batch", {"batch": [B2B], "sentAt": "now"}).get_json()
    assert body["error"]["errors"][0] == {"field": "sentAt",
                                          "message": "sentAt must be an ISO 8601 date-time"}
    assert post("/v1/batch", {"batch": []}).status_code == 200
    assert fake.calls[-1].type is None


def test_import_and_short_browser_paths_are_endpoints(fake: MockSegment, post: Post) -> None:
    assert post("/v1/import", {"batch": [B2B]}).status_code == 200
    assert post("/v1/g", B2B).status_code == 200
    assert post("/v1/t", {"userId": "u", "event": "Signed Up"}).status_code == 200
    assert post("/v1/b", {"batch": [B2B]}).status_code == 200
    assert post("/v1/t", {"userId": "u"}).get_json()["error"]["message"] == (
        "Missing required field: event")
    assert [r.path for r in fake.calls] == ["/v1/import", "/v1/g", "/v1/t", "/v1/b", "/v1/t"]


def test_unknown_path_is_404_listing_valid_paths_and_recorded(fake: MockSegment,
                                                             post: Post) -> None:
    response = post("/v1/nope", B2B)
    assert response.status_code == 404
    message = response.get_json()["error"]["message"]
    assert "/v1/group" in message and "/v1/batch" in message
    assert fake.calls[0].http_status == 404


def test_other_methods_get_405_with_allow(client: Client) -> None:
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = client.open("/v1/group", method=method)
        assert response.status_code == 405
        assert response.headers["Allow"] == "POST, OPTIONS"
        assert response.get_json()["error"]["type"] == "method_not_allowed"


def test_cors_preflight_echoes_the_origin_and_allows_the_asked_headers(client: Client) -> None:
    response = client.options("/v1/batch", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Vary"] == "Origin"
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, authorization"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_tracking_answers_without_origin_allow_any_origin(client: Client) -> None:
    for response in (client.post("/v1/group", json={}), client.get("/x"),
                     client.get("/v1/group"), client.options("/v1/b/")):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_duplicate_message_id_points_at_the_first(fake: MockSegment, post: Post) -> None:
    post("/v1/group", B2B)
    post("/v1/batch", {"batch": [B2B, B2B]})
    assert [r.duplicate_of for r in fake.calls] == [None, 1, 1]


def test_recorded_headers(fake: MockSegment, post: Post) -> None:
    post("/v1/group", B2B, headers={"User-Agent": "analytics-python/2.4.0", "X-Retry-Count": "2"})
    headers = fake.calls[0].headers
    assert headers["User-Agent"] == "analytics-python/2.4.0"
    assert headers["X-Retry-Count"] == "2"
    assert headers["Content-Type"] == "application/json"


def test_each_fake_owns_its_state() -> None:
    first, second = MockSegment(), MockSegment(mode="segment")
    Client(first.app).post("/v1/group", json=B2B, headers=basic("k"))
    assert len(first.calls) == 1 and second.calls == []
    assert first.app.journal is not second.app.journal
    assert MockSegmentApp().journal is not MockSegmentApp().journal


def test_injected_faults_answer_then_recover(fake: MockSegment, post: Post) -> None:
    fake.fail_next(2, status=429, retry_after=3)
    first = post("/v1/group", B2B)
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert first.get_json()["error"]["type"] == "injected_fault"
    assert post("/v1/group", data=b"{bad").status_code == 429
    assert post("/v1/group", B2B).status_code == 200
    records = fake.calls
    assert [(r.fault, r.http_status, r.status) for r in records] == [
        (True, 429, "rejected"), (True, 429, "rejected"), (False, 200, "accepted")]
    assert records[2].duplicate_of == records[0].id


def test_fault_delay(fake: MockSegment, post: Post) -> None:
    fake.fail_next(1, status=503, delay_ms=150)
    started = time.monotonic()
    assert post("/v1/group", B2B).status_code == 503
    assert time.monotonic() - started >= 0.14


def test_wait_for_sees_calls_from_another_thread(fake: MockSegment, post: Post) -> None:
    def later() -> None:
        time.sleep(0.05)
        post("/v1/group", B2B)
        post("/v1/track", {"userId": "u", "event": "e"})

    threading.Thread(target=later).start()
    [record] = fake.wait_for(1, timeout=5, type="track")
    assert record.payload["event"] == "e"


def test_wait_for_times_out_with_a_clear_message(fake: MockSegment) -> None:
    import pytest

    with pytest.raises(TimeoutError, match=r"1 call\(s\) matching group_id='x'; got 0"):
        fake.wait_for(1, timeout=0.05, group_id="x")
    with pytest.raises(TypeError, match="unknown filter groupId"):
        fake.wait_for(1, timeout=0.05, groupId="x")


def test_reset_empties_journal_and_faults(fake: MockSegment, post: Post) -> None:
    post("/v1/group", B2B)
    fake.fail_next(3)
    fake.reset()
    assert fake.calls == [] and fake.faults.pending() == []
    assert post("/v1/group", B2B).status_code == 200
    assert fake.calls[0].id == 2  # ids keep increasing across a reset


def test_segment_mode_answers_200_to_readable_but_invalid_bodies() -> None:
    fake = MockSegment(mode="segment")
    client = Client(fake.app)
    for data in (b"null", b"[]", b'{"a":' * 70 + b"1" + b"}" * 70):
        assert client.post("/v1/group", data=data).status_code == 200
    assert client.post("/v1/batch", json={"nobatch": 1}).status_code == 200
    assert [(r.status, r.http_status) for r in fake.calls] == [("rejected", 200)] * 4
    assert fake.calls[3].errors[0].message == "Missing required field: batch"


def test_a_bug_of_ours_is_answered_recorded_and_logged(fake: MockSegment, post: Post,
                                                       monkeypatch: object,
                                                       caplog: object) -> None:
    import pytest

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    mp = monkeypatch  # type: ignore[assignment]
    mp.setattr("mockseg.app.check_message", broken)  # type: ignore[attr-defined]
    response = post("/v1/group", B2B)
    assert response.status_code == 500
    assert response.get_json()["error"]["type"] == "internal_error"
    assert "RuntimeError: boom" in response.get_json()["error"]["message"]
    [record] = fake.calls
    assert record.http_status == 500 and record.status == "rejected"
    assert "boom" in caplog.text  # type: ignore[attr-defined]
    del pytest


def test_write_keys_must_not_be_one_string() -> None:
    import pytest

    with pytest.raises(TypeError, match="list of keys"):
        MockSegment(write_keys="good")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of keys"):
        MockSegment().scoped(write_keys="good")  # type: ignore[arg-type]


def test_each_record_keeps_the_exact_answer(fake: MockSegment, post: Post,
                                            client: Client) -> None:
    ok = post("/v1/group", B2B)
    bad = post("/v1/group", {"userId": "u"})
    fake.fail_next(1, status=503, retry_after=1)
    fault = post("/v1/group", B2B)
    for record, response in zip(fake.calls, (ok, bad, fault), strict=True):
        assert record.response["status"] == response.status_code
        assert record.response["body"] == response.get_data(as_text=True)
        assert record.response["headers"]["Content-Type"] == "application/json"
    assert fake.calls[2].response["headers"]["Retry-After"] == "1"
    served = client.get("/__mockseg/calls").get_json()["calls"]
    assert served[1]["response"]["body"] == bad.get_data(as_text=True)


def test_batch_item_whose_type_is_an_array_or_object_is_a_400_not_a_500(post: Post) -> None:
    for odd in ([], ["group"], {}, {"group": 1}):
        response = post("/v1/batch", {"batch": [{"type": odd, "userId": "u"}]})
        assert response.status_code == 400
        assert response.get_json()["error"]["errors"][0] == {
            "field": "batch[0].type",
            "message": 'type must be one of "identify", "track", "page", "screen", "group", '
                       '"alias"'}
