"""The cost model's prediction that picks 201 (in the request) or 202 (the workflow)."""

from __future__ import annotations

import pytest

from segshare_core.domain.scale import predict_in_request


def test_a_small_share_stays_in_the_request_and_a_large_one_is_handed_off() -> None:
    # Given the default threshold of 5 s (template: EVALUATION_INLINE_SECONDS)
    small = predict_in_request(1_000, 1_500, 1_500, shards=16)
    large = predict_in_request(1_000_000, 1_500_000, 1_500_000, shards=16)
    # Then a thousand profiles a side is well inside it, a million a side is well beyond the 29 s of API Gateway
    assert small.seconds < 1
    assert large.seconds > 29


def test_the_prediction_grows_with_either_side_and_uses_the_plan_the_counts_pick() -> None:
    base = predict_in_request(10_000, 10_000, 10_000, shards=16)
    assert predict_in_request(100_000, 100_000, 10_000, shards=16).seconds > base.seconds
    assert predict_in_request(10_000, 10_000, 1_000_000, shards=16).seconds > base.seconds
    # A tiny source against a huge target probes: it reads no more target items than the source has tokens
    probe = predict_in_request(10, 10, 10_000_000, shards=16)
    assert probe.plan == "probe"
    assert probe.items_read == 20


def test_a_shard_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="shard"):
        predict_in_request(1, 1, 1, shards=0)
