"""Identifier rules shared by every object: ``^[a-z0-9][a-z0-9-]{1,62}$``."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
_ID = re.compile(ID_PATTERN)


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def new_id(prefix: str) -> str:
    """A fresh id such as ``p-3f9c1a2b7d4e``: short, url-safe and matching ID_PATTERN."""
    return f"{prefix}-{secrets.token_hex(8)}"


def time_sortable_id(prefix: str, moment: datetime, *, ticks_per_second: int = 1000, width: int = 11) -> str:
    """``<prefix>-`` + ``moment`` in ticks (``width`` hex digits) + 8 random hex.

    Ids of one kind sort by ``moment`` (ties by the random part), so a store's sort key lists
    them in time order: evaluations by startedAt, exports and imports newest first.
    """
    return f"{prefix}-{int(moment.timestamp() * ticks_per_second):0{width}x}{secrets.token_hex(4)}"
