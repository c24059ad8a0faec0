"""The admin API under /__mockseg/, in-process."""

from __future__ import annotations

import threading
import time

import jsonschema
from werkzeug.test import Client

from mockseg import Limits, MockSegment
from mockseg.schema import group_schema, load_group_schema, render
from tests.conftest import B2B, Post

RECORD_FIELDS = {"id", "request_id", "received_at", "path", "type", "status", "http_status",
                 "errors", "warnings", "payload", "write_key", "headers", "duplicate_of"}


def test_calls_have_the_contract_field_names(client: Client, post: Post) -> None:
    post("/v1/group", B2B)
    body = client.get("/__mockseg/calls").get_json()
    assert body["total"] == 1
    assert set(body["calls"][0]) >= RECORD_FIELDS
    assert body["calls"][0]["payload"] == B2B


def test_calls_filter_by_each_parameter(client: Client, post: Post) -> None:
    post("/v1/group", B2B)
    post("/v1/group", {**B2B, "groupId": "other", "userId": "someone"})
    post("/v1/track", {"userId": "u", "event": "e"})
    post("/v1/group", {"userId": "u"})

    def ids(query: str) -> list[int]:
        return [c["id"] for c in client.get(f"/__mockseg/calls?{query}").get_json()["calls"]]

    assert ids("type=group") == [1, 2, 4]
    assert ids("status=rejected") == [4]
    assert ids("groupId=other") == [2]
    assert ids("userId=u") == [3, 4]
    assert ids("path=/v1/track") == [3]
    assert ids("type=group&status=accepted&limit=1") == [1]
    assert ids("after=2") == [3, 4]
    assert client.get("/__mockseg/calls?limit=x").status_code == 400


def test_wait_holds_until_enough_calls_arrive(client: Client, post: Post) -> None:
    def later() -> None:
        time.sleep(0.1)
        post("/v1/group", B2B)
        post("/v1/group", B2B)

    threading.Thread(target=later).start()
    started = time.monotonic()
    body = client.get("/__mockseg/calls?wait=2&timeout=5&type=group").get_json()
    assert body["total"] == 2 and body["timed_out"] is False
    assert 0.05 < time.monotonic() - started < 4
    body = client.get("/__mockseg/calls?wait=5&timeout=0.1").get_json()
    assert body["total"] == 2 and body["timed_out"] is True


def test_delete_calls_and_post_reset_empty_the_journal(fake: MockSegment, client: Client,
                                                       post: Post) -> None:
    post("/v1/group", B2B)
    assert client.delete("/__mockseg/calls").get_json() == {"success": True}
    assert fake.calls == []
    post("/v1/group", B2B)
    assert client.post("/__mockseg/reset").status_code == 200
    assert client.get("/__mockseg/calls").get_json() == {"calls": [], "total": 0}


def test_stats_agree_with_calls(client: Client, post: Post) -> None:
    post("/v1/batch", {"batch": [B2B, {"type": "track", "userId": "u", "event": "e"}]})
    post("/v1/group", {"userId": "u"})
    post("/v1/group", data=b"nope")
    stats = client.get("/__mockseg/stats").get_json()
    assert stats["total"] == 4 and stats["accepted"] == 2 and stats["rejected"] == 2
    assert stats["by_type"] == {"group": 2, "track": 1, "null": 1}


def test_faults_endpoint(fake: MockSegment, client: Client, post: Post) -> None:
    response = client.post("/__mockseg/faults",
                           json={"status": 503, "count": 2, "retry_after": 1, "delay_ms": 0})
    assert response.status_code == 200
    assert len(client.get("/__mockseg/faults").get_json()["faults"]) == 2
    first = post("/v1/group", B2B)
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert post("/v1/group", B2B).status_code == 503
    assert post("/v1/group", B2B).status_code == 200
    assert [c.fault for c in fake.calls] == [True, True, False]
    client.post("/__mockseg/faults", json={"count": 3})
    assert client.delete("/__mockseg/faults").get_json() == {"faults": []}
    assert post("/v1/group", B2B).status_code == 200


def test_bad_fault_specs_get_clear_400s(client: Client) -> None:
    for spec, field in (({"status": 99}, "status"), ({"count": 0}, "count"),
                        ({"retry_after": -1}, "retry_after"), ({"delay_ms": 10**9}, "delay_ms"),
                        ({"bogus": 1}, "bogus")):
        response = client.post("/__mockseg/faults", json=spec)
        assert response.status_code == 400, spec
        assert response.get_json()["error"]["errors"][0]["field"] == field
    assert client.post("/__mockseg/faults", data=b"[",
                       content_type="application/json").status_code == 400
    assert client.get("/__mockseg/faults").get_json() == {"faults": []}


def test_health_and_index(client: Client) -> None:
    health = client.get("/__mockseg/health").get_json()
    assert health["status"] == "ok" and health["mode"] == "strict"
    assert "GET /__mockseg/calls" in client.get("/__mockseg/index.json").get_json()["endpoints"]


def test_unknown_admin_path_and_method(client: Client) -> None:
    assert client.get("/__mockseg/nope").status_code == 404
    response = client.put("/__mockseg/calls")
    assert response.status_code == 405
    assert response.get_json()["error"]["type"] == "method_not_allowed"


def test_admin_requests_are_not_recorded(fake: MockSegment, client: Client) -> None:
    client.get("/__mockseg/calls")
    client.get("/__mockseg/nope")
    assert fake.calls == []


def test_schema_is_served_and_matches_the_shipped_file(client: Client) -> None:
    response = client.get("/__mockseg/schema/group")
    assert response.mimetype == "application/schema+json"
    assert response.get_json() == load_group_schema() == group_schema()
    jsonschema.Draft202012Validator.check_schema(response.get_json())


def test_shipped_schema_file_is_current() -> None:
    from importlib import resources

    shipped = resources.files("mockseg").joinpath("schema/group.schema.json").read_text("utf-8")
    assert shipped == render(group_schema()), "regenerate with: python -m mockseg.schema"


def test_served_schema_follows_the_servers_limits() -> None:
    fake = MockSegment(limits=Limits(group_id_pattern=r"[a-z@]+", max_id_length=10))
    schema = Client(fake.app).get("/__mockseg/schema/group").get_json()
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"userId": "u", "groupId": "a@b"})
    assert not validator.is_valid({"userId": "u", "groupId": "a" * 11})
    assert not validator.is_valid({"userId": "u", "groupId": "a\n"})


def test_total_counts_every_match_while_limit_cuts_the_list(client: Client, post: Post) -> None:
    for _ in range(3):
        post("/v1/group", B2B)
    body = client.get("/__mockseg/calls?limit=1").get_json()
    assert body["total"] == 3 and len(body["calls"]) == 1


def test_wait_counts_only_calls_after_the_given_id(client: Client, post: Post) -> None:
    post("/v1/group", B2B)
    body = client.get("/__mockseg/calls?wait=1&timeout=0.05&after=1").get_json()
    assert body["timed_out"] is True and body["calls"] == []


def test_delete_calls_keeps_faults_but_reset_drops_them(fake: MockSegment,
                                                        client: Client) -> None:
    fake.fail_next(2)
    client.delete("/__mockseg/calls")
    assert len(fake.faults.pending()) == 2
    client.post("/__mockseg/reset")
    assert fake.faults.pending() == []


def test_scoped_admin_sees_only_its_scope(fake: MockSegment, client: Client) -> None:
    with fake.scoped() as view:
        Client(view.app).post("/v1/group", json=B2B, headers={"Authorization": "Basic azo="})
        client.post("/v1/group", json=B2B, headers={"Authorization": "Basic azo="})
        prefix = f"/_/{view.scope}/__mockseg"
        assert client.get(f"{prefix}/calls").get_json()["total"] == 1
        assert client.get("/__mockseg/calls").get_json()["total"] == 2
        assert client.get(f"{prefix}/stats").get_json()["total"] == 1
        client.post(f"{prefix}/faults", json={"status": 429})
        assert Client(view.app).post("/v1/group", json=B2B).status_code == 429
        client.post(f"{prefix}/reset")
        assert view.calls == [] and len(fake.calls) == 1
