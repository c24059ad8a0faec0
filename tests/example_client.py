"""A small client library of the kind an SDK author writes: the README's worked example.

``GroupClient.group()`` builds a Segment group message and posts it to ``{host}/v1/batch``, as
the official SDKs do. ``DroppingClient`` has a planted bug: it drops nested traits.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import requests


class GroupClient:
    """Sends group calls to a Segment-compatible Tracking API."""

    def __init__(self, write_key: str, host: str = "https://api.segment.io") -> None:
        self.host = host.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (write_key, "")

    def clean_traits(self, traits: dict[str, Any]) -> dict[str, Any]:
        return traits

    def group(self, group_id: str, *, user_id: Any = None, anonymous_id: Any = None,
              traits: dict[str, Any] | None = None, context: dict[str, Any] | None = None,
              timestamp: datetime | None = None, integrations: dict[str, Any] | None = None,
              message_id: str | None = None) -> None:
        message = {
            "type": "group",
            "groupId": group_id,
            "userId": None if user_id is None else str(user_id),
            "anonymousId": None if anonymous_id is None else str(anonymous_id),
            "traits": self.clean_traits(traits or {}),
            "context": {**(context or {}), "library": {"name": "acme", "version": "1.0"}},
            "timestamp": (timestamp or datetime.now().astimezone()).isoformat(),
            "integrations": integrations or {},
            "messageId": message_id or str(uuid.uuid4()),
        }
        response = self.session.post(f"{self.host}/v1/batch", json={"batch": [message]},
                                     timeout=10)
        response.raise_for_status()


class DroppingClient(GroupClient):
    """The same client with a planted bug: traits that are objects are left out."""

    def clean_traits(self, traits: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in traits.items() if not isinstance(value, dict)}
