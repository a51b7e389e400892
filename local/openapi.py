"""One OpenAPI document for the whole API, merged from every function's resolver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

from local.apigw import HEAD_QUOTA_BYTES
from local.lambdas import load_module
from local.template import Template


def document(template: Template, server_url: str) -> dict[str, Any]:
    merge = OpenAPIMerge(
        title="segshare",
        version="1.0.0",
        description="Share a segment of one project with other projects of the same company.",
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},  # type: ignore[dict-item]
        security=[{"bearer": []}],
        servers=[{"url": server_url}],  # type: ignore[list-item]
        on_conflict="error",
    )
    for function in template.functions():
        if not function.routes:
            continue
        module = load_module(function)
        merge.add_schema(json.loads(module.app.get_openapi_json_schema()))
    spec = merge.get_openapi_schema()
    # API Gateway answers this before any handler (local/apigw.py): every operation can get it.
    too_large = {
        "description": f"request line and header values over {HEAD_QUOTA_BYTES} bytes (API Gateway's quota)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault("431", too_large)
    health = spec.get("paths", {}).get("/v1/health", {}).get("get")
    if health is not None:
        health["security"] = []
    return spec


def swagger_page(spec: dict[str, Any]) -> str:
    """Swagger UI with its assets inlined (they ship with Powertools), so /docs works offline."""
    assets = Path(swagger_ui.__file__).parent
    js = (assets / "swagger-ui-bundle.min.js").read_text()
    css = (assets / "swagger-ui.min.css").read_text()
    return generate_swagger_html(json.dumps(spec), js, css, "", None, persist_authorization=True)
