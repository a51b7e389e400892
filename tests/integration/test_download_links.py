"""An expired download link, or a link bent to another export's object, gives no file.

moto 5.2.5 does not check presigned URLs at all: a GET with ExpiresIn=1 fetched 2 s later, and
one whose object key was swapped for another, both get 200 and the object from moto (checked
by hand). So the two checks S3 makes are made here as S3 makes them, by the rule the local
stack's S3 applies (local.s3_links.refusal; tested over HTTP in test_presigned_links_server.py):
the SigV4 query signature is recomputed over the URL as presented (method, path, query, host;
the key that moto's credentials stand for), and the link is refused once X-Amz-Date +
X-Amz-Expires has passed. The first assertion of each test shows the recomputation accepts the links the
service issues, so a refusal below is the signature or the clock, not the checker.

A guessed export id answering 404 with no link is covered in test_export.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from local import template as tpl
from local.events import Pump
from local.s3_links import refusal
from segshare_core import config
from tests.integration import hardening_world
from tests.integration.conftest import assert_error
from tests.integration.hardening_world import GLOBEX_ADMIN, GLOBEX_SHARED, PB, Handler, World


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {**dict(parse_qsl(parts.query, keep_blank_values=True)), **changes}
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, quote_via=quote, safe="-_.~"), ""))


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class Exports:
    def __init__(self, world: World, pump: Pump) -> None:
        self.world = world
        self.pump = pump

    def ready(self, who: dict[str, Any] | None = None, project: str = "proj-b") -> dict[str, Any]:
        """Start an export, let the worker and the finaliser run, and read it back READY."""
        kwargs: dict[str, Any] = {"who": who} if who else {}
        if project == "proj-y":
            started = self.world.call(
                "export", "create_export", path={"projectId": "proj-y", "sharedSegmentId": GLOBEX_SHARED}, body={}, **kwargs
            )
        else:
            started = self.world.export(project=project, **kwargs)
        assert started.status == 202, started.json
        self.pump.drain()
        got = self.world.get_export(started.json["exportId"], project=project, **kwargs)
        assert got.status == 200, got.json
        assert got.json["status"] == "READY", got.json
        return dict(got.json)


functions = hardening_world.functions  # this module's fixture


@pytest.fixture
def exports(aws: None, functions: dict[str, Handler]) -> Iterator[Exports]:
    pump = Pump(tpl.load())  # subscribes the bucket's ObjectCreated events before any object lands
    yield Exports(World(functions).build(), pump)


def test_a_link_opens_only_its_own_object_and_only_for_the_time_it_was_signed_for(exports: Exports) -> None:
    # Given READY exports in B, in C and in another company
    mine = exports.ready()
    other_in_b = exports.ready()
    in_c = exports.ready(project="proj-c")
    globex = exports.ready(who=GLOBEX_ADMIN, project="proj-y")
    url = mine["downloadUrl"]
    # Then the issued link is good now, for at most 15 minutes
    assert refusal(url) is None
    assert 0 < int(dict(parse_qsl(urlsplit(url).query))["X-Amz-Expires"]) <= 900
    assert refusal(url, at=datetime.now(UTC) + timedelta(seconds=901)) == "expired"
    # When its path is bent to another object: another export of B, one of C, one of another company
    for other in (other_in_b, in_c, globex):
        bent = with_path(url, urlsplit(other["downloadUrl"]).path)
        assert bent != url
        # Then the signature no longer matches: S3 refuses it
        assert refusal(bent) == "signature", other["exportId"]
    # And a longer life or a later date cannot be written into it either
    assert refusal(with_query(url, **{"X-Amz-Expires": "604800"})) == "signature"
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    assert refusal(with_query(url, **{"X-Amz-Date": later})) == "signature"


def test_an_expired_link_gives_no_file_and_a_new_one_needs_access(exports: Exports, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given links that live two seconds (X-Amz-Date is whole seconds: one second would leave no margin)
    monkeypatch.setattr(config, "DOWNLOAD_URL_SECONDS", 2)
    ready = exports.ready(who=PB)
    url = ready["downloadUrl"]
    assert dict(parse_qsl(urlsplit(url).query))["X-Amz-Expires"] == "2"
    assert refusal(url) is None
    # When three seconds pass (S3's clock, the rule's `at`, rather than a sleep)
    later = datetime.now(UTC) + timedelta(seconds=3)
    # Then the link is refused as expired
    assert refusal(url, at=later) == "expired"
    # And reading the export again (links living the usual 15 minutes again) issues a fresh
    # link, after the access check, that S3 serves at that moment
    monkeypatch.setattr(config, "DOWNLOAD_URL_SECONDS", 900)
    again = exports.world.get_export(ready["exportId"], who=PB)
    assert again.status == 200
    assert again.json["downloadUrl"] != url
    assert refusal(again.json["downloadUrl"], at=later) is None
    # But not to a caller who lost access to the project: 404 and no link
    exports.world.ok("directory", "put_user", path={"userId": "u-pb"}, body={"role": "project_admin", "projectIds": ["proj-c"]})
    assert_error(exports.world.get_export(ready["exportId"], who=PB), 404, "NOT_FOUND")
