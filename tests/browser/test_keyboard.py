"""Issue 17 items 1, 2, 3 and 11 by keyboard alone: focus after actions, the project picker, the delete
confirmation of a shared segment, and the shared segment's options menu.

Each test works on its own segments of Gamma Puzzle (proj-c) shared with Delta Cards (proj-d), as
the company admin, so the story in test_story.py (Alpha Quest and Beta Racer) is untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from local import demo
from tests.browser.conftest import Console, create_segment, shared_segment_id

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

KEYS_SEGMENT = "Keyboard cohort"
DELETE_ME = "Keyboard shared delete"
ALL_PROFILES = {"all": [{"attribute": "level", "op": "gte", "value": 0}]}


@pytest.fixture(scope="module")
def keyboard_data(console: Console) -> str:
    """A segment of Gamma Puzzle shared with Delta Cards; its id."""
    return create_segment(console, "proj-c", KEYS_SEGMENT, ALL_PROFILES, share_with=("proj-d",))


def tab_to(page: Page, target: Locator, limit: int = 60) -> None:
    """Presses Tab until `target` has focus (fails after `limit` presses): the keyboard user's way there."""
    for _ in range(limit):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def focused(page: Page) -> str:
    """The focused element, described: its accessible-ish name, or BODY when focus was lost."""
    return str(
        page.evaluate(
            """() => {
                const el = document.activeElement;
                return el === document.body ? "BODY" : (el.getAttribute("aria-label") || el.textContent || el.tagName).trim();
            }"""
        )
    )


def test_focus_stays_on_the_control_after_save_create_evaluate_preview_and_moves_to_the_message_after_delete(
    console: Console, keyboard_data: str, open_as: Callable[..., Page]
) -> None:
    page = open_as(demo.COMPANY_ADMIN.user_id, f"#/p/proj-c/segments/{keyboard_data}/sharing")
    expect(page.get_by_role("heading", level=1, name=KEYS_SEGMENT)).to_be_visible()

    # Sharing tab (Delta Cards ticked already): tick Alpha Quest by keyboard, Tab to Save, Enter
    tab_to(page, page.get_by_role("checkbox", name="Alpha Quest"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Save"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Sharing saved.")).to_be_visible()
    assert focused(page) == "Save"
    # (undone the same way, so Alpha Quest's list in the story is untouched)
    page.get_by_role("checkbox", name="Alpha Quest").focus()
    page.keyboard.press("Space")
    tab_to(page, page.get_by_role("button", name="Save"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("checkbox", name="Alpha Quest")).not_to_be_checked()
    expect(page.get_by_text("Sharing saved.")).to_be_visible()
    assert focused(page) == "Save"

    # Create segment: Enter on the button, focus stays on it
    page.goto(console.base_url + "/#/p/proj-c/segments")
    page.get_by_text("Create a segment").click()
    page.get_by_label("Name", exact=True).fill("Keyboard created")
    first = page.get_by_role("group", name="Condition 1")
    first.get_by_label("Attribute").fill("level")
    first.get_by_label("Operator").select_option("gte")
    first.get_by_label("Value").fill("1")
    tab_to(page, page.get_by_role("button", name="Create segment"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Created “Keyboard created”.")).to_be_visible()
    assert focused(page) == "Create segment"

    # Delete from the list: the row goes, focus goes to the message that says so
    page.get_by_role("button", name="Delete Keyboard created").focus()
    page.keyboard.press("Enter")
    confirm = page.get_by_role("button", name="Delete segment")
    tab_to(page, confirm)
    page.keyboard.press("Enter")
    message = page.locator(".page-status .notice", has_text="Deleted “Keyboard created”.")
    expect(message).to_be_focused()

    # Evaluate now on the shared segment's page (Delta Cards)
    shared_id = shared_segment_id(console, "proj-d", KEYS_SEGMENT)
    page.goto(console.base_url + f"/#/p/proj-d/shared/{shared_id}")
    evaluate = page.get_by_role("button", name="Evaluate now")
    tab_to(page, evaluate)
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Evaluated “{KEYS_SEGMENT}”")).to_be_visible()
    assert focused(page) == "Evaluate now"

    # Preview on the audience preview
    page.goto(console.base_url + "/#/p/proj-d/audience")
    tab_to(page, page.get_by_role("button", name="Preview"))
    page.keyboard.press("Enter")
    expect(page.locator(".big-number")).to_be_visible()
    assert focused(page) == "Preview"


def test_project_picker_arrows_choose_and_enter_switches_so_the_third_project_is_reachable(
    console: Console, open_as: Callable[..., Page]
) -> None:
    # Given the company admin on Alpha Quest (the first of its four projects)
    page = open_as(demo.COMPANY_ADMIN.user_id)
    picker = page.get_by_label("Project", exact=True)
    expect(picker).to_have_value("proj-a")
    expect(page.get_by_role("heading", level=1, name="Segments")).to_be_visible()

    # When it Tabs to the picker and presses the down arrow twice, as a person does: one
    # press, then the next once the first has shown (Playwright's presses wait for nothing)
    tab_to(page, picker)
    page.keyboard.press("ArrowDown")
    expect(picker).to_have_value("proj-b")
    page.keyboard.press("ArrowDown")

    # Then the third project is chosen, focus is still in the picker, and nothing switched yet
    expect(picker).to_have_value("proj-c")
    assert page.evaluate("document.activeElement.id") == "project-select"
    assert "proj-a" in page.url
    expect(page.get_by_role("button", name="Switch")).to_be_visible()

    # When it presses Enter: Gamma Puzzle's Segments
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{console.base_url}/#/p/proj-c/segments")
    expect(page.get_by_role("heading", level=1, name="Segments")).to_be_visible()
    expect(page.locator("main .lead")).to_contain_text("Gamma Puzzle")
    expect(page.get_by_role("button", name="Switch")).to_be_hidden()


def test_deleting_a_shared_segment_shows_its_shares_first_and_focuses_cancel_so_enter_enter_deletes_nothing(
    console: Console, open_as: Callable[..., Page]
) -> None:
    # Given the company admin on the Overview of a Gamma Puzzle segment shared with Delta Cards
    segment_id = create_segment(console, "proj-c", DELETE_ME, ALL_PROFILES, share_with=("proj-d",))
    page = open_as(demo.COMPANY_ADMIN.user_id, f"#/p/proj-c/segments/{segment_id}")
    expect(page.get_by_role("heading", level=1, name=DELETE_ME)).to_be_visible()

    # When it Tabs to Delete segment and presses Enter twice
    tab_to(page, page.get_by_role("button", name="Delete segment"))
    page.keyboard.press("Enter")

    # Then the first confirmation names the project that has it, without "0 of which", and focus is on Cancel
    warning = page.locator(".notice-warning")
    expect(warning).to_contain_text(f"“{DELETE_ME}” is shared with 1 project: Delta Cards.")
    expect(warning).not_to_contain_text("of which you cannot see")
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")

    # And the second Enter cancelled: the segment and its share are still there, focus back on Delete segment
    expect(warning).to_have_count(0)
    expect(page.get_by_role("button", name="Delete segment")).to_be_focused()
    got = console.stack.call("GET", f"/v1/projects/proj-c/segments/{segment_id}", demo.COMPANY_ADMIN.token())
    assert got.status_code == 200
    assert got.json()["sharedWithCount"] == 1

    # When it chooses to delete it after all: the button says what it does
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("button", name="Delete and stop sharing with 1 project"))
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Deleted “{DELETE_ME}”.")).to_be_visible()
    got = console.stack.call("GET", f"/v1/projects/proj-c/segments/{segment_id}", demo.COMPANY_ADMIN.token())
    assert got.status_code == 404


def test_shared_segment_options_menu_exports_and_evaluates_by_keyboard(
    console: Console, keyboard_data: str, open_as: Callable[..., Page]
) -> None:
    # Given the company admin on Delta Cards' Shared Segments
    page = open_as(demo.COMPANY_ADMIN.user_id, "#/p/proj-d/shared")
    row = page.locator("tr", has=page.get_by_role("link", name=KEYS_SEGMENT, exact=True))
    options = row.get_by_role("button", name=f"Options for {KEYS_SEGMENT}")
    expect(options).to_have_attribute("aria-haspopup", "menu")
    expect(row.get_by_role("combobox")).to_have_count(0)

    # When it Tabs to the row's options and presses Enter: the menu opens on its first item
    tab_to(page, options)
    page.keyboard.press("Enter")
    expect(options).to_have_attribute("aria-expanded", "true")
    items = row.get_by_role("menuitem")
    assert items.all_inner_texts() == ["Export CSV", "Export JSONL", "Evaluate now"]
    expect(items.nth(0)).to_be_focused()

    # Arrows move (and wrap), Escape closes it and gives focus back to the button
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("Escape")
    expect(row.get_by_role("menu")).to_be_hidden()
    expect(options).to_be_focused()

    # ArrowUp opens it on the last item: Evaluate now, by Enter
    page.keyboard.press("ArrowUp")
    expect(items.nth(2)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Evaluated “{KEYS_SEGMENT}”")).to_be_visible()
    expect(options).to_be_focused()

    # Export JSONL by keyboard: the Exports tab lists a JSONL export
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Exports", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.locator("tr[data-export]").first).to_contain_text("JSONL")
