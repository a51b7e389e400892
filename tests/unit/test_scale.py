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


def test_a_slower_engine_predicts_longer_in_proportion() -> None:
    # Given the same counts on AWS's rate and on a rate ten times lower (moto's, in the local stack)
    aws = predict_in_request(20_000, 24_000, 24_000, shards=16)
    slow = predict_in_request(20_000, 24_000, 24_000, shards=16, items_per_second=1_500)
    # Then the items read are the same and only their time grows, tenfold
    assert slow.items_read == aws.items_read
    assert slow.seconds - slow.requests * 0.01 / 8 == pytest.approx(10 * (aws.seconds - aws.requests * 0.01 / 8))


def test_a_read_rate_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        predict_in_request(1, 1, 1, shards=16, items_per_second=0)


def test_the_handoff_predicts_with_the_engines_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a 20k x 20k share, the bench `stack:` size whose in-request evaluation passed its 29 s
    # on moto while AWS's rate predicted about 3 s
    from segshare_core import config
    from segshare_core.domain.segments import SharedSegment
    from segshare_core.store import profiles
    from segshare_core.workflows import handoff

    monkeypatch.setattr(profiles, "counts", lambda company_id, project_id: profiles.Counts(20_000, 24_000, 1))
    shared = SharedSegment("shared-x", "proj-b", "proj-a", "s-1", "S", "2026-01-01T00:00:00Z", "g-1")
    # When the engine is AWS (no rate set) it stays in the request
    monkeypatch.setattr(config, "EVALUATION_ITEMS_PER_SECOND", None)
    assert not handoff.is_large(handoff.predict("c-1", shared))
    # Then on the local stack's moto rate the same share is handed to the workflow
    monkeypatch.setattr(config, "EVALUATION_ITEMS_PER_SECOND", 1_500)
    assert handoff.is_large(handoff.predict("c-1", shared))
