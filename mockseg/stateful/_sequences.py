"""``mockseg conform --stateful N``: N sequences of the delivery machine against a command line,
reported as conformance cases."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Final

from hypothesis import seed as with_seed
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from mockseg.conform import WRITE_KEY, Case, Result
from mockseg.mocksegment import MockSegment
from mockseg.stateful._adapters import CommandLineAdapter
from mockseg.stateful._checks import DeliveryError
from mockseg.stateful._machine import DeliveryMachine, run_settings

__all__ = ["STEPS", "run_sequences"]

#: Steps in a sequence: each is a run of the command, a flush or a planned answer.
STEPS: Final = 10


def _steps(error: BaseException) -> list[str]:
    """The shrunk sequence Hypothesis noted on the error, without the invariant's lines."""
    return [note for note in getattr(error, "__notes__", [])
            if note.startswith("state") and not note.endswith(".delivery_rules_hold()")]


def run_sequences(
    server: MockSegment,
    command: Sequence[str],
    sequences: int,
    *,
    seed: int,
    timeout: float,
    case_file: bool,
    progress: Callable[[Result], None] = lambda result: None,
) -> list[Result]:
    """Run up to ``sequences`` sequences; stop at the first failure, shrink it, report it.

    One :class:`Result` a sequence run before the failure, then one for the failure, whose
    detail is the broken rule and the shortest sequence of steps that breaks it.
    """
    adapter = CommandLineAdapter.for_command(command, timeout=timeout, case_file=case_file)
    machine = DeliveryMachine.for_adapter(adapter, server=server, write_key=WRITE_KEY)
    ended: list[tuple[float, BaseException | None]] = []

    class Sequences(machine):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            self.started = time.monotonic()
            super().__init__()

        def teardown(self) -> None:
            error = sys.exc_info()[1]
            try:
                super().teardown()
            except BaseException as exc:
                error = exc
                raise
            finally:
                ended.append((time.monotonic() - self.started, error))
                if len(ended) <= sequences and all(e is None for _, e in ended[:-1]):
                    progress(_result(len(ended), seed, *ended[-1]))

    Sequences.__name__ = Sequences.__qualname__ = machine.__name__
    failure: BaseException | None = None
    try:
        run_state_machine_as_test(with_seed(seed)(Sequences), settings=settings(
            run_settings(sequences, STEPS), database=None))
    except Exception as exc:
        failure = exc
    first = next((n for n, (_, error) in enumerate(ended) if error is not None), None)
    results = [_result(n + 1, seed, seconds, None) for n, (seconds, _) in
               enumerate(ended[:sequences if first is None else first])]
    if failure is not None:
        seconds = ended[first][0] if first is not None else 0.0
        results.append(_result(len(results) + 1, seed, seconds, failure))
    return results


def _result(number: int, seed: int, seconds: float, error: BaseException | None) -> Result:
    case = Case("stateful", number, f"seed {seed} sequence {number}", {})
    if error is None:
        return Result(case, True, "ok", seconds=seconds)
    outcome = error.outcome if isinstance(error, DeliveryError) else type(error).__name__
    steps = _steps(error)
    detail = str(error) + ("\nshortest sequence:\n" + "\n".join(
        f"  {step}" for step in steps) if steps else "")
    return Result(case, False, outcome, detail=detail, seconds=seconds)
