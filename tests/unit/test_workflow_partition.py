"""The resolve step's token object: each token in the index shard the store puts it in, sorted, once; the parts behind an offset table."""

from __future__ import annotations

import random

from segshare_core.domain.devices import shard_of
from segshare_core.workflows.evaluate_sharded import partition_tokens


def test_tokens_are_split_by_index_shard_sorted_and_without_repeats() -> None:
    # Given tokens with repeats, in no order
    rng = random.Random(3)
    tokens = [rng.randbytes(16).hex() for _ in range(2_000)]
    raw = bytes.fromhex("".join(tokens + tokens[:300]))
    # When they are partitioned over 7 shards
    parts = partition_tokens(raw, 7)
    # Then part i holds exactly the distinct tokens domain.devices.shard_of puts in shard i, in byte order
    assert len(parts) == 7
    for shard, part in enumerate(parts):
        found = [part[i : i + 16].hex() for i in range(0, len(part), 16)]
        assert found == sorted({t for t in tokens if shard_of(t, 7) == shard})


def test_no_tokens_give_empty_parts() -> None:
    assert partition_tokens(b"", 3) == [b"", b"", b""]


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
