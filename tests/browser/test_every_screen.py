"""Every screen of the console at desktop (1280x900) and phone (390x844) width: a screenshot of each
in test-output/screenshots/, axe-core's serious and critical violations (none), and at phone width
issue 17 item 6 (no sideways scroll, every tab and action on screen, one-line dates, readable chart
labels) and item 7 (a 200-character name without spaces wraps and pushes nothing off-screen).

The data is Gamma Puzzle's (proj-c): a segment with a 200-character name without spaces, shared
with Delta Cards (proj-d), evaluated and exported there, so every screen has something to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from local import demo
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    Console,
    axe_violations,
    create_segment,
    describe_violations,
    no_sideways_scroll,
    offscreen_controls,
    shared_segment_id,
)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

LONG_NAME = "L" * 200
TOUR = "Screens tour cohort"


@dataclass(frozen=True)
class Screens:
    segment_id: str
    long_id: str
    shared_id: str


@pytest.fixture(scope="module")
def screens(console: Console) -> Screens:
    """Gamma Puzzle's tour segments shared with Delta Cards, evaluated twice (for a chart line) and exported once."""
    rule = {"any": [{"attribute": "level", "op": "gte", "value": 10}, {"platform": "ios"}]}
    segment_id = create_segment(console, "proj-c", TOUR, rule, share_with=("proj-d",))
    long_id = create_segment(console, "proj-c", LONG_NAME, rule, share_with=("proj-d",))
    shared_id = shared_segment_id(console, "proj-d", TOUR)
    admin = demo.COMPANY_ADMIN.token()
    for _ in range(2):
        got = console.stack.call("POST", f"/v1/projects/proj-d/shared-segments/{shared_id}/evaluations", admin)
        assert got.status_code == 201, got.text
    got = console.stack.call("POST", f"/v1/projects/proj-d/shared-segments/{shared_id}/exports", admin, {"format": "csv"})
    assert got.status_code == 202, got.text
    return Screens(segment_id, long_id, shared_id)


def _screens(s: Screens) -> list[tuple[str, str, str]]:
    """(screen name, hash route, heading that says it is shown)."""
    return [
        ("segments", "#/p/proj-c/segments", "Segments"),
        ("segment-overview", f"#/p/proj-c/segments/{s.segment_id}", TOUR),
        ("segment-sharing", f"#/p/proj-c/segments/{s.segment_id}/sharing", TOUR),
        ("segment-edit", f"#/p/proj-c/segments/{s.segment_id}/edit", TOUR),
        ("long-name-overview", f"#/p/proj-c/segments/{s.long_id}", LONG_NAME),
        ("shared-segments", "#/p/proj-d/shared", "Shared Segments"),
        ("evaluations", f"#/p/proj-d/shared/{s.shared_id}", TOUR),
        ("exports", f"#/p/proj-d/shared/{s.shared_id}/exports", TOUR),
        ("audience-preview", "#/p/proj-d/audience", "Audience preview"),
        ("profiles-listing", "#/p/proj-d/profiles", "Profiles"),
        ("imports-form", "#/p/proj-c/imports", "Profiles"),
    ]


def _show(page: Page, console: Console, route: str, heading: str) -> None:
    page.goto(console.base_url + "/" + route)
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    expect(page.locator("main .loading")).to_have_count(0)


def _extras(page: Page, name: str) -> None:
    """What a screen shows after a step: the create form open, the preview run, the options menu open, the export ready."""
    if name == "segments":
        page.get_by_text("Create a segment").click()
    elif name == "audience-preview":
        page.get_by_role("checkbox", name=TOUR).check()
        page.get_by_role("button", name="Preview").click()
        expect(page.locator(".big-number")).to_be_visible()
    elif name == "shared-segments":
        page.get_by_role("button", name=f"Options for {TOUR}").click()
        expect(page.get_by_role("menuitem", name="Export CSV")).to_be_visible()
    elif name == "profiles-listing":
        expect(page.locator("tr[data-profile]").first).to_be_visible()
    elif name == "exports":
        expect(page.get_by_role("link", name="Download the CSV export").first).to_be_visible(timeout=60_000)


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_screen_has_no_serious_accessibility_violation_and_is_screenshot(
    console: Console, screens: Screens, open_as: Callable[..., Page], width: str
) -> None:
    page = open_as(demo.COMPANY_ADMIN.user_id, viewport=DESKTOP if width == "desktop" else PHONE)
    found: dict[str, object] = {}
    # The sign-in page too (a fresh tab of its own: this one is signed in)
    signin = console.context.new_page()
    try:
        signin.set_viewport_size(DESKTOP if width == "desktop" else PHONE)
        signin.goto(console.base_url + "/")
        expect(signin.get_by_role("heading", level=1, name="Sign in to segshare")).to_be_visible()
        signin.screenshot(path=str(SCREENSHOTS / f"screen-sign-in-{width}.png"), full_page=True)
        if violations := axe_violations(signin):
            found["sign-in"] = violations
    finally:
        signin.close()
    for name, route, heading in _screens(screens):
        _show(page, console, route, heading)
        _extras(page, name)
        page.screenshot(path=str(SCREENSHOTS / f"screen-{name}-{width}.png"), full_page=True)
        if violations := axe_violations(page):
            found[name] = violations
    assert not found, describe_violations([{"screen": k, "violations": v} for k, v in found.items()])


def test_phone_width_no_sideways_scroll_every_tab_and_action_on_screen_dates_on_one_line_and_readable_chart(
    console: Console, screens: Screens, open_as: Callable[..., Page]
) -> None:
    page = open_as(demo.COMPANY_ADMIN.user_id, viewport=PHONE)
    problems: dict[str, object] = {}
    for name, route, heading in _screens(screens):
        _show(page, console, route, heading)
        _extras(page, name)
        widths = page.evaluate("({ scroll: document.documentElement.scrollWidth, inner: innerWidth })")
        if widths["scroll"] > widths["inner"]:
            problems[f"{name}: scrolls sideways"] = widths
        if cut := offscreen_controls(page):
            problems[f"{name}: controls off-screen"] = cut
        # A date is one line: no taller than 1.6 of its line height
        tall = page.evaluate(
            """() => [...document.querySelectorAll("main td time")]
                .filter((t) => t.getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(t).lineHeight))
                .map((t) => t.textContent)"""
        )
        if tall:
            problems[f"{name}: dates over several lines"] = tall
    assert not problems, problems

    # The four tabs are all on screen
    for tab in ("Segments", "Shared Segments", "Audience preview", "Profiles"):
        box = page.locator("nav.tabbar").get_by_role("link", name=tab, exact=True).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"], (tab, box)

    # The chart's labels are at least 11 px high on screen
    _show(page, console, f"#/p/proj-d/shared/{screens.shared_id}", TOUR)
    heights = page.locator(".chart-label").evaluate_all("labels => labels.map((l) => l.getBoundingClientRect().height)")
    assert heights
    assert min(heights) >= 11, heights


def test_a_200_character_name_without_spaces_wraps_and_keeps_every_row_on_screen_at_desktop_width(
    console: Console, screens: Screens, open_as: Callable[..., Page]
) -> None:
    page = open_as(demo.COMPANY_ADMIN.user_id, "#/p/proj-c/segments")
    expect(page.get_by_role("link", name=LONG_NAME, exact=True)).to_be_visible()
    no_sideways_scroll(page)
    table = page.locator(".table-wrap").first
    sizes = table.evaluate("el => ({ scroll: el.scrollWidth, client: el.clientWidth })")
    assert sizes["scroll"] <= sizes["client"], sizes
    # Every row's actions are on screen, and the other columns keep a readable width
    assert offscreen_controls(page) == []
    origin = page.locator("tr", has=page.get_by_role("link", name=TOUR, exact=True)).locator("td").nth(1)
    box = origin.bounding_box()
    assert box is not None
    assert box["width"] >= 60, box
    # And on the phone, in Delta Cards' shared list, too
    page.set_viewport_size(PHONE)
    _show(page, console, "#/p/proj-d/shared", "Shared Segments")
    no_sideways_scroll(page)
    assert offscreen_controls(page) == []
