"""Handlers inside moto: the template's tables and bucket, events from events/, a caller per test."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from local import template as tpl
from local.lambdas import LambdaContext, load_module
from local.resources import create_all
from local.tokens import as_api_gateway_claims

EVENTS = tpl.ROOT / "events"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        create_all(tpl.load())
        yield


def event(name: str, **overrides: Any) -> dict[str, Any]:
    """An event from events/, with path parameters, body, query or claims replaced."""
    base: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    ev = copy.deepcopy(base)
    path_params = overrides.pop("path", None)
    if path_params is not None:
        ev["pathParameters"] = {**ev.get("pathParameters", {}), **path_params}
        raw = ev["routeKey"].split(" ", 1)[1]
        for key, value in ev["pathParameters"].items():
            raw = raw.replace("{" + key + "}", value)
        ev["rawPath"] = raw
        ev["requestContext"]["http"]["path"] = raw
    if "body" in overrides:
        body = overrides.pop("body")
        ev["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    if "query" in overrides:
        query = overrides.pop("query")
        ev["queryStringParameters"] = query
        ev["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    if "claims" in overrides:
        claims = overrides.pop("claims")
        if claims is None:
            ev["requestContext"].pop("authorizer", None)
        else:
            ev["requestContext"]["authorizer"] = {"jwt": {"claims": as_api_gateway_claims(claims), "scopes": None}}
    assert not overrides, f"unknown overrides {overrides}"
    return ev


class Response:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.status: int = raw["statusCode"]
        self.headers: dict[str, str] = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
        self.json: Any = json.loads(raw["body"]) if raw.get("body") else None

    @property
    def code(self) -> str | None:
        return (self.json or {}).get("error", {}).get("code")


Invoke = Callable[..., Response]


def handler_for(logical_id: str) -> Callable[[dict[str, Any]], Response]:
    function = next(f for f in tpl.load().functions() if f.logical_id == logical_id)
    module = load_module(function)

    def invoke(ev: dict[str, Any]) -> Response:
        return Response(module.lambda_handler(ev, LambdaContext(function_name=logical_id)))

    return invoke


@pytest.fixture(scope="session")
def directory_fn() -> Callable[[dict[str, Any]], Response]:
    return handler_for("DirectoryFunction")


OPERATOR = {"sub": "op-1", "cognito:groups": ["operators"]}


def user(sub: str) -> dict[str, Any]:
    return {"sub": sub}


#: Words that would betray internals in an error body (API.md: no stack trace, no AWS error string).
LEAKS = ("Traceback", 'File "', "botocore", "pynamodb", "powertools", "amazonaws", "X-Amz", "ConditionalCheckFailed", "TransactionCanceled")


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    """API.md: a non-2xx body is {"error": {"code", "message", ...}}, naming nothing internal; 429/503 carry Retry-After."""
    assert response.status == status, (response.status, response.json)
    assert response.headers.get("content-type") == "application/json", response.headers
    assert isinstance(response.json, dict)
    assert set(response.json) == {"error"}, response.json
    error: dict[str, Any] = response.json["error"]
    assert {"code", "message"} <= set(error), error
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    for leak in LEAKS:
        assert leak not in response.raw["body"], response.raw["body"]
    if status in (429, 503):
        assert response.headers.get("retry-after", "").isdigit(), response.headers
    return error
