"""The delivery machine: a Hypothesis state machine that drives an SDK through an adapter."""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import uuid
from typing import Any, ClassVar, Final

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mockseg.mocksegment import MockSegment
from mockseg.stateful._adapters import AdapterFactory, SdkAdapter, adapter_name
from mockseg.stateful._calls import KINDS, Call, bulk_calls, calls, invalid_calls
from mockseg.stateful._checks import (
    NON_RETRYABLE,
    RETRYABLE,
    DeliveryError,
    Ledger,
    check_delivered,
    check_journal,
)

__all__ = ["DeliveryMachine"]

WRITE_KEY: Final = "stateful-write-key"
#: Retry-After for a planned retryable answer: mostly none or 0, now and then 1 second.
_RETRY_AFTER = st.integers(0, 7).map(lambda n: 1 if n == 7 else 0 if n % 2 else None)
_BULK_SIZES: Final = (2_000, 30_000)
#: The answers Segment gives most, 503, 429 and 400, half the time; any in the table otherwise.
_RETRYABLE_STATUSES = st.one_of(st.sampled_from((503, 429)), st.sampled_from(RETRYABLE))
_FINAL_STATUSES = st.one_of(st.just(400), st.sampled_from(NON_RETRYABLE))
#: Every phase but explain, which reruns a failure many times to say which lines it ran.
PHASES: Final = tuple(phase for phase in Phase if phase is not Phase.explain)
_shared: MockSegment | None = None
_shared_lock = threading.Lock()


def _shared_server() -> MockSegment:
    """One server for every machine without its own, started at first use, stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MockSegment().start()
            atexit.register(_shared.stop)
        return _shared


def run_settings(max_examples: int = 20, steps: int = 12) -> settings:
    """Settings for a machine's runs: no deadline or health checks (an SDK is slow next to
    Hypothesis), no explain phase, and one failure reported, the shortest."""
    return settings(max_examples=max_examples, stateful_step_count=steps, deadline=None,
                    phases=PHASES, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck))


class DeliveryMachine(RuleBasedStateMachine):
    """Sequences of calls, flushes and planned faults, with Segment's delivery rules checked.

    Each run gets a fresh scoped view of a server (in segment mode, as production answers) and
    a fresh client from the adapter. Rules: ``send`` a valid call, ``send_invalid`` one the
    contract rejects, ``send_many`` enough to fill batches, ``flush``, and plan the next answer:
    ``fail_retryable`` (408, 410, 429, 460, 5xx; Retry-After none, 0 or 1 s) or ``fail_final``
    (400, 401, 403, 404, 413). After every step the journal must show: sizes within the limits,
    each messageId one of a call's, a repeat only after a retryable answer with X-Retry-Count
    rising, nothing accepted twice. After ``flush()`` and at the end (shutdown), every valid
    call must be accepted once, or dropped after a non-retryable answer. At most
    ``max_retryable_faults`` retryable answers are planned a run, so an SDK that retries at
    least that often delivers everything.

    Make one with :meth:`for_adapter`, or subclass it and set ``adapter`` (and ``server``);
    its ``TestCase`` runs 20 sequences of at most 12 steps (decorate the subclass with
    ``@hypothesis.settings(...)`` for others).
    """

    adapter: ClassVar[AdapterFactory | None] = None
    server: ClassVar[MockSegment | None] = None
    write_key: ClassVar[str] = WRITE_KEY
    max_retryable_faults: ClassVar[int] = 2
    max_final_faults: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a subclass with an adapter the rules that draw calls of the kinds it sends."""
        super().__init_subclass__(**kwargs)
        factory = cls.__dict__.get("adapter")
        if factory is None:
            return
        if not callable(factory):
            raise TypeError(f"adapter must be an SdkAdapter class or a factory, not {factory!r}")
        cls.adapter = staticmethod(factory)
        kinds = tuple(getattr(factory, "kinds", KINDS))
        if not kinds or not set(kinds) <= set(KINDS):
            raise TypeError(f"the adapter's kinds must be some of {KINDS}, not {kinds!r}")
        most = int(getattr(factory, "max_burst", 20))

        def send(self: DeliveryMachine, call: Call) -> None:
            self._send(call)

        def send_invalid(self: DeliveryMachine, call: Call) -> None:
            self._send(call)

        def send_many(self: DeliveryMachine, count: int, message_bytes: int) -> None:
            for call in bulk_calls(count, message_bytes, kinds):
                self._send(call)

        cls.send = rule(call=calls(kinds))(send)
        cls.send_invalid = rule(call=invalid_calls(kinds))(send_invalid)
        if most > 1:
            counts = sorted({2, min(10, most), most})
            cls.send_many = rule(count=st.sampled_from(counts),
                                 message_bytes=st.sampled_from(_BULK_SIZES))(send_many)
        else:
            cls.send_many = None  # not a rule: each call is sent by itself
        cls.TestCase.settings = run_settings()

    @classmethod
    def for_adapter(
        cls,
        adapter: AdapterFactory,
        *,
        server: MockSegment | None = None,
        max_examples: int = 20,
        steps: int = 12,
        write_key: str = WRITE_KEY,
    ) -> type[DeliveryMachine]:
        """A machine for ``adapter``; its ``.TestCase`` is a unittest/pytest test.

        ``server``: the running :class:`MockSegment` to use (default: one shared by every
        machine, started at first use). ``max_examples`` runs of at most ``steps`` steps each.
        """
        name = adapter_name(adapter).removesuffix("Adapter") + "Delivery"
        machine: type[DeliveryMachine] = type(name, (cls,), {
            "adapter": adapter, "server": server, "write_key": write_key,
            "__module__": cls.__module__})
        machine.TestCase.settings = run_settings(max_examples, steps)
        return machine

    def __init__(self) -> None:
        super().__init__()
        factory = type(self).adapter
        if factory is None:
            raise TypeError(f"{type(self).__name__} has no adapter: make the machine with "
                            "DeliveryMachine.for_adapter(MyAdapter), or set adapter")
        server = type(self).server or _shared_server()
        self.fake = server.scoped(mode="segment")
        self.ledger = Ledger()
        self.retryable_left = self.max_retryable_faults
        self.final_left = self.max_final_faults
        self._prefix = f"st-{uuid.uuid4().hex[:8]}-"
        try:
            self.client: SdkAdapter = factory(self.fake.url, self.write_key)
        except BaseException:
            self.fake.close()
            raise

    # --- rules -----------------------------------------------------------------------------

    def _send(self, call: Call) -> None:
        sent = self.ledger.add(call.with_message_id(f"{self._prefix}{len(self.ledger.sent) + 1}"))
        try:
            self.client.send(sent.call)
        except Exception as exc:  # the SDK refused the call: fine if it is invalid
            sent.refused = f"{type(exc).__name__}: {exc}"
            if sent.valid:
                raise DeliveryError("refused a valid call", (
                    f"the SDK refused {sent}, a valid call: {sent.refused}")) from exc

    @rule()
    def flush(self) -> None:
        self.client.flush()
        check_delivered(self.fake.calls, self.ledger, when="flush()")

    @precondition(lambda self: self.retryable_left > 0)
    @rule(status=_RETRYABLE_STATUSES, retry_after=_RETRY_AFTER)
    def fail_retryable(self, status: int, retry_after: int | None) -> None:
        self.retryable_left -= 1
        self.fake.fail_next(1, status, retry_after)

    @precondition(lambda self: self.final_left > 0)
    @rule(status=_FINAL_STATUSES)
    def fail_final(self, status: int) -> None:
        self.final_left -= 1
        self.fake.fail_next(1, status)

    @invariant()
    def delivery_rules_hold(self) -> None:
        check_journal(self.fake.calls, self.ledger)

    def teardown(self) -> None:
        """Shut the client down; unless a step failed, check that nothing is left unsent."""
        failing = sys.exc_info()[0] is not None
        try:
            if failing:
                with contextlib.suppress(Exception):
                    self.client.shutdown()
            else:
                self.client.shutdown()
                records = self.fake.calls
                check_journal(records, self.ledger)
                check_delivered(records, self.ledger, when="shutdown()")
        finally:
            self.fake.reset()
            self.fake.close()
