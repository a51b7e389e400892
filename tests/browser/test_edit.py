"""The segment page's Edit tab (issue 16 item 2) by keyboard alone: open it from the Overview, change the
name and a condition, save (focus stays on Save), then lose a version race to an edit made through the
API and recover with the conflict message's Reload button.

Works on its own segment of Gamma Puzzle (proj-c), as the company admin.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from local import demo
from tests.browser.conftest import Console, create_segment
from tests.browser.test_keyboard import focused, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

EDIT_ME = "Keyboard edit cohort"
LEVEL_10 = {"all": [{"attribute": "level", "op": "gte", "value": 10}]}


def _segment(console: Console, segment_id: str) -> dict[str, object]:
    got = console.stack.call("GET", f"/v1/projects/proj-c/segments/{segment_id}", demo.COMPANY_ADMIN.token())
    assert got.status_code == 200, got.text
    return dict(got.json())


def test_edit_tab_saves_by_keyboard_and_explains_a_version_conflict_with_a_way_to_reload(
    console: Console, open_as: Callable[..., Page]
) -> None:
    segment_id = create_segment(console, "proj-c", EDIT_ME, LEVEL_10)
    page = open_as(demo.COMPANY_ADMIN.user_id, f"#/p/proj-c/segments/{segment_id}")
    expect(page.get_by_role("heading", level=1, name=EDIT_ME)).to_be_visible()

    # Overview: Tab to "Edit segment", Enter opens the Edit tab with the segment filled in
    tab_to(page, page.get_by_role("link", name="Edit segment"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2, name="Edit the name and the rule")).to_be_visible()
    name = page.get_by_role("textbox", name="Name")
    expect(name).to_have_value(EDIT_ME)
    condition = page.get_by_role("group", name="Condition 1")
    expect(condition.get_by_role("textbox", name="Attribute")).to_have_value("level")
    expect(condition.get_by_role("combobox", name="Operator")).to_have_value("gte")
    value = condition.get_by_role("textbox", name="Value")
    expect(value).to_have_value("10")

    # Change the name and the value by keyboard, Tab to Save, Enter
    tab_to(page, name)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(f"{EDIT_ME} 20+")
    tab_to(page, value)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("20")
    save = page.get_by_role("button", name="Save changes")
    tab_to(page, save)
    page.keyboard.press("Enter")

    # Saved: said in words, focus still on Save, the heading shows the new name, the API has it
    expect(page.get_by_text(f"Saved “{EDIT_ME} 20+”.")).to_be_visible()
    assert focused(page) == "Save changes"
    expect(page.get_by_role("heading", level=1, name=f"{EDIT_ME} 20+")).to_be_visible()
    stored = _segment(console, segment_id)
    assert stored["name"] == f"{EDIT_ME} 20+"
    assert stored["rule"] == {"all": [{"attribute": "level", "op": "gte", "value": 20}]}
    assert stored["version"] == 2

    # Someone else edits it through the API (version 2 -> 3) while this tab still holds version 2
    other = console.stack.call(
        "PATCH", f"/v1/projects/proj-c/segments/{segment_id}", demo.COMPANY_ADMIN.token(), {"name": "Renamed elsewhere", "version": 2}
    )
    assert other.status_code == 200, other.text

    # This tab's next save is refused: the conflict is explained in words, with a Reload button
    tab_to(page, name)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("Mine")
    tab_to(page, save)
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Someone else saved a change to this segment after you opened it")
    assert _segment(console, segment_id)["name"] == "Renamed elsewhere"

    # Reload by keyboard: the form shows the segment as it is now, and a save from there lands
    tab_to(page, alert.get_by_role("button", name="Reload the segment"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("textbox", name="Name")).to_have_value("Renamed elsewhere")
    expect(page.get_by_role("heading", level=1, name="Renamed elsewhere")).to_be_visible()
    name = page.get_by_role("textbox", name="Name")
    tab_to(page, name)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("Mine after reload")
    tab_to(page, page.get_by_role("button", name="Save changes"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Saved “Mine after reload”.")).to_be_visible()
    after = _segment(console, segment_id)
    assert (after["name"], after["version"]) == ("Mine after reload", 4)
    assert after["rule"] == {"all": [{"attribute": "level", "op": "gte", "value": 20}]}
