"""Presigned S3 links checked as S3 checks them: the SigV4 query signature and the expiry.

moto 5.2.5 checks neither: a GET with ExpiresIn=1 fetched 2 s later, and one whose object key
was swapped for another, both got 200 and the object. S3 recomputes the signature over the
request as presented (method, path, query, host) with the key the credential names, and
refuses the link once X-Amz-Date + X-Amz-Expires has passed
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html): 403
`SignatureDoesNotMatch`, or 403 `AccessDenied` "Request has expired".

`refusal()` is the rule (tests call it on the links the service issues); `apply()` makes the
local stack's moto server answer a presigned GET or HEAD the rule refuses as S3 would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import boto3
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest


def refusal(url: str, at: datetime | None = None, method: str = "GET") -> str | None:
    """Why S3 would refuse this presigned URL at `at` (now by default): "signature", "expired"; None when it would serve it.

    The signing key is the one the process's credentials (boto3's chain) stand for, which is
    the key that signed the service's links locally. A URL without X-Amz-Signature is not a
    presigned URL: "signature".
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    given = query.pop("X-Amz-Signature", None)
    try:
        _key_id, _day, region, service, _terminator = query["X-Amz-Credential"].split("/")
        expires = int(query["X-Amz-Expires"])
        signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except (KeyError, ValueError):
        return "signature"
    if given is None:
        return "signature"
    credentials = boto3.Session().get_credentials().get_frozen_credentials()
    auth = S3SigV4QueryAuth(credentials, service, region, expires=expires)
    unsigned = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, quote_via=quote, safe="-_.~"), ""))
    request = AWSRequest(method=method, url=unsigned)
    request.context["timestamp"] = query["X-Amz-Date"]
    if auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request) != given:
        return "signature"
    if (at or datetime.now(UTC)) > signed_at + timedelta(seconds=expires):
        return "expired"
    return None


_ERRORS = {
    "signature": (
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    ),
    "expired": ("AccessDenied", "Request has expired"),
}


@cache  # once per process: a second call does nothing
def apply() -> None:
    """Make moto's S3 (server mode, the local stack) refuse a presigned GET/HEAD that S3 would refuse (once per process)."""
    from moto.s3.responses import S3Response

    original = S3Response.key_response

    def key_response(self: S3Response, request: Any, full_url: str, headers: Any) -> Any:
        if request.method in ("GET", "HEAD") and "X-Amz-Signature=" in full_url:
            why = refusal(full_url, method=request.method)
            if why is not None:
                code, message = _ERRORS[why]
                body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
                return 403, {"Content-Type": "application/xml"}, body if request.method == "GET" else ""
        return original(self, request, full_url, headers)

    S3Response.key_response = key_response  # type: ignore[method-assign]
