"""Evaluation results stored in blocks with an offset index, read by the page (issue 14 item 4).

The store in moto's S3: pages by offset and after an id, membership and counts equal the
plain list's, whatever the block boundaries; writes stream any iterable of sorted ids, in
one multipart upload when large; what a page reads is counted with botocore's event hooks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from segshare_core.store import results
from tests.integration.conftest import ReadProbe

B = results.BLOCK_IDS


def _ids(n: int) -> list[str]:
    return [f"p-{i:06d}" for i in range(n)]


@pytest.mark.parametrize("size", [0, 1, B - 1, B, B + 1, 3 * B + 7])
def test_pages_membership_and_count_equal_the_plain_list(aws: None, size: int) -> None:
    # Given a result written from a generator (consumed once), sizes around the block boundaries
    ids = _ids(size)
    key = results.result_key("c", "p", "s", f"e-{size}")
    assert results.put(key, (i for i in ids)) == size
    # Then count, the whole stream and every page by offset are the list's
    assert results.count(key) == size
    assert results.get(key) == ids
    for limit in (1, 7, B, B + 3):
        for offset in sorted({0, 1, B - 1, B, B + 1, size - 1, size, size + 5} - {-1}):
            page = results.page(key, offset=offset, limit=limit)
            assert page.ids == ids[offset : offset + limit], (offset, limit)
            assert page.count == size
    # And pages after an id (present, absent, before the first, after the last)
    reader = results.open(key)
    for after in [*ids[:: max(1, size // 5)], "a", "p-", "p-000000x", "z"]:
        expected = [i for i in ids if i > after][:10]
        assert reader.page(after_id=after, limit=10).ids == expected, after
    # And membership of present and absent ids
    asked = [*ids[::3], "a", "p-0000005x", "z", *(ids[-1:] if ids else [])]
    assert reader.contains_many(asked) == set(ids[::3]) | set(ids[-1:])


def test_unsorted_or_repeated_ids_are_refused(aws: None) -> None:
    for bad in (["p-2", "p-1"], ["p-1", "p-1"], ["p-1", "bad\nid"]):
        with pytest.raises(ValueError):
            results.put(results.result_key("c", "p", "s", "e-bad"), bad)


def test_a_large_result_streams_as_a_multipart_upload(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a transfer threshold of 5 MiB (S3's smallest part) and 700k ids (7 MB)
    from boto3.s3.transfer import TransferConfig

    monkeypatch.setattr(results, "_TRANSFER", TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
    calls: list[str] = []
    events = results._s3().meta.events

    def seen(model: object, **_: object) -> None:
        calls.append(getattr(model, "name", ""))

    events.register("after-call.s3.*", seen)
    try:
        n = 700_000

        def ids() -> Iterator[str]:
            return (f"p-{i:07d}" for i in range(n))

        key = results.result_key("c", "p", "s", "e-big")
        assert results.put(key, ids()) == n
    finally:
        events.unregister("after-call.s3.*", seen)
    # Then the ids went up in parts, and read back by the page from anywhere
    assert calls.count("UploadPart") >= 2, calls
    assert "CompleteMultipartUpload" in calls
    assert results.page(key, offset=654_321, limit=3).ids == ["p-0654321", "p-0654322", "p-0654323"]
    assert results.contains_many(key, ["p-0000000", "p-0699999", "p-0700000"]) == {"p-0000000", "p-0699999"}


def test_a_page_of_50_from_20k_ids_reads_its_blocks_and_their_index_entries(aws: None) -> None:
    ids = _ids(20_000)
    key = results.result_key("c", "p", "s", "e-20k")
    results.put(key, ids)
    block_bytes = B * len("p-000000\n")
    for offset in (0, 10_000, B - 25, 19_990):
        # When one page of 50 is read by offset
        probe = ReadProbe()
        with probe.active():
            page = results.page(key, offset=offset, limit=50)
        assert page.ids == ids[offset : offset + 50]
        # Then two GETs read the block(s) holding it and their index entries (one more than blocks), nothing more
        spanned = (offset + 49) // B - offset // B + 1
        assert probe.s3_gets() == 2, probe.s3
        assert probe.s3_bytes() <= spanned * block_bytes + (spanned + 1) * results.ENTRY_BYTES, probe.s3
