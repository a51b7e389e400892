"""(f) What the local IAM check (local/iam.py) adds to an AWS call: the same calls with and without a function's role."""

from __future__ import annotations

import boto3
from moto import mock_aws

from bench.timing import ms, timings
from local import iam
from local import template as tpl
from local.resources import create_all

CALLS = 200
RUNS = 5


def run() -> None:
    iam.policies()  # compiled once per process, as in the tests and the stack: not part of a call
    with mock_aws():
        create_all(tpl.load())
        dynamodb = boto3.client("dynamodb")
        key = {"pk": {"S": "C#bench"}, "sk": {"S": "USER#bench"}}

        def unchecked() -> None:
            for _ in range(CALLS):
                dynamodb.get_item(TableName="DirectoryTable", Key=key)

        def checked() -> None:
            with iam.acting_as("DirectoryFunction"):
                unchecked()

        model = dynamodb.meta.service_model.operation_model("GetItem")
        params = {"TableName": "DirectoryTable", "Key": key}

        def check_only() -> None:
            with iam.acting_as("DirectoryFunction"):
                for _ in range(CALLS):
                    iam.check_call("DirectoryFunction", model, params)

        times = timings({"unchecked": unchecked, "checked": checked, "check": check_only}, RUNS)
    base, with_check, alone = times["unchecked"].median, times["checked"].median, times["check"].median
    print(f"(f) IAM check, {CALLS} GetItem calls against in-process moto, median of {RUNS} runs (CPU time)")
    print(f"    without a role (unchecked) {ms(base)}   {base / CALLS * 1e6:7.1f} us/call")
    print(f"    as DirectoryFunction       {ms(with_check)}   {with_check / CALLS * 1e6:7.1f} us/call   ratio {with_check / base:.3f}")
    print(f"    the check alone            {ms(alone)}   {alone / CALLS * 1e6:7.1f} us/call   ({alone / base:.1%} of an unchecked call)")
