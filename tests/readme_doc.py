"""Read README.md as its tests need it: the ```bash blocks with their markers, and the Layout list.

Conventions the README follows (and states where a reader meets them):

- A ```bash block is run by `tests/e2e/test_readme.py` unless the line just above its fence is
  `<!-- readme-test: not run | <command>: <cover> | ... -->`, naming for each command of the
  block what covers it instead: `<cover>` starts with a file of the repository, optionally
  `::name` of a function in it, then free text.
- In a run block, a command line ending in `# expect NNN` must answer NNN; every other curl
  answer must be 2xx.
- The Layout section is a nested bullet list, two spaces per level. Each bullet starts with
  one name in backticks: a folder (ending in `/`, whose entries are the bullets under it), a
  file, or a pattern with `*` (matching within one folder) whose text states its
  one-file-per rule.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

NOT_RUN = re.compile(r"^<!-- readme-test: not run((?: \| [^|]+?: [^|]+?)+) -->$")
EXPECT = re.compile(r"#\s*expect\s+(\d{3})\s*$")
BULLET = re.compile(r"^(?P<indent>(?:  )*)- `(?P<name>[^`]+)`(?P<text>.*)$")


@dataclass(frozen=True)
class BashBlock:
    """One ```bash block: `line` is the 1-based line of its opening fence."""

    line: int
    text: str
    covers: dict[str, str] | None  # command -> what covers it, when the block is marked not run

    @property
    def commands(self) -> list[str]:
        """The block's command lines without comments (continuation lines joined)."""
        joined = re.sub(r"\\\n\s*", " ", self.text)
        return [c for c in (re.sub(r"\s+#.*$", "", ln).strip() for ln in joined.splitlines()) if c and not c.startswith("#")]


@dataclass(frozen=True)
class LayoutEntry:
    """One bullet of the Layout list: its path from the repository root and its text."""

    line: int
    path: str  # "functions/", "functions/export/app.py" or "events/*.json"
    text: str

    @property
    def is_folder(self) -> bool:
        """A folder names no file itself: the bullets under it do."""
        return self.path.endswith("/")

    @property
    def is_pattern(self) -> bool:
        """A pattern (`*` within one folder level) stands for every file it matches."""
        return "*" in self.path

    def matches(self, tracked: str) -> bool:
        """A file entry names one file; a pattern's `*` matches within one folder level."""
        if self.is_folder:
            return False
        if not self.is_pattern:
            return tracked == self.path
        want, have = self.path.split("/"), tracked.split("/")
        return len(want) == len(have) and all(fnmatchcase(h, w) for h, w in zip(have, want, strict=True))


def readme_text() -> str:
    """README.md as text (UTF-8)."""
    return README.read_text(encoding="utf-8")


def bash_blocks(markdown: str) -> list[BashBlock]:
    """Every ```bash block in order; raises ValueError on a malformed `readme-test` marker."""
    lines = markdown.splitlines()
    blocks: list[BashBlock] = []
    n = 0
    while n < len(lines):
        if lines[n].strip() != "```bash":
            n += 1
            continue
        end = lines.index("```", n + 1)
        covers = None
        above = lines[n - 1].strip() if n > 0 else ""
        if above.startswith("<!-- readme-test"):
            marker = NOT_RUN.match(above)
            if marker is None:
                raise ValueError(f"README.md:{n}: malformed marker {above!r}")
            pairs = [p.split(": ", 1) for p in marker.group(1).split(" | ")[1:]]
            covers = {command.strip(): cover.strip() for command, cover in pairs}
        blocks.append(BashBlock(n + 1, "\n".join(lines[n + 1 : end]) + "\n", covers))
        n = end + 1
    return blocks


def layout_entries(markdown: str) -> list[LayoutEntry]:
    """The Layout section's bullets with full paths; raises ValueError when nesting is broken."""
    lines = markdown.splitlines()
    start = lines.index("## Layout")
    entries: list[LayoutEntry] = []
    parents: list[tuple[int, str]] = []  # (depth, folder path) of the open folders
    for n in range(start + 1, len(lines)):
        if lines[n].startswith("## "):
            break
        bullet = BULLET.match(lines[n])
        if bullet is None:
            continue
        depth = len(bullet.group("indent")) // 2
        parents = [(d, p) for d, p in parents if d < depth]
        if len(parents) != depth:
            raise ValueError(f"README.md:{n + 1}: {bullet.group('name')!r} is nested under no folder")
        path = (parents[-1][1] if parents else "") + bullet.group("name")
        entries.append(LayoutEntry(n + 1, path, bullet.group("text").lstrip(": ").strip()))
        if path.endswith("/"):
            parents.append((depth, path))
    return entries


def tracked_files() -> list[str]:
    """`git ls-files` of the repository this README belongs to."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [f for f in out.split("\0") if f]
