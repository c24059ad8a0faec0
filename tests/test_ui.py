"""The journal page at /__mockseg/: served offline by the package, and working in a real browser."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from werkzeug.test import Client

from mockseg import MockSegment
from mockseg.admin import PUBLIC_PATHS
from mockseg.webui import ASSETS
from tests.conftest import B2B

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI") == "true"

#: Breaks two rules: a groupId with a space, and employees as a string.
INVALID = {**B2B, "groupId": "company acme", "messageId": "bad-1",
           "traits": {**B2B["traits"], "employees": "5000"}}


# --- served by the package, no socket -----------------------------------------------------------

def test_page_and_assets_are_served_with_their_content_types(client: Client) -> None:
    page = client.get("/__mockseg/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "no-cache" in page.headers["Cache-Control"]
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    types = {"app.js": "text/javascript", "style.css": "text/css"}
    assert set(ASSETS) == set(types)
    for name, mimetype in types.items():
        asset = client.get(f"/__mockseg/ui/{name}")
        assert asset.status_code == 200, name
        assert asset.mimetype == mimetype and asset.mimetype_params["charset"] == "utf-8"
        assert asset.headers["Cache-Control"] == "no-cache"
        assert client.get(f"/__mockseg/ui/{name}",
                          headers={"If-None-Match": asset.headers["ETag"]}).status_code == 304
    assert client.get("/__mockseg/ui/nope.js").status_code == 404


def test_page_loads_nothing_from_outside(client: Client) -> None:
    html = client.get("/__mockseg/").get_data(as_text=True)
    assert not re.search(r"https?://", html)
    assert 'src="ui/app.js"' in html and 'href="ui/style.css"' in html
    script = client.get("/__mockseg/ui/app.js").get_data(as_text=True)
    assert "innerHTML" not in script and not re.search(r"https?://", script)


def test_bare_admin_path_redirects_to_the_page(client: Client) -> None:
    response = client.get("/__mockseg?x=1")
    assert response.status_code == 308
    assert response.headers["Location"] == "/__mockseg/?x=1"
    scoped = client.get("/_/s1/__mockseg")
    assert scoped.headers["Location"] == "/_/s1/__mockseg/"


def test_endpoint_list_moved_to_index_json(client: Client) -> None:
    endpoints = client.get("/__mockseg/index.json").get_json()["endpoints"]
    assert "GET /__mockseg/calls" in endpoints and "GET /__mockseg/ui/app.js" in endpoints


def test_only_the_page_and_its_assets_are_public() -> None:
    assert {"/__mockseg", "/__mockseg/", "/__mockseg/ui/app.js",
                            "/__mockseg/ui/style.css"} == PUBLIC_PATHS


# --- in a real browser ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not IN_CI:  # under CI=true a missing browser or library fails the test instead
        if not Path(CHROMIUM).exists():
            pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium")
        pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def served() -> Iterator[MockSegment]:
    with MockSegment() as fake:
        yield fake
        # The page's long-poll may still hold a request; one more call answers it, so that
        # stopping the server need not wait out its grace period for busy connections.
        send(fake, B2B)


@pytest.fixture
def page(browser: Browser, served: MockSegment) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1600, "height": 820})
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(f"{served.url}/__mockseg/")
    yield opened
    opened.close()
    assert errors == [], "the page's script failed"


def send(fake: MockSegment, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{fake.url}/v1/group", json=body, auth=("test-key", ""), timeout=5)


def row(page: Page, verdict: str) -> Locator:
    return page.locator(f"#rows tr.{verdict}")


def test_calls_arrive_live_can_be_inspected_filtered_and_reset(page: Page,
                                                               served: MockSegment) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#empty")).to_be_visible()

    assert send(served, B2B).status_code == 200
    assert send(served, INVALID).status_code == 400
    # Both rows appear without a reload, newest first, with their verdicts.
    expect(page.locator("#rows tr")).to_have_count(2)
    expect(page.locator("#rows tr").first).to_have_class(re.compile(r"\brejected\b"))
    expect(row(page, "accepted").locator(".badge")).to_have_text("accepted")
    expect(row(page, "rejected").locator(".badge")).to_have_text("rejected")
    expect(page.locator("#count-total")).to_have_text("2")
    expect(page.locator("#count-rejected")).to_have_text("1")
    expect(row(page, "rejected")).to_contain_text(
        "Group ID cannot contain spaces or special characters")

    # The invalid call, opened from the keyboard: its errors, highlighted in the payload.
    row(page, "rejected").focus()
    page.keyboard.press("Enter")
    details = page.locator("#details")
    expect(details).to_be_visible()
    flagged = details.locator("mark.flag.error")
    expect(flagged).to_have_count(2)
    expect(details.locator('mark[data-field="groupId"]')).to_contain_text('"company acme"')
    employees = details.locator('mark[data-field="traits.employees"]')
    expect(employees).to_have_attribute("title", "Trait employees must be an integer")
    expect(details.locator(".note").first).to_contain_text("Group ID cannot contain spaces")
    expect(details).to_contain_text("HTTP 400")
    expect(details).to_contain_text('"type": "validation_error"')  # the response sent
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "journal-page.png"))
    page.keyboard.press("Escape")
    expect(details).to_be_hidden()
    expect(row(page, "rejected")).to_be_focused()

    # Filters: by verdict, then by free text.
    page.select_option("#filter-verdict", "rejected")
    expect(page.locator("#rows tr")).to_have_count(1)
    page.select_option("#filter-verdict", "")
    page.fill("#filter-text", "enterprise_corp")
    expect(page.locator("#rows tr")).to_have_count(1)
    expect(page.locator("#rows tr").first).to_have_class(re.compile(r"\baccepted\b"))
    page.fill("#filter-text", "")
    expect(page.locator("#rows tr")).to_have_count(2)

    # Reset, after confirming.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset")
    expect(page.locator("#rows tr")).to_have_count(0)
    expect(page.locator("#count-total")).to_have_text("0")
    assert served.calls == []
    # Ids keep increasing after a reset; new calls still show up.
    send(served, B2B)
    expect(page.locator("#rows tr")).to_have_count(1)

    page.set_viewport_size({"width": 480, "height": 760})
    send(served, INVALID)
    expect(page.locator("#rows tr")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "journal-page-narrow.png"))


def test_missing_field_is_shown_above_the_payload_and_pause_holds_updates(
        page: Page, served: MockSegment) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#live")).to_have_text("live")
    send(served, {"userId": "u1", "traits": {"name": "x"}})
    expect(page.locator("#rows tr")).to_have_count(1)
    page.locator("#rows tr").first.click()
    unplaced = page.locator("#details .unplaced")
    expect(unplaced).to_contain_text("Missing required field: groupId")
    page.keyboard.press("Escape")

    pause = page.locator("#pause")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "true")
    send(served, B2B)
    page.wait_for_timeout(300)
    expect(page.locator("#rows tr")).to_have_count(1)
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "false")
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(2)

    # Keyboard: one row is in the Tab order (the last one used, #1, now second), arrows move,
    # Space opens, Escape closes and gives the focus back.
    page.focus("#filter-text")
    page.keyboard.press("Tab")
    expect(rows.nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(rows.first).to_be_focused()
    page.keyboard.press(" ")
    expect(page.locator("#details-title")).to_have_text("Call #2")
    page.keyboard.press("Escape")
    expect(rows.first).to_be_focused()
