"""An API Gateway HTTP API (v2) emulator: request -> v2 event -> real handler -> response."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local import tokens
from local.lambdas import Containers
from local.template import Route, Template


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _json_error(status: int, code: str, message: str) -> HttpResponse:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return HttpResponse(status, {"content-type": "application/json"}, body)


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
        result = containers.invoke(event)
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
