from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from mockseg import MockSegment

B2B = {
    "type": "group",
    "userId": "user_12345",
    "groupId": "company_enterprise_corp",
    "traits": {
        "name": "Enterprise Corp",
        "website": "https://enterprise-corp.com",
        "industry": "Financial Services",
        "employees": 5000,
        "revenue": 500000000,
        "plan": "enterprise",
        "address": {"street": "123 Business Ave", "city": "New York", "state": "NY",
                    "postalCode": "10001", "country": "USA"},
    },
    "context": {"ip": "192.168.1.1", "library": {"name": "analytics.js", "version": "4.1.0"}},
    "timestamp": "2025-01-15T14:30:00.000Z",
    "messageId": "ajs-group-12345",
}

#: The traits of the group call that the Go and Node SDK drivers send (tests/clients/go/main.go,
#: tests/clients/node/common.js); the record must hold them exactly.
SDK_TRAITS = {
    "name": "ACME Corp",
    "industry": "Technology",
    "employees": 500,
    "plan": "enterprise",
    "address": {"street": "1 Main St", "city": "Berlin", "postalCode": "10115", "country": "DE"},
}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


Post = Callable[..., TestResponse]


@pytest.fixture
def fake() -> MockSegment:
    return MockSegment()


@pytest.fixture
def client(fake: MockSegment) -> Client:
    return Client(fake.app)


@pytest.fixture
def post(client: Client) -> Post:
    def send(path: str, body: Any = None, *, key: str | None = "test-key",
             data: bytes | None = None, headers: dict[str, str] | None = None) -> TestResponse:
        all_headers = {**(basic(key) if key is not None else {}), **(headers or {})}
        if data is None:
            return client.post(path, json=body, headers=all_headers)
        return client.post(path, data=data, headers=all_headers)

    return send


pytest_plugins = ["pytester"]
