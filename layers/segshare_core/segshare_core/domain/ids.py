"""Identifier rules shared by every object: ``^[a-z0-9][a-z0-9-]{1,62}$``."""

from __future__ import annotations

import re
import secrets

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
_ID = re.compile(ID_PATTERN)


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def new_id(prefix: str) -> str:
    """A fresh id such as ``p-3f9c1a2b7d4e``: short, url-safe and matching ID_PATTERN."""
    return f"{prefix}-{secrets.token_hex(8)}"
