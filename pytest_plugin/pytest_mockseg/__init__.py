"""pytest plugin for mockseg: a fake Segment Tracking API as fixtures.

Loaded in every pytest run where mockseg is installed, so it imports nothing heavy until a test
asks for one of its fixtures.

Fixtures:
- ``mockseg_server``: session-scoped; one started :class:`mockseg.MockSegment` per session (and
  per pytest-xdist worker).
- ``mockseg``: function-scoped; a fresh private view of that server (its own URL, settings,
  faults and calls), with the journal emptied and faults cleared before the test. Calls that an
  earlier test's SDK thread sends late go to that test's URL and never show up here.
- ``mockseg_tls_server``: the same over HTTPS, started on first use by a test marked
  ``@pytest.mark.mockseg(tls=True)``; its ``ca_file`` is the CA certificate a client trusts.
- ``mockseg_intercept``: ``mockseg`` with requests to api.segment.io (and the EU host) routed
  into it in-process: no socket, no port, no SDK configuration.

With Hypothesis ``@given``, start each example clean with ``with mockseg_server.scoped() as
fake:`` (a session-scoped fixture, so no health check fires).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockseg import MockSegment, ScopedMockSegment

__all__ = ["mockseg", "mockseg_intercept", "mockseg_server", "mockseg_tls_server"]

MODES = ("strict", "segment")
MARKER_OPTIONS = ("mode", "write_keys", "limits", "tls", "tracking_plan")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockseg", "mockseg: a fake Segment Tracking API")
    group.addoption(
        "--mockseg-mode",
        choices=MODES,
        default=None,
        help="response mode of the mockseg fixtures: strict (400 for invalid calls, the default) "
        "or segment (200 like production; errors only recorded). Overrides the ini key "
        "mockseg_mode.",
    )
    parser.addini("mockseg_mode", "default response mode of the mockseg fixtures",
                  default="strict")
    parser.addini("mockseg_tracking_plan", "a tracking plan (Segment's export of its rules, a "
                  "path relative to the rootdir) that the mockseg fixtures check every call "
                  "against", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockseg(mode='strict'|'segment', write_keys=[...], limits=Limits(...), tls=False, "
        "tracking_plan=PATH_OR_PLAN): settings for this test's mockseg fixture; tls=True "
        "serves it over HTTPS",
    )


def _mode(config: pytest.Config) -> str:
    mode = config.getoption("--mockseg-mode") or config.getini("mockseg_mode") or "strict"
    if mode not in MODES:
        raise pytest.UsageError(f"mockseg_mode must be 'strict' or 'segment', not {mode!r}")
    return str(mode)


def _tracking_plan(config: pytest.Config) -> Any:
    """The ini key's plan, as a path under the rootdir, or None."""
    path = str(config.getini("mockseg_tracking_plan") or "").strip()
    if not path:
        return None
    from mockseg.plans import TrackingPlanError, load_plan

    try:
        return load_plan(config.rootpath / path)
    except TrackingPlanError as exc:
        raise pytest.UsageError(f"mockseg_tracking_plan: {exc}") from None


def _marker_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("mockseg")
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(
            f"@pytest.mark.mockseg takes keyword arguments only ({', '.join(MARKER_OPTIONS)})")
    unknown = set(marker.kwargs) - set(MARKER_OPTIONS)
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.mockseg got unknown option(s) {', '.join(sorted(unknown))}; "
            f"use {', '.join(MARKER_OPTIONS)}")
    if marker.kwargs.get("mode", "strict") not in MODES:
        raise pytest.UsageError(
            f"@pytest.mark.mockseg mode must be 'strict' or 'segment', "
            f"not {marker.kwargs['mode']!r}")
    return dict(marker.kwargs)


@pytest.fixture(scope="session")
def mockseg_server(pytestconfig: pytest.Config) -> Iterator[MockSegment]:
    """One started MockSegment for the whole session (one per xdist worker)."""
    from mockseg import MockSegment

    server = MockSegment(mode=_mode(pytestconfig),  # type: ignore[arg-type]
                         tracking_plan=_tracking_plan(pytestconfig)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mockseg_tls_server(pytestconfig: pytest.Config) -> Iterator[MockSegment]:
    """One started MockSegment over HTTPS for the session, made on first use; its
    ``ca_file`` is the CA certificate to trust."""
    from mockseg import MockSegment

    server = MockSegment(mode=_mode(pytestconfig), tls=True,  # type: ignore[arg-type]
                         tracking_plan=_tracking_plan(pytestconfig)).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def mockseg(request: pytest.FixtureRequest) -> Iterator[ScopedMockSegment]:
    """A clean, private view of the session's fake Segment API for one test (over HTTPS, with
    ``ca_file`` set, under ``@pytest.mark.mockseg(tls=True)``)."""
    settings = _marker_settings(request)
    plan = settings.get("tracking_plan")
    if isinstance(plan, str) and not os.path.isabs(plan):  # a path from the rootdir, as the ini's
        settings["tracking_plan"] = str(request.config.rootpath / plan)
    tls = settings.pop("tls", False)
    if not isinstance(tls, bool):
        raise pytest.UsageError(f"@pytest.mark.mockseg tls must be True or False, not {tls!r}")
    server: MockSegment = request.getfixturevalue(
        "mockseg_tls_server" if tls else "mockseg_server")
    server.reset()
    with server.scoped(**settings) as fake:
        yield fake


@pytest.fixture
def mockseg_intercept(mockseg: ScopedMockSegment) -> Iterator[ScopedMockSegment]:
    """``mockseg``, with requests to the Segment hosts answered by it in-process."""
    with mockseg.intercept():
        yield mockseg
