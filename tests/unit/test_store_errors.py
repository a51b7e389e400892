"""Dependency failures as domain errors: a timeout is worth retrying, a bug of ours is not."""

from __future__ import annotations

from botocore.exceptions import ReadTimeoutError
from pynamodb.exceptions import GetError, QueryError, UpdateError

from segshare_core.domain.errors import RetryLater
from segshare_core.store.errors import condition_failed, is_retryable, to_domain


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


def test_an_update_that_timed_out_did_not_fail_its_condition() -> None:
    # Given a conditional UpdateItem whose HTTP read timed out (no response, so no error code)
    failure = UpdateError("Failed to update item", cause=ReadTimeoutError(endpoint_url="http://127.0.0.1:1"))
    # Then it is not a lost condition (the caller re-raises it, and it becomes RETRY_LATER)
    assert not condition_failed(failure)
    assert is_retryable(failure)
