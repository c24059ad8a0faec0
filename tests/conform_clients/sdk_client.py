"""A conformance client built on the official Python SDK, as an SDK author would write it.

    python sdk_client.py {url} {writeKey} {userId} {anonymousId} {groupId} {traits} \
        {context} {integrations} {timestamp} {messageId}

BUG=<name> in the environment plants one bug: drop-nested, numbers-as-strings,
employees-as-string, no-retry, new-message-id, or, against a tracking plan, uppercase-plan (the
`plan` trait in capitals) or drop-name (the `name` trait left out).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from typing import Any

from segment.analytics import Client
from segment.analytics.request import APIError

BUG = os.environ.get("BUG", "")


def as_strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_strings(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def main() -> int:
    url, key, user_id, anonymous_id, group_id, traits, context, integrations, stamp, mid = (
        sys.argv[1:11])
    call = {
        "user_id": user_id or None,
        "anonymous_id": anonymous_id or None,
        "group_id": group_id,
        "traits": json.loads(traits) if traits else {},
        "context": json.loads(context) if context else None,
        "integrations": json.loads(integrations) if integrations else None,
        "timestamp": datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None,
        "message_id": mid or None,
    }
    if BUG == "drop-nested":
        call["traits"] = {k: v for k, v in call["traits"].items() if not isinstance(v, dict)}
    if BUG == "numbers-as-strings":
        call["traits"] = as_strings(call["traits"])
    if BUG == "employees-as-string" and "employees" in call["traits"]:
        call["traits"]["employees"] = str(call["traits"]["employees"])
    if BUG == "uppercase-plan" and isinstance(call["traits"].get("plan"), str):
        call["traits"]["plan"] = call["traits"]["plan"].upper()
    if BUG == "drop-name":
        call["traits"].pop("name", None)
    if BUG in ("no-retry", "new-message-id"):
        client = Client(key, host=url, sync_mode=True)
        for _attempt in range(4 if BUG == "new-message-id" else 1):
            try:
                client.group(**call)
                return 0
            except APIError as error:
                if error.status < 429:
                    return 1
                call["message_id"] = None  # the bug: the SDK makes up a new messageId
        return 1
    failures: list[Exception] = []
    client = Client(key, host=url, upload_interval=0.05, max_retries=3,
                    on_error=lambda error, batch: failures.append(error))
    client.group(**call)
    client.flush()
    client.shutdown()
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
