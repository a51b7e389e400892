"""Benchmarks that print figures (never timed assertions): ``make bench`` or ``python -m bench [figure ...]``.

Importing the package prepares the environment the way tests/conftest.py does: fake AWS
credentials, no endpoint (moto runs in-process) and the template's variables, before any
module of the service reads its configuration.
"""

from __future__ import annotations

from local import in_process

in_process.prepare("segshare-bench")
