"""Injected faults: the next N tracking calls get a chosen answer instead of being judged."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["MAX_PENDING_FAULTS", "Fault", "Faults"]

#: Faults that may wait at once, over every scope: a test plans a handful; a bound keeps a
#: runaway loop from filling memory.
MAX_PENDING_FAULTS = 10_000


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned answer: an HTTP status, an optional Retry-After (whole seconds, as the header
    allows), an optional delay."""

    status: int = 503
    retry_after: int | None = None
    delay_ms: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.status, int) or isinstance(self.status, bool) or not (
            200 <= self.status <= 599
        ):
            raise ValueError(f"status must be an HTTP status from 200 to 599, not {self.status!r}")
        if self.retry_after is not None and (
            isinstance(self.retry_after, bool)
            or not isinstance(self.retry_after, int)
            or not 0 <= self.retry_after <= 86_400
        ):
            raise ValueError(
                "retry_after must be a whole number of seconds from 0 to 86400 (Retry-After "
                f"takes no fractions), not {self.retry_after!r}"
            )
        if not isinstance(self.delay_ms, int) or isinstance(self.delay_ms, bool) or not (
            0 <= self.delay_ms <= 60_000
        ):
            raise ValueError(f"delay_ms must be an integer from 0 to 60000, not {self.delay_ms!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """Thread-safe queues of planned faults, one per scope, consumed one per tracking request.

    A fault planned for a scope applies only to that scope's requests; scope None is the
    server's own (unscoped) requests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str | None, list[Fault]] = {}

    def add(self, fault: Fault, count: int = 1, scope: str | None = None) -> None:
        """Make the next ``count`` tracking requests of ``scope`` get ``fault``."""
        if not isinstance(count, int) or isinstance(count, bool) or not (
                1 <= count <= MAX_PENDING_FAULTS):
            raise ValueError(f"count must be an integer from 1 to {MAX_PENDING_FAULTS}, "
                             f"not {count!r}")
        with self._lock:
            pending = sum(len(queue) for queue in self._queues.values())
            if pending + count > MAX_PENDING_FAULTS:
                raise ValueError(
                    f"count of {count} would make {pending + count} pending faults, over the "
                    f"limit of {MAX_PENDING_FAULTS}; DELETE /__mockseg/faults (or reset) first")
            self._queues.setdefault(scope, []).extend([fault] * count)

    def take(self, scope: str | None = None) -> Fault | None:
        """The fault for this request, if one is planned."""
        if not self._queues:  # the common case, without the lock
            return None
        with self._lock:
            queue = self._queues.get(scope)
            if not queue:
                return None
            fault = queue.pop(0)
            if not queue:
                del self._queues[scope]
            return fault

    def count(self, scope: str | None = None) -> int:
        """How many faults are still planned for ``scope``."""
        with self._lock:
            return len(self._queues.get(scope, ()))

    def pending(self, scope: str | None = None) -> list[Fault]:
        """The faults still planned for ``scope``."""
        with self._lock:
            return list(self._queues.get(scope, ()))

    def clear(self, scope: str | None = None) -> None:
        """Drop the faults planned for ``scope``."""
        with self._lock:
            self._queues.pop(scope, None)

    def clear_all(self) -> None:
        """Drop every planned fault of every scope."""
        with self._lock:
            self._queues.clear()
