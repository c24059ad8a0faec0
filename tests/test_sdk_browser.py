"""The real browser SDK, ``@segment/analytics-next`` from npm, in Debian's Chromium against mockseg.

The test page (tests/clients/browser/) is bundled with esbuild into one script and served from
its own origin, so every call the SDK makes to mockseg is cross-origin, as on a customer's site.
The only configuration is ``cdnURL``: the SDK loads its settings from mockseg, whose Segment.io
destination points back at mockseg. HTTPS runs with Chromium trusting only mockseg's CA, added
to a fresh NSS database in a temporary HOME.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode, urlsplit

import pytest

from mockseg import MockSegment
from tests.conftest import B2B
from tests.test_ui import CHROMIUM, CHROMIUM_ARGS
from tests.toolchains import CLIENTS, missing, require, run

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

    from mockseg.journal import Record

pytestmark = pytest.mark.slow

CLIENT = CLIENTS / "browser"
WRITE_KEY = "browser-write-key"
_B2B: dict[str, Any] = B2B
#: The documented B2B group call's traits: a nested address, an integer employees, a plan.
TRAITS: dict[str, Any] = _B2B["traits"]
#: What the page's identify, group and track calls send.
MESSAGE = {"userId": _B2B["userId"], "groupId": _B2B["groupId"], "traits": TRAITS}
#: Breaks the contract: a groupId with a space, and employees as a string.
INVALID = {**MESSAGE, "groupId": "company acme", "traits": {**TRAITS, "employees": "5000"}}
#: Where each strategy posts the page's identify, group and track calls.
PATHS = {"standard": ["/v1/i", "/v1/g", "/v1/t"], "batching": ["/v1/b"] * 3}
#: The batching strategy's config: the page's three calls fill one batch, sent at once. A retry
#: waits for the flush timer that the first call set, so the timeout is also the retry's delay.
BATCH = {"size": 3, "timeout": 2_000}
#: How long a page may take to load the SDK, its settings, and send its three calls.
PAGE_TIMEOUT_MS = 20_000


# --- the bundle: npm ci and esbuild, each cached by a content hash ----------------------------

def _digest(paths: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.relative_to(CLIENT).as_posix().encode() + b"\0")
        sha.update(path.read_bytes() + b"\0")
    return sha.hexdigest()[:16]


def _install(npm: str) -> None:
    """``npm ci`` unless node_modules was installed from this very lock file."""
    lock = _digest([CLIENT / "package.json", CLIENT / "package-lock.json"])
    stamp = CLIENT / "node_modules" / ".mockseg-lock"
    if stamp.is_file() and stamp.read_text() == lock:
        return
    run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT, timeout=300,
        what="npm ci for the browser client")
    stamp.write_text(lock)


def _bundle() -> Path:
    """The page's script bundled into one file (no chunks to fetch), built once per source hash."""
    npm = require("node", "npm")["npm"]
    sources = sorted(p for p in (CLIENT / "src").rglob("*") if p.is_file())
    build = CLIENT / "build"
    build.mkdir(exist_ok=True)
    with open(build / ".lock", "w") as lock:  # one builder at a time (pytest-xdist)
        fcntl.flock(lock, fcntl.LOCK_EX)
        _install(npm)
        key = _digest([CLIENT / "package-lock.json", CLIENT / "package.json", *sources])
        bundle = build / key / "bundle.js"
        if not bundle.is_file():
            staging = build / f"{key}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            # npm ci's postinstall swaps this script for esbuild's native binary: run either.
            esbuild = CLIENT / "node_modules" / ".bin" / "esbuild"
            run([str(esbuild), "src/entry.js", "--bundle", "--format=iife",
                 "--platform=browser", "--target=es2020", "--log-level=warning",
                 f"--outfile={staging / 'bundle.js'}"],
                cwd=CLIENT, timeout=120, what="esbuild of the browser client")
            shutil.rmtree(build / key, ignore_errors=True)  # a build cut short
            staging.rename(build / key)
        for old in build.iterdir():  # keep only the current build
            if old.is_dir() and old.name != key:
                shutil.rmtree(old, ignore_errors=True)
    return bundle


# --- the page's own origin --------------------------------------------------------------------

class _PageHandler(BaseHTTPRequestHandler):
    """Serves ``files``: URL path to (file, Content-Type); anything else is a 404."""

    files: ClassVar[dict[str, tuple[Path, str]]] = {}

    def do_GET(self) -> None:
        found = self.files.get(urlsplit(self.path).path)
        if found is None:
            self.send_error(404)
            return
        path, content_type = found
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The origin that serves the test page and its bundle: ``http://localhost:PORT``.

    ``localhost`` against mockseg's ``127.0.0.1``: another origin and another site.
    """
    bundle = _bundle()
    handler = type("Handler", (_PageHandler,), {"files": {
        "/": (CLIENT / "index.html", "text/html; charset=utf-8"),
        "/bundle.js": (bundle, "text/javascript; charset=utf-8"),
    }})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="browser-page", daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


# --- Chromium, trusting only mockseg's CA ------------------------------------------------------

@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        missing(f"no browser at {CHROMIUM}: install Debian's chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("python playwright is not installed")
    with sync_playwright() as driver:
        yield driver


def _trusting_home(home: Path, ca_file: Path) -> None:
    """A fresh NSS database in ``home`` (where Chromium on Linux reads it) that trusts only the CA
    in ``ca_file``, for TLS servers."""
    certutil = require("certutil")["certutil"]  # Debian's libnss3-tools
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    run([certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"], cwd=home, timeout=30,
        what="certutil: a new NSS database")
    run([certutil, "-A", "-d", f"sql:{nssdb}", "-n", "mockseg test CA", "-t", "C,,",
         "-i", str(ca_file)], cwd=home, timeout=30, what="certutil: trust mockseg's CA")


@contextlib.contextmanager
def chromium(playwright: Playwright, tmp_path: Path, *,
             trust: Path | None) -> Iterator[Browser]:
    """Chromium with a fresh profile (Playwright's own temporary user-data-dir) and a fresh HOME,
    whose NSS database trusts the CA in ``trust`` and nothing else added."""
    home = tmp_path / "home"
    home.mkdir()
    if trust is not None:
        _trusting_home(home, trust)
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS,
        env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class Visit:
    """What one page load did: the page's summary, its console and every request it made."""

    page: Page
    summary: dict[str, Any] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def _open(browser: Browser, site: str, query: dict[str, Any]) -> Visit:
    page = browser.new_context().new_page()
    visit = Visit(page)
    page.on("console", lambda message: visit.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: visit.console.append(f"pageerror: {error}"))
    page.on("request", lambda request: visit.requests.append(f"{request.method} {request.url}"))
    page.goto(f"{site}/?{urlencode(query)}")
    return visit


def send_from_page(browser: Browser, site: str, fake: MockSegment, strategy: str,
                   message: dict[str, Any] = MESSAGE) -> Visit:
    """Load the page: the SDK loads its settings from ``fake`` and sends identify, group, track."""
    query: dict[str, Any] = {"writeKey": WRITE_KEY, "cdnURL": fake.url, "strategy": strategy,
                             "message": json.dumps(message)}
    if strategy == "batching":
        query.update(BATCH)
    visit = _open(browser, site, query)
    visit.page.wait_for_function("window.mockseg && window.mockseg.summary",
                                 timeout=PAGE_TIMEOUT_MS)
    visit.summary = visit.page.evaluate("window.mockseg.summary")
    assert "failed" not in visit.summary, "\n".join([visit.summary["failed"], *visit.console])
    return visit


def only_to(visit: Visit, *origins: str) -> None:
    """Assert that the page asked nothing of any origin but ``origins``."""
    elsewhere = [request for request in visit.requests
                 if not any(request.split(" ", 1)[1].startswith(f"{o}/") for o in origins)]
    assert elsewhere == [], "the page reached outside the test"


def one(records: list[Record]) -> Record:
    assert len(records) == 1, [(r.path, r.type, r.status) for r in records]
    return records[0]


# --- the tests ----------------------------------------------------------------------------------

@pytest.fixture(params=["http", "https"])
def fake(request: pytest.FixtureRequest) -> Iterator[MockSegment]:
    served = MockSegment(tls=True) if request.param == "https" else MockSegment()
    with served:
        yield served


@pytest.mark.parametrize("strategy", ["standard", "batching"])
def test_group_call_from_the_browser_sdk_arrives_intact_cross_origin_with_cdn_settings(
        playwright: Playwright, site: str, fake: MockSegment, strategy: str,
        tmp_path: Path) -> None:
    with chromium(playwright, tmp_path, trust=fake.ca_file) as browser:
        visit = send_from_page(browser, site, fake, strategy)
        records = fake.wait_for(3)

    # The settings came from mockseg and pointed the Segment.io destination back at it.
    settings_url = f"{fake.url}/v1/projects/{WRITE_KEY}/settings"
    assert f"GET {settings_url}" in visit.requests
    assert visit.summary["apiHost"] == f"{urlsplit(fake.url).netloc}/v1"
    assert visit.summary["protocol"] == urlsplit(fake.url).scheme
    only_to(visit, site, fake.url)

    # Every call was delivered, the group call with every field intact.
    assert [call["failed"] for call in visit.summary["calls"]] == [None, None, None]
    assert visit.summary["errors"] == []
    assert [record.type for record in records] == ["identify", "group", "track"]
    group = one(fake.select(type="group"))
    assert [record.path for record in records] == PATHS[strategy]
    assert (group.status, group.http_status) == ("accepted", 200)
    assert group.group_id == MESSAGE["groupId"] and group.user_id == MESSAGE["userId"]
    assert group.payload["traits"] == MESSAGE["traits"]
    assert group.payload["traits"]["address"] == TRAITS["address"]
    assert group.payload["traits"]["employees"] == 5000
    assert group.payload["traits"]["plan"] == "enterprise"
    assert group.write_key == WRITE_KEY
    assert group.auth == "basic+body"  # a Basic header and the body's writeKey, both
    assert group.message_id == visit.summary["calls"][1]["messageId"]
    assert group.payload["context"]["library"]["name"] == "analytics.js"
    assert group.payload["context"]["library"]["version"] == f"npm:next-{visit.summary['version']}"
    fake.assert_group(group_id=MESSAGE["groupId"], user_id=MESSAGE["userId"],
                      exact_traits=MESSAGE["traits"], count=1)

    # Cross-origin, as the SDK sends it: the page's Origin, text/plain (no JSON type), no gzip.
    for record in records:
        assert record.headers["Origin"] == site
        assert record.headers["Content-Type"] == "text/plain"
        assert "Content-Encoding" not in record.headers


@pytest.mark.parametrize("strategy", ["standard", "batching"])
def test_strict_mode_400_is_dropped_by_the_browser_sdk_without_a_retry(
        playwright: Playwright, site: str, strategy: str, tmp_path: Path) -> None:
    with MockSegment() as fake, chromium(playwright, tmp_path, trust=None) as browser:
        visit = send_from_page(browser, site, fake, strategy, INVALID)
        fake.wait_for(1, type="track")
        # A retried status (a 503, say) comes back well inside this window: standard delivery
        # retries once at once (its next flush, 0.1-0.6 s), batching when its flush timer fires
        # (BATCH's timeout). A 400 must not come back at all.
        with pytest.raises(TimeoutError):
            fake.wait_for(2, timeout=3, type="group")

    group = one(fake.select(type="group"))
    assert (group.status, group.http_status) == ("rejected", 400)
    prefix = "batch[1]." if strategy == "batching" else ""
    assert {v.field for v in group.errors} >= {f"{prefix}groupId", f"{prefix}traits.employees"}
    assert group.headers.get("X-Retry-Count") is None
    identify, _, track = visit.summary["calls"]
    if strategy == "standard":
        # Each call is its own request: only the group call failed, and the SDK said so.
        assert visit.summary["calls"][1]["failed"] == "NonRetryableError: Non-retryable error: 400"
        assert visit.summary["errors"] == [{
            "code": "delivery_failure", "reason": "NonRetryableError: Non-retryable error: 400"}]
        assert identify["failed"] is None and track["failed"] is None
    else:
        # The batch is one request, dropped as a whole, silently: no error event, no failure.
        assert len(fake.calls) == 3 and {record.path for record in fake.calls} == {"/v1/b"}
        assert [call["failed"] for call in visit.summary["calls"]] == [None, None, None]
        assert visit.summary["errors"] == []


@pytest.mark.parametrize("strategy", ["standard", "batching"])
def test_browser_sdk_retries_a_503_with_an_x_retry_count(
        playwright: Playwright, site: str, strategy: str, tmp_path: Path) -> None:
    with MockSegment() as fake, chromium(playwright, tmp_path, trust=None) as browser:
        fake.fail_next(1, status=503)
        send_from_page(browser, site, fake, strategy)
        first, retried = fake.wait_for(2, timeout=10, type="identify")

    assert first.http_status == 503 and first.headers.get("X-Retry-Count") is None
    assert retried.http_status == 200 and retried.headers["X-Retry-Count"] == "1"
    assert retried.message_id == first.message_id
    fake.assert_group(group_id=MESSAGE["groupId"], exact_traits=MESSAGE["traits"])


_CREDENTIALED_FETCH = """async ([url, headers, body]) => {
  const response = await fetch(url, {method: 'POST', credentials: 'include', headers, body})
  return {status: response.status, body: await response.json()}
}"""


@pytest.mark.parametrize("headers", [
    pytest.param({"Content-Type": "text/plain"}, id="simple"),
    pytest.param({"Content-Type": "application/json", "Authorization": "Basic dGVzdC1rZXk6"},
                 id="preflighted"),
])
def test_page_fetch_with_credentials_reads_mockseg_answer_cross_origin(
        playwright: Playwright, site: str, fake: MockSegment, headers: dict[str, str],
        tmp_path: Path) -> None:
    track = {"type": "track", "event": "Report Viewed", "userId": "user_1",
             "writeKey": WRITE_KEY, "messageId": "fetch-1"}
    with chromium(playwright, tmp_path, trust=fake.ca_file) as browser:
        page = browser.new_context().new_page()
        page.goto(f"{site}/")  # with no writeKey the page loads nothing
        answer = page.evaluate(_CREDENTIALED_FETCH, [f"{fake.url}/v1/t", headers,
                                                     json.dumps(track)])

    assert answer == {"status": 200, "body": {"success": True}}
    record = one(fake.calls)
    assert (record.path, record.type, record.status) == ("/v1/t", "track", "accepted")
    assert record.headers["Origin"] == site


def test_chromium_without_mockseg_ca_refuses_its_certificate(
        playwright: Playwright, site: str, tmp_path: Path) -> None:
    with MockSegment(tls=True) as fake, chromium(playwright, tmp_path, trust=None) as browser:
        page = browser.new_context().new_page()
        failures: list[str | None] = []
        page.on("requestfailed", lambda request: failures.append(request.failure))
        page.goto(f"{site}/")
        outcome = page.evaluate("""url => fetch(url, {method: 'POST', body: '{}'})
            .then(response => 'answered ' + response.status, error => error.name)""",
                                f"{fake.url}/v1/t")

    assert outcome == "TypeError"  # fetch's network error
    assert failures == ["net::ERR_CERT_AUTHORITY_INVALID"]
    assert fake.calls == []
