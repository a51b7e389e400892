"""Downloads are named after the segment and the day, not the export id (issue 17 item 10, issue 17's new screens).

The download link is a presigned S3 GET on another origin (moto's server locally, the bucket
deployed), where a link's `download` attribute is ignored: the name comes from the
Content-Disposition S3 answers from the link's signed `response-content-disposition`
(RFC 6266 `filename`, RFC 8187 `filename*` for a name beyond ASCII). The local stack checks
that link's signature as S3 does (local/s3_links.py), so a link it refused would fail here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from local import demo
from tests.browser.conftest import Console, create_segment, shared_segment_id

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

#: Beyond ASCII (an e with diaeresis, a right single quote, two kanji) and holding a character no file name may hold (/).
SEGMENT = "Zo\u00eb\u2019s \u65e5\u672c fans/players"


def test_an_export_downloads_named_after_the_segment_and_the_day(console: Console, open_as: Callable[..., Page]) -> None:
    # Given Gamma Puzzle's segment shared with Delta Cards and exported there as JSONL
    create_segment(console, "proj-c", SEGMENT, {"any": [{"platform": "ios"}]}, share_with=("proj-d",))
    shared_id = shared_segment_id(console, "proj-d", SEGMENT)
    page = open_as(demo.COMPANY_ADMIN.user_id, f"#/p/proj-d/shared/{shared_id}/exports")
    expect(page.get_by_role("heading", level=1, name=SEGMENT)).to_be_visible()
    page.get_by_role("button", name=f"Export {SEGMENT}").click()
    page.get_by_role("menuitem", name="Export JSONL").click()
    link = page.locator("tr[data-export]").first.get_by_role("link", name="Download the JSONL export")
    expect(link).to_be_visible(timeout=60_000)

    # When the person downloads it
    with page.expect_download() as downloading:
        link.click()
    download = downloading.value

    # Then the browser names the file after the segment ("/" replaced) and the export's day
    exports = console.stack.call("GET", f"/v1/projects/proj-d/shared-segments/{shared_id}/exports", demo.COMPANY_ADMIN.token()).json()
    record = exports["exports"][0]
    assert download.suggested_filename == f"Zo\u00eb\u2019s \u65e5\u672c fans players {record['readyAt'][:10]}.jsonl"
    assert record["exportId"] not in download.suggested_filename
    # And the file is the export (one JSON object a line, Delta Cards' own profiles)
    saved = download.path()
    assert saved is not None
    lines = Path(saved).read_text(encoding="utf-8").splitlines()
    assert len(lines) == record["rowCount"] > 0
    assert all(line.startswith('{"profileId": ') for line in lines)
