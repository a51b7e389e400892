"""Benchmarks that print figures (never timed assertions): ``make bench`` or ``python -m bench [figure ...]``.

Importing the package prepares the environment the way tests/conftest.py does: fake AWS
credentials, no endpoint (moto runs in-process) and the template's variables, before any
module of the service reads its configuration.
"""

from __future__ import annotations

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "segshare-bench",
        "POWERTOOLS_METRICS_NAMESPACE": "segshare",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from local import template as _template

for _key, _value in _template.environment(_template.load()).items():
    os.environ.setdefault(_key, _value)
