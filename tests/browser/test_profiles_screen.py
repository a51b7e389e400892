"""The Profiles tab: the project's profiles a page at a time, and Import (issue 16 item 1, issue 17's new screens).

- The listing pages through Delta Cards (proj-d, more profiles than a page) by keyboard: every
  profile once, `total` shown, Next page stops on the last page, Previous page goes back.
- Import: a CSV with good rows and one bad row is picked, uploaded with the presigned PUT, its
  progress polled; the counts shown are exact, the errors file downloads named after the project's
  import and the date, and holds exactly the bad row. The good rows land in Gamma Puzzle (proj-c).
Both screens are screenshot at desktop and phone width and checked by axe-core.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from local import demo
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    Console,
    axe_violations,
    describe_violations,
    no_sideways_scroll,
    offscreen_controls,
)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PAGE_SIZE = 50  # web/profiles.js PAGE_SIZE
IDFV = "0B5E8C1A-7D2F-4E3B-9C6A-5F4E3D2C1B0A"


def _all_profile_ids(console: Console, project: str) -> tuple[list[str], int]:
    """Every profile id of the project through the API (pages of 1000), and its total."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        query = "?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        page = console.stack.call("GET", f"/v1/projects/{project}/profiles{query}", demo.COMPANY_ADMIN.token()).json()
        ids += [p["profileId"] for p in page["profiles"]]
        cursor = page["nextCursor"]
        if not cursor:
            return ids, int(page["total"])


def _check_screen(page: Page, name: str) -> None:
    """Screenshots at desktop and phone width (screen-<name>-<width>.png), axe at both, nothing off-screen on the phone."""
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"screen-{name}-{width}.png"), full_page=True)
        violations = axe_violations(page)
        assert not violations, (width, describe_violations(violations))
        if width == "phone":
            no_sideways_scroll(page)
            assert offscreen_controls(page) == []
    page.set_viewport_size(DESKTOP)


def _ids_shown(page: Page) -> list[str]:
    return list(page.locator("tr[data-profile]").evaluate_all("rows => rows.map((r) => r.dataset.profile)"))


def test_profile_listing_pages_through_every_profile_once_by_keyboard(console: Console, open_as: Callable[..., Page]) -> None:
    # Given Delta Cards holds more profiles than a page
    expected, total = _all_profile_ids(console, "proj-d")
    assert total == len(expected) > PAGE_SIZE

    # When the company admin opens its Profiles tab
    page = open_as(demo.COMPANY_ADMIN.user_id, "#/p/proj-d/profiles")
    expect(page.get_by_role("heading", level=1, name="Profiles")).to_be_visible()

    # Then the total is shown, and the first page holds a page of profiles
    expect(page.locator(".big-number")).to_have_text(f"{total} profiles in Delta Cards")
    expect(page.locator("tr[data-profile]")).to_have_count(PAGE_SIZE)
    expect(page.get_by_text(f"Page 1: profiles 1 to {PAGE_SIZE} of {total}")).to_be_visible()
    _check_screen(page, "profiles")

    # And Next page, pressed by keyboard until it has nothing left, walks every profile exactly once
    pages = [_ids_shown(page)]
    next_page = page.get_by_role("button", name="Next page")
    next_page.focus()
    for number in range(2, math.ceil(total / PAGE_SIZE) + 1):
        page.keyboard.press("Enter")
        first = min(total, (number - 1) * PAGE_SIZE + 1)
        expect(page.get_by_text(f"Page {number}: profiles {first} to {min(total, number * PAGE_SIZE)} of {total}")).to_be_visible()
        pages.append(_ids_shown(page))
    seen = [i for shown in pages for i in shown]
    assert len(seen) == len(set(seen)), "a profile was listed twice"
    assert sorted(seen) == sorted(expected)
    # On the last page Next has nothing to do: it says so (aria-disabled) and focus moved to the page's position
    expect(next_page).to_have_attribute("aria-disabled", "true")
    expect(page.locator(".pager-position")).to_be_focused()

    # And Previous page goes back to the page before, the same profiles
    page.get_by_role("button", name="Previous page").click()
    expect(page.get_by_text(f"Page {len(pages) - 1}: ")).to_be_visible()
    assert _ids_shown(page) == pages[-2]


def test_import_a_csv_shows_exact_counts_and_downloads_the_errors_file_holding_the_bad_row(
    console: Console, open_as: Callable[..., Page], tmp_path: Path
) -> None:
    # Given a CSV of three good rows and one bad device id (file line 3)
    text = (
        "profileId,ios,android,first_name\r\n"
        f"imp-browser-1,{IDFV},,Ann\r\n"
        "imp-browser-bad,not-a-uuid,,Bob\r\n"
        'imp-browser-2,,9a3f5e2b7c1d4e60|00c0ffee,"Smith, Jo"\r\n'
        "imp-browser-3,,,Zoë\r\n"
    )
    upload = tmp_path / "gamma players.csv"
    upload.write_text(text, encoding="utf-8")

    # When the company admin opens Gamma Puzzle's Imports and picks the file
    page = open_as(demo.COMPANY_ADMIN.user_id, "#/p/proj-c/profiles")
    page.get_by_role("link", name="Import profiles").click()
    expect(page.get_by_role("heading", level=2, name="Import profiles")).to_be_visible()
    page.get_by_label("File to import", exact=True).set_input_files(str(upload))
    # Then the format follows the file's name
    expect(page.get_by_label("Format", exact=True)).to_have_value("csv")

    # When it presses Upload and import (keyboard), which POSTs the import and PUTs the file to the presigned URL
    page.get_by_role("button", name="Upload and import").focus()
    with page.expect_response(lambda r: r.request.method == "PUT" and "X-Amz-Signature=" in r.url) as uploaded:
        page.keyboard.press("Enter")
    assert uploaded.value.status == 200

    # Then the progress ends with the exact counts
    done = page.get_by_text("Imported “gamma players.csv”: 4 rows read, 3 profiles upserted, 1 row rejected.")
    expect(done).to_be_visible(timeout=120_000)
    listed = console.stack.call("GET", "/v1/projects/proj-c/imports", demo.COMPANY_ADMIN.token()).json()["imports"]
    record = listed[0]
    assert (record["status"], record["rows"], record["upserted"], record["rejected"]) == ("SUCCEEDED", 4, 3, 1)
    row = page.locator(f"tr[data-import='{record['importId']}']")
    for column, value in enumerate(["CSV", "Succeeded", "4", "3", "1", "Download the errors file (1 row)"], start=1):
        expect(row.locator("td").nth(column)).to_have_text(value)

    # And the errors file downloads named after the project's import and its start, holding the bad row
    with page.expect_download() as downloading:
        page.locator(".import-progress").get_by_role("link", name="Download the errors file (1 row)").click()
    download = downloading.value
    created = record["createdAt"]
    assert download.suggested_filename == f"Gamma Puzzle import errors {created[:10]} {created[11:13]}h{created[14:16]}.csv"
    saved = download.path()
    assert saved is not None
    rows = list(csv.reader(io.StringIO(Path(saved).read_text(encoding="utf-8"), newline="")))
    assert rows[0] == ["line", "profileId", "code", "message"]
    assert [r[:3] for r in rows[1:]] == [["3", "imp-browser-bad", "INVALID_DEVICE_ID"]]

    # And the good rows landed, the bad one did not
    for profile_id, first_name in (("imp-browser-1", "Ann"), ("imp-browser-2", "Smith, Jo"), ("imp-browser-3", "Zoë")):
        got = console.stack.call("GET", f"/v1/projects/proj-c/profiles/{profile_id}", demo.COMPANY_ADMIN.token())
        assert got.status_code == 200, got.text
        assert got.json()["attributes"] == {"first_name": first_name}
    assert console.stack.call("GET", "/v1/projects/proj-c/profiles/imp-browser-bad", demo.COMPANY_ADMIN.token()).status_code == 404
    _check_screen(page, "imports")


def test_import_without_a_file_marks_the_field_and_says_why(console: Console, open_as: Callable[..., Page]) -> None:
    page = open_as(demo.COMPANY_ADMIN.user_id, "#/p/proj-c/imports")
    expect(page.get_by_role("heading", level=2, name="Import profiles")).to_be_visible()
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a JSONL or CSV file to import.")
    expect(page.get_by_label("File to import", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("File to import", exact=True)).to_be_focused()
