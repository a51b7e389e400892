"""Environment first: the service reads its configuration at import, so set it before anything of ours."""

from __future__ import annotations

from local import in_process

in_process.prepare("segshare-test")
