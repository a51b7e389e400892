"""A shared segment's Evaluations tab against a stack that hands every evaluation off and ticks often.

Its own local stack (not the session's demo stack): `EVALUATION_INLINE_SECONDS=0` makes the cost
model hand every `POST .../evaluations` to the workflow (API.md: 202 `RUNNING`), and
`SEGSHARE_SCHEDULE_SECONDS` makes the scheduled evaluation tick every few seconds, so a tick that
finds nothing changed records an evaluation with `reused: true`. It starts empty, so the person
signs in with a pasted token (the sign-in page's "Use a token").

- Evaluate now on a handed-off evaluation: the row shows Running at once, then Succeeded with its
  counts, without a page reload (issue 17's new screens, "evaluations handed off (202)").
- A reused evaluation is marked "Reused" in words (API.md "reused").
Both screens are screenshot at desktop and phone width and checked by axe-core.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from local.tokens import mint
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS, axe_violations, describe_violations, no_sideways_scroll, offscreen_controls
from tests.support.http import seed_irish_share
from tests.support.stacks import LocalStack, start_stack, stop_stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

USER = "live-admin"
ADMIN = mint(USER)
SEGMENT = "Irish players live"
#: Seconds between schedule ticks: short enough for a reused tick within the test, long enough
#: for one tick to end before the next on a small shared machine.
TICK_SECONDS = "4"


@dataclass(frozen=True)
class Live:
    stack: LocalStack
    context: BrowserContext
    shared_id: str


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response.json()


def _seed(stack: LocalStack) -> str:
    """A company with shared segments on; live-a's "country IE" shared with live-b (2 of 3 match); the shared segment's id."""
    return seed_irish_share(stack, USER, "live", (("live-a", "Live Alpha"), ("live-b", "Live Beta")), SEGMENT)[1]


@pytest.fixture(scope="module")
def live(chromium_context: BrowserContext) -> Iterator[Live]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stack = start_stack(demo=False, extra_env={"EVALUATION_INLINE_SECONDS": "0", "SEGSHARE_SCHEDULE_SECONDS": TICK_SECONDS})
    try:
        yield Live(stack, chromium_context, _seed(stack))
    finally:
        assert stop_stack(stack) == 0


@pytest.fixture
def open_live(live: Live, request: pytest.FixtureRequest) -> Iterator[Any]:
    """open_live(path, viewport): a fresh tab signed in with a pasted token, then at `path`; checked for page errors."""
    pages: list[Page] = []
    errors: list[str] = []

    def open_tab(path: str, viewport: dict[str, int] = DESKTOP) -> Page:
        page = live.context.new_page()
        page.set_viewport_size(viewport)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        pages.append(page)
        page.goto(live.stack.base_url + "/")
        # An empty stack has no demo users: the "Use a token" form is already open
        expect(page.get_by_label("Bearer token")).to_be_visible()
        page.get_by_label("Bearer token").fill(ADMIN)
        page.get_by_role("button", name="Use token").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        page.goto(live.stack.base_url + "/" + path)
        return page

    yield open_tab
    if pages:
        pages[-1].screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    for page in pages:
        page.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


def _evaluations(live: Live) -> list[dict[str, Any]]:
    listed = ok(live.stack.call("GET", f"/v1/projects/live-b/shared-segments/{live.shared_id}/evaluations", ADMIN))
    return list(listed["evaluations"])


def _check_screen(page: Page, name: str, width: str) -> None:
    """Screenshot as screen-<name>-<width>.png; no serious axe violation; at phone width nothing off-screen."""
    page.screenshot(path=str(SCREENSHOTS / f"screen-{name}-{width}.png"), full_page=True)
    violations = axe_violations(page)
    assert not violations, describe_violations(violations)
    if width == "phone":
        no_sideways_scroll(page)
        assert offscreen_controls(page) == []


def test_a_reused_scheduled_evaluation_is_marked_reused_in_words(live: Live, open_live: Any) -> None:
    # Given the schedule has ticked until a tick found nothing changed (API.md: reused: true)
    deadline = time.monotonic() + 120
    reused: list[dict[str, Any]] = []
    while not reused and time.monotonic() < deadline:
        reused = [e for e in _evaluations(live) if e.get("reused")]
        time.sleep(1)
    assert reused, _evaluations(live)
    reused_id = reused[0]["evaluationId"]

    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        # When the target's admin opens the shared segment's Evaluations tab
        page = open_live(f"#/p/live-b/shared/{live.shared_id}", viewport)
        expect(page.get_by_role("heading", level=1, name=SEGMENT)).to_be_visible()

        # Then the reused evaluation says "Reused" in its row, with its counts, and the tab says what that means
        row = page.locator(f"tr[data-evaluation='{reused_id}']")
        status = row.locator("td").nth(2)  # Time, Trigger, Status, ...
        expect(status).to_contain_text("Succeeded")
        expect(status).to_contain_text("Reused")
        expect(row).to_contain_text("2 of 3")
        expect(page.get_by_text("Nothing changed since the evaluation before it")).to_be_visible()
        # And an evaluation that was not reused does not say so
        fresh = [e["evaluationId"] for e in _evaluations(live) if e["status"] == "SUCCEEDED" and not e.get("reused")]
        assert fresh
        expect(page.locator(f"tr[data-evaluation='{fresh[0]}'] td").nth(2)).not_to_contain_text("Reused")
        _check_screen(page, "evaluations-reused", width)


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_evaluate_now_handed_off_shows_running_then_succeeded_without_a_reload(live: Live, open_live: Any, width: str) -> None:
    # Given the target's admin on the shared segment's Evaluations tab, by keyboard
    page = open_live(f"#/p/live-b/shared/{live.shared_id}", DESKTOP if width == "desktop" else PHONE)
    expect(page.get_by_role("heading", level=1, name=SEGMENT)).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    evaluate = page.get_by_role("button", name="Evaluate now")
    evaluate.focus()

    # When it presses Evaluate now and the service hands the evaluation off (202 RUNNING)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/evaluations")) as answered:
        page.keyboard.press("Enter")
    assert answered.value.status == 202, answered.value.text()
    created = answered.value.json()
    assert created["status"] == "RUNNING"

    # Then its row shows Running at once, and says it will update
    row = page.locator(f"tr[data-evaluation='{created['evaluationId']}']")
    expect(row.locator(".status-cell")).to_contain_text("Running")
    expect(page.get_by_text("is being evaluated in the background")).to_be_visible()
    _check_screen(page, "evaluations-running", width)
    # And focus stayed on the button pressed (busy, not disabled)
    assert page.evaluate("document.activeElement.textContent") in ("Evaluating…", "Evaluate now")

    # And the same row turns Succeeded with the counts, in this same page (polled, no reload)
    expect(row.locator(".status-cell")).to_contain_text("Succeeded", timeout=120_000)
    expect(row).to_contain_text("2 of 3")
    expect(page.get_by_text(f"Evaluated “{SEGMENT}”: 2 of 3 profiles in Live Beta match.")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    found = ok(live.stack.call("GET", f"/v1/projects/live-b/shared-segments/{live.shared_id}/evaluations/{created['evaluationId']}", ADMIN))
    assert (found["status"], found["matchedProfiles"], found["targetProfiles"]) == ("SUCCEEDED", 2, 3)
