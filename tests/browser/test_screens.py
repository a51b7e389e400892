"""Issue 17 items 4, 5, 8, 9 and 10: errors without spinners, sign-in that keeps the page, the rule
builder, the Sharing tab's Save and leave warning, and the wording (headers, links, download
names, the not-evaluated preview, the feature turned off).

Each test works on its own segments of Gamma Puzzle (proj-c) and Delta Cards (proj-d), so the story
in test_story.py (Alpha Quest and Beta Racer) is untouched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from playwright.sync_api import Dialog, Page, expect

from local import demo, tokens
from tests.browser.conftest import Console, create_segment, shared_segment_id

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ALL_PROFILES = {"all": [{"attribute": "level", "op": "gte", "value": 0}]}


def _segments(console: Console, project: str) -> dict[str, dict[str, Any]]:
    listed = console.stack.call("GET", f"/v1/projects/{project}/segments", demo.COMPANY_ADMIN.token()).json()["segments"]
    return {s["name"]: s for s in listed}


def _history(console: Console, project: str, segment_id: str) -> list[dict[str, Any]]:
    got = console.stack.call("GET", f"/v1/projects/{project}/segments/{segment_id}/sharing/history", demo.COMPANY_ADMIN.token())
    assert got.status_code == 200, got.text
    return list(got.json()["history"])


@pytest.fixture
def feature_off(console: Console) -> Iterator[None]:
    """The demo company with shared segments turned off by the operator; turned on again afterwards."""

    def turn(enabled: bool) -> None:
        got = console.stack.call("PATCH", f"/v1/companies/{demo.COMPANY}", demo.OPERATOR.token(), {"sharedSegmentsEnabled": enabled})
        assert got.status_code == 200, got.text

    turn(False)
    try:
        yield
    finally:
        turn(True)


# ------------------------------------------------------------------------------------------ item 4


def test_a_deep_link_to_a_missing_segment_shows_the_error_without_a_spinner_and_a_way_back(
    console: Console, open_as: Callable[..., Page]
) -> None:
    page = open_as(demo.COMPANY_ADMIN.user_id, "#/p/proj-c/segments/no-such-segment")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This no longer exists, or you do not have access to it.")
    expect(page.locator("main .loading")).to_have_count(0)
    back = alert.get_by_role("link", name="Back to Segments")
    back.click()
    expect(page.get_by_role("heading", level=1, name="Segments")).to_be_visible()


def test_with_the_feature_off_the_sharing_tab_says_so_without_a_spinner_and_the_sharing_screens_are_hidden(
    console: Console, open_as: Callable[..., Page], feature_off: None
) -> None:
    segment_id = _segments(console, "proj-c").get("Feature off own", {}).get("segmentId") or create_segment(
        console, "proj-c", "Feature off own", ALL_PROFILES
    )
    # A deep link to the Sharing tab: the error in words, no spinner above it, the seed's help and a way back
    page = open_as(demo.COMPANY_ADMIN.user_id, f"#/p/proj-c/segments/{segment_id}/sharing")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Shared segments are not turned on for this company.")
    expect(page.locator("main .loading")).to_have_count(0)
    expect(alert.get_by_text("Can't see this feature?")).to_be_visible()
    expect(alert.get_by_role("link", name="Back to Segments")).to_be_visible()

    # And the Shared Segments tab and the Sharing links are not offered
    tabs = page.locator("nav.tabbar").get_by_role("link")
    assert tabs.all_inner_texts() == ["Segments", "Audience preview", "Profiles"]
    page.get_by_role("link", name="Back to Segments").click()
    expect(page.get_by_role("link", name="Feature off own", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Sharing of"))).to_have_count(0)


# ------------------------------------------------------------------------------------------ item 5


def test_sign_in_keeps_the_deep_link_and_an_expired_session_comes_back_to_its_page(console: Console, open_as: Callable[..., Page]) -> None:
    # Opened on a deep link while signed out: after sign-in, that page
    page = open_as(demo.COMPANY_ADMIN.user_id)
    page.get_by_role("button", name="Sign out").click()
    page.goto("about:blank")
    page.goto(console.base_url + "/#/p/proj-d/audience")
    page.locator(f"button[data-user='{demo.COMPANY_ADMIN.user_id}']").click()
    expect(page.get_by_role("heading", level=1, name="Audience preview")).to_be_visible()
    assert page.url.endswith("#/p/proj-d/audience")
    expect(page.get_by_label("Project", exact=True)).to_have_value("proj-d")

    # The session expires while it works; the next page asks it to sign in again
    expired = jwt.encode({"sub": demo.COMPANY_ADMIN.user_id, "exp": int(time.time()) - 60}, tokens.secret(), algorithm="HS256")
    page.evaluate("token => sessionStorage.setItem('segshare.token', token)", expired)
    page.get_by_role("link", name="Shared Segments").click()
    expect(page.get_by_role("heading", level=1, name="Sign in to segshare")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Your session has ended.")

    # After signing in again it is back on that page
    page.locator(f"button[data-user='{demo.COMPANY_ADMIN.user_id}']").click()
    expect(page.get_by_role("heading", level=1, name="Shared Segments")).to_be_visible()
    assert page.url.endswith("#/p/proj-d/shared")


# ------------------------------------------------------------------------------------------ item 8


def test_rule_builder_types_values_by_operator_offers_platforms_and_marks_and_focuses_the_invalid_field(
    console: Console, open_as: Callable[..., Page]
) -> None:
    page = open_as(demo.COMPANY_ADMIN.user_id, "#/p/proj-c/segments")
    page.get_by_text("Create a segment").click()
    name = page.get_by_label("Name", exact=True)
    first = page.get_by_role("group", name="Condition 1")

    # "contains 5" is sent as text and accepted
    name.fill("Rule contains five")
    first.get_by_label("Attribute").fill("cohort")
    first.get_by_label("Operator").select_option("contains")
    first.get_by_label("Value").fill("5")
    page.get_by_role("button", name="Create segment").click()
    expect(page.get_by_text("Created “Rule contains five”.")).to_be_visible()
    assert _segments(console, "proj-c")["Rule contains five"]["rule"] == {"all": [{"attribute": "cohort", "op": "contains", "value": "5"}]}

    # "is greater than abc" is refused here, in words; the value is marked invalid and focused; the old success is gone
    name.fill("Rule greater than abc")
    first.get_by_label("Attribute").fill("level")
    first.get_by_label("Operator").select_option("gt")
    first.get_by_label("Value").fill("abc")
    page.get_by_role("button", name="Create segment").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Condition 1: “is greater than” compares numbers: enter a number, such as 50.")
    value = first.get_by_label("Value")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_be_focused()
    expect(page.get_by_text("Created “Rule contains five”.")).to_have_count(0)
    assert "Rule greater than abc" not in _segments(console, "proj-c")

    # More than 100 values for "is one of": the console's words, not the server's
    first.get_by_label("Operator").select_option("in")
    first.get_by_label("Value").fill(",".join(str(i) for i in range(101)))
    page.get_by_role("button", name="Create segment").click()
    expect(alert).to_have_text("Condition 1: enter between 1 and 100 values, separated by commas.")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(page.locator("main")).not_to_contain_text("scalars")

    # The platform is a choice (no attribute to type), sent as the API's ios/android
    first.get_by_label("Operator").select_option("platform")
    expect(first.get_by_label("Attribute")).to_be_disabled()
    platform = first.get_by_label("Platform")
    assert platform.locator("option").all_inner_texts() == ["iOS", "Android"]
    platform.select_option(label="Android")
    name.fill("Rule android devices")
    page.get_by_role("button", name="Create segment").click()
    expect(page.get_by_text("Created “Rule android devices”.")).to_be_visible()
    expect(page.locator("form [aria-invalid='true']")).to_have_count(0)
    assert _segments(console, "proj-c")["Rule android devices"]["rule"] == {"all": [{"platform": "android"}]}


# ------------------------------------------------------------------------------------------ item 7 (the name's length)


def test_a_name_longer_than_200_characters_is_refused_in_words_not_cut(console: Console, open_as: Callable[..., Page]) -> None:
    page = open_as(demo.COMPANY_ADMIN.user_id, "#/p/proj-c/segments")
    page.get_by_text("Create a segment").click()
    name = page.get_by_label("Name", exact=True)
    name.fill("N" * 201)
    expect(name).to_have_value("N" * 201)
    page.get_by_role("group", name="Condition 1").get_by_label("Operator").select_option("exists")
    page.get_by_role("group", name="Condition 1").get_by_label("Attribute").fill("level")
    page.get_by_role("button", name="Create segment").click()
    expect(page.get_by_role("alert")).to_have_text("A name is at most 200 characters; this one has 201. Shorten it.")
    expect(name).to_be_focused()
    expect(name).to_have_attribute("aria-invalid", "true")


# ------------------------------------------------------------------------------------------ item 9


def test_sharing_save_does_nothing_until_a_tick_changes_and_leaving_with_unsaved_ticks_asks_first(
    console: Console, open_as: Callable[..., Page]
) -> None:
    segment_id = create_segment(console, "proj-c", "Sharing unsaved", ALL_PROFILES)
    page = open_as(demo.COMPANY_ADMIN.user_id, f"#/p/proj-c/segments/{segment_id}/sharing")
    save = page.get_by_role("button", name="Save")

    # Nothing changed: Save is marked disabled and pressing it records nothing
    expect(save).to_have_attribute("aria-disabled", "true")
    save.press("Enter")
    expect(page.get_by_text("Nothing to save: tick or untick a project first.")).to_be_visible()
    assert _history(console, "proj-c", segment_id) == []

    # A tick enables it
    page.get_by_role("checkbox", name="Delta Cards").check()
    expect(save).not_to_have_attribute("aria-disabled", "true")

    # Leaving with the tick unsaved asks; staying keeps the tick
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("link", name="Segments", exact=True).first.click()
    expect(page.get_by_role("checkbox", name="Delta Cards")).to_be_checked()
    assert asked == ["The Sharing tab has unsaved changes. Leave without saving them?"]
    assert page.url.endswith(f"#/p/proj-c/segments/{segment_id}/sharing")

    # Leaving after saving does not ask
    save.click()
    expect(page.get_by_text("Sharing saved.")).to_be_visible()
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("nav.tabbar").get_by_role("link", name="Segments", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Segments")).to_be_visible()
    assert len(asked) == 1
    assert len(_history(console, "proj-c", segment_id)) == 1


# ------------------------------------------------------------------------------------------ item 10


def test_wording_ios_header_docs_link_and_download_named_after_the_segment(console: Console, open_as: Callable[..., Page]) -> None:
    name = "Wording export/cohort"
    create_segment(console, "proj-c", name, ALL_PROFILES, share_with=("proj-d",))
    shared_id = shared_segment_id(console, "proj-d", name)
    evaluated = console.stack.call("POST", f"/v1/projects/proj-d/shared-segments/{shared_id}/evaluations", demo.COMPANY_ADMIN.token())
    assert evaluated.status_code == 201, evaluated.text

    # "iOS devices", not "IOS DEVICES"
    page = open_as(demo.COMPANY_ADMIN.user_id, f"#/p/proj-d/shared/{shared_id}")
    headers = page.locator("thead th")
    expect(headers.nth(4)).to_have_text("iOS devices")
    assert headers.nth(4).inner_text() == "iOS devices"

    # The download is named after the segment and the day, not the export's id
    page.get_by_role("button", name=f"Export {name}").click()
    page.get_by_role("menuitem", name="Export CSV").click()
    link = page.locator("tr[data-export]").first.get_by_role("link", name="Download the CSV export")
    expect(link).to_be_visible(timeout=60_000)
    day = time.strftime("%Y-%m-%d", time.gmtime())
    expect(link).to_have_attribute("download", f"Wording export cohort {day}.csv")

    # The operator's page links to the API documentation
    operator = open_as(demo.OPERATOR.user_id)
    docs = operator.get_by_role("link", name="Read the API documentation")
    expect(docs).to_have_attribute("href", "/docs")
    expect(operator.locator("main")).not_to_contain_text("(see /docs)")


def test_preview_of_a_segment_not_evaluated_names_it_and_offers_to_evaluate_it(console: Console, open_as: Callable[..., Page]) -> None:
    name = "Preview not evaluated"
    create_segment(console, "proj-c", name, ALL_PROFILES, share_with=("proj-d",))
    page = open_as(demo.COMPANY_ADMIN.user_id, "#/p/proj-d/audience")
    page.get_by_role("checkbox", name=re.compile(rf"^{name}")).check()
    page.get_by_role("button", name="Preview").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(f"“{name}” has not been evaluated in Delta Cards yet.")
    evaluate = alert.get_by_role("button", name=f"Evaluate “{name}” now")
    expect(evaluate).to_be_focused()
    evaluate.press("Enter")

    # Once evaluated, the preview runs again and shows the audience
    expect(page.locator(".big-number")).to_contain_text("in the audience")
    expect(page.get_by_role("alert")).to_have_count(0)
