"""The local stack's moto server refuses presigned links as S3 does (issue 10, item 3).

moto 5.2.5 served an expired link and a link bent to another key with 200 (see
local/s3_links.py). Here a ThreadedMotoServer runs as in the local stack, with
local.s3_links applied, and links are fetched over HTTP as a browser would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import boto3
import pytest
import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

from local import s3_links


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    s3_links.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # SigV4, as the service signs its links (segshare_core.store.exports)
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1", config=Config(signature_version="s3v4"))
    client.create_bucket(Bucket="links")
    client.put_object(Bucket="links", Key="exports/a.csv", Body=b"a,1\n")
    client.put_object(Bucket="links", Key="exports/b.csv", Body=b"b,2\n")
    yield client
    server.stop()


def link(client: Any, key: str, seconds: int) -> str:
    return str(client.generate_presigned_url("get_object", Params={"Bucket": "links", "Key": key}, ExpiresIn=seconds))


def error_code(response: requests.Response) -> str:
    return response.text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def test_a_link_serves_its_object_until_it_expires(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = link(s3, "exports/a.csv", 2)
    # Given the link is good now
    fresh = requests.get(url, timeout=10)
    assert (fresh.status_code, fresh.content) == (200, b"a,1\n")
    assert s3_links.refusal(url) is None
    # When three seconds pass (X-Amz-Date is whole seconds: one would leave no margin): the
    # server's rule judges links at that moment (its `at`), rather than the test sleeping
    monkeypatch.setattr(s3_links, "refusal", partial(s3_links.refusal, at=datetime.now(UTC) + timedelta(seconds=3)))
    # Then S3's answer to an expired link
    expired = requests.get(url, timeout=10)
    assert (expired.status_code, error_code(expired)) == (403, "AccessDenied")
    assert "Request has expired" in expired.text
    assert requests.head(url, timeout=10).status_code == 403


def test_a_bent_link_is_refused(s3: Any) -> None:
    url = link(s3, "exports/a.csv", 60)
    parts = urlsplit(url)
    # Its path bent to another object
    bent = urlunsplit((parts.scheme, parts.netloc, parts.path.replace("a.csv", "b.csv"), parts.query, ""))
    answer = requests.get(bent, timeout=10)
    assert (answer.status_code, error_code(answer)) == (403, "SignatureDoesNotMatch")
    # Or a longer life written into it
    query = {**dict(parse_qsl(parts.query)), "X-Amz-Expires": "604800"}
    longer = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, quote_via=quote, safe="-_.~"), ""))
    assert requests.get(longer, timeout=10).status_code == 403
    # While the SDK's own signed calls are untouched
    assert s3.get_object(Bucket="links", Key="exports/b.csv")["Body"].read() == b"b,2\n"
