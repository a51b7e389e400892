"""Download file names a person recognises: the segment (or import) and the date, never an id.

A presigned GET carries ``ResponseContentDisposition`` and S3 answers with that header, so the
browser names the file even across origins, where the ``download`` attribute of a link is
ignored (HTML: "download" applies to same-origin URLs only). The header is RFC 6266:
``attachment; filename="<ASCII>"`` for every client, plus RFC 8187 (was RFC 5987)
``filename*=UTF-8''<percent-encoded>`` when the name is not plain ASCII, which browsers prefer.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

#: Characters no file name may hold on Windows, macOS or Linux, and the C0/C1 controls.
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f-\x9f]+')
#: A label longer than this is cut (on a character boundary) before the date is added.
MAX_LABEL_CHARS = 100
#: RFC 8187 section 3.2.1 attr-char: what stays unencoded in ``filename*``.
_ATTR_CHARS = "!#$&+-.^_`|~"


def file_name(label: str, day: str, extension: str) -> str:
    """``"<label> <day>.<extension>"`` with what a file system refuses replaced by spaces.

    label: the segment's name (or "<project> import errors"); day: ``YYYY-MM-DD`` or any short
    date text; extension: ``csv`` or ``jsonl``. An empty label becomes ``download``.
    """
    safe = " ".join(_UNSAFE.sub(" ", label).split())[:MAX_LABEL_CHARS].strip() or "download"
    return f"{safe} {day}.{extension}"


def ascii_fallback(name: str) -> str:
    """The name in printable ASCII for RFC 6266's ``filename``: accents dropped (NFKD), anything else ``_``.

    ``%`` becomes ``_`` too: some clients percent-decode ``filename`` (RFC 6266 appendix D).
    """
    decomposed = unicodedata.normalize("NFKD", name)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in kept)


def content_disposition(name: str) -> str:
    """The Content-Disposition value that downloads ``name`` (RFC 6266 ``attachment``).

    Always a quoted ASCII ``filename``; ``filename*=UTF-8''...`` (RFC 8187) only when the
    ASCII form differs from ``name``, so a plain name gives a plain header.
    """
    fallback = ascii_fallback(name)
    header = f'attachment; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"
    return header
