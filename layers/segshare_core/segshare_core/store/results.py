"""Evaluation results in S3: the matched profile ids of one run, under the run's own key."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import boto3

from segshare_core import config


@cache
def _s3() -> Any:
    return boto3.client("s3")


def result_key(company_id: str, project_id: str, shared_id: str, evaluation_id: str) -> str:
    return f"results/{company_id}/{project_id}/{shared_id}/{evaluation_id}.json"


def put(key: str, profile_ids: Sequence[str]) -> None:
    """Write the sorted ids whole; a reader only ever sees a complete object (S3 PUT is atomic)."""
    body = json.dumps({"profiles": sorted(profile_ids)}, separators=(",", ":")).encode()
    _s3().put_object(Bucket=config.DATA_BUCKET, Key=key, Body=body, ContentType="application/json", ServerSideEncryption="AES256")


def get(key: str) -> list[str]:
    body = _s3().get_object(Bucket=config.DATA_BUCKET, Key=key)["Body"].read()
    return list(json.loads(body)["profiles"])
