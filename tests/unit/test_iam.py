"""The local IAM check (local/iam.py): the evaluator, the call-to-request mapping, the hook and the template's roles."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from local import iam
from local.iam import Policy, Statement, compile_policies, requests_for

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/ProfilesTable"


def policy(*statements: dict[str, Any]) -> Policy:
    return Policy("TestRole", tuple(Statement.parse(raw, "TestRolePolicy") for raw in statements))


def test_an_allow_grants_exactly_its_action_and_resource() -> None:
    p = policy({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE})
    assert p.decide("dynamodb:GetItem", TABLE).allowed
    assert not p.decide("dynamodb:PutItem", TABLE).allowed
    assert not p.decide("dynamodb:GetItem", TABLE.replace("ProfilesTable", "DirectoryTable")).allowed
    # IAM action names are case-insensitive, ARNs are not
    assert p.decide("DynamoDB:getitem", TABLE).allowed
    assert not p.decide("dynamodb:GetItem", TABLE.lower()).allowed


def test_wildcards_in_actions_and_resources() -> None:
    p = policy(
        {"Effect": "Allow", "Action": "sqs:SendMessage*", "Resource": "arn:aws:sqs:us-east-1:123456789012:ExportQueue"},
        {"Effect": "Allow", "Action": "s3:Get?bject", "Resource": "arn:aws:s3:::bucket/exports/*"},
    )
    assert p.decide("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:ExportQueue").allowed
    assert p.decide("sqs:SendMessageBatch", "arn:aws:sqs:us-east-1:123456789012:ExportQueue").allowed
    assert not p.decide("sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:123456789012:ExportQueue").allowed
    assert p.decide("s3:GetObject", "arn:aws:s3:::bucket/exports/c/p/e.csv").allowed
    assert not p.decide("s3:GetObject", "arn:aws:s3:::bucket/results/c/p/e.json").allowed
    assert not p.decide("s3:GetObjectAcl", "arn:aws:s3:::bucket/exports/x").allowed


def test_an_explicit_deny_wins_over_an_allow() -> None:
    p = policy(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bucket/*"},
    )
    assert p.decide("s3:PutObject", "arn:aws:s3:::bucket/k").allowed
    decision = p.decide("s3:DeleteObject", "arn:aws:s3:::bucket/k")
    assert not decision.allowed
    assert decision.statement is not None
    assert decision.statement.source == "TestRolePolicy/NoDeletes"


def test_not_action_and_not_resource() -> None:
    p = policy({"Effect": "Allow", "NotAction": ["dynamodb:DeleteItem", "dynamodb:Scan"], "NotResource": TABLE})
    other = TABLE.replace("ProfilesTable", "SegmentsTable")
    assert p.decide("dynamodb:GetItem", other).allowed
    assert not p.decide("dynamodb:DeleteItem", other).allowed
    assert not p.decide("dynamodb:GetItem", TABLE).allowed


def test_conditions_as_iam_evaluates_them() -> None:
    p = policy(
        {
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": "*",
            "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
        },
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )
    encrypted = {"s3:x-amz-server-side-encryption": "AES256", "aws:SecureTransport": "true"}
    assert p.decide("s3:PutObject", "arn:aws:s3:::b/k", encrypted).allowed
    # the key absent: a positive operator does not match
    assert not p.decide("s3:PutObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "true"}).allowed
    # the deny applies over plain HTTP
    assert not p.decide("s3:PutObject", "arn:aws:s3:::b/k", {**encrypted, "aws:SecureTransport": "false"}).allowed
    # a negated operator matches an absent key; IfExists too
    negated = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringNotEquals": {"s3:prefix": "x"}}})
    assert negated.decide("s3:GetObject", "arn:aws:s3:::b/k", {}).allowed
    with pytest.raises(iam.TemplateError, match="ForAnyValue:StringLike"):
        policy({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"ForAnyValue:StringLike": {"k": "v"}}})


def test_intrinsics_are_substituted_with_the_local_names() -> None:
    cfn = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${AWS::StackName}-data-${AWS::AccountId}"}}},
            "FnRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "PolicyName": "P0",
                            "PolicyDocument": {
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "sqs:SendMessage",
                                        "Resource": {
                                            "Fn::Sub": [
                                                "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${name}",
                                                {"name": {"Fn::GetAtt": ["Queue", "QueueName"]}},
                                            ]
                                        },
                                    },
                                    {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": {"Fn::GetAtt": ["Table", "Arn"]}},
                                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${Bucket.Arn}/exports/*"}},
                                ]
                            },
                        }
                    ],
                    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                },
            },
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["FnRole", "Arn"]}}},
        }
    }
    p = compile_policies(cfn)["Fn"]
    assert p.decide("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:Queue").allowed
    assert p.decide("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/Table").allowed
    assert p.decide("s3:GetObject", "arn:aws:s3:::segshare-local-data-123456789012/exports/a.csv").allowed
    assert p.decide("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:x").allowed  # the managed policy
    assert not p.decide("s3:GetObject", "arn:aws:s3:::segshare-local-data-123456789012/results/a.json").allowed


def test_calls_map_to_the_requests_aws_authorises() -> None:
    transact = {
        "TransactItems": [
            {"Put": {"TableName": "ProfilesTable", "Item": {}}},
            {"Update": {"TableName": "DeviceIndexTable", "Key": {}}},
            {"Delete": {"TableName": "DeviceIndexTable", "Key": {}}},
            {"ConditionCheck": {"TableName": "ProfilesTable", "Key": {}}},
        ]
    }
    actions = [(r.action, r.resource.rsplit("/", 1)[1]) for r in requests_for("dynamodb", "TransactWriteItems", transact)]
    assert actions == [
        ("dynamodb:PutItem", "ProfilesTable"),
        ("dynamodb:UpdateItem", "DeviceIndexTable"),
        ("dynamodb:DeleteItem", "DeviceIndexTable"),
        ("dynamodb:ConditionCheckItem", "ProfilesTable"),
    ]
    batch = requests_for("dynamodb", "BatchGetItem", {"RequestItems": {"A": {}, "B": {}}})
    assert [r.action for r in batch] == ["dynamodb:BatchGetItem"] * 2
    assert requests_for("dynamodb", "Query", {"TableName": "T", "IndexName": "byX"})[0].resource.endswith("table/T/index/byX")
    for step in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        assert requests_for("s3", step, {"Bucket": "b", "Key": "exports/k"})[0][:2] == ("s3:PutObject", "arn:aws:s3:::b/exports/k")
    assert requests_for("s3", "HeadObject", {"Bucket": "b", "Key": "k"})[0].action == "s3:GetObject"
    listing = requests_for("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "results/"})[0]
    assert (listing.action, listing.resource, dict(listing.context)["s3:prefix"]) == ("s3:ListBucket", "arn:aws:s3:::b", "results/")
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/ExportQueue"
    assert requests_for("sqs", "SendMessageBatch", {"QueueUrl": url})[0][:2] == (
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:123456789012:ExportQueue",
    )
    invoke = requests_for("lambda", "Invoke", {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:F"})[0]
    assert invoke[:2] == ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:F")


def test_the_hook_denies_a_call_the_role_lacks_as_aws_does() -> None:
    # Given a role that may read one table and nothing else
    table = {"Fn": policy({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE})}
    model = boto3.client("dynamodb").meta.service_model.operation_model("PutItem")
    with iam.record_into(iam.Recorder()) as record:
        # When the function writes to it
        with pytest.raises(ClientError) as raised:
            iam.check_call("Fn", model, {"TableName": "ProfilesTable", "Item": {}}, table)
        # and reads it
        iam.check_call("Fn", boto3.client("dynamodb").meta.service_model.operation_model("GetItem"), {"TableName": "ProfilesTable"}, table)
    # Then the write gets DynamoDB's AccessDeniedException, naming the role, the action and the table
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "assumed-role/TestRole/Fn is not authorized to perform: dynamodb:PutItem on resource: " + TABLE in error["Message"]
    assert [str(d) for d in record.take_denials()] == [f"Fn may not dynamodb:PutItem on {TABLE}"]
    # and the read passes, the one call that used a grant
    assert record.calls == {("Fn", "dynamodb:GetItem", TABLE)}


def test_the_export_functions_deployed_role_refuses_get_queue_url() -> None:
    """Issue 10: store/exports.py looked the queue up; SQSSendMessagePolicy allows sqs:SendMessage* only."""
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/ExportQueue"
    with mock_aws(), iam.record_into(iam.Recorder()) as record:
        boto3.client("sqs").create_queue(QueueName="ExportQueue")
        with iam.acting_as("ExportFunction"):
            sqs = boto3.client("sqs")
            with pytest.raises(ClientError) as raised:
                sqs.get_queue_url(QueueName="ExportQueue")
            sqs.send_message(QueueUrl=url, MessageBody="{}")  # what the function does now: allowed
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert [str(d) for d in record.take_denials()] == [
        "ExportFunction may not sqs:GetQueueUrl on arn:aws:sqs:us-east-1:123456789012:ExportQueue"
    ]


def test_every_role_of_the_template_compiles_and_the_bucket_policy_denies_plain_http() -> None:
    roles = iam.policies()
    assert {"DirectoryFunction", "ExportFunction", "ExportWorkerFunction", "ScheduledEvaluationStateMachine"} <= set(roles)
    key = "arn:aws:s3:::segshare-local-data-123456789012-us-east-1/exports/acme/proj-b/e.csv"
    worker = roles["ExportWorkerFunction"]
    assert worker.decide("s3:PutObject", key, {"aws:SecureTransport": "true"}).allowed
    refused = worker.decide("s3:PutObject", key, {"aws:SecureTransport": "false"})
    assert not refused.allowed
    assert refused.statement is not None
    assert refused.statement.source == "DataBucketPolicy/TlsOnly"
    machine = roles["ScheduledEvaluationStateMachine"]
    assert machine.decide("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:ScheduledEvaluateFunction").allowed
    assert not machine.decide("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:ExportFunction").allowed


def test_unused_grants_are_the_allow_pairs_no_call_matched() -> None:
    table = {
        "Fn": policy(
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Scan"], "Resource": [TABLE, f"{TABLE}/index/*"]},
        )
    }
    unused = iam.unused_grants([("Fn", "dynamodb:GetItem", TABLE)], table)
    assert [(g.action, g.resource) for g in unused] == [
        ("dynamodb:GetItem", f"{TABLE}/index/*"),
        ("dynamodb:Scan", TABLE),
        ("dynamodb:Scan", f"{TABLE}/index/*"),
    ]


def test_a_presigned_get_is_checked_as_the_signers_get_object() -> None:
    # The URL is signed with the export function's role: S3 answers the GET it signs with that role's rights.
    bucket = "segshare-local-data-123456789012-us-east-1"
    s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
    with iam.record_into(iam.Recorder()) as record, iam.acting_as("ExportFunction"):
        assert "X-Amz-Signature=" in s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exports/c/p/e.csv"})
        with pytest.raises(ClientError) as raised:
            s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "results/c/p/s/e.json"})
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert [str(d) for d in record.take_denials()] == [f"ExportFunction may not s3:GetObject on arn:aws:s3:::{bucket}/results/c/p/s/e.json"]


def test_a_state_machines_child_executions_are_requests_on_its_deployed_arn() -> None:
    # The machine is named by its logical id locally and by its Name (segshare-local-import) when deployed
    roles = iam.policies()
    assert roles["ImportStateMachine"].own_arn == "arn:aws:states:us-east-1:123456789012:stateMachine:segshare-local-import"
    assert roles["ImportFunction"].own_arn is None
    run = "arn:aws:states:us-east-1:123456789012:mapRun:ImportStateMachine/UpsertBatches:0f1e"
    requests = iam.child_execution_requests("ImportStateMachine", run)
    child = "arn:aws:states:us-east-1:123456789012:execution:segshare-local-import/UpsertBatches:0f1e"
    assert [r[:2] for r in requests] == [
        ("states:StartExecution", "arn:aws:states:us-east-1:123456789012:stateMachine:segshare-local-import"),
        ("states:DescribeExecution", child),
        ("states:StopExecution", child),
    ]
    # and the template's role allows each of them
    assert all(roles["ImportStateMachine"].decide(r.action, r.resource, dict(r.context)).allowed for r in requests)
    # A machine without a Name gets CloudFormation's generated one, which only a wildcard can match
    assert iam.state_machine_arn("Unnamed", None) == "arn:aws:states:us-east-1:123456789012:stateMachine:Unnamed-local"


def test_a_state_machines_log_delivery_grants_are_not_listed_unused() -> None:
    # Step Functions uses them to set up the machine's log delivery; no execution calls them
    machines = {k: v for k, v in iam.policies().items() if k.endswith("StateMachine")}
    assert set(machines) == {"EvaluationStateMachine", "ImportStateMachine", "ScheduledEvaluationStateMachine"}
    unused = iam.unused_grants([], machines)
    assert [g for g in unused if g.action.startswith("logs:")] == []
    # while their other grants, unused by an empty record, are listed
    assert ("ImportStateMachine", "states:StartExecution") in {(g.function, g.action) for g in unused}
