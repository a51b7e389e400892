"""The seed's story in a real browser: the console in web/ driven by Playwright in Debian's Chromium.

One local stack with the demo data and one headless Chromium serve the whole module. The tests
are one story and run in file order, each as the person the seed names, in a fresh tab:

1. the company admin creates a segment in Alpha Quest and shares it with Gamma Puzzle and Delta Cards;
2. the project admin of A and B sees only Beta Racer and "2 other projects", ticks Beta Racer, saves;
3. the company admin sees all three ticked; a stale save is refused in words;
4. the project admin of A and B is told why it cannot delete the segment;
5. a user of B evaluates the shared segment and sees the evaluation and its chart;
6. that user exports it and gets a Download link;
7. the audience preview renders {{first_name}} blank for a B profile whose A twin has a first name;
8. a project switch shows nothing of the previous project, sign-out clears the page, and the company
   admin force-deletes a segment it can see every share of;
9. deployed, sign-in goes through the Cognito hosted UI (played by Playwright's router) and the
   console takes the id_token from the URL fragment.

Each test leaves a screenshot of its last screen in test-output/screenshots/<test name>.png.
The fixtures (one stack and one Chromium for the whole session) are in conftest.py.
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from playwright.sync_api import Page, Route, expect

from local import demo, tokens
from local import template as tpl
from tests.browser.conftest import A_FIRST_NAME, A_PROFILE, B_PROFILE, SCREENSHOTS, Console

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SEGMENT = "Browser seed cohort"
THROWAWAY = "Browser throwaway"


def _open_sharing_tab(page: Page, segment: str) -> None:
    page.get_by_role("link", name=f"Sharing of {segment}").click()
    expect(page.get_by_role("heading", level=1, name=segment)).to_be_visible()
    expect(page.get_by_role("group", name="Share with these projects")).to_be_visible()


def _project_checkboxes(page: Page) -> dict[str, bool]:
    group = page.get_by_role("group", name="Share with these projects")
    boxes = group.get_by_role("checkbox")
    return {boxes.nth(i).evaluate("el => el.labels[0].textContent"): boxes.nth(i).is_checked() for i in range(boxes.count())}


def _sharing(console: Console, token: str) -> dict[str, Any]:
    segments = console.stack.call("GET", "/v1/projects/proj-a/segments", token).json()["segments"]
    (segment,) = [s for s in segments if s["name"] == SEGMENT]
    sharing = console.stack.call("GET", f"/v1/projects/proj-a/segments/{segment['segmentId']}/sharing", token)
    assert sharing.status_code == 200, sharing.text
    return dict(sharing.json())


# ---------------------------------------------------------------------------------------------- the story


def test_1_company_admin_creates_a_segment_and_shares_it_with_gamma_and_delta(console: Console, open_as: Callable[[str], Page]) -> None:
    # Given the company admin on Alpha Quest's Segments tab
    page = open_as(demo.COMPANY_ADMIN.user_id)
    expect(page.get_by_label("Project", exact=True)).to_have_value("proj-a")
    expect(page.get_by_role("heading", level=1, name="Segments")).to_be_visible()

    # When it builds a rule "any of: cohort equals browser-seed; level is at least 50" and creates the segment
    page.get_by_text("Create a segment").click()
    page.get_by_label("Name", exact=True).fill(SEGMENT)
    page.get_by_label("Profiles must match").select_option("any")
    first = page.get_by_role("group", name="Condition 1")
    first.get_by_label("Attribute").fill("cohort")
    first.get_by_label("Operator").select_option("eq")
    first.get_by_label("Value").fill("browser-seed")
    page.get_by_role("button", name="Add condition").click()
    second = page.get_by_role("group", name="Condition 2")
    second.get_by_label("Attribute").fill("level")
    second.get_by_label("Operator").select_option(label="is at least")
    second.get_by_label("Value").fill("50")
    page.get_by_role("button", name="Create segment").click()

    # Then it is listed as an own segment, not shared
    expect(page.get_by_text(f"Created “{SEGMENT}”.")).to_be_visible()
    row = page.locator("tr", has=page.get_by_role("link", name=SEGMENT, exact=True))
    expect(row).to_contain_text("Own")
    expect(row).to_contain_text("Not shared")

    # When it opens the Sharing tab: every other project of the company, none ticked
    _open_sharing_tab(page, SEGMENT)
    assert _project_checkboxes(page) == {"Beta Racer": False, "Gamma Puzzle": False, "Delta Cards": False}
    expect(page.locator(".hidden-count")).to_have_text("Not shared with any project you cannot see.")

    # And ticks Gamma Puzzle and Delta Cards (keyboard for one of them) and saves
    page.get_by_role("checkbox", name="Gamma Puzzle").check()
    page.get_by_role("checkbox", name="Delta Cards").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save").click()

    # Then the save is confirmed, the history names it, and the API agrees
    expect(page.get_by_text("Sharing saved.")).to_be_visible()
    expect(page.locator(".history-entry").first).to_contain_text("demo-company-admin started sharing with Gamma Puzzle, Delta Cards")
    assert _project_checkboxes(page) == {"Beta Racer": False, "Gamma Puzzle": True, "Delta Cards": True}
    shared = {p["projectId"]: p["shared"] for p in _sharing(console, demo.COMPANY_ADMIN.token())["projects"]}
    assert shared == {"proj-b": False, "proj-c": True, "proj-d": True}


def test_2_project_admin_of_a_and_b_sees_only_beta_and_two_hidden_then_shares_with_beta(
    console: Console, open_as: Callable[[str], Page]
) -> None:
    # Given the project admin of A and B on Alpha Quest's Segments tab
    page = open_as(demo.ADMIN_AB.user_id)
    picker = page.get_by_label("Project", exact=True)
    assert picker.locator("option:not([hidden])").all_text_contents() == ["Alpha Quest", "Beta Racer"]
    expect(picker).to_have_value("proj-a")

    # When it opens the segment's Sharing tab
    _open_sharing_tab(page, SEGMENT)

    # Then it sees only Beta Racer, unticked, and that 2 other projects it cannot see have the segment
    assert _project_checkboxes(page) == {"Beta Racer": False}
    expect(page.locator(".hidden-count")).to_contain_text("Also shared with 2 other projects you cannot see.")
    # And the history counts the company admin's shares without naming them
    expect(page.locator(".history-entry").first).to_contain_text("demo-company-admin started sharing with 2 projects you cannot see")
    body = page.locator("main").inner_text()
    assert "Gamma" not in body
    assert "Delta" not in body

    # When it ticks Beta Racer and saves
    page.get_by_role("checkbox", name="Beta Racer").check()
    page.get_by_role("button", name="Save").click()

    # Then the save is confirmed, the hidden shares are kept, and the history shows its save first
    expect(page.get_by_text("Shared with Beta Racer and 2 other projects you cannot see.")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Beta Racer")).to_be_checked()
    expect(page.locator(".hidden-count")).to_contain_text("2 other projects")
    expect(page.locator(".history-entry").first).to_contain_text("demo-admin-ab started sharing with Beta Racer")
    expect(page.locator(".history-entry")).to_have_count(2)


def test_3_company_admin_sees_all_three_ticked_and_a_stale_save_is_refused_in_words(
    console: Console, open_as: Callable[[str], Page]
) -> None:
    # Given the company admin with the Sharing tab open in two tabs
    other = open_as(demo.COMPANY_ADMIN.user_id)
    _open_sharing_tab(other, SEGMENT)
    page = open_as(demo.COMPANY_ADMIN.user_id)
    _open_sharing_tab(page, SEGMENT)

    # Then it sees Beta, Gamma and Delta all ticked, and nothing hidden
    assert _project_checkboxes(page) == {"Beta Racer": True, "Gamma Puzzle": True, "Delta Cards": True}
    expect(page.locator(".hidden-count")).to_have_text("Not shared with any project you cannot see.")
    sharing = _sharing(console, demo.COMPANY_ADMIN.token())
    assert all(p["shared"] for p in sharing["projects"])
    assert sharing["hiddenSharedCount"] == 0

    # When the other tab stops sharing with Delta Cards, and then this tab, still on the older version, saves
    other.get_by_role("checkbox", name="Delta Cards").uncheck()
    other.get_by_role("button", name="Save").click()
    expect(other.get_by_text("Sharing saved.")).to_be_visible()
    page.get_by_role("checkbox", name="Gamma Puzzle").uncheck()
    page.get_by_role("button", name="Save").click()

    # Then the conflict is explained in words, not as a code, and this tab's change was not applied
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Someone else changed this while you were editing it.")
    expect(alert).not_to_contain_text("VERSION_CONFLICT")
    now = {p["projectId"]: p["shared"] for p in _sharing(console, demo.COMPANY_ADMIN.token())["projects"]}
    assert now == {"proj-b": True, "proj-c": True, "proj-d": False}

    # When it reloads the tab as offered, ticks Delta Cards again and saves
    page.get_by_role("button", name="Reload the Sharing tab").click()
    expect(page.get_by_role("checkbox", name="Delta Cards")).not_to_be_checked()
    assert _project_checkboxes(page) == {"Beta Racer": True, "Gamma Puzzle": True, "Delta Cards": False}
    page.get_by_role("checkbox", name="Delta Cards").check()
    page.get_by_role("button", name="Save").click()

    # Then all three are ticked again and the history holds every save, newest first
    expect(page.get_by_text("Shared with Beta Racer, Gamma Puzzle, Delta Cards.")).to_be_visible()
    assert _project_checkboxes(page) == {"Beta Racer": True, "Gamma Puzzle": True, "Delta Cards": True}
    expect(page.locator(".history-entry")).to_have_count(4)
    expect(page.locator(".history-entry").nth(0)).to_contain_text("demo-company-admin started sharing with Delta Cards")
    expect(page.locator(".history-entry").nth(1)).to_contain_text("demo-company-admin stopped sharing with Delta Cards")


def test_4_project_admin_of_a_and_b_is_told_why_it_cannot_delete_the_shared_segment(
    console: Console, open_as: Callable[[str], Page]
) -> None:
    # Given the project admin of A and B on Alpha Quest's Segments tab
    page = open_as(demo.ADMIN_AB.user_id)
    row = page.locator("tr", has=page.get_by_role("link", name=SEGMENT, exact=True))
    expect(row).to_contain_text("3 projects")

    # When it asks to delete the segment
    page.get_by_role("button", name=f"Delete {SEGMENT}").click()

    # Then, before any delete, the guard says which projects have it and how many it cannot see, and offers no delete
    guard = page.locator(".notice-warning")
    expect(guard).to_contain_text(f"“{SEGMENT}” is shared with 3 projects: Beta Racer and 2 other projects you cannot see.")
    expect(guard).not_to_contain_text("stops every")
    expect(page.get_by_role("button", name="Delete segment")).to_have_count(0)
    expect(guard).to_contain_text("such as a company admin")
    expect(page.get_by_role("button", name=re.compile("Delete and stop sharing"))).to_have_count(0)
    # And the segment is still there
    assert SEGMENT in [
        s["name"] for s in console.stack.call("GET", "/v1/projects/proj-a/segments", demo.ADMIN_AB.token()).json()["segments"]
    ]


def test_5_user_of_beta_evaluates_the_shared_segment_and_sees_it_in_the_evaluations_tab(
    console: Console, open_as: Callable[[str], Page]
) -> None:
    # Given the project admin of B: Beta Racer lists the segment as shared from Alpha Quest
    page = open_as(demo.ADMIN_B.user_id)
    expect(page.get_by_label("Project", exact=True)).to_have_value("proj-b")
    row = page.locator("tr", has=page.get_by_role("link", name=SEGMENT, exact=True))
    expect(row).to_contain_text("Shared from Alpha Quest")

    # When it opens the Shared Segments tab and evaluates the segment now
    page.get_by_role("link", name="Shared Segments").click()
    shared_row = page.locator("tr", has=page.get_by_role("link", name=SEGMENT, exact=True))
    expect(shared_row).to_contain_text("Not evaluated yet")
    shared_row.get_by_role("button", name=f"Options for {SEGMENT}").click()
    shared_row.get_by_role("menuitem", name="Evaluate now").click()

    # Then it is told how many of Beta Racer's profiles match
    expect(page.get_by_text(re.compile(rf"Evaluated “{SEGMENT}”: \d+ of 251 profiles in Beta Racer match\."))).to_be_visible()
    shared_id = shared_row.get_attribute("data-shared-segment")
    listed = console.stack.call("GET", f"/v1/projects/proj-b/shared-segments/{shared_id}/evaluations", demo.ADMIN_B.token()).json()
    (evaluation,) = listed["evaluations"]
    expect(shared_row).to_contain_text(f"{evaluation['matchedProfiles']} of 251 profiles")

    # When it chooses the segment: its Evaluations tab
    shared_row.get_by_role("link", name=SEGMENT, exact=True).click()

    # Then the table shows the evaluation (time, trigger, status, matched profiles, per-platform counts) and the chart plots it
    expect(page.get_by_role("link", name="Evaluations", exact=True)).to_have_attribute("aria-current", "page")
    line = page.locator(f"tr[data-evaluation='{evaluation['evaluationId']}']")
    cells = line.locator("td")
    expect(cells).to_have_count(7)
    assert cells.nth(0).locator("time").get_attribute("datetime") == evaluation["finishedAt"]
    assert cells.all_inner_texts()[1:] == [
        "Manual",
        "Succeeded",
        f"{evaluation['matchedProfiles']} of {evaluation['targetProfiles']}",
        str(evaluation["matchedByPlatform"].get("ios", 0)),
        str(evaluation["matchedByPlatform"].get("android", 0)),
        f"{evaluation['durationMs'] / 1000:.1f} s",
    ]
    chart = page.get_by_role("img", name=re.compile("Matched profiles over time"))
    expect(chart).to_be_visible()
    expect(chart.locator("circle")).to_have_count(1)
    expect(page.locator("figcaption")).to_contain_text(f"One evaluation: {evaluation['matchedProfiles']} matched profiles.")


def test_6_user_of_beta_exports_the_shared_segment_and_gets_a_download_link(console: Console, open_as: Callable[[str], Page]) -> None:
    # Given the project admin of B on the segment's Shared Segments row
    page = open_as(demo.ADMIN_B.user_id)
    page.get_by_role("link", name="Shared Segments").click()
    shared_row = page.locator("tr", has=page.get_by_role("link", name=SEGMENT, exact=True))

    # When it exports the segment as CSV
    shared_row.get_by_role("button", name=f"Options for {SEGMENT}").click()
    shared_row.get_by_role("menuitem", name="Export CSV").click()

    # Then it is taken to the Exports tab, where the export shows its status and, once ready, a Download link
    expect(page.get_by_role("link", name="Exports", exact=True)).to_have_attribute("aria-current", "page")
    export_row = page.locator("tr[data-export]").first
    expect(export_row).to_contain_text("CSV")
    download = export_row.get_by_role("link", name="Download the CSV export")
    expect(download).to_be_visible(timeout=60_000)
    expect(export_row).to_contain_text("Ready")

    # And the link gives the CSV of Beta Racer's own matched profiles
    url = download.get_attribute("href")
    assert url is not None
    got = requests.get(url, timeout=30)
    assert got.status_code == 200, got.text[:300]
    lines = got.text.splitlines()
    assert lines[0].startswith("profileId")
    assert any(line.startswith(B_PROFILE) for line in lines[1:])
    assert A_PROFILE not in got.text
    assert A_FIRST_NAME not in got.text
    expect(export_row.locator("td").nth(3)).to_have_text(str(len(lines) - 1))


def test_7_audience_preview_renders_first_name_blank_for_a_beta_profile_without_one(
    console: Console, open_as: Callable[[str], Page]
) -> None:
    # Given the project admin of B on the Audience preview
    page = open_as(demo.ADMIN_B.user_id)
    page.get_by_role("link", name="Audience preview").click()

    # When it picks the shared segment, keeps "Hi {{first_name}}!" and previews
    page.get_by_role("checkbox", name=re.compile(rf"^{SEGMENT}")).check()
    expect(page.get_by_label("Message template")).to_have_value("Hi {{first_name}}!")
    page.get_by_role("button", name="Preview").click()

    # Then the count is the latest evaluation's and the pair's B profile gets a blank first name, not A's
    shared = [
        s
        for s in console.stack.call("GET", "/v1/projects/proj-b/shared-segments", demo.ADMIN_B.token()).json()["sharedSegments"]
        if s["name"] == SEGMENT
    ]
    matched = shared[0]["lastEvaluation"]["matchedProfiles"]
    expect(page.locator(".big-number")).to_have_text(f"{matched:,} profiles in the audience")
    expect(page.locator(f"tr[data-profile='{B_PROFILE}'] .message")).to_have_text("Hi !")
    messages = page.locator("tbody .message").all_inner_texts()
    assert any(re.fullmatch(r"Hi \w+!", m) for m in messages), messages
    assert A_FIRST_NAME not in page.locator("main").inner_text()


def test_8_project_switch_shows_nothing_of_the_previous_project_and_company_admin_force_deletes(
    console: Console, open_as: Callable[[str], Page]
) -> None:
    # Given the project admin of A and B on Alpha Quest, where the segment is its own
    page = open_as(demo.ADMIN_AB.user_id)
    expect(page.locator("tr", has=page.get_by_role("link", name=SEGMENT, exact=True))).to_contain_text("Own")

    # When it switches to Beta Racer
    page.get_by_label("Project", exact=True).select_option(label="Beta Racer")

    # Then the segment is listed only as shared in from Alpha Quest, with no Sharing or Delete
    row = page.locator("tr", has=page.get_by_role("link", name=SEGMENT, exact=True))
    expect(row).to_contain_text("Shared from Alpha Quest")
    expect(page.locator("tr[data-segment]")).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)

    # When it signs out, the sign-in page is back and the project's data is gone from the page
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1, name="Sign in to segshare")).to_be_visible()
    assert SEGMENT not in page.locator("body").inner_text()

    # Given a second segment of Alpha Quest, shared with Beta Racer by the company admin
    admin = demo.COMPANY_ADMIN.token()
    created = console.stack.call(
        "POST", "/v1/projects/proj-a/segments", admin, {"name": THROWAWAY, "rule": {"all": [{"platform": "android"}]}}
    )
    assert created.status_code == 201, created.text
    throwaway_id = created.json()["segmentId"]
    shared = console.stack.call("PUT", f"/v1/projects/proj-a/segments/{throwaway_id}/sharing", admin, {"projectIds": ["proj-b"]})
    assert shared.status_code == 200, shared.text

    # When the company admin deletes it
    page = open_as(demo.COMPANY_ADMIN.user_id)
    page.get_by_role("button", name=f"Delete {THROWAWAY}").click()

    # Then the first confirmation names the 1 project that has it, and offers to delete it anyway
    expect(page.locator(".notice-warning")).to_contain_text(f"“{THROWAWAY}” is shared with 1 project: Beta Racer.")
    page.get_by_role("button", name="Delete and stop sharing with 1 project").click()

    # And the forced delete removes it and its share
    expect(page.get_by_text(f"Deleted “{THROWAWAY}”.")).to_be_visible()
    expect(page.get_by_role("link", name=THROWAWAY, exact=True)).to_have_count(0)
    b_names = [s["name"] for s in console.stack.call("GET", "/v1/projects/proj-b/segments", demo.ADMIN_B.token()).json()["segments"]]
    assert THROWAWAY not in b_names
    assert SEGMENT in b_names


def test_9_deployed_sign_in_takes_the_id_token_from_the_hosted_ui_redirect(console: Console) -> None:
    # Given the console configured for a Cognito hosted UI, played here by Playwright's router
    hosted_ui = "https://segshare-test.auth.eu-west-1.amazoncognito.com"
    config = f'export default {{ cognito: {{ domain: "{hosted_ui}", clientId: "console-client" }} }};'
    asked: list[dict[str, list[str]]] = []

    def answer(route: Route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        asked.append(query)
        claims = {"sub": demo.ADMIN_B.user_id, "nonce": query["nonce"][0], "exp": int(time.time()) + 600}
        id_token = jwt.encode(claims, tokens.secret(), algorithm="HS256")
        fragment = urlencode({"id_token": id_token, "access_token": "unused", "token_type": "Bearer", "state": query["state"][0]})
        route.fulfill(status=302, headers={"location": f"{console.base_url}/#{fragment}"})

    page = console.context.new_page()
    try:
        page.route("**/config.js", lambda route: route.fulfill(status=200, content_type="text/javascript", body=config))
        page.route(f"{hosted_ui}/**", answer)
        page.goto(console.base_url + "/")

        # When the person signs in: the hosted UI is asked for an id_token for this client, with state and nonce
        page.get_by_role("button", name="Sign in", exact=True).click()

        # Then the console is signed in as that user, and the token has left the address bar
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.locator(".who-name")).to_have_text(demo.ADMIN_B.user_id)
        expect(page.get_by_label("Project", exact=True)).to_have_value("proj-b")
        assert "id_token" not in page.url
        (query,) = asked
        assert query["response_type"] == ["token"]
        assert query["client_id"] == ["console-client"]
        assert query["redirect_uri"] == [console.base_url + "/"]
        assert query["scope"] == ["openid"]

        # And an answer this tab did not ask for (an unknown state) is refused in words
        page.evaluate("sessionStorage.clear()")
        page.goto("about:blank")
        page.goto(console.base_url + "/#id_token=x.y.z&state=forged")
        expect(page.get_by_role("alert")).to_contain_text("did not match a sign-in started in this tab")
        expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
        page.screenshot(
            path=str(SCREENSHOTS / "test_9_deployed_sign_in_takes_the_id_token_from_the_hosted_ui_redirect.png"), full_page=True
        )
    finally:
        page.close()


def test_local_routes_serve_the_console_and_the_demo_users_only(console: Console) -> None:
    base = console.base_url

    # The console's files, with their content types
    for path, content_type in (
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/styles.css", "text/css"),
        ("/config.js", "text/javascript"),
    ):
        got = requests.get(base + path, timeout=10)
        assert got.status_code == 200, path
        assert got.headers["content-type"].startswith(content_type), (path, got.headers["content-type"])
    assert "script-src 'self'" in requests.get(base + "/", timeout=10).headers["content-security-policy"]

    # The demo users and their tokens, on a route the template does not have
    users = requests.get(base + "/local/users", timeout=10).json()
    assert [u["userId"] for u in users] == [u.user_id for u in demo.USERS]
    me = console.stack.call("GET", "/v1/me", users[1]["token"]).json()
    assert me["role"] == "company_admin"
    assert "/local/users" not in (tpl.ROOT / "template.yaml").read_text()

    # Nothing outside web/: traversal (sent as is, not normalised by a client), encoded traversal, hidden files
    host = urlsplit(base)
    for path in (
        "/../README.md",
        "/%2e%2e/README.md",
        "/..%2flocal/stack.py",
        "/%2e%2e%2f%2e%2e%2fetc/passwd",
        "/.gitignore",
        "/web/app.js",
    ):
        connection = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=10)
        connection.request("GET", path)
        got = connection.getresponse()
        got.read()
        connection.close()
        assert got.status == 404, path
        assert got.getheader("content-type") == "application/json", path
