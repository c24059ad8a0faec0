"""A stateful Hypothesis kit for SDK delivery: queueing, batching, flushing, retries.

An SDK author writes an adapter, four methods around the SDK (make a client pointed at a URL;
send a group, identify or track call; flush; shut down), and gets a test::

    from mockseg.stateful import DeliveryMachine, SdkAdapter

    class MyAdapter(SdkAdapter):
        def __init__(self, url, write_key):
            self.client = MyClient(write_key, host=url)
        def send(self, call):
            getattr(self.client, call.kind)(**call.kwargs())
        def flush(self):
            self.client.flush()
        def shutdown(self):
            self.client.shutdown()

    TestMyDelivery = DeliveryMachine.for_adapter(MyAdapter).TestCase

Hypothesis interleaves valid and invalid calls, flushes and planned answers from Segment's
retry table, checks the delivery rules against mockseg's journal after every step, and
shrinks a failure to the shortest sequence of steps. :class:`PythonSdkAdapter` (the official
Python SDK) and :class:`CommandLineAdapter` (any SDK behind a ``mockseg conform`` command
line) ship with it. Import it yourself: ``import mockseg`` does not.
"""

from __future__ import annotations

from mockseg.stateful._adapters import (
    AdapterFactory,
    CommandLineAdapter,
    PythonSdkAdapter,
    SdkAdapter,
)
from mockseg.stateful._calls import KINDS, Call, bulk_calls, calls, invalid_calls
from mockseg.stateful._checks import NON_RETRYABLE, RETRYABLE, DeliveryError, is_retryable
from mockseg.stateful._machine import PHASES, DeliveryMachine, run_settings

__all__ = [
    "KINDS",
    "NON_RETRYABLE",
    "PHASES",
    "RETRYABLE",
    "AdapterFactory",
    "Call",
    "CommandLineAdapter",
    "DeliveryError",
    "DeliveryMachine",
    "PythonSdkAdapter",
    "SdkAdapter",
    "bulk_calls",
    "calls",
    "invalid_calls",
    "is_retryable",
    "run_settings",
]
