"""An API Gateway HTTP API (v2) emulator: request -> v2 event -> real handler -> response."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local import tokens
from local.lambdas import Containers, FunctionError, WaitExceeded
from local.template import Route, Template

LOG = logging.getLogger("segshare.local.apigw")

# API Gateway quotas (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html,
# .../http-api-quotas.html): a 29 s integration timeout (REST's default; HTTP APIs allow up to
# 30 s, API.md promises 29) and a 10 MB payload.
INTEGRATION_TIMEOUT_SECONDS = 29.0
PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
# HTTP API quotas: "Total combined size of request line and header values | 10240 bytes | No"
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html). The quota
# names the request line and header values: header names are not counted here.
HEAD_QUOTA_BYTES = 10_240


def integration_timeout() -> float:
    """Seconds the gateway waits for a handler: 29, or SEGSHARE_API_TIMEOUT_SECONDS (tests shorten it)."""
    return float(os.environ.get("SEGSHARE_API_TIMEOUT_SECONDS") or INTEGRATION_TIMEOUT_SECONDS)


def handler_delays() -> dict[str, float]:
    """Test hook: SEGSHARE_LOCAL_DELAYS="GET /v1/health=3,..." makes those routes' handlers start that many seconds late."""
    delays: dict[str, float] = {}
    for item in filter(None, os.environ.get("SEGSHARE_LOCAL_DELAYS", "").split(",")):
        route_key, seconds = item.rsplit("=", 1)
        delays[route_key.strip()] = float(seconds)
    return delays


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _json_error(status: int, code: str, message: str) -> HttpResponse:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return HttpResponse(status, {"content-type": "application/json"}, body)


def head_bytes(request_line: str, header_values: Iterable[str]) -> int:
    """Bytes of the request line (``GET /v1/me?x=1 HTTP/1.1``) plus every header value, repeats included.

    Strings as http.server decodes them (ISO-8859-1, one character a byte); the line without
    its CRLF, values without their names, separators or CRLFs (the quota's own terms).
    """
    return len(request_line.encode("latin-1", "replace")) + sum(len(v.encode("latin-1", "replace")) for v in header_values)


def head_too_large(request_line: str, header_values: Iterable[str]) -> str | None:
    """The message of a 431 HEADERS_TOO_LARGE when the line and values pass HEAD_QUOTA_BYTES; None within it."""
    size = head_bytes(request_line, header_values)
    if size <= HEAD_QUOTA_BYTES:
        return None
    return f"request line and header values are {size} bytes, over {HEAD_QUOTA_BYTES}"


def _size_refusal(method: str, target: str, headers: dict[str, str], body: bytes) -> HttpResponse | None:
    """API Gateway's size quotas on a request: 431 for its line and header values, 413 for its body."""
    too_large = head_too_large(f"{method} {target} HTTP/1.1", headers.values())
    if too_large is not None:
        return _json_error(431, "HEADERS_TOO_LARGE", too_large)
    if len(body) > PAYLOAD_LIMIT_BYTES:
        return _json_error(413, "TOO_LARGE", f"request body over {PAYLOAD_LIMIT_BYTES} bytes")
    return None


class Gateway:
    """Routes every HttpApi event of the template to its function."""

    def __init__(self, template: Template) -> None:
        self.routes: list[tuple[Route, Containers]] = []
        for function in template.functions():
            containers = Containers(function)
            for route in function.routes:
                self.routes.append((route, containers))

    def match(self, method: str, path: str) -> tuple[Route, Containers, dict[str, str]] | None:
        for route, containers in self.routes:
            if route.method not in (method, "ANY"):
                continue
            found = route.pattern.match(path)
            if found:
                return route, containers, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str = "127.0.0.1") -> HttpResponse:
        """The HTTP answer to one request, as API Gateway and Lambda would give it.

        Before the handler: 431 HEADERS_TOO_LARGE past HEAD_QUOTA_BYTES of request line
        (rebuilt as ``METHOD target HTTP/1.1``) and header values, 413 TOO_LARGE past
        PAYLOAD_LIMIT_BYTES, 404 without a route, 401 without a valid token. After it: 504
        INTEGRATION_TIMEOUT when it has not answered within integration_timeout(), 500 INTERNAL
        when Lambda reports a function error (its Timeout, a response over 6 MB); API Gateway
        answers both without the handler's body.
        """
        refused = _size_refusal(method, target, headers, body)
        if refused is not None:
            return refused
        url = urlsplit(target)
        path = url.path
        matched = self.match(method, path)
        if matched is None:
            return _json_error(404, "NOT_FOUND", "no such route")
        route, containers, path_params = matched
        lower = {k.lower(): v for k, v in headers.items()}
        authorizer = None
        if route.authorized:
            try:
                claims = tokens.verify(lower.get("authorization"))
            except tokens.InvalidToken:
                return _json_error(401, "UNAUTHENTICATED", "missing, malformed, expired or badly signed bearer token")
            authorizer = {"jwt": {"claims": tokens.as_api_gateway_claims(claims), "scopes": None}}
        event = build_event(method, route, path, url.query, lower, body, path_params, authorizer, source_ip)
        try:
            result = containers.invoke(event, wait_seconds=integration_timeout(), delay_seconds=handler_delays().get(route.route_key, 0.0))
        except WaitExceeded:
            LOG.warning("integration timeout", extra={"route": route.route_key})
            return _json_error(504, "INTEGRATION_TIMEOUT", "the handler did not answer in time")
        except FunctionError as exc:
            LOG.warning("function error", extra={"route": route.route_key, "error_type": exc.error_type})
            return _json_error(500, "INTERNAL", "internal error")
        return _to_http(result)


def build_event(
    method: str,
    route: Route,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    path_params: dict[str, str],
    authorizer: dict[str, Any] | None,
    source_ip: str,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway's HTTP API sends to a Lambda integration."""
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    try:
        text, is_b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode(), True
    now = time.time()
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": "127.0.0.1",
        "domainPrefix": "local",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route.route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": is_b64,
    }
    if params:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}
    if path_params:
        event["pathParameters"] = path_params
    if body:
        event["body"] = text
    return event


def _to_http(result: dict[str, Any]) -> HttpResponse:
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = ", ".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return HttpResponse(int(result.get("statusCode", 200)), headers, body)
