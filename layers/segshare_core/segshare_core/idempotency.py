"""`Idempotency-Key` on the POSTs that do work: a repeat within an hour gets the first response.

Powertools idempotency on the IdempotencyTable. The key hashed is the operation, the caller's
company, the project, the caller, the shared segment and the header's value, so two tenants
or two callers never share a cached response, whatever keys they pick. The request body is
the validated payload: the same key with another body is refused rather than answered with
a response to a different request.

Access is checked before the key is looked up, on every call: a caller who lost access gets
404, not the cached response. A call that fails (an exception, e.g. 503 RETRY_LATER) leaves
nothing cached, so a retry with the same key does the work; a call that dies mid-way stays
in progress only until its Lambda invocation would have timed out (the registered context).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.custom_dict import CustomDictSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from segshare_core import config
from segshare_core.domain.errors import Conflict, InvalidInput, RetryLater
from segshare_core.domain.segments import SharedSegment
from segshare_core.observability import logger
from segshare_core.store.errors import is_retryable

#: How long a response is replayed for a repeated key.
EXPIRES_AFTER_SECONDS = 3600
#: Visible ASCII, no spaces: a UUID, a ULID or any client-made token fits.
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        max_length=255,
        description="Optional. A repeat with the same key within an hour returns the first response without doing the work again.",
    ),
]


def share_key_scope(company_id: str, project_id: str, user_id: str, shared: SharedSegment) -> dict[str, str]:
    """What an Idempotency-Key is scoped to on a shared segment's POSTs (evaluations, exports).

    The caller, the project and the share, and the share's generation too: a repeat after the
    share ended and was granted again is new work, since the first response belongs to an ended
    share (API.md "Revoking and resharing").
    """
    return {
        "companyId": company_id,
        "projectId": project_id,
        "userId": user_id,
        "sharedSegmentId": shared.shared_segment_id,
        "generation": shared.generation,
    }


class IdempotentOperation[T]:
    """One idempotent operation, with its own persistence layer and config (one per operation).

    The result kept for a repeat is the operation's domain object, stored as ``to_dict(result)``
    and given back as ``from_dict(stored)`` (Powertools' ``CustomDictSerializer``): the route
    renders a repeat with the same response model as the first answer.
    """

    def __init__(self, operation: str, to_dict: Callable[[T], dict[str, Any]], from_dict: Callable[[dict[str, Any]], T]) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath="scope",
            payload_validation_jmespath="body",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=EXPIRES_AFTER_SECONDS,
        )
        # The same retry budget as pynamodb's clients (1 call + 3 retries): past it, 503 RETRY_LATER.
        retries = Config(retries={"mode": "standard", "total_max_attempts": 4})
        persistence = DynamoDBPersistenceLayer(table_name=config.IDEMPOTENCY_TABLE, boto_config=retries)

        # The prefix is the operation, not the module: the local stack loads a module once per
        # warm "container", under a different name each time.
        @idempotent_function(
            data_keyword_argument="request",
            persistence_store=persistence,
            config=self.config,
            key_prefix=operation,
            output_serializer=CustomDictSerializer(to_dict=to_dict, from_dict=from_dict),
        )
        def run(*, request: dict[str, Any], work: Callable[[], T]) -> T:
            return work()

        self._run = run

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Call on every invocation: a call that times out stops being in progress when its invocation ends."""
        self.config.register_lambda_context(context)

    def __call__(self, work: Callable[[], T], key: str | None, scope: dict[str, str], body: Any = None) -> T:
        """`work()`'s result, or without running it the result of the first call with the same key and scope.

        Raises Conflict ``IDEMPOTENCY_IN_PROGRESS`` (409) while the first call runs, InvalidInput
        ``IDEMPOTENCY_KEY_REUSED`` (422) for the key with another body, RetryLater (503) when the
        idempotency table is throttled.
        """
        if key is None:
            return work()
        request = {"scope": {**scope, "idempotencyKey": key}, "body": body}
        try:
            return cast(T, self._run(request=request, work=work))
        except IdempotencyAlreadyInProgressError as exc:
            raise Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly", code="IDEMPOTENCY_IN_PROGRESS"
            ) from exc
        except IdempotencyValidationError as exc:
            raise InvalidInput("this Idempotency-Key was used with a different request body", code="IDEMPOTENCY_KEY_REUSED") from exc
        except IdempotencyPersistenceLayerError as exc:
            cause = exc.__cause__
            if cause is not None and is_retryable(cause):
                logger.warning("idempotency store busy", error_type=type(cause).__name__)
                raise RetryLater() from exc
            raise
