"""Download file names: the segment (or import) and the date, and RFC 6266 / RFC 8187 Content-Disposition."""

from __future__ import annotations

from string import ascii_letters, digits
from urllib.parse import unquote

from segshare_core.domain.filenames import MAX_LABEL_CHARS, content_disposition, file_name


def test_file_name_is_the_label_and_the_day_with_what_a_file_system_refuses_replaced() -> None:
    assert file_name("Irish players", "2026-11-29", "csv") == "Irish players 2026-11-29.csv"
    assert file_name('a/b\\c:d*e?f"g<h>i|j\tk\x00l', "2026-11-29", "jsonl") == "a b c d e f g h i j k l 2026-11-29.jsonl"
    assert file_name("  \n ", "2026-11-29", "csv") == "download 2026-11-29.csv"
    assert file_name("L" * 200, "2026-11-29", "csv") == "L" * MAX_LABEL_CHARS + " 2026-11-29.csv"


def test_a_plain_ascii_name_gives_a_plain_attachment_header() -> None:
    assert content_disposition("Irish players 2026-11-29.csv") == 'attachment; filename="Irish players 2026-11-29.csv"'


def test_a_name_beyond_ascii_has_an_ascii_filename_and_a_utf8_filename_star_that_decodes_back() -> None:
    name = "Zoë's 日本語 100% 2026-11-29.csv"
    header = content_disposition(name)
    assert header.startswith("attachment; filename=\"Zoe's ___ 100_ 2026-11-29.csv\"; filename*=UTF-8''")
    assert header.isascii()
    # The filename* parameter (RFC 8187: charset, empty language, percent-encoded UTF-8) decodes back exactly
    encoded = header.split("; filename*=", 1)[1]
    charset, language, value = encoded.split("'", 2)
    assert (charset, language) == ("UTF-8", "")
    assert set(value) <= set(ascii_letters + digits + "%!#$&+-.^_`|~")
    assert unquote(value, encoding="utf-8", errors="strict") == name
