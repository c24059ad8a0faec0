"""MockSegment: the fake with its own journal and settings, in-process or on a socket."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any

from mockseg.app import MockSegmentApp, Mode, Settings
from mockseg.faults import Fault, Faults
from mockseg.journal import CallFilter, Journal, Record
from mockseg.rules import Limits
from mockseg.serving import KeepAliveServer

__all__ = ["MockSegment"]

class MockSegment:
    """A fake Segment Tracking API that checks the group contract and records every call.

    Use ``.app`` in-process (werkzeug's test ``Client``, no socket), or ``.start()`` to serve it on
    127.0.0.1 with an ephemeral port. ``with MockSegment() as fake:`` starts and stops it.
    """

    def __init__(
        self,
        mode: Mode = "strict",
        write_keys: Iterable[str] | None = None,
        *,
        limits: Limits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_records: Callable[[Sequence[Record]], None] | None = None,
    ) -> None:
        settings = Settings(
            mode=mode,
            write_keys=frozenset(write_keys) if write_keys is not None else None,
            limits=limits or Limits(),
        )
        self.journal = Journal()
        self.faults = Faults()
        self.app = MockSegmentApp(settings, self.journal, self.faults, on_records)
        self.host = host
        self.port = port
        self._server: KeepAliveServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> MockSegment:
        """Serve on ``host:port`` (port 0 picks a free one) from a daemon thread; return self."""
        if self._server is not None:
            raise RuntimeError("this MockSegment is already running")
        server = KeepAliveServer(self.host, self.port, self.app)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"mockseg:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections, and return at once. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.stop()
        thread.join()
        server.close()

    @property
    def settings(self) -> Settings:
        """The mode, write keys and limits in force (``app.settings``)."""
        return self.app.settings

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``; give it to an SDK as its host."""
        if self._server is None:
            raise RuntimeError("call start() first: an unstarted MockSegment has no URL")
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def __enter__(self) -> MockSegment:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "not started"
        return f"<MockSegment {self.settings.mode} {where} calls={len(self.journal)}>"

    # --- the journal and faults -----------------------------------------------------------

    @property
    def calls(self) -> list[Record]:
        """Every record so far, oldest first."""
        return self.journal.select()

    def select(self, **filters: Any) -> list[Record]:
        """Records matching ``filters`` (``type``, ``status``, ``group_id``, ``user_id``, ...)."""
        return self.journal.select(CallFilter.from_kwargs(filters))

    def reset(self) -> None:
        """Empty the journal and drop planned faults."""
        self.journal.clear()
        self.faults.clear()

    def wait_for(self, count: int = 1, timeout: float = 5.0, **filters: Any) -> list[Record]:
        """Block until ``count`` records match ``filters``; return them, or raise TimeoutError."""
        where = CallFilter.from_kwargs(filters)
        records, enough = self.journal.wait(count, timeout, where)
        if not enough:
            raise TimeoutError(
                f"waited {timeout:g}s for {count} call(s) matching {where}; got {len(records)}"
                f" (journal holds {len(self.journal)} in all)"
            )
        return records

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        retry_after: float | None = None,
        *,
        delay_ms: int = 0,
    ) -> None:
        """Answer the next ``count`` tracking calls with ``status``; they are still recorded."""
        self.faults.add(Fault(status=status, retry_after=retry_after, delay_ms=delay_ms), count)

    @property
    def stats(self) -> dict[str, Any]:
        """``{"total", "accepted", "rejected", "by_type", ...}``, as ``/__mockseg/stats``."""
        return self.journal.stats()

