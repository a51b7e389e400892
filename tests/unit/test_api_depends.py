"""Depends() as the handlers use it: resolved once a request, its errors answered as the route's, ApiModel."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.api import ApiModel, make_resolver
from segshare_core.domain.errors import NotFound


class _Context(LambdaContext):
    _function_name = "test"


def _event(path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": path}, "stage": "$default"},
        "isBase64Encoded": False,
    }


# Module level: with postponed annotations Powertools finds a Depends() through the module's names.
calls: list[str] = []


def counted() -> str:
    calls.append("counted")
    return "value"


def missing() -> str:
    raise NotFound("project 'p' not found")


def broken() -> str:
    raise KeyError("internal detail")


def uses_counted(value: Annotated[str, Depends(counted)]) -> str:
    return value.upper()


def _resolver() -> tuple[Any, list[str]]:
    app = make_resolver()
    calls.clear()

    @app.get("/twice")
    def twice(a: Annotated[str, Depends(counted)], b: Annotated[str, Depends(uses_counted)]) -> dict[str, str]:
        return {"a": a, "b": b}

    @app.get("/missing")
    def route_missing(_: Annotated[str, Depends(missing)]) -> dict[str, str]:
        return {}

    @app.get("/broken")
    def route_broken(_: Annotated[str, Depends(broken)]) -> dict[str, str]:
        return {}

    return app, calls


def test_a_dependency_is_resolved_once_per_request() -> None:
    app, calls = _resolver()
    response = app.resolve(_event("/twice"), _Context())
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"a": "value", "b": "VALUE"}
    assert calls == ["counted"]


def test_a_domain_error_in_a_dependency_gets_its_status_and_code() -> None:
    app, _ = _resolver()
    response = app.resolve(_event("/missing"), _Context())
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "NOT_FOUND"
    assert "dependency" not in response["body"]


def test_an_unexpected_error_in_a_dependency_is_a_500_naming_nothing_internal() -> None:
    app, _ = _resolver()
    response = app.resolve(_event("/broken"), _Context())
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["error"]["code"] == "INTERNAL"
    assert "internal detail" not in response["body"]


class _Out(ApiModel):
    segment_id: str
    shared_with_count: int


class _Domain:
    segment_id = "s-1"
    shared_with_count = 2


def test_api_models_write_camel_case_and_read_domain_objects() -> None:
    assert _Out.model_validate(_Domain()).model_dump(by_alias=True) == {"segmentId": "s-1", "sharedWithCount": 2}
