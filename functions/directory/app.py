"""The directory function: health, the caller, companies, projects, user grants, profiles.

Wiring only: the routes are in the sibling ``*_routes.py`` modules (Lambda puts this folder on
``sys.path``), what they do in ``segshare_core.usecases``.
"""

from __future__ import annotations

from typing import Any

import companies_routes
import profiles_routes
import users_routes
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.api import make_resolver
from segshare_core.observability import logger, metrics, tracer

app = make_resolver()
app.include_router(users_routes.router)
app.include_router(companies_routes.router)
app.include_router(profiles_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
