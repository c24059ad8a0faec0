"""Adapters: the four methods the delivery machine needs of an SDK, and two that ship."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from mockseg.conform import PLACEHOLDERS, Case, run_command
from mockseg.stateful._calls import KINDS, Call

__all__ = ["AdapterFactory", "CommandLineAdapter", "PythonSdkAdapter", "SdkAdapter"]


class SdkAdapter:
    """What the delivery machine needs of an SDK. Subclass it and write the four methods.

    ``kinds`` are the calls the SDK can make (some of group, identify, track). ``max_burst`` is
    the most calls one ``send_many`` step makes (0 leaves the step out: for an SDK that sends
    each call by itself, a burst tests nothing a single call does not).
    """

    kinds: ClassVar[tuple[str, ...]] = KINDS
    max_burst: ClassVar[int] = 20

    def __init__(self, url: str, write_key: str) -> None:
        """Make a client that sends to ``url`` (give it as the SDK's host) with ``write_key``."""

    def send(self, call: Call) -> None:
        """Make the call: ``call.kind`` is group, identify or track; ``call.kwargs()`` its
        fields as the Python SDK names them, ``call.fields()`` as the message does. Raise
        if the SDK refuses it."""
        raise NotImplementedError

    def flush(self) -> None:
        """Send everything queued; return when it has been answered (retries included)."""
        raise NotImplementedError

    def shutdown(self) -> None:
        """Flush and stop the client."""
        raise NotImplementedError


#: An adapter class, or any callable ``(url, write_key)`` that makes an adapter.
AdapterFactory = Callable[[str, str], SdkAdapter]


def adapter_name(factory: AdapterFactory) -> str:
    return str(getattr(factory, "__name__", "Sdk"))


class PythonSdkAdapter(SdkAdapter):
    """The official Python SDK, ``segment.analytics.Client``, batching in its own thread.

    It uploads every 50 ms (instead of 500) and retries 3 times; ``errors`` holds what it
    reported through ``on_error``.
    """

    def __init__(self, url: str, write_key: str) -> None:
        analytics = importlib.import_module("segment.analytics")
        self.errors: list[Exception] = []
        self.client: Any = analytics.Client(
            write_key, host=url, upload_interval=0.05, max_retries=3,
            on_error=lambda error, batch: self.errors.append(error))

    def send(self, call: Call) -> None:
        getattr(self.client, call.kind)(**call.kwargs())

    def flush(self) -> None:
        self.client.flush()

    def shutdown(self) -> None:
        self.client.shutdown()


class CommandLineAdapter(SdkAdapter):
    """An SDK behind a ``mockseg conform`` command line: the command runs once for each call.

    The command gets the call's values in its placeholders (``{url}``, ``{writeKey}``,
    ``{userId}``, ``{groupId}``, ``{traits}``, ``{messageId}``, ...) and must have sent the call
    (retries included) when it exits. The contract has group calls only. Make the adapter
    with :meth:`for_command`.
    """

    kinds = ("group",)
    max_burst = 0
    command: ClassVar[tuple[str, ...]] = ()
    timeout: ClassVar[float] = 10.0
    case_file: ClassVar[bool] = False

    @classmethod
    def for_command(cls, command: Sequence[str], *, timeout: float = 10.0,
                    case_file: bool = False) -> type[CommandLineAdapter]:
        """An adapter that runs ``command`` for each call (``timeout`` seconds at most; with
        ``case_file``, the call also comes as JSON on the command's stdin)."""
        if isinstance(command, str) or not command:
            raise TypeError("command must be a non-empty list of arguments")
        return type("CommandLineAdapter", (cls,), {
            "command": tuple(command), "timeout": timeout, "case_file": case_file})

    def __init__(self, url: str, write_key: str) -> None:
        if not self.command:
            raise TypeError("make the adapter with CommandLineAdapter.for_command([...])")
        self.url = url
        self.write_key = write_key
        #: The exit code and output tail of each run, oldest first.
        self.runs: list[tuple[int | None, str]] = []

    def send(self, call: Call) -> None:
        values = {name: value for name, value in call.fields().items() if name in PLACEHOLDERS}
        case = Case("stateful", len(self.runs) + 1, "stateful", values, write_key=self.write_key)
        code, output = run_command(self.command, case, self.url, self.timeout, self.case_file)
        self.runs.append((code, output))
        if code is None or code == 127:  # it hung, or could not start: nothing was sent
            raise RuntimeError(output)

    def flush(self) -> None:
        """Nothing to do: each run has sent its call when it exits."""

    def shutdown(self) -> None:
        """Nothing to do."""
