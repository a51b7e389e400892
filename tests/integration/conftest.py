"""Handlers inside moto: the template's tables and bucket, events from events/, a caller per test."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


class ReadProbe:
    """What the service read from S3 and DynamoDB, counted by botocore's ``after-call`` event hooks.

    Attached to the service's own clients (the results S3 client and every pynamodb model's
    client): S3 reads as (operation, object key, bytes in the response body), DynamoDB reads as
    operation names.
    """

    S3_READS = ("GetObject", "HeadObject")
    DYNAMODB_READS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")

    def __init__(self) -> None:
        self.s3: list[tuple[str, str, int]] = []
        self.dynamodb: list[str] = []

    def s3_bytes(self, key_part: str = "") -> int:
        return sum(size for _op, key, size in self.s3 if key_part in key)

    def s3_gets(self, key_part: str = "") -> int:
        return sum(1 for op, key, _size in self.s3 if op == "GetObject" and key_part in key)

    def _on_s3(self, model: Any, params: dict[str, Any], parsed: dict[str, Any], **_: Any) -> None:
        size = int(parsed.get("ContentLength") or 0) if model.name == "GetObject" else 0
        self.s3.append((model.name, str(params.get("Key", "")), size))

    def _on_dynamodb(self, model: Any, **_: Any) -> None:
        self.dynamodb.append(model.name)

    @staticmethod
    def _emitters() -> list[Any]:
        from pynamodb.models import Model

        from segshare_core.store import models, results

        def subclasses(cls: type) -> list[type]:
            return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

        clients = {id(c): c for c in [results._s3(), models.connection().client]}
        for cls in subclasses(Model):
            if getattr(cls, "Meta", None) is not None and getattr(cls.Meta, "table_name", None):
                client = cls._get_connection().connection.client
                clients[id(client)] = client
        return [c.meta.events for c in clients.values()]

    @contextmanager
    def active(self) -> Iterator[ReadProbe]:
        """Count reads inside the block (the counts are kept after it)."""
        emitters = self._emitters()
        # after-call does not see the call's parameters: keep the key in the request context.
        for events in emitters:
            for op in self.S3_READS:
                events.register(f"before-parameter-build.s3.{op}", _keep_key, unique_id=f"probe-key-{op}")
                events.register(f"after-call.s3.{op}", self._after_s3)
            for op in self.DYNAMODB_READS:
                events.register(f"after-call.dynamodb.{op}", self._on_dynamodb)
        try:
            yield self
        finally:
            for events in emitters:
                for op in self.S3_READS:
                    events.unregister(f"before-parameter-build.s3.{op}", unique_id=f"probe-key-{op}")
                    events.unregister(f"after-call.s3.{op}", self._after_s3)
                for op in self.DYNAMODB_READS:
                    events.unregister(f"after-call.dynamodb.{op}", self._on_dynamodb)

    def _after_s3(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self._on_s3(model=model, params={"Key": context.get("probe_key", "")}, parsed=parsed)


def _keep_key(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["probe_key"] = params.get("Key", "")
