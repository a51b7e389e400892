"""Environment first: the service reads its configuration at import, so set it before anything of ours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local import iam, in_process

in_process.prepare("segshare-test")


@pytest.fixture(autouse=True)
def iam_checked() -> Iterator[None]:
    """Every AWS call a handler makes in any test is one its function's deployed role allows (issue 10).

    The hook (local/iam.py) already answers a denied call with AccessDenied; this fails the
    test even where the handler swallowed that error.
    """
    iam.RECORDER.take_denials()
    yield
    denied = iam.RECORDER.take_denials()
    if denied:
        pytest.fail("calls the deployed role would deny:\n" + "\n".join(f"  {d}" for d in denied), pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Merge this session's calls into test-output/iam-usage.json, which `make lint` reads for unused grants."""
    record = iam.RECORDER.as_json()
    if record["calls"]:
        iam.save_usage(record)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many local stacks this session started, and why each one beyond the shared demo stack (a demo stack costs ~15 s)."""
    from tests.support import stacks  # after prepare(): this file imports only what sets the environment

    if not stacks.STARTED:
        return
    terminalreporter.section("local stacks")
    demo = sum(s.demo for s in stacks.STARTED)
    terminalreporter.write_line(f"local stacks started: {len(stacks.STARTED)} ({demo} with demo data)")
    for started in stacks.STARTED:
        settings = ", ".join(started.settings) or "default settings"
        terminalreporter.write_line(f"  {started.by}: {started.command}, {'demo' if started.demo else 'empty'}, {settings}")
