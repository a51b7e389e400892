"""The environment for running the service in-process against moto (tests, benchmarks).

Fake credentials, no endpoint (moto patches botocore in the process) and every variable the
template gives the functions, set before any module of the service reads its configuration.
"""

from __future__ import annotations

import os

from local import iam, moto_fixes
from local import template as tpl


def prepare(service_name: str) -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": "segshare",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    for key, value in tpl.environment(tpl.load()).items():
        os.environ.setdefault(key, value)
    moto_fixes.apply()
    iam.install()
