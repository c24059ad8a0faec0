"""The fake's Python handle: its own journal and settings, in-process or on a socket.

A :class:`Fake` is the whole fake: the app, its journal and faults, and the server that serves
them. :meth:`Fake.scoped` gives a :class:`ScopedFake`: a private view of the same server with
its own URL, settings, faults and calls, which is how one shared server serves many tests
without one test seeing another's late calls.

They hold nothing of the test kit: :class:`mockseg.MockSegment` and
:class:`mockseg.ScopedMockSegment` (in :mod:`mockseg.mocksegment`) are these with the kit's
assertions. ``mockseg serve`` runs a :class:`Fake`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from mockseg.app import SCOPE_ENVIRON_KEY, SCOPE_PREFIX, MockSegmentApp, Mode, Settings
from mockseg.cdn import load_cdn_settings
from mockseg.faults import Fault, Faults
from mockseg.intercept import DEFAULT_HOSTS, intercept
from mockseg.journal import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RECORDS,
    CallFilter,
    Journal,
    Record,
    SqliteJournal,
)
from mockseg.listener import KeepAliveServer
from mockseg.rules import Limits
from mockseg.serving import IDLE_TIMEOUT
from mockseg.tls import TlsSetup, local_ca_setup, own_cert_setup

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["Fake", "ScopedFake", "View"]


class View:
    """What a whole fake and a scoped view share: the journal seen through ``scope``."""

    scope: str | None
    journal: Journal | SqliteJournal
    faults: Faults
    #: The WSGI app, usable with no socket at all (werkzeug's test ``Client``).
    app: WSGIApplication

    # --- subclasses provide ---------------------------------------------------------------

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def settings(self) -> Settings:
        raise NotImplementedError

    def _new_scope(self, settings: Settings) -> ScopedFake:
        raise NotImplementedError

    def scoped(
        self,
        mode: Mode | None = None,
        write_keys: Iterable[str] | None = None,
        *,
        limits: Limits | None = None,
        tracking_plan: Any = None,
    ) -> ScopedFake:
        """A fresh private view of the same server: its own URL, settings, faults and calls.

        Settings not given are this fake's. ``tracking_plan``: a path, the parsed export or a
        ``TrackingPlan`` (``mockseg.plans.load_plan``). Use it as a context manager, or call
        ``close()``.
        """
        changes: dict[str, Any] = {}
        if tracking_plan is not None:
            changes["tracking_plan"] = _plan(tracking_plan)
        if mode is not None:
            changes["mode"] = mode
        if isinstance(write_keys, str):
            raise TypeError("write_keys must be a list of keys, not one string")
        if write_keys is not None:
            changes["write_keys"] = frozenset(write_keys)
        if limits is not None:
            changes["limits"] = limits
        return self._new_scope(replace(self.settings, **changes))

    # --- the journal ----------------------------------------------------------------------

    def _where(self, filters: Mapping[str, Any]) -> CallFilter:
        where = CallFilter.from_kwargs(filters)
        return where if self.scope is None else replace(where, scope=self.scope)

    @property
    def calls(self) -> list[Record]:
        """Every record so far, oldest first."""
        return self.journal.select(self._where({}))

    def select(self, **filters: Any) -> list[Record]:
        """Records matching ``filters`` (``type``, ``status``, ``group_id``, ``user_id``, ...)."""
        return self.journal.select(self._where(filters))

    @property
    def stats(self) -> dict[str, Any]:
        """``{"total", "accepted", "rejected", "by_type", ...}``, as ``/__mockseg/stats``."""
        return self.journal.stats(self._where({}))

    def reset(self) -> None:
        """Forget the calls and drop the planned faults."""
        self.journal.clear(self._where({}))
        if self.scope is None:
            self.faults.clear_all()
        else:
            self.faults.clear(self.scope)

    def wait_for(self, count: int = 1, timeout: float = 5.0, **filters: Any) -> list[Record]:
        """Block until ``count`` records match ``filters``; return them, or raise TimeoutError."""
        __tracebackhide__ = True
        where = self._where(filters)
        records, enough = self.journal.wait(count, timeout, where)
        if not enough:
            raise TimeoutError(
                f"waited {timeout:g}s for {count} call(s) matching {where}; got {len(records)}"
                f" (this fake holds {len(self.calls)} in all)"
            )
        return records

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        retry_after: int | None = None,
        *,
        delay_ms: int = 0,
    ) -> None:
        """Answer the next ``count`` tracking calls with ``status``; they are still recorded."""
        fault = Fault(status=status, retry_after=retry_after, delay_ms=delay_ms)
        self.faults.add(fault, count, self.scope)

    # --- in-process use -------------------------------------------------------------------

    @contextmanager
    def intercept(self, hosts: Iterable[str] = DEFAULT_HOSTS) -> Iterator[Self]:
        """Route ``requests``/urllib3 and ``httpx`` calls to the Segment hosts into this fake.

        No socket is opened; other hosts pass through untouched.
        """
        with intercept(self.app, hosts):
            yield self


def _plan(source: Any, mode: str = "record", unplanned: str = "violate") -> Any:
    """A TrackingPlan from what a user passes (imported only when a plan is given)."""
    from mockseg.plans import TrackingPlan, load_plan

    if isinstance(source, TrackingPlan) and (mode, unplanned) == ("record", "violate"):
        return source
    return load_plan(source, mode=mode, unplanned=unplanned)  # type: ignore[arg-type]


class Fake(View):
    """A fake Segment Tracking API that checks the group contract and records every call.

    Use ``.app`` in-process (werkzeug's test ``Client``, no socket), ``.intercept()`` to catch an
    SDK's requests to api.segment.io in-process, or ``.start()`` to serve on 127.0.0.1 with an
    ephemeral port. ``with Fake() as fake:`` starts and stops it.
    """

    scope = None
    #: What :meth:`scoped` makes (:class:`mockseg.MockSegment`'s views have its assertions).
    scoped_class: ClassVar[type[ScopedFake]]

    def __init__(
        self,
        mode: Mode = "strict",
        write_keys: Iterable[str] | None = None,
        *,
        limits: Limits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_records: Callable[[Sequence[Record]], None] | None = None,
        journal: Journal | SqliteJournal | str | PathLike[str] | None = None,
        max_records: int | None = DEFAULT_MAX_RECORDS,
        max_journal_bytes: int | None = DEFAULT_MAX_BYTES,
        admin_token: str | None = None,
        allow_hosts: Iterable[str] = (),
        idle_timeout: float = IDLE_TIMEOUT,
        tls: bool = False,
        tls_hosts: Iterable[str] = (),
        tls_cert: tuple[str | PathLike[str], str | PathLike[str]] | None = None,
        tls_ca_dir: str | PathLike[str] | None = None,
        cdn_settings: str | PathLike[str] | Mapping[str, Any] | None = None,
        tracking_plan: Any = None,
        tracking_plan_mode: str = "record",
        unplanned: str = "violate",
    ) -> None:
        """``tls=True`` serves HTTPS with a certificate from a local CA made at start (its PEM
        is :attr:`ca_file`) for localhost, 127.0.0.1, ::1 and ``tls_hosts``; ``tls_ca_dir``
        keeps that CA for the next start; ``tls_cert=(cert_file, key_file)`` serves your own
        certificate instead. ``cdn_settings`` (a JSON file or a mapping) is the settings
        document served to analytics.js at ``/v1/projects/{writeKey}/settings``.
        ``max_records`` and ``max_journal_bytes`` bound the memory journal (None: no bound).
        ``allow_hosts``: Host names besides the loopback ones that may reach the admin API and
        the journal page on a loopback connection (``"*"``: any). ``tracking_plan``: the team's
        tracking plan (a path, the parsed export, or a ``TrackingPlan``), checked on every
        message; ``tracking_plan_mode="block"`` answers a message with violations like a
        contract error, and ``unplanned`` (allow, violate, block) says what an event the plan
        does not name is.
        """
        if isinstance(write_keys, str):
            raise TypeError("write_keys must be a list of keys, not one string")
        settings = Settings(
            mode=mode,
            write_keys=frozenset(write_keys) if write_keys is not None else None,
            limits=limits or Limits(),
            tracking_plan=_plan(tracking_plan, tracking_plan_mode, unplanned)
            if tracking_plan is not None else None,
        )
        if journal is None:
            journal = Journal(max_records, max_journal_bytes)
        elif isinstance(journal, str | PathLike):
            journal = SqliteJournal(journal)
        if isinstance(tls_hosts, str):
            raise TypeError("tls_hosts must be a list of names, not one string")
        self.tls = bool(tls or tls_cert is not None)
        self.tls_hosts = tuple(tls_hosts)
        self.tls_cert = tls_cert
        self.tls_ca_dir = tls_ca_dir
        self._tls: TlsSetup | None = None
        self.journal = journal
        self.faults = Faults()
        self.app: MockSegmentApp = MockSegmentApp(
            settings, self.journal, self.faults, on_records, admin_token=admin_token,
            allow_hosts=allow_hosts,
            cdn_settings=load_cdn_settings(cdn_settings) if cdn_settings is not None else None)
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self._server: KeepAliveServer | None = None
        self._thread: threading.Thread | None = None
        self._scope_numbers = itertools.count(1)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve on ``host:port`` (port 0 picks a free one) from a daemon thread; return self."""
        if self._server is not None:
            raise RuntimeError(f"this {type(self).__name__} is already running")
        if self.tls and self._tls is None:
            if self.tls_cert is not None:
                self._tls = own_cert_setup(*self.tls_cert)
            else:
                self._tls = local_ca_setup(self.tls_hosts, self.tls_ca_dir)
        server = KeepAliveServer(self.host, self.port, self.app, idle_timeout=self.idle_timeout,
                                 ssl_context=self._tls.context if self._tls else None)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"mockseg:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Stop serving and close the connections; safe to call twice.

        Idle connections close at once; a request being answered gets up to ``grace`` seconds
        to finish. With nothing in flight this returns at once.
        """
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.stop()
        thread.join()
        self.journal.wake_waiters()  # long-polls (the journal page) answer now
        server.close(grace)

    def close(self) -> None:
        """Stop serving, then flush and close the journal (a SQLite file is checkpointed), and
        remove this run's CA files."""
        self.stop()
        self.journal.close()
        if self._tls is not None:
            self._tls.cleanup()

    @property
    def ca_file(self) -> Path | None:
        """The PEM file of the CA that signed the server's certificate (``tls=True``, once
        started); give it to a client as the one CA it trusts. None otherwise."""
        return self._tls.ca_file if self._tls is not None else None

    @property
    def running(self) -> bool:
        """Whether it is serving on a socket."""
        return self._server is not None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``; give it to an SDK as its host."""
        if self._server is None:
            raise RuntimeError(f"call start() first: an unstarted {type(self).__name__} has "
                               "no URL")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def settings(self) -> Settings:
        """The mode, write keys and limits in force."""
        return self.app.settings

    def _new_scope(self, settings: Settings) -> ScopedFake:
        return self.scoped_class(self, f"s{next(self._scope_numbers)}", settings)

    def __enter__(self) -> Self:
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
        return (f"<{type(self).__name__} {self.settings.mode} {where} "
                f"calls={len(self.journal)}>")


class ScopedFake(View):
    """A private view of a :class:`Fake`: calls sent to its ``url`` (or through its ``app`` or
    ``intercept()``) are judged with its settings and seen only by it."""

    scope: str

    def __init__(self, server: Fake, scope: str, settings: Settings) -> None:
        self.server = server
        self.scope = scope
        self.journal = server.journal
        self.faults = server.faults
        self._settings = settings
        server.app.open_scope(scope, settings)
        inner = server.app

        def scoped_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            environ[SCOPE_ENVIRON_KEY] = scope
            return inner(environ, start_response)

        #: A WSGI app whose every request belongs to this scope.
        self.app = scoped_app

    @property
    def url(self) -> str:
        """The server's URL with this scope's prefix; give it to an SDK as its host."""
        return f"{self.server.url}{SCOPE_PREFIX}{self.scope}"

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def ca_file(self) -> Path | None:
        """The server's CA certificate file (see :attr:`Fake.ca_file`)."""
        return self.server.ca_file

    def _new_scope(self, settings: Settings) -> ScopedFake:
        return self.server._new_scope(settings)

    def close(self) -> None:
        """Forget this view's settings and faults; its records stay in the journal."""
        self.server.app.close_scope(self.scope)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.scope} {self._settings.mode} "
                f"calls={len(self.calls)}>")


Fake.scoped_class = ScopedFake
