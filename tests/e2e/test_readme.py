"""The README runs as written: `make dev`, then its ```bash blocks pasted into bash, as a reader would.

`make dev` starts the demo stack on a free port; the `export TOKEN_...` lines of its banner
are pasted first, as the README says, and `SEGSHARE_PORT` is set as it was for `make dev`
(the walk-through's base URL reads it). Every block not marked `readme-test: not run` runs
in order in one `bash` with `set -euo pipefail`, twice (the README says the walk-through can
be run again). `curl` is wrapped so that every answer is checked: 2xx, or the status of a
line marked `# expect NNN`. The wrapper adds only `-o` and `-w` to the README's arguments.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.readme_doc import EXPECT, bash_blocks, readme_text
from tests.support.stacks import start_stack, stop_stack

pytestmark = pytest.mark.e2e

RUNS = 2  # the README says the walk-through can be run again: its last line deletes what it made

# Every answer is logged as "status expected url" and checked here, so a failure names the
# request; the expectation of a `# expect NNN` line travels through a file, since the curl it
# applies to may run in a subshell ($(...) or a pipeline).
CURL_CHECKED = r"""
curl() {
  local body status expect=2xx url=? arg rc=0
  if [[ -s $README_EXPECT ]]; then expect=$(<"$README_EXPECT"); : >"$README_EXPECT"; fi
  for arg in "$@"; do if [[ $arg == http* ]]; then url=${arg%%\?X-Amz-*}; fi; done
  body=$(mktemp)
  status=$(command curl "$@" -o "$body" -w '%{http_code}') || rc=$?
  cat "$body"; rm -f "$body"
  echo "$status $expect $url" >>"$README_STATUSES"
  if (( rc != 0 )); then echo "README: curl failed ($rc) on $url" >&2; return "$rc"; fi
  if [[ $expect == 2xx && $status != 2?? || $expect != 2xx && $status != "$expect" ]]; then
    echo "README: $status from $url, expected $expect" >&2
    return 22
  fi
}
"""


def walk_through_script(markdown: str, token_exports: list[str]) -> tuple[str, int]:
    """The bash a reader pastes: token exports, then every block to run; and its count of `# expect` lines."""
    lines: list[str] = []
    expected = 0
    for block in bash_blocks(markdown):
        if block.covers is not None:
            continue
        assert not [c for c in block.commands if c.startswith("make ")], f"README.md:{block.line}: run block calls make"
        previous = ""
        for line in block.text.splitlines():
            if expect := EXPECT.search(line):
                assert not previous.endswith("\\"), f"README.md:{block.line}: put `# expect` on a one-line command"
                lines.append(f'printf %s {expect.group(1)} >"$README_EXPECT"')
                expected += 1
            lines.append(line)
            previous = line.rstrip()
    assert lines, "README.md has no bash block to run"
    prelude = ["set -Eeuo pipefail", "shopt -s inherit_errexit", """trap 'echo "README: failed: $BASH_COMMAND" >&2' ERR"""]
    return "\n".join([*prelude, CURL_CHECKED, *token_exports, *lines, ""]), expected


def test_walk_through_runs_against_make_dev(tmp_path: Path) -> None:
    # Given the demo stack started the way the README starts it; -o keeps make from rebuilding
    # .venv under a running suite (CI's `make test` builds it from nothing first)
    stack = start_stack(demo=True, command=["make", "-o", ".venv/.installed", "dev"])
    try:
        exports = [line.strip() for line in stack.banner if line.strip().startswith("export TOKEN_")]
        assert len(exports) == 4, stack.banner
        script, expected = walk_through_script(readme_text(), exports)
        (tmp_path / "readme.sh").write_text(script)
        statuses = tmp_path / "statuses"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SEGSHARE_", "TOKEN_"))}
        env |= {"SEGSHARE_PORT": stack.base_url.rsplit(":", 1)[1], "README_EXPECT": str(tmp_path / "expect")}
        env |= {"README_STATUSES": str(statuses)}

        for run in range(RUNS):
            # When a reader pastes the README's blocks into bash
            statuses.write_text("")
            done = subprocess.run(["bash", "readme.sh"], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

            # Then every line succeeds, every answer is 2xx but the one the README expects otherwise
            answers = [line.split(" ", 2) for line in statuses.read_text().splitlines()]
            report = f"run {run + 1}: exit {done.returncode}\n{done.stderr[-3000:]}\nanswers: {answers}"
            assert done.returncode == 0, report
            assert all(s == e or (e == "2xx" and re.fullmatch(r"2\d\d", s)) for s, e, _ in answers), report
            assert sum(e != "2xx" for _, e, _ in answers) == expected, report
            # and it shows what its comments promise (a CSV header is the only "profileId," unquoted)
            for promise in (r'"hiddenSharedCount":\s*2\b', r'"status":\s*"SUCCEEDED"', r"profileId,", r'"code":\s*"SEGMENT_SHARED"'):
                assert re.search(promise, done.stdout), f"{promise} not in the output; {report}"
    finally:
        code = stop_stack(stack)
    rest = stack.process.stdout.read() if stack.process.stdout else ""

    # And make dev stops cleanly on SIGTERM: make passes it to the stack, waits for it, then
    # dies of the signal itself; the stack's own clean stop is its last line
    assert code == -signal.SIGTERM, rest
    assert "segshare local stack stopped" in rest, rest
