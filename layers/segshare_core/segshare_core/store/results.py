"""Evaluation results in S3: the matched profile ids of one run, stored to be read by the page.

Layout, under the run's own key prefix ``results/{company}/{project}/{shared}/{evaluation}/``
(issue 14 item 4):

- ``ids``: the ids in ascending order, one per line (``id\\n``), in blocks of ``BLOCK_IDS``
  ids. Profile ids are ASCII (``domain.ids``), so byte order is string order.
- ``index``: one fixed-width entry per block and one final entry: the block's start as an
  8-byte big-endian byte offset into ``ids``, then its first id padded with spaces to 64
  bytes (``ENTRY_BYTES`` in all). The final entry holds the size of ``ids`` and no id. The
  object's metadata carries ``count`` (ids in all) and ``block-ids``.

A members page at ``offset`` reads two index entries and the block(s) holding the page: two
ranged GETs whatever the result's size. ``after_id`` paging and ``contains_many`` read the
index once per ``Result`` and then only the blocks that can hold what is asked, each block
at most once. ``iter_ids`` streams ``ids`` in one GET. Writes stream through boto3's transfer
manager (multipart above its threshold): memory holds a transfer part, never the whole list.
The index is written after ``ids``, and the evaluation pointer moves only after both: a
reader never meets half a result.
"""

from __future__ import annotations

import bisect
import io
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig

from segshare_core import config

#: Ids per block: a members page (50 by default, 1000 at most) spans one or two blocks.
BLOCK_IDS = 512
#: Longest id (``domain.ids``: 63 characters) padded to the index's fixed width.
ID_BYTES = 64
_OFFSET = struct.Struct(">Q")
ENTRY_BYTES = _OFFSET.size + ID_BYTES
#: Bytes buffered at a time while streaming a whole result (``iter_ids``, one GET): bounds the lines held.
STREAM_CHUNK = 64 * 1024
#: Multipart above 8 MB (boto3's default), parts of 8 MB, at most 4 parts in memory at once.
_TRANSFER = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
_EXTRA: dict[str, Any] = {"ServerSideEncryption": "AES256"}


@cache
def _s3() -> Any:
    return boto3.client("s3")


def result_key(company_id: str, project_id: str, shared_id: str, evaluation_id: str) -> str:
    """The key prefix of one evaluation's result (its ``ids`` and ``index`` objects live under it)."""
    return f"results/{company_id}/{project_id}/{shared_id}/{evaluation_id}"


def object_keys(key: str) -> tuple[str, str]:
    """The S3 objects one result is made of, under its key prefix: (ids, index)."""
    return _ids_key(key), _index_key(key)


def _ids_key(key: str) -> str:
    return f"{key}/ids"


def _index_key(key: str) -> str:
    return f"{key}/index"


class _IdStream(io.RawIOBase):
    """The ``ids`` object as a readable stream over sorted ids, recording the index as it goes.

    Raises ValueError (from ``read``) on an id out of order, repeated, not ASCII, longer than
    ID_BYTES or holding a line break.
    """

    def __init__(self, ids: Iterable[str], index: io.BufferedIOBase | Any) -> None:
        self._ids = iter(ids)
        self._index = index
        self._pending = b""
        self._last: bytes | None = None
        self.count = 0
        self.size = 0

    def readable(self) -> bool:
        return True

    def _next_line(self) -> bytes | None:
        for profile_id in self._ids:
            raw = profile_id.encode("ascii")
            if not raw or len(raw) > ID_BYTES or b"\n" in raw or raw.strip(b" ") != raw:
                raise ValueError("a result id is empty, too long or not a plain id")
            if self._last is not None and raw <= self._last:
                raise ValueError("result ids must be sorted ascending and unique")
            self._last = raw
            if self.count % BLOCK_IDS == 0:
                self._index.write(_OFFSET.pack(self.size) + raw.ljust(ID_BYTES))
            self.count += 1
            line = raw + b"\n"
            self.size += len(line)
            return line
        return None

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        chunks = [self._pending]
        have = len(self._pending)
        while have < want:
            line = self._next_line()
            if line is None:
                break
            chunks.append(line)
            have += len(line)
        data = b"".join(chunks)
        buffer[: min(want, len(data))] = data[:want]
        self._pending = data[want:]
        return min(want, len(data))


def put(key: str, profile_ids: Iterable[str]) -> int:
    """Write one result from ids in ascending order (any iterable, consumed once); return the count.

    Memory stays flat in the id count: ``ids`` streams through the transfer manager and the
    index (72 bytes per 512 ids) is spooled to a temporary file. Raises ValueError when the ids
    are not sorted and unique (nothing readable is left behind: the index is written last).
    """
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as index:
        stream = _IdStream(profile_ids, index)
        extra = {**_EXTRA, "ContentType": "text/plain; charset=us-ascii"}
        body = io.BufferedReader(stream, buffer_size=256 * 1024)
        _s3().upload_fileobj(body, config.DATA_BUCKET, _ids_key(key), ExtraArgs=extra, Config=_TRANSFER)
        index.write(_OFFSET.pack(stream.size) + b" " * ID_BYTES)
        index.seek(0)
        metadata = {"count": str(stream.count), "block-ids": str(BLOCK_IDS)}
        extra = {**_EXTRA, "ContentType": "application/octet-stream", "Metadata": metadata}
        _s3().upload_fileobj(index, config.DATA_BUCKET, _index_key(key), ExtraArgs=extra, Config=_TRANSFER)
    return stream.count


def _entry(raw: bytes) -> tuple[int, str]:
    return _OFFSET.unpack_from(raw)[0], raw[_OFFSET.size :].decode("ascii").rstrip(" ")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a result: ``ids`` in ascending order, ``count`` ids in the whole result."""

    ids: list[str]
    count: int


@dataclass(slots=True)
class Result:
    """One stored result, read by ranges; holds what it has read, so a request reads each part once.

    Open one per request (``open``) and ask it everything that request needs.
    """

    key: str
    _count: int | None = None
    _offsets: list[int] | None = None
    _firsts: list[str] | None = None
    _blocks: dict[int, list[str]] = field(default_factory=dict)

    def _get(self, object_key: str, start: int, end: int) -> tuple[bytes, dict[str, str]]:
        """Bytes [start, end) of an object (fewer at its end) and its metadata; b"" past the end."""
        s3 = _s3()
        try:
            response = s3.get_object(Bucket=config.DATA_BUCKET, Key=object_key, Range=f"bytes={start}-{end - 1}")
        except s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b"", {}
            raise
        return response["Body"].read(), dict(response.get("Metadata") or {})

    def _remember(self, metadata: dict[str, str]) -> None:
        if "count" in metadata:
            self._count = int(metadata["count"])

    def count(self) -> int:
        """Ids in the result, from the index's metadata (a HeadObject when nothing was read yet)."""
        if self._count is None:
            head = _s3().head_object(Bucket=config.DATA_BUCKET, Key=_index_key(self.key))
            self._remember(dict(head.get("Metadata") or {}))
        return self._count or 0

    def _load_index(self) -> tuple[list[int], list[str]]:
        if self._offsets is None or self._firsts is None:
            body = _s3().get_object(Bucket=config.DATA_BUCKET, Key=_index_key(self.key))
            self._remember(dict(body.get("Metadata") or {}))
            raw = body["Body"].read()
            entries = [_entry(raw[at : at + ENTRY_BYTES]) for at in range(0, len(raw), ENTRY_BYTES)]
            self._offsets = [offset for offset, _first in entries]
            self._firsts = [first for _offset, first in entries[:-1]]
        return self._offsets, self._firsts

    def _read_blocks(self, first: int, last: int, start: int, end: int) -> None:
        """Blocks first..last (inclusive), bytes [start, end) of ``ids``, in one ranged GET, into the cache."""
        data, _metadata = self._get(_ids_key(self.key), start, end)
        lines = data.decode("ascii").splitlines()
        for block in range(first, last + 1):
            start = (block - first) * BLOCK_IDS
            self._blocks[block] = lines[start : start + BLOCK_IDS]

    def _ensure(self, blocks: Iterable[int], offsets: list[int]) -> None:
        """Read every listed block not yet held, a run of adjacent blocks in one GET."""
        missing = sorted(set(blocks) - self._blocks.keys())
        run_start = None
        for n, block in enumerate(missing):
            if run_start is None:
                run_start = block
            if n + 1 == len(missing) or missing[n + 1] != block + 1:
                self._read_blocks(run_start, block, offsets[run_start], offsets[block + 1])
                run_start = None

    def page(self, *, offset: int | None = None, after_id: str | None = None, limit: int) -> Page:
        """Up to ``limit`` ids from position ``offset`` (0-based) or after ``after_id``, ascending.

        By offset: two ranged GETs (two index entries, then the blocks holding the page); by
        after_id: the index (once per Result), then the blocks. An offset past the end gives
        an empty page. Raises ValueError when neither or both positions are given.
        """
        if (offset is None) == (after_id is None) or limit < 1:
            raise ValueError("give exactly one of offset and after_id, and a positive limit")
        if after_id is not None:
            offsets, firsts = self._load_index()
            block = max(bisect.bisect_right(firsts, after_id) - 1, 0)
            if not firsts:
                return Page([], self.count())
            self._ensure([block], offsets)
            offset = block * BLOCK_IDS + bisect.bisect_right(self._blocks[block], after_id)
        offset = offset or 0
        first, last = offset // BLOCK_IDS, (offset + limit - 1) // BLOCK_IDS
        if self._offsets is not None:
            last = min(last, len(self._offsets) - 2)
            if first > last:
                return Page([], self.count())
            self._ensure(range(first, last + 1), self._offsets)
        elif not all(b in self._blocks for b in range(first, last + 1)):
            raw, metadata = self._get(_index_key(self.key), first * ENTRY_BYTES, (last + 2) * ENTRY_BYTES)
            self._remember(metadata)
            span = [_entry(raw[at : at + ENTRY_BYTES])[0] for at in range(0, len(raw) - ENTRY_BYTES + 1, ENTRY_BYTES)]
            if len(span) < 2:
                return Page([], self.count())
            last = first + len(span) - 2
            self._read_blocks(first, last, span[0], span[-1])
        ids = [i for block in range(first, last + 1) for i in self._blocks[block]]
        skip = offset - first * BLOCK_IDS
        return Page(ids[skip : skip + limit], self.count())

    def contains_many(self, profile_ids: Iterable[str]) -> set[str]:
        """The given ids that are in the result: the index once, then only the blocks that could hold them."""
        offsets, firsts = self._load_index()
        wanted = sorted(set(profile_ids))
        by_block: dict[int, list[str]] = {}
        for profile_id in wanted:
            block = bisect.bisect_right(firsts, profile_id) - 1
            if block >= 0:
                by_block.setdefault(block, []).append(profile_id)
        self._ensure(by_block, offsets)
        found = set()
        for block, candidates in by_block.items():
            held = self._blocks[block]
            for profile_id in candidates:
                at = bisect.bisect_left(held, profile_id)
                if at < len(held) and held[at] == profile_id:
                    found.add(profile_id)
        return found

    def iter_ids(self) -> Iterator[str]:
        """Every id in ascending order, streamed (one GET of the whole ``ids`` object, memory flat)."""
        body = _s3().get_object(Bucket=config.DATA_BUCKET, Key=_ids_key(self.key))["Body"]
        for line in body.iter_lines(chunk_size=STREAM_CHUNK):
            if line:
                yield line.decode("ascii")


def open(key: str) -> Result:  # noqa: A001 - read as results.open(key)
    """A reader of the result stored under ``key``; reuse it for every read of one request."""
    return Result(key)


def count(key: str) -> int:
    """Ids in the result under ``key`` (one HeadObject of its index)."""
    return open(key).count()


def page(key: str, *, offset: int | None = None, after_id: str | None = None, limit: int) -> Page:
    """One page of the result under ``key`` (see ``Result.page``)."""
    return open(key).page(offset=offset, after_id=after_id, limit=limit)


def contains_many(key: str, profile_ids: Iterable[str]) -> set[str]:
    """The ids among ``profile_ids`` in the result under ``key`` (see ``Result.contains_many``)."""
    return open(key).contains_many(profile_ids)


def get(key: str) -> list[str]:
    """Every id of the result, ascending, in one list: for small results and tests only."""
    return list(open(key).iter_ids())
