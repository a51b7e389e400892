"""The emulator's own edges (issue 10, item 4): malformed requests, SIGTERM, a console for people.

Raw sockets, because an HTTP client refuses to send the malformed requests tested here.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import platform
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.http import OPERATOR_TOKEN
from tests.support.stacks import LocalStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e


def raw(stack: LocalStack, head: str, body: bytes = b"") -> tuple[int, Any]:
    """Send `head` (request line and headers, CRLF-joined by the caller) and return (status, JSON body)."""
    host, port = stack.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(head.encode() + b"\r\n\r\n" + body)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received:
                headers, _, rest = received.partition(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":", 1)[1]) for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
                )
                if len(rest) >= length:
                    break
    status_line, _, _ = received.partition(b"\r\n")
    _, _, body_out = received.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(body_out) if body_out else None


def request(path: str, *headers: str, method: str = "GET") -> str:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers])


def code(answer: tuple[int, Any]) -> tuple[int, str]:
    return answer[0], answer[1]["error"]["code"]


def test_oversized_headers_get_431_with_api_body(stack: LocalStack) -> None:
    # Given the edge checks accept a normal request
    assert raw(stack, request("/v1/health"))[0] == 200
    # A single 64 KB header line (http.server's own limit), and 66 KB spread over shorter lines
    assert code(raw(stack, request("/v1/health", "X-Big: " + "a" * 65_536))) == (431, "HEADERS_TOO_LARGE")
    many = [f"X-Pad-{i}: {'b' * 1000}" for i in range(66)]
    assert code(raw(stack, request("/v1/health", *many))) == (431, "HEADERS_TOO_LARGE")


def padded_to(total: int, path: str = "/v1/health") -> str:
    """A request whose request line and header values come to exactly `total` bytes (names and separators not counted)."""
    line = f"GET {path} HTTP/1.1"
    fixed = len(line) + len("127.0.0.1") + len("close")  # the Host and Connection values `request` sends
    return request(path, "X-Pad: " + "p" * (total - fixed - 1000), "X-Pad: " + "q" * 1000)


def test_api_gateways_10240_byte_quota_on_request_line_and_header_values(stack: LocalStack) -> None:
    # API Gateway (HTTP API quotas): "Total combined size of request line and header values: 10240 bytes"
    # Given a request at exactly the quota, one of its headers repeated (values, not names, are counted)
    assert raw(stack, padded_to(10_240))[0] == 200
    # When it is one byte over
    status, body = raw(stack, padded_to(10_241))
    # Then it is refused with API.md's error body, before any route
    assert (status, body["error"]["code"]) == (431, "HEADERS_TOO_LARGE")
    assert "10241 bytes" in body["error"]["message"]
    # And the request line counts: a long query string tips a request over the same way
    long_url = "/v1/health?q=" + "x" * 10_300
    assert code(raw(stack, request(long_url))) == (431, "HEADERS_TOO_LARGE")


def test_a_bad_content_length_gets_400_and_an_oversized_one_413(stack: LocalStack) -> None:
    for value in ("-1", "abc", "1e3", "5, 6"):
        assert code(raw(stack, request("/v1/health", f"Content-Length: {value}", method="POST"))) == (400, "BAD_REQUEST"), value
    # Declared over 10 MB: refused before a byte of the body is read (none is sent)
    assert code(raw(stack, request("/v1/health", "Content-Length: 10485761", method="POST"))) == (413, "TOO_LARGE")


def test_two_authorization_headers_get_401(stack: LocalStack) -> None:
    one = request("/v1/me", f"Authorization: Bearer {OPERATOR_TOKEN}")
    assert raw(stack, one)[0] == 200
    two = request("/v1/me", f"Authorization: Bearer {OPERATOR_TOKEN}", f"Authorization: Bearer {OPERATOR_TOKEN}")
    assert code(raw(stack, two)) == (401, "UNAUTHENTICATED")


def test_sigterm_stops_a_busy_stack_and_its_console_stays_for_people(tmp_path: Path) -> None:
    # Given a stack whose /v1/me handler is held two minutes in an executor worker (the test
    # hook holds it where a long evaluation's reads run: threads an interpreter exit waits for)
    log_file = tmp_path / "stack.log"
    env = {"SEGSHARE_LOCAL_DELAYS": "GET /v1/me=120", "SEGSHARE_API_TIMEOUT_SECONDS": "115", "SEGSHARE_LOG_FILE": str(log_file)}
    running = start_stack(demo=False, extra_env=env)
    try:
        for _ in range(3):
            assert requests.get(running.base_url + "/v1/health", timeout=30).status_code == 200
        # And a request in flight, seen by the handler (its cold start logged) before the signal
        in_flight = threading.Thread(target=lambda: _ignore_errors(running, "/v1/me"), daemon=True)
        in_flight.start()
        deadline = time.monotonic() + 30
        while '"ColdStart"' not in log_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert in_flight.is_alive()
        # When SIGTERM arrives
        # Then the stack exits cleanly within 20 s, the held request dropped
        _assert_stops_within_20_s(running, lambda: running.process.send_signal(signal.SIGTERM))
    finally:
        _kill_if_running(running)
    # And its console held no JSON (Powertools' logs and metrics went to the log file) and no access lines
    assert running.process.stdout is not None
    console = running.process.stdout.read().splitlines()
    assert not [line for line in console if line.lstrip().startswith("{")], console
    assert not [line for line in console if "/v1/health" in line], console
    assert not [line for line in console if "Traceback" in line], console  # a client gone mid-answer is not news
    assert [line for line in console if line.startswith("segshare local stack stopped")], console


def _assert_stops_within_20_s(running: LocalStack, signal_it: Callable[[], None]) -> None:
    """Send the signal, wait up to 25 s: the stack must have exited 0 within 20 s of it."""
    started = time.monotonic()
    signal_it()
    with contextlib.suppress(subprocess.TimeoutExpired):
        running.process.wait(timeout=25)
    assert running.process.returncode == 0, "the stack did not exit within 25 s of SIGTERM"
    assert time.monotonic() - started < 20


def _kill_if_running(running: LocalStack) -> None:
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


#: tgkill(2)'s system call number by machine: a signal to one thread of another process (Python has none).
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}


def _signal_one_thread(pid: int, tid: int, signum: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(SYS_TGKILL[platform.machine()], pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


def test_sigterm_taken_by_another_thread_than_the_main_one_still_stops_the_stack() -> None:
    # Given a running stack, and SIGTERM delivered to one of its other threads: the kernel may
    # hand a process-directed signal to any thread that does not block it (signal(7))
    running = start_stack(demo=False)
    try:
        others = sorted(
            int(task.name) for task in Path(f"/proc/{running.process.pid}/task").iterdir() if int(task.name) != running.process.pid
        )
        # The oldest of them (moto's server thread) lives as long as the stack: a younger one may end first
        assert others, "the stack runs threads besides its main one"
        # Then it stops as for any SIGTERM: exit 0 within 20 s (its main thread blocked in a bare
        # wait never ran the handler, and the stack ran on until killed)
        _assert_stops_within_20_s(running, lambda: _signal_one_thread(running.process.pid, others[0], signal.SIGTERM))
    finally:
        _kill_if_running(running)


def test_the_access_log_gives_one_line_per_request_and_a_slow_handler_a_504(tmp_path: Path) -> None:
    # Given API Gateway's 29 s shortened to 1 s and /v1/me made 3 s slow (the test hooks)
    env = {
        "SEGSHARE_ACCESS_LOG": "1",
        "SEGSHARE_LOG_FILE": str(tmp_path / "stack.log"),
        "SEGSHARE_API_TIMEOUT_SECONDS": "1",
        "SEGSHARE_LOCAL_DELAYS": "GET /v1/me=3",
    }
    running = start_stack(demo=False, extra_env=env)
    marker = "/v1/projects/access-log-probe/profiles/p-1"
    for _ in range(3):
        assert requests.get(running.base_url + marker, timeout=30).status_code == 401
    slow = requests.get(running.base_url + "/v1/me", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=30)
    assert (slow.status_code, slow.json()["error"]["code"]) == (504, "INTEGRATION_TIMEOUT")
    assert slow.elapsed.total_seconds() < 2.5
    assert stop_stack(running) == 0
    assert running.process.stdout is not None
    console = running.process.stdout.read().splitlines()
    lines = [line for line in console if marker in line]
    assert len(lines) == 3, lines
    assert all(line.endswith(" 401") for line in lines), lines
    assert [line for line in console if '"GET /v1/me"' in line and line.endswith(" 504")], console


def _ignore_errors(stack: LocalStack, path: str) -> None:
    with contextlib.suppress(requests.RequestException):  # the stack stops under it: that is the point
        requests.get(stack.base_url + path, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=60)
