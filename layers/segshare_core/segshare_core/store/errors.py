"""Translate pynamodb and botocore failures into domain errors, in this one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException, UpdateError

from segshare_core.domain.errors import DomainError, RetryLater

_RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
        "TransactionInProgressException",
    }
)

#: Why DynamoDB cancels a transaction, when it is worth trying again: throttled on one of its
#: items, or another transaction was writing one of them. botocore does not retry a
#: TransactionCanceledException, whatever its reasons.
_RETRYABLE_CANCELLATIONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})


def _aws_code(exc: BaseException) -> str | None:
    if isinstance(exc, PynamoDBException):
        try:
            code = exc.cause_response_code
        except AttributeError:  # pynamodb reads ``cause.response``, None for a timeout or a lost connection
            code = None
        if code:
            return code
        cause = exc.cause
        return _aws_code(cause) if cause is not None else None
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return None


def is_retryable(exc: BaseException) -> bool:
    """Throttling and transient service faults: the caller should come back shortly."""
    code = _aws_code(exc)
    if code in _RETRYABLE:
        return True
    reasons = getattr(exc, "cancellation_reasons", None) or []
    if any(r is not None and (r.code in _RETRYABLE_CANCELLATIONS or r.code in _RETRYABLE) for r in reasons):
        return True
    # A timeout or a lost connection (botocore's own errors), also as the cause pynamodb wraps.
    return isinstance(exc, BotoCoreError) or isinstance(getattr(exc, "cause", None), BotoCoreError)


def to_domain(exc: BaseException) -> DomainError | None:
    """The domain error a dependency failure stands for, or None when it is a bug of ours."""
    if is_retryable(exc):
        return RetryLater()
    return None


def failed_conditions(exc: PynamoDBException) -> list[bool]:
    """Per item of a cancelled transaction, in pynamodb's request order: did its condition fail?

    pynamodb sends condition checks first, then deletes, puts and updates. Empty for anything
    but a cancelled transaction.
    """
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return [r is not None and r.code == "ConditionalCheckFailed" for r in reasons]


@contextmanager
def retry_later_when_busy() -> Iterator[None]:
    """Raise RetryLater (by that name, which a state machine's Retry backs off on) in place of a retryable failure.

    Throttling, a transient service fault, a cancelled transaction worth retrying, a timeout
    (``is_retryable``); anything else, domain errors included, passes unchanged.
    """
    try:
        yield
    except DomainError:
        raise
    except Exception as exc:
        if is_retryable(exc):
            raise RetryLater("a dependency is busy") from exc
        raise


def condition_failed(exc: PynamoDBException) -> bool:
    """Whether DynamoDB refused the write because a condition did not hold (a lost race, a wrong state).

    A single write says so by its error code, a transaction by the reason of one of its items.
    A failure without a response (a timeout, a lost connection) is not one, whatever pynamodb's
    ``cause_response_code`` would raise on it.
    """
    return _aws_code(exc) == "ConditionalCheckFailedException" or any(failed_conditions(exc))


def update_if(row: Any, actions: list[Any], condition: Any) -> bool:
    """Apply ``actions`` to ``row`` only when ``condition`` holds: True when applied, False when not.

    Any other failure is raised (throttling, a bug): only the condition's answer is a result.
    """
    try:
        row.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True
