"""Injected faults: the next N tracking calls get a chosen answer instead of being judged."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Fault", "Faults"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned answer: an HTTP status, an optional Retry-After, an optional delay."""

    status: int = 503
    retry_after: float | None = None
    delay_ms: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.status, int) or isinstance(self.status, bool) or not (
            200 <= self.status <= 599
        ):
            raise ValueError(f"status must be an HTTP status from 200 to 599, not {self.status!r}")
        if self.retry_after is not None and (
            isinstance(self.retry_after, bool)
            or not isinstance(self.retry_after, int | float)
            or not 0 <= self.retry_after <= 86_400
        ):
            raise ValueError(
                f"retry_after must be a number of seconds from 0 to 86400, not {self.retry_after!r}"
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
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100_000:
            raise ValueError(f"count must be an integer from 1 to 100000, not {count!r}")
        with self._lock:
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
