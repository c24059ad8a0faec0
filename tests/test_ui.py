"""The journal page at /__mockseg/: served offline by the package, and working in a real browser."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

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

#: The B2B company's tracking plan, which B2B follows.
PLAN = ROOT / "fixtures" / "tracking-plans" / "b2b.json"
PLAN_ENUM = 'traits.plan must be one of the following: "free", "pro", "enterprise"'
_TRAITS = cast("dict[str, Any]", B2B["traits"])
#: Accepted by Segment's contract, off the plan twice: no trait name, a plan not in its enum.
OFF_PLAN = {**B2B, "groupId": "company_platinum", "messageId": "off-plan-1",
            "traits": {**{k: v for k, v in _TRAITS.items() if k != "name"}, "plan": "platinum"}}


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


@contextmanager
def journal_page(browser: Browser, fake: MockSegment) -> Iterator[Page]:
    """The journal page of ``fake``, open in a wide window; its script must not fail."""
    opened = browser.new_page(viewport={"width": 1600, "height": 820})
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(f"{fake.url}/__mockseg/")
    try:
        yield opened
    finally:
        opened.close()
    assert errors == [], "the page's script failed"


@pytest.fixture
def page(browser: Browser, served: MockSegment) -> Iterator[Page]:
    with journal_page(browser, served) as opened:
        yield opened


def send(fake: MockSegment, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{fake.url}/v1/group", json=body, auth=("test-key", ""), timeout=5)


@contextmanager
def planned_page(browser: Browser, plan: Path | dict[str, Any],
                 mode: str = "record") -> Iterator[tuple[MockSegment, Page]]:
    """A server checking calls against ``plan`` (in its ``tracking_plan_mode``), its page live."""
    from playwright.sync_api import expect

    with MockSegment(tracking_plan=plan, tracking_plan_mode=mode) as fake, \
            journal_page(browser, fake) as page:
        try:
            expect(page.locator("#live")).to_have_text("live")
            yield fake, page
        finally:
            send(fake, B2B)  # answers the page's pending long-poll, as in ``served``


def row(page: Page, verdict: str) -> Locator:
    return page.locator(f"#rows tr.{verdict}")


def test_calls_arrive_live_can_be_inspected_filtered_and_reset(page: Page,
                                                               served: MockSegment) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#empty")).to_be_visible()
    # No tracking plan: no plan counter or filter, where "0 with violations" would mislead.
    expect(page.locator("#count-violations")).to_be_hidden()
    expect(page.locator("#filter-plan")).to_be_hidden()

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


def test_violations_are_shown_beside_the_verdict_highlighted_and_filtered(
        browser: Browser) -> None:
    from playwright.sync_api import expect

    with planned_page(browser, PLAN) as (fake, page):
        assert send(fake, OFF_PLAN).status_code == 200  # a violation changes no answer
        assert send(fake, B2B).status_code == 200
        rows = page.locator("#rows tr")
        expect(rows).to_have_count(2)
        expect(page.locator("#count-violations")).to_have_text("1")
        expect(page.locator("#count-violations")).to_be_visible()
        expect(page.locator(".counters .violations")).to_have_attribute(
            "title", re.compile(r"tracking plan .*b2b\.json \(\d+ rules?\)"))
        expect(page.locator("#count-accepted")).to_have_text("2")

        # The row: Segment's verdict, the violations beside it, the first one under Problem.
        off = page.locator("#rows tr.violates")
        expect(off).to_have_count(1)
        expect(off).to_have_class(re.compile(r"\baccepted\b"))
        expect(off.locator(".badge.accepted")).to_have_text("accepted")
        expect(off.locator(".badge.violation")).to_have_text("2 violations")
        expect(off.locator(".problem-text.violation")).to_have_text(
            "traits.name is required +1 more")
        expect(page.locator('#rows tr[data-id="2"] .badge')).to_have_count(1)  # on the plan

        # The details: a "Tracking plan" group, and each violation highlighted like an error.
        off.click()
        details = page.locator("#details")
        expect(details).to_be_visible()
        group = details.locator("section", has=page.locator("h3", has_text="Tracking plan"))
        expect(group.locator("li.violation")).to_have_count(2)
        expect(group.locator("li.violation").nth(1)).to_have_text(
            f"enum traits.plan {PLAN_ENUM}")
        flagged = details.locator('mark.flag.violation[data-field="traits.plan"]')
        expect(flagged).to_have_attribute("title", PLAN_ENUM)
        expect(flagged).to_contain_text('"platinum"')
        expect(details.locator("mark.flag.error, mark.flag.warning")).to_have_count(0)
        expect(details.locator(".note.violation")).to_have_text(f"  ← {PLAN_ENUM}")
        expect(details.locator(".unplaced li.violation")).to_have_text(
            "traits.name traits.name is required")  # absent from the payload: said above it
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "journal-page-violations.png"))
        page.keyboard.press("Escape")

        # The filter keeps the call that breaks the plan, or those that keep to it.
        page.select_option("#filter-plan", "breaks")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-id", "1")
        expect(page.locator("#shown")).to_have_text("1 of the 2 loaded calls match")
        page.select_option("#filter-plan", "keeps")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-id", "2")
        page.select_option("#filter-plan", "")
        page.fill("#filter-text", "must be one of")  # the search reads violations too
        expect(rows).to_have_count(1)
        page.fill("#filter-text", "")

        # A narrow window: each call a card, the details over the page.
        page.set_viewport_size({"width": 480, "height": 900})
        expect(off.locator(".badge.violation")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "journal-page-violations-narrow.png"))
        off.click()
        expect(details.locator('mark[data-field="traits.plan"]')).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "journal-page-violations-narrow-details.png"))


def whole_message_plan() -> dict[str, Any]:
    """The B2B plan, with a group message of at most 6 fields: B2B's 7 break the whole message."""
    plan = cast("dict[str, Any]", json.loads(PLAN.read_text()))
    for rule in plan["data"]["rules"]:
        if rule["type"] == "GROUP":
            rule["jsonSchema"]["maxProperties"] = 6
    return plan


def test_a_batch_item_shows_its_error_and_violation_on_one_field_and_its_whole_message_above(
        browser: Browser) -> None:
    from playwright.sync_api import expect

    item: dict[str, Any] = {**B2B, "messageId": "batch-1", "traits": {**_TRAITS, "plan": 3}}
    with planned_page(browser, whole_message_plan()) as (fake, page):
        response = requests.post(f"{fake.url}/v1/batch", json={"batch": [item]},
                                 auth=("test-key", ""), timeout=5)
        assert response.status_code == 400
        row = page.locator("#rows tr.violates")
        expect(row.locator(".badge.rejected")).to_be_visible()
        expect(row.locator(".badge.violation")).to_have_text("2 violations")
        expect(row.locator(".problem-text.contract")).to_have_text("Trait plan must be a string")
        expect(row.locator(".problem-text.violation")).to_have_text(
            "batch[0].(root): Must have at most 6 properties +1 more")
        row.click()
        # batch[0]. is the item's own payload: its traits.plan carries both, each note in its
        # colour.
        details = page.locator("#details")
        flagged = details.locator('mark.flag.error.violation[data-field="traits.plan"]')
        expect(flagged).to_contain_text("3")
        expect(flagged).to_have_attribute(
            "title", "Trait plan must be a string\nInvalid type. Expected: string, given: integer")
        expect(details.locator(".note.error")).to_have_text("  ← Trait plan must be a string")
        expect(details.locator(".note.violation")).to_have_text(
            "  ← Invalid type. Expected: string, given: integer")
        # The whole message is no field in it: said above the payload, as such.
        whole = details.locator(".unplaced li.violation.root")
        expect(whole).to_have_text("batch[0].(root) Must have at most 6 properties")
        before = whole.evaluate("(li) => getComputedStyle(li, '::before').content")
        assert before == '"the whole message: "'
        expect(details.locator(".unplaced li")).to_have_count(1)


def test_a_blocked_call_says_each_violation_once(browser: Browser) -> None:
    from playwright.sync_api import expect

    with planned_page(browser, PLAN, mode="block") as (fake, page):
        assert send(fake, OFF_PLAN).status_code == 400  # its errors are its violations
        row = page.locator("#rows tr.violates")
        expect(row.locator(".badge.rejected")).to_be_visible()
        expect(row.locator(".problem-text")).to_have_count(1)
        expect(row.locator(".problem-text")).to_have_text("traits.name is required +1 more")
        row.click()
        details = page.locator("#details")
        flagged = details.locator('mark.flag.error.violation[data-field="traits.plan"]')
        expect(flagged).to_have_attribute("title", PLAN_ENUM)
        expect(details.locator(".note")).to_have_count(1)
        expect(details.locator(".note.error")).to_have_text(f"  ← {PLAN_ENUM}")
