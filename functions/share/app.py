"""The share function: segments, the source project's Sharing tab, and shared segments in the target project.

Wiring only: the routes are in the sibling ``*_routes.py`` modules (Lambda puts this folder on
``sys.path``), what they do in ``segshare_core.usecases``.
"""

from __future__ import annotations

from typing import Any

import segments_routes
import shared_segments_routes
import sharing_routes
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.api import make_resolver
from segshare_core.observability import logger, metrics, tracer

app = make_resolver()
app.include_router(segments_routes.router)
app.include_router(sharing_routes.router)
app.include_router(shared_segments_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
