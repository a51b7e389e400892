"""Evaluations of shared segments, their members, and audience previews (own and shared segments).

The routes live beside this file, one ``Router`` a group (``evaluation_routes``,
``audience_routes``); Lambda runs this file with its folder on the import path.
"""

from __future__ import annotations

from typing import Any

import audience_routes
import evaluation_routes
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.api import make_resolver
from segshare_core.observability import logger, metrics, tracer
from segshare_core.usecases import create_evaluation

app = make_resolver()
app.include_router(evaluation_routes.router)
app.include_router(audience_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    create_evaluation.idempotency.register_lambda_context(context)
    return app.resolve(event, context)
