"""Dependency failures as domain errors: a timeout is worth retrying, a bug of ours is not."""

from __future__ import annotations

from botocore.exceptions import ReadTimeoutError
from pynamodb.exceptions import GetError, QueryError

from segshare_core.domain.errors import RetryLater
from segshare_core.store.errors import is_retryable, to_domain


def test_a_read_timeout_wrapped_by_pynamodb_is_retry_later() -> None:
    # Given a Query whose HTTP read timed out (botocore's error has no response: pynamodb's
    # cause_response_code raises AttributeError on it)
    failure = QueryError("Failed to query items", cause=ReadTimeoutError(endpoint_url="http://127.0.0.1:1"))
    # Then it is a retryable dependency failure: 503 RETRY_LATER, not a 500
    assert is_retryable(failure)
    assert isinstance(to_domain(failure), RetryLater)


def test_a_failure_with_no_aws_cause_is_not_a_dependency_failure() -> None:
    # Given a pynamodb error caused by a bug of ours
    failure = GetError("Failed to get item", cause=ValueError("bad key"))
    # Then it is not turned into RETRY_LATER
    assert not is_retryable(failure)
    assert to_domain(failure) is None
