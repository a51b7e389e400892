"""The README's Layout names every tracked file and nothing else; its blocks not run say what covers them.

The walk-through itself runs in `tests/e2e/test_readme.py`; these checks need no stack.
"""

from __future__ import annotations

import re

from tests.readme_doc import ROOT, bash_blocks, layout_entries, readme_text, tracked_files


def test_layout_lists_exactly_the_tracked_files() -> None:
    # Given the Layout section and git's list of files
    entries = layout_entries(readme_text())
    tracked = tracked_files()

    # Then every tracked file is named or matched by a pattern
    unlisted = [f for f in tracked if not any(e.matches(f) for e in entries)]
    assert not unlisted, f"files missing from the README's Layout: {unlisted}"
    # and every name is a tracked file, a pattern that matches one, or a folder holding one
    for entry in entries:
        if entry.is_pattern:
            # a pattern stands for files a reader does not see named, so it says what each one is
            assert re.search(r"\bone\b.+\bper\b", entry.text), f"README.md:{entry.line}: {entry.path} needs a 'one ... per ...' rule"
        if entry.is_folder:
            assert any(f.startswith(entry.path) for f in tracked), f"README.md:{entry.line}: no folder {entry.path}"
            assert any(e.path.startswith(entry.path) and e is not entry for e in entries), f"README.md:{entry.line}: empty folder"
        else:
            assert any(entry.matches(f) for f in tracked), f"README.md:{entry.line}: {entry.path} is not a tracked file"
    duplicates = {e.path for e in entries if [x.path for x in entries].count(e.path) > 1}
    assert not duplicates, f"named twice in the Layout: {duplicates}"


def test_blocks_not_run_name_what_covers_them() -> None:
    # Given the README's bash blocks
    blocks = bash_blocks(readme_text())
    tracked = set(tracked_files())

    # Then at least one is run by the e2e test
    assert [b for b in blocks if b.covers is None], "no bash block is run by tests/e2e/test_readme.py"
    for block in blocks:
        if block.covers is None:
            # make dev blocks, make test would run the suite inside itself, make deploy needs AWS
            assert not [c for c in block.commands if c.startswith("make ")], (
                f"README.md:{block.line}: a block that calls make needs a `readme-test: not run` marker"
            )
            continue
        # and each command of a block not run names a file (and test) that covers it
        assert sorted(block.covers) == sorted(block.commands), f"README.md:{block.line}: {block.covers} vs {block.commands}"
        for command, cover in block.covers.items():
            path, _, name = cover.split(" ", 1)[0].partition("::")
            assert path in tracked, f"README.md:{block.line}: {command} is covered by {path}, not a tracked file"
            if name:
                assert f"def {name}(" in (ROOT / path).read_text(), f"README.md:{block.line}: no {name} in {path}"
