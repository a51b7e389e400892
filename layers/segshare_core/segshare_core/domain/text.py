"""Text the service stores must be writable: every string encodes as UTF-8.

A JSON body may carry ``"\\ud800"``, a lone surrogate: Python holds it as a ``str``, but it has
no UTF-8 form, so a CSV or JSONL file (or any UTF-8 writer) holding it fails. API.md
(Exports) has such text rejected at ingest, in every text field the API stores.
"""

from __future__ import annotations

from collections.abc import Mapping


def is_writable(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form (False for a lone surrogate, U+D800 to U+DFFF unpaired)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def first_unwritable(value: object, where: str = "") -> str | None:
    """Where the first string without a UTF-8 form sits in a JSON value, or None when there is none.

    ``value`` is what ``json.loads`` returns (dicts, lists, strings, numbers, booleans, None);
    keys are checked as well as values. The location is a dotted path such as
    ``rule.all[0].value``; a key that is itself unwritable is never quoted in it (the path
    stops at its parent), so the location can go into a message or a log.
    """
    if isinstance(value, str):
        return None if is_writable(value) else (where or "value")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and not is_writable(key):
                return f"{where} (a key)" if where else "a key"
            found = first_unwritable(item, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for position, item in enumerate(value):
            found = first_unwritable(item, f"{where}[{position}]")
            if found is not None:
                return found
    return None
