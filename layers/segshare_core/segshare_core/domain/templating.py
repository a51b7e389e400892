"""Message templates: ``{{attribute}}`` filled from the target project's own attributes only."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]{0,63})\s*\}\}")
MAX_TEMPLATE_CHARS = 2000


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)  # true/false and numbers as JSON writes them


def render(template: str, attributes: Mapping[str, object]) -> str:
    """Fill each ``{{name}}``; a missing (or null) attribute renders as an empty string.

    Only the profile's own attributes are passed in, so nothing from another project can
    appear: a first_name known only in the source project renders blank here.
    """
    return _PLACEHOLDER.sub(lambda m: _text(attributes.get(m.group(1))), template)
