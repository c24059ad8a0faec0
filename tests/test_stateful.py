"""mockseg.stateful: the official Python SDK passes the delivery machine, and deliberately broken
clients are each caught, shrunk to a few steps, with a message that names the broken rule."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from mockseg import MockSegment
from mockseg.conform import PLACEHOLDERS
from mockseg.stateful import (
    Call,
    CommandLineAdapter,
    DeliveryError,
    DeliveryMachine,
    PythonSdkAdapter,
    SdkAdapter,
    calls,
    invalid_calls,
    run_settings,
)

#: Small runs: planned Retry-After waits (0 or 1 s) and backoffs dominate the time.
RUNS = settings(run_settings(max_examples=20, steps=12), derandomize=True, database=None)
#: For the broken clients: shorter runs, more of them, so each bug is met and shrinks quickly.
BROKEN = settings(RUNS, max_examples=100, stateful_step_count=6)
CONFORM_CLIENT = Path(__file__).parent / "conform_clients" / "sdk_client.py"


@pytest.fixture(scope="module")
def server() -> Iterator[MockSegment]:
    logging.getLogger("segment").setLevel(logging.CRITICAL)  # the SDK logs each planned 400
    with MockSegment() as fake:
        yield fake


# --- a tiny client on requests, correct unless it is told a bug -------------------------------


def _retryable(status: int) -> bool:
    return status in (408, 410, 429, 460) or (500 <= status <= 599 and status not in (501, 505))


class TinyClient:
    """Queues messages; ``flush()`` posts them in batches under 500 KB and retries retryable
    answers up to 3 times, at once, with the same messageIds and a rising X-Retry-Count."""

    def __init__(self, url: str, write_key: str, bug: str | None) -> None:
        self.url, self.auth, self.bug = f"{url}/v1/batch", (write_key, ""), bug
        self.queue: list[dict[str, Any]] = []
        self.session = requests.Session()

    def enqueue(self, call: Call) -> None:
        self.queue.append({**call.message(), "timestamp": datetime.now(UTC).isoformat(),
                           "context": {"library": {"name": "tiny", "version": "0.1"}}})

    def flush(self) -> None:
        while self.queue:
            batch, size = [], 0
            while self.queue and len(batch) < 100:
                size += len(json.dumps(self.queue[0])) + 2
                if batch and size > 450_000 and self.bug != "overfill":
                    break
                batch.append(self.queue.pop(0))
            self._post(batch)

    def _post(self, batch: list[dict[str, Any]]) -> None:
        for attempt in range(4):
            count = min(attempt, 1) if self.bug == "stuck-retry-count" else attempt
            headers = {"X-Retry-Count": str(count)} if attempt else {}
            status = self.session.post(self.url, json={"batch": batch}, auth=self.auth,
                                       headers=headers, timeout=10).status_code
            if status < 300 and self.bug == "send-twice" and attempt == 0:
                continue
            if status < 300:
                return
            if not (_retryable(status) or (self.bug == "retry-400" and status == 400)):
                return  # a final answer: drop the batch, as Segment's table says
            if self.bug == "drop-after-503" and status == 503:
                return
            if self.bug == "new-message-id":
                batch = [{**message, "messageId": uuid.uuid4().hex} for message in batch]


class TinyAdapter(SdkAdapter):
    bug: ClassVar[str | None] = None

    def __init__(self, url: str, write_key: str) -> None:
        self.client = TinyClient(url, write_key, self.bug)

    def send(self, call: Call) -> None:
        self.client.enqueue(call)

    def flush(self) -> None:
        self.client.flush()

    def shutdown(self) -> None:
        if self.bug != "no-flush-on-shutdown":
            self.client.flush()


def tiny(bug: str | None) -> type[TinyAdapter]:
    return type(f"Tiny{bug or ''}Adapter", (TinyAdapter,), {"bug": bug})


def failure(machine: type[DeliveryMachine]) -> tuple[DeliveryError, list[str]]:
    """The shrunk failure of ``machine``: the error, and the steps Hypothesis printed."""
    with pytest.raises(DeliveryError) as caught:
        run_state_machine_as_test(machine, settings=BROKEN)
    steps = [note for note in getattr(caught.value, "__notes__", [])
             if note.startswith("state.") and note != "state.delivery_rules_hold()"]
    return caught.value, steps


# --- correct clients pass ---------------------------------------------------------------------


def test_the_official_python_sdk_delivers_every_sequence(server: MockSegment) -> None:
    run_state_machine_as_test(DeliveryMachine.for_adapter(PythonSdkAdapter, server=server),
                              settings=RUNS)


def test_the_tiny_client_without_a_bug_delivers_every_sequence(server: MockSegment) -> None:
    run_state_machine_as_test(DeliveryMachine.for_adapter(tiny(None), server=server),
                              settings=RUNS)


class TinyDelivery(DeliveryMachine):
    """The other way to make a machine: subclass it and name the adapter."""

    adapter = tiny(None)


TestTinyDeliveryAsASubclass = TinyDelivery.TestCase


# --- broken clients are caught, each with a clear message -------------------------------------


@pytest.mark.parametrize(("bug", "outcome", "says"), [
    ("retry-400", "retried a 400", "was sent again after a 400 answer: 400, 401, 403, 404 and "
                                   "413 are final"),
    ("drop-after-503", "lost after a 503", "was lost: its last attempt was answered 503, which "
                                           "is retryable"),
    ("new-message-id", "new messageId on retry", "a retry must keep the messageId"),
    ("overfill", "broke the size limits", "Exceed payload limit: batch request is over 512000"),
    ("stuck-retry-count", "X-Retry-Count not rising", "each retry must count one more"),
    ("send-twice", "sent again after success", "was sent again after it was answered 200"),
    ("no-flush-on-shutdown", "never sent", "was never sent, though shutdown() returned"),
])
def test_each_broken_client_is_caught_and_shrunk_to_a_few_steps(
        server: MockSegment, bug: str, outcome: str, says: str) -> None:
    error, steps = failure(DeliveryMachine.for_adapter(tiny(bug), server=server))
    assert error.outcome == outcome
    assert says in str(error)
    assert steps[-1] == "state.teardown()"
    assert 2 <= len(steps) <= 5, steps  # e.g. plan the fault, send, and shut down
    if bug == "overfill":
        assert "state.send_many(count=20, message_bytes=30000)" in steps
    elif bug in ("retry-400", "drop-after-503", "new-message-id", "stuck-retry-count"):
        assert any(step.startswith("state.fail_") for step in steps), steps


def test_a_failure_prints_readable_steps_and_the_attempts(server: MockSegment) -> None:
    one_by_one = type("TinyRetry400Adapter", (tiny("retry-400"),), {"max_burst": 0})
    error, steps = failure(DeliveryMachine.for_adapter(one_by_one, server=server))
    assert "state.fail_final(status=400)" in steps, steps
    [send] = [step for step in steps if step.startswith("state.send")]
    assert re.fullmatch(r"state\.send(_invalid)?\(call=(group|identify|track)\(.*\)\)", send), send
    text = str(error)
    assert re.match(r"call #1 (group|identify|track)\(", text), text
    assert "its attempts, oldest first:" in text
    assert re.search(r"record #\d+ /v1/batch answered 400 \(a planned fault\)\n", text), text
    assert re.search(r"record #\d+ /v1/batch answered 200 \w+, X-Retry-Count: 1", text), text


# --- the parts ------------------------------------------------------------------------------


def test_drawn_calls_are_valid_and_invalid_ones_break_the_contract() -> None:
    from hypothesis import given

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(calls(), invalid_calls())
    def check(valid: Call, invalid: Call) -> None:
        assert valid.errors() == [], valid
        assert invalid.errors() != [], invalid

    check()


def test_a_long_value_is_shortened_in_a_step() -> None:
    call = Call("group", "u", group_id="g", traits={"notes": "x" * 30_000})
    assert repr(call) == ("group(user_id='u', group_id='g', "
                          "traits={'notes': 'xxxxxxxx'...(30000 chars)})")


def test_a_machine_without_an_adapter_says_how_to_make_one() -> None:
    with pytest.raises(TypeError, match="for_adapter"):
        DeliveryMachine()


def test_the_command_line_adapter_runs_the_conform_client(server: MockSegment) -> None:
    command = [sys.executable, str(CONFORM_CLIENT), *(f"{{{name}}}" for name in PLACEHOLDERS)]
    adapter = CommandLineAdapter.for_command(command, timeout=30)
    run_state_machine_as_test(
        DeliveryMachine.for_adapter(adapter, server=server),
        settings=settings(RUNS, max_examples=2, stateful_step_count=6))
