"""moto's server in another process for a benchmark, as ``AWS_ENDPOINT_URL`` for the block.

tracemalloc in the bench process then counts our allocations only: moto keeps what is written
in its own process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from local import template as tpl
from tests.support.stacks import free_port

#: moto's server with ``local.moto_fixes`` applied (without them a transaction copies whole tables).
WITH_FIXES = "import sys; from local import moto_fixes; moto_fixes.apply(); from moto.server import main; main(sys.argv[1:])"


@contextmanager
def moto_endpoint(code: str | None = None, caches: tuple[Callable[[], object], ...] = ()) -> Iterator[str]:
    """Start moto's server (``code`` run with ``-c``, else ``python -m moto.server``); yield its URL.

    ``AWS_ENDPOINT_URL`` points at it for the block and is put back after; ``caches`` (the
    ``cache_clear`` of cached clients) are cleared on entry and exit so no client outlives its
    endpoint. Raises RuntimeError when the server does not listen within 30 s.
    """
    port = free_port()
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "moto.server"]
    env = {**os.environ, "PYTHONPATH": f"{tpl.ROOT / 'layers' / 'segshare_core'}:{tpl.ROOT}"}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter running moto's server
        [*command, "-H", "127.0.0.1", "-p", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    previous = os.environ.get("AWS_ENDPOINT_URL")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start within 30 s") from None
                time.sleep(0.1)
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        for clear in caches:
            clear()
        yield os.environ["AWS_ENDPOINT_URL"]
    finally:
        for clear in caches:
            clear()
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        process.terminate()
        process.wait(timeout=10)
