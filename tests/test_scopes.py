"""Scoped views: one server, many private views with their own URL, settings and faults."""

from __future__ import annotations

import requests
from werkzeug.test import Client

from mockseg import MockSegment
from tests.conftest import B2B, basic


def test_scoped_view_sees_only_its_calls_while_the_server_sees_all() -> None:
    with MockSegment() as server, server.scoped() as one, server.scoped() as two:
        assert one.url != two.url and one.url.startswith(server.url + "/_/")
        requests.post(one.url + "/v1/group", json=B2B, auth=("k", ""), timeout=5)
        requests.post(two.url + "/v1/batch", json={"batch": [B2B, B2B]}, auth=("k", ""),
                      timeout=5)
        assert len(one.calls) == 1 and len(two.calls) == 2 and len(server.calls) == 3
        assert one.calls[0].path == "/v1/group" and one.calls[0].scope == one.scope
        assert two.stats["accepted"] == 2
        two.reset()
        assert two.calls == [] and len(server.calls) == 1


def test_scoped_settings_and_faults_are_private() -> None:
    server = MockSegment()
    strict = server.scoped()
    lenient = server.scoped(mode="segment", write_keys=["only"])
    assert Client(lenient.app).post("/v1/group", json={"userId": "u"}).status_code == 200
    assert Client(strict.app).post("/v1/group", json={"userId": "u"},
                                   headers=basic("k")).status_code == 400
    strict.fail_next(1, status=503)
    assert Client(lenient.app).post("/v1/group", json=B2B).status_code == 200
    assert Client(server.app).post("/v1/group", json=B2B, headers=basic("k")).status_code == 200
    assert Client(strict.app).post("/v1/group", json=B2B, headers=basic("k")).status_code == 503
    assert lenient.settings.write_keys == frozenset({"only"})
    assert server.settings.mode == "strict"


def test_closed_scope_still_records_late_calls_with_default_settings() -> None:
    with MockSegment() as server:
        view = server.scoped(mode="segment")
        url = view.url
        view.close()
        response = requests.post(url + "/v1/group", json={"userId": "u"}, auth=("k", ""),
                                 timeout=5)
        assert response.status_code == 400  # the server's own strict settings now
        assert server.calls[0].scope == view.scope


def test_scoped_view_waits_for_its_own_calls_only() -> None:
    server = MockSegment()
    view = server.scoped()
    Client(server.app).post("/v1/group", json=B2B, headers=basic("k"))
    assert view.select(type="group") == []
    Client(view.app).post("/v1/group", json=B2B, headers=basic("k"))
    [record] = view.wait_for(1, timeout=1, type="group")
    assert record.scope == view.scope
