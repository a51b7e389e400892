"""Start the local stack (`python -m local`) on a free loopback port; stop it after the module."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from local import template as tpl
from local.tokens import mint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalStack:
    base_url: str
    process: subprocess.Popen[str]

    def call(self, method: str, path: str, token: str | None = None, body: Any = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.base_url + path, headers=headers, json=body, timeout=60, **kwargs)


def start_stack(demo: bool, extra_env: dict[str, str] | None = None) -> LocalStack:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "SEGSHARE_PORT": str(port),
            "SEGSHARE_DEMO": "1" if demo else "0",
            "PYTHONPATH": f"{tpl.ROOT / 'layers' / 'segshare_core'}:{tpl.ROOT}",
            **(extra_env or {}),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "local"], cwd=tpl.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    stack = LocalStack(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local stack exited early:\n{process.stdout.read() if process.stdout else ''}")
        try:
            if requests.get(stack.base_url + "/v1/health", timeout=2).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):  # a busy machine can take over 2 s to answer
            time.sleep(0.3)
    else:
        stop_stack(stack)
        raise RuntimeError("local stack did not answer /v1/health within 120 s")
    if demo:
        # Health answers while the demo data is loading; the banner's last line says it is done.
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "ready":
                break
    return stack


def stop_stack(stack: LocalStack) -> int:
    stack.process.send_signal(signal.SIGTERM)
    try:
        return stack.process.wait(timeout=30)
    finally:
        if stack.process.poll() is None:
            stack.process.kill()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start_stack(demo=False)
    yield running
    assert stop_stack(running) == 0


OPERATOR_TOKEN = mint("e2e-operator", groups=["operators"])
