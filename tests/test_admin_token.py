"""--admin-token guards the admin API; the tracking endpoints are unaffected."""

from __future__ import annotations

import requests
from werkzeug.test import Client

from mockseg import MockSegment
from tests.conftest import B2B, basic
from tests.helpers import Served


def test_admin_api_requires_the_bearer_token() -> None:
    fake = MockSegment(admin_token="s3cret")
    client = Client(fake.app)
    assert client.post("/v1/group", json=B2B, headers=basic("k")).status_code == 200
    missing = client.get("/__mockseg/calls")
    assert missing.status_code == 401
    assert missing.get_json()["error"]["type"] == "authentication_error"
    wrong = client.get("/__mockseg/calls", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["message"] == "Invalid admin token"
    ok = client.get("/__mockseg/calls", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.get_json()["total"] == 1
    assert client.post("/__mockseg/reset").status_code == 401
    assert client.post("/__mockseg/faults", json={}).status_code == 401
    assert len(fake.calls) == 1  # nothing was erased or planned without the token
    scoped = fake.scoped()
    assert client.get(f"/_/{scoped.scope}/__mockseg/calls").status_code == 401


def test_serve_with_token_and_a_warning_for_open_binds_without_one() -> None:
    guarded = Served("--quiet", "--admin-token", "t0k")
    try:
        assert requests.get(guarded.url + "/__mockseg/stats", timeout=5).status_code == 401
        assert requests.get(guarded.url + "/__mockseg/stats", timeout=5,
                            headers={"Authorization": "Bearer t0k"}).status_code == 200
        assert "warning" not in guarded.preamble
    finally:
        guarded.stop()
    exposed = Served("--quiet", "--host", "0.0.0.0")
    try:
        assert "warning: 0.0.0.0 is reachable from other machines" in exposed.preamble
    finally:
        exposed.stop()
