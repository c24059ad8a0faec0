"""Other sites' pages in a real browser (Debian's Chromium) try to read, erase and fault the
journal, from another origin and through a rebound name; each attempt is refused, and the
journal stays as it was. The journal page's own use is covered by tests/test_ui.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from mockseg import MockSegment
from tests.conftest import B2B
from tests.test_ui import CHROMIUM, CHROMIUM_ARGS
from tests.toolchains import missing

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

#: Chromium resolves this name to loopback, as a DNS-rebinding attacker's name would.
EVIL = "evil.test"

#: The attacker's script: each attempt, and whether the page could see an answer.
ATTACK = """
async (base) => {
  const out = {};
  const tryIt = async (name, url, init) => {
    try {
      const response = await fetch(url, init);
      let body = null;
      try { body = await response.text(); } catch (e) { body = null; }
      out[name] = {status: response.status, type: response.type, body};
    } catch (e) {
      out[name] = {error: String(e)};
    }
  };
  await tryIt("read", base + "/__mockseg/calls");
  await tryIt("read_stats", base + "/__mockseg/stats");
  await tryIt("reset", base + "/__mockseg/reset",
              {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
               body: "{}"});
  await tryIt("fault", base + "/__mockseg/faults",
              {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
               body: JSON.stringify({status: 500, count: 5})});
  await tryIt("fault_json", base + "/__mockseg/faults",
              {method: "POST", headers: {"Content-Type": "application/json"},
               body: JSON.stringify({status: 500, count: 5})});
  await tryIt("erase", base + "/__mockseg/calls", {method: "DELETE"});
  return out;
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing(f"no browser at {CHROMIUM}: install Debian's chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {EVIL} 127.0.0.1",
                  # Chromium's own guard for local addresses (Local Network Access) would stop
                  # these requests before mockseg sees them; Firefox and Safari have none.
                  # Without it the attacks reach mockseg, whose own guards must refuse them.
                  "--disable-features=LocalNetworkAccessChecks,"
                  "BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights"])
        yield launched
        launched.close()


@pytest.fixture
def fake() -> Iterator[MockSegment]:
    with MockSegment() as served:
        assert requests.post(f"{served.url}/v1/group", json=B2B, auth=("k", ""),
                             timeout=5).status_code == 200
        yield served


def _attack_from(browser: Browser, page_url: str, base: str) -> dict[str, Any]:
    """Open an attacker's page at ``page_url`` (answered by the browser itself: the attacker's
    server) and run the attack against ``base``."""
    page: Page = browser.new_page()
    try:
        page.route(page_url, lambda route: route.fulfill(
            status=200, content_type="text/html", body="<!doctype html><title>evil</title>"))
        page.goto(page_url)
        result: dict[str, Any] = page.evaluate(ATTACK, base)
        return result
    finally:
        page.close()


def _journal_untouched(fake: MockSegment) -> None:
    assert len(fake.calls) == 1, "the journal was erased or written"
    assert fake.faults.count() == 0, "a fault was planned"


def test_a_page_on_another_origin_can_neither_read_nor_change_the_journal(
        browser: Browser, fake: MockSegment) -> None:
    result = _attack_from(browser, "http://attacker.localhost:9/", fake.url)
    # Reads: the answer carries no CORS header, so the page cannot see it.
    assert "error" in result["read"] and "error" in result["read_stats"], result
    # Blind writes (no-cors, text/plain: no preflight) reach the server and are refused there.
    assert result["reset"]["type"] == "opaque" and result["fault"]["type"] == "opaque"
    # A JSON POST and a DELETE need a preflight, which the admin API refuses.
    assert "error" in result["fault_json"] and "error" in result["erase"], result
    _journal_untouched(fake)


def test_a_rebound_name_on_the_same_origin_is_refused_by_host(
        browser: Browser, fake: MockSegment) -> None:
    """DNS rebinding: the attacker's name now resolves to 127.0.0.1, so its page's requests
    are same-origin, reach mockseg, and are told apart only by their Host."""
    origin = f"http://{EVIL}:{fake.port}"
    result = _attack_from(browser, f"{origin}/attack.html", origin)
    for name in ("read", "read_stats", "reset", "fault", "fault_json", "erase"):
        assert result[name].get("status") == 403, (name, result[name])
        assert json.loads(result[name]["body"])["error"]["errors"][0]["field"] == "Host"
    _journal_untouched(fake)


def test_the_same_attack_is_served_once_the_name_is_allowed(browser: Browser) -> None:
    """The guard is what refuses it: allow the name and the rebound page gets through."""
    with MockSegment(allow_hosts=[EVIL]) as fake:
        requests.post(f"{fake.url}/v1/group", json=B2B, auth=("k", ""), timeout=5)
        origin = f"http://{EVIL}:{fake.port}"
        result = _attack_from(browser, f"{origin}/attack.html", origin)
        assert result["read"]["status"] == 200
        assert json.loads(result["read"]["body"])["total"] == 1
