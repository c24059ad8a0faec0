"""Drive one Python analytics SDK through its documented module-level API and report in JSON.

Runs inside the SDK's own environment (see tests/test_sdk_python.py), so it imports only the
standard library and the SDK. ``argv[1]`` is a JSON job::

    {"sdk": "analytics-python", "url": "http://127.0.0.1:PORT", "write_key": "k",
     "sync_mode": false, "max_retries": 3, "gzip": null,
     "calls": [{"user_id": "u", "group_id": "g", "traits": {...}}]}

``gzip: null`` keeps the SDK's own default. stdout gets one JSON object: the SDK's version,
what each call raised (sync mode), and what ``on_error`` was given (async mode).
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

#: For each SDK: the module it is imported as, and the setting that points it at a server.
SDKS: dict[str, tuple[str, str]] = {
    "analytics-python": ("analytics", "host"),
    "segment-analytics-python": ("segment.analytics", "host"),
    "rudder-sdk-python": ("rudderstack.analytics", "dataPlaneUrl"),
}


def describe(error: BaseException) -> dict[str, Any]:
    """An SDK error as JSON: its class and, for an APIError, the status, code and message."""
    return {"type": type(error).__name__, "status": getattr(error, "status", None),
            "code": getattr(error, "code", None),
            "message": getattr(error, "message", str(error))}


def drive(job: dict[str, Any]) -> dict[str, Any]:
    """Configure the SDK's default client as its README does, send the calls, flush."""
    module_name, url_setting = SDKS[job["sdk"]]
    sdk: Any = importlib.import_module(module_name)
    failures: list[dict[str, Any]] = []

    def on_error(error: BaseException, batch: list[dict[str, Any]]) -> None:
        failures.append({**describe(error), "group_ids": [m.get("groupId") for m in batch]})

    sdk.write_key = job["write_key"]
    setattr(sdk, url_setting, job["url"])
    sdk.sync_mode = job["sync_mode"]
    sdk.max_retries = job["max_retries"]
    sdk.timeout = 10
    sdk.on_error = on_error
    if job.get("gzip") is not None:
        sdk.gzip = job["gzip"]
    raised: list[dict[str, Any]] = []
    for call in job["calls"]:
        try:
            sdk.group(user_id=call["user_id"], group_id=call["group_id"], traits=call["traits"])
        except Exception as error:  # sync mode raises the server's answer: report it
            raised.append(describe(error))
    if not job["sync_mode"]:
        sdk.flush()  # waits until the consumer thread has sent (or given up on) every batch
        sdk.join()
    return {"version": sdk.__version__, "raised": raised, "on_error": failures}


if __name__ == "__main__":
    print(json.dumps(drive(json.loads(sys.argv[1]))))
