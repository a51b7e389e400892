"""The local stack (`python -m local`, or `make dev`) as the e2e and browser tests run it: one factory, counted.

`start_stack` starts one on a free loopback port and returns once it answers (a demo stack:
once its data is loaded); `stop_stack` stops it with SIGTERM and collects the AWS calls it
checked against the deployed roles; `running_stack` is the two around a block. Every start is
counted in `STARTED`, which the root conftest prints at the end of the session: starting a
demo stack is the dearest thing an e2e test does, so the count is watched.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from local import iam
from local import template as tpl

#: Seconds a stack may take to answer /v1/health (a loaded machine starts slowly).
START_SECONDS = 120


@dataclass
class LocalStack:
    base_url: str
    process: subprocess.Popen[str]
    banner: list[str] = field(default_factory=list)  # what the stack printed up to "ready" (demo stacks)
    iam_record: str = ""

    def call(self, method: str, path: str, token: str | None = None, body: Any = None, **kwargs: Any) -> requests.Response:
        """One request as the bearer of `token` (none: no Authorization header), `body` sent as JSON."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.base_url + path, headers=headers, json=body, timeout=60, **kwargs)


@dataclass(frozen=True)
class Started:
    """One stack started in this session: demo data or not, the settings that made it special, and the test that asked."""

    demo: bool
    settings: tuple[str, ...]
    command: str
    by: str


#: Every stack started in this session, in order (read by tests/conftest.py's summary).
STARTED: list[Started] = []


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stack(
    demo: bool, extra_env: dict[str, str] | None = None, command: Sequence[str] = (sys.executable, "-m", "local")
) -> LocalStack:
    """Start `command` (the stack, or `make dev`) with SEGSHARE_PORT free; return once it answers (demo: once loaded).

    `extra_env` adds or overrides environment variables (SEGSHARE_*, limits). Raises
    RuntimeError when the process exits early or does not answer within START_SECONDS.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # The stack checks each call against the deployed roles and writes what it saw here at stop.
    record = tempfile.NamedTemporaryFile(prefix="segshare-iam-", suffix=".json", delete=False)  # noqa: SIM115
    record.close()
    env.update(
        {
            "SEGSHARE_IAM_RECORD": record.name,
            "SEGSHARE_PORT": str(port),
            "SEGSHARE_DEMO": "1" if demo else "0",
            "PYTHONPATH": f"{tpl.ROOT / 'layers' / 'segshare_core'}:{tpl.ROOT}",
            **(extra_env or {}),
        }
    )
    by = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]  # pytest's "<node id> (<phase>)"
    STARTED.append(Started(demo, tuple(sorted(extra_env or ())), " ".join(command[1:] if command[0] == sys.executable else command), by))
    process = subprocess.Popen(list(command), cwd=tpl.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack = LocalStack(f"http://127.0.0.1:{port}", process, iam_record=record.name)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local stack exited early:\n{process.stdout.read() if process.stdout else ''}")
        try:
            if requests.get(stack.base_url + "/v1/health", timeout=2).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):  # a busy machine may answer late: keep polling
            time.sleep(0.3)
    else:
        stop_stack(stack)
        raise RuntimeError(f"local stack did not answer /v1/health within {START_SECONDS} s")
    if demo:
        # Health answers while the demo data is loading; the banner's last line says it is done.
        assert process.stdout is not None
        for line in process.stdout:
            stack.banner.append(line.rstrip("\n"))
            if line.strip() == "ready":
                break
    return stack


def stop_stack(stack: LocalStack) -> int:
    """Stop the stack with SIGTERM; its exit code. Raises AssertionError if it denied a call (a role lacks a grant)."""
    stack.process.send_signal(signal.SIGTERM)
    try:
        code = stack.process.wait(timeout=30)
    finally:
        if stack.process.poll() is None:
            stack.process.kill()
    _collect_iam(stack)
    return code


@contextmanager
def running_stack(demo: bool, extra_env: dict[str, str] | None = None) -> Iterator[LocalStack]:
    """A stack for the block (start_stack's arguments); stopped after it, which must exit 0 (a clean stop)."""
    stack = start_stack(demo=demo, extra_env=extra_env)
    try:
        yield stack
    finally:
        assert stop_stack(stack) == 0


def _collect_iam(stack: LocalStack) -> None:
    """Add the stack's checked calls to this session's IAM usage; fail on any call the deployed role would deny."""
    if not stack.iam_record:
        return
    path = Path(stack.iam_record)
    text = path.read_text() if path.exists() else ""
    path.unlink(missing_ok=True)
    if not text:
        return
    record = json.loads(text)
    iam.RECORDER.merge(record["calls"])
    denied = [f"  {function} may not {action} on {resource}" for function, action, resource in record["denied"]]
    assert not denied, "the local stack denied calls the deployed role would deny:\n" + "\n".join(denied)
