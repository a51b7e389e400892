"""The resolve step's token object: each token in the part of the child reading its index shard, sorted, once; behind an offset table."""

from __future__ import annotations

import random

from segshare_core.domain.devices import shard_of
from segshare_core.workflows.evaluate_sharded import partition_tokens


def test_tokens_are_split_by_index_shard_sorted_and_without_repeats() -> None:
    # Given tokens with repeats, in no order
    rng = random.Random(3)
    tokens = [rng.randbytes(16).hex() for _ in range(2_000)]
    raw = bytes.fromhex("".join(tokens + tokens[:300]))
    # When they are partitioned over 7 shards, one child a shard
    parts = partition_tokens(raw, 7, 7)
    # Then part i holds exactly the distinct tokens domain.devices.shard_of puts in shard i, in byte order
    assert len(parts) == 7
    for shard, part in enumerate(parts):
        found = [part[i : i + 16].hex() for i in range(0, len(part), 16)]
        assert found == sorted({t for t in tokens if shard_of(t, 7) == shard})


def test_tokens_are_split_by_the_child_that_reads_their_shard() -> None:
    from segshare_core.workflows.evaluate_sharded import shards_of_child

    # Given tokens with repeats, in no order
    rng = random.Random(16)
    tokens = [rng.randbytes(16).hex() for _ in range(3_000)]
    raw = bytes.fromhex("".join(tokens + tokens[:500]))
    # When they are partitioned for 7 shards read by 3 children
    parts = partition_tokens(raw, 7, 3)
    # Then part c holds exactly the distinct tokens of the shards child c reads (0, 3, 6 / 1, 4 / 2, 5), in byte order
    assert [list(shards_of_child(c, 3, 7)) for c in range(3)] == [[0, 3, 6], [1, 4], [2, 5]]
    assert len(parts) == 3
    for child, part in enumerate(parts):
        found = [part[i : i + 16].hex() for i in range(0, len(part), 16)]
        assert found == sorted({t for t in tokens if shard_of(t, 7) in shards_of_child(child, 3, 7)})
        assert found  # every child has tokens at this size: the test would see a part swapped for another


def test_a_map_runs_the_children_asked_for_and_never_more_than_the_shards() -> None:
    import pytest

    from segshare_core.workflows.evaluate_sharded import plan_children, shards_of_child

    assert plan_children(64, 16) == 16
    assert plan_children(7, 3) == 3
    # More children than shards: one child a shard, none without work
    assert plan_children(4, 16) == 4
    # Every shard is read by exactly one child, whatever the two counts
    for shards, children in ((64, 16), (7, 3), (5, 5), (1, 1), (9, 4)):
        read = sorted(s for c in range(children) for s in shards_of_child(c, children, shards))
        assert read == list(range(shards))
    with pytest.raises(ValueError, match="at least 1"):
        plan_children(0, 16)
    with pytest.raises(ValueError, match="at least 1"):
        plan_children(16, 0)


def test_no_tokens_give_empty_parts() -> None:
    assert partition_tokens(b"", 3, 3) == [b"", b"", b""]
    assert partition_tokens(b"", 7, 2) == [b"", b""]


def test_one_object_holds_every_part_behind_an_offset_table() -> None:
    import numpy as np

    from segshare_core.workflows.evaluate_sharded import pack_parts

    # Given parts of different lengths, some empty
    parts = [b"a" * 16, b"", b"b" * 48, b"", b"c" * 32]
    # When they are packed into one object
    body = pack_parts(parts)
    # Then its first len(parts) + 1 big-endian offsets frame each part, read back as a ranged GET would
    offsets = np.frombuffer(body[: 8 * (len(parts) + 1)], dtype=">u8").tolist()
    assert offsets[0] == 8 * (len(parts) + 1) and offsets[-1] == len(body)
    assert [body[offsets[i] : offsets[i + 1]] for i in range(len(parts))] == parts
