"""The browser tests' shared fixtures: one local stack with the demo data and one headless Chromium per session.

Every module uses the same stack (starting it is most of a browser test's cost on a small
machine), so each module works on its own segments and never shares one into Beta Racer
other than the story's (tests/browser/test_story.py counts Beta Racer's segments).
Screenshots go to test-output/screenshots/; axe-core 4.14.1 (tests/browser/vendor/axe.min.js,
from `npm pack axe-core@4.14.1`, MPL-2.0, its licence header kept) is run in the page from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from local import demo
from local import template as tpl
from tests.support.stacks import LocalStack, running_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = tpl.ROOT / "test-output" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
TIMEOUT_MS = 20_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

SHARED_DEVICE = "8F0C2B6A-41D3-4E5F-9A7B-2C1D0E3F4A5B"
A_PROFILE = "browser-seed-alpha"
A_FIRST_NAME = "Alphonsine"
B_PROFILE = "aa-browser-seed-beta"  # sorts before the demo's b-user-NNNN: first in the preview's sample


@dataclass
class Console:
    stack: LocalStack
    context: BrowserContext

    @property
    def base_url(self) -> str:
        return self.stack.base_url


@pytest.fixture(scope="session")
def chromium_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile. Missing Chromium fails the tests: CI installs it."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium (apt-get install -y chromium; .ci/run installs it)",
            pytrace=False,
        )
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=DESKTOP,
            locale="en-GB",
            timezone_id="UTC",
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def console(chromium_context: BrowserContext) -> Iterator[Console]:
    # Kept between sessions (each file overwrites its own): a browser file run alone must not
    # delete the screenshots another file wrote.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with running_stack(demo=True) as running:
        _seed_profile_pair(running)
        yield Console(running, chromium_context)


def _seed_profile_pair(stack: LocalStack) -> None:
    """The seed's example: a profile in A with a first_name, one in B without, holding the same device."""
    a_profile = {
        "profileId": A_PROFILE,
        "attributes": {"first_name": A_FIRST_NAME, "cohort": "browser-seed"},
        "devices": [{"platform": "ios", "id": SHARED_DEVICE}],
    }
    b_profile = {"profileId": B_PROFILE, "attributes": {"country": "IE"}, "devices": [{"platform": "ios", "id": SHARED_DEVICE.lower()}]}
    for project, profile in (("proj-a", a_profile), ("proj-b", b_profile)):
        stored = stack.call("PUT", f"/v1/projects/{project}/profiles", demo.COMPANY_ADMIN.token(), {"profiles": [profile]})
        assert stored.status_code == 200, stored.text
        assert stored.json()["upserted"] == 1, stored.text


@pytest.fixture
def open_as(console: Console, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """Opens a fresh tab signed in as a demo user (picked on the sign-in page); screenshots the last tab at the end.

    open_as(user_id, path="", viewport=DESKTOP): path is a hash route ("#/p/proj-c/shared") opened once signed in.
    """
    opened: list[Page] = []
    page_errors: list[str] = []

    def open_tab(user_id: str, path: str = "", viewport: dict[str, int] | None = None) -> Page:
        page = console.context.new_page()
        page.set_viewport_size(viewport or DESKTOP)
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        opened.append(page)
        page.goto(console.base_url + "/")
        page.locator(f"button[data-user='{user_id}']").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        if path:
            # Signed in first, then the page: what a test checks here never hangs on sign-in's return
            # to a deep link, which test_screens.py tests by itself.
            page.goto(console.base_url + "/" + path)
        return page

    yield open_tab
    if opened:
        opened[-1].screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    for page in opened:
        page.close()
    assert page_errors == [], f"JavaScript errors in the page: {page_errors}"


def create_segment(console: Console, project: str, name: str, rule: dict[str, Any], share_with: tuple[str, ...] = ()) -> str:
    """A segment made through the API as the company admin, shared as asked; its id."""
    admin = demo.COMPANY_ADMIN.token()
    created = console.stack.call("POST", f"/v1/projects/{project}/segments", admin, {"name": name, "rule": rule})
    assert created.status_code == 201, created.text
    segment_id = str(created.json()["segmentId"])
    if share_with:
        shared = console.stack.call("PUT", f"/v1/projects/{project}/segments/{segment_id}/sharing", admin, {"projectIds": list(share_with)})
        assert shared.status_code == 200, shared.text
    return segment_id


def shared_segment_id(console: Console, project: str, name: str) -> str:
    """The shared segment id of `name` in the target `project`."""
    listed = console.stack.call("GET", f"/v1/projects/{project}/shared-segments", demo.COMPANY_ADMIN.token()).json()
    (found,) = [s["sharedSegmentId"] for s in listed["sharedSegments"] if s["name"] == name]
    return str(found)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core run in the page: the serious and critical violations, each with its rule id and the first few targets.

    The script is evaluated through the DevTools protocol, not added as a <script>: the console's
    Content-Security-Policy allows scripts from 'self' only, and the file is a test tool, not part of web/.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations
              .filter((v) => v.impact === "serious" || v.impact === "critical")
              .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
        }"""
    )
    return list(found)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1)


def no_sideways_scroll(page: Page) -> None:
    """The page does not scroll sideways: the document is no wider than the viewport."""
    widths = page.evaluate("({ scroll: document.documentElement.scrollWidth, inner: innerWidth })")
    assert widths["scroll"] <= widths["inner"], widths


def offscreen_controls(page: Page) -> list[str]:
    """Visible links, buttons and fields of the page that are cut by the viewport's left or right edge."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll("a[href], button, input, select, textarea, summary")]
                .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== "hidden")
                .filter((el) => { const r = el.getBoundingClientRect(); return r.left < -1 || r.right > innerWidth + 1; })
                .map((el) => (el.getAttribute("aria-label") || el.textContent || el.id || el.tagName).trim().slice(0, 60))"""
        )
    )
