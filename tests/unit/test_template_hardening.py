"""template.yaml keeps what checkov's global skips (.checkov.yaml) would otherwise stop checking, resource by resource.

checkov skips a check for every resource at once; these tests hold the reasons given there
true: the one asynchronous invocation has a dead-letter queue, every function's concurrency
is bounded somewhere, every log group has a retention, tracing is on, and no role gets a
managed *FullAccess policy or a whole-bucket S3 policy.
"""

from __future__ import annotations

from typing import Any

import pytest

from local import template as tpl

TEMPLATE = tpl.load()
RESOURCES = TEMPLATE.resources
FUNCTIONS = TEMPLATE.of_type("AWS::Serverless::Function")
#: Event sources Lambda invokes asynchronously: a failure after the retries is lost without a DLQ.
ASYNC_SOURCES = {"S3", "SNS", "EventBridgeRule", "Schedule", "ScheduleV2", "CloudWatchEvent", "CloudWatchLogs", "IoTRule"}


def _events(props: dict[str, Any]) -> list[dict[str, Any]]:
    return list((props.get("Events") or {}).values())


def _sub_text(value: Any) -> str:
    return str(value.get("Fn::Sub") if isinstance(value, dict) else value)


def test_there_are_functions() -> None:
    assert len(FUNCTIONS) >= 8


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_an_asynchronously_invoked_function_keeps_what_it_fails_on(logical_id: str) -> None:
    props = FUNCTIONS[logical_id]["Properties"]
    if not any(e["Type"] in ASYNC_SOURCES for e in _events(props)):
        return
    on_failure = ((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get("OnFailure")
    dlq = props.get("DeadLetterQueue")
    assert dlq or on_failure, f"{logical_id} is invoked asynchronously and has no dead-letter queue or on-failure destination"
    if dlq:
        target = dlq["TargetArn"]["Fn::GetAtt"][0]
        assert RESOURCES[target]["Type"] == "AWS::SQS::Queue"
        assert RESOURCES[target]["Properties"].get("SqsManagedSseEnabled") or RESOURCES[target]["Properties"].get("KmsMasterKeyId")


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_has_its_concurrency_bounded(logical_id: str) -> None:
    props = FUNCTIONS[logical_id]["Properties"]
    events = _events(props)
    if props.get("ReservedConcurrentExecutions"):
        return
    types = {e["Type"] for e in events}
    if types == {"HttpApi"}:
        return  # API Gateway's route throttling bounds it
    if types == {"SQS"}:
        assert all((e["Properties"].get("ScalingConfig") or {}).get("MaximumConcurrency") for e in events), logical_id
        return
    if types == {"S3"}:
        # Once per export object, which only the (bounded) export worker writes.
        prefixes = {r["Value"] for e in events for r in e["Properties"]["Filter"]["S3Key"]["Rules"] if r["Name"] == "prefix"}
        assert prefixes == {"exports/"}, logical_id
        return
    pytest.fail(f"{logical_id}: no reserved concurrency and no other bound on its concurrency ({sorted(types)})")


def test_the_api_is_throttled_by_default() -> None:
    settings = RESOURCES["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingBurstLimit"] > 0
    assert settings["ThrottlingRateLimit"] > 0


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_logs_to_a_group_with_a_retention(logical_id: str) -> None:
    groups = TEMPLATE.of_type("AWS::Logs::LogGroup").values()
    mine = [g for g in groups if _sub_text(g["Properties"].get("LogGroupName")) == f"/aws/lambda/${{{logical_id}}}"]
    assert len(mine) == 1, logical_id
    assert mine[0]["Properties"]["RetentionInDays"]


def test_every_log_group_has_a_retention() -> None:
    for logical_id, group in TEMPLATE.of_type("AWS::Logs::LogGroup").items():
        assert group["Properties"].get("RetentionInDays"), logical_id


def test_tracing_is_on_for_functions_and_state_machines() -> None:
    assert TEMPLATE.body["Globals"]["Function"]["Tracing"] == "Active"
    for logical_id, props in FUNCTIONS.items():
        assert props["Properties"].get("Tracing", "Active") == "Active", logical_id
    for logical_id, machine in TEMPLATE.of_type("AWS::Serverless::StateMachine").items():
        assert machine["Properties"]["Tracing"]["Enabled"] is True, logical_id


def _policies() -> list[tuple[str, Any]]:
    found = []
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            found.extend((logical_id, p) for p in resource["Properties"].get("Policies") or [])
    return found


def test_no_role_gets_a_managed_full_access_or_a_whole_bucket_policy() -> None:
    policies = _policies()
    assert policies
    for logical_id, policy in policies:
        assert not isinstance(policy, str), f"{logical_id} uses the managed policy {policy}"
        assert not {"S3CrudPolicy", "S3ReadPolicy", "S3WritePolicy", "S3FullAccessPolicy"} & set(policy), (logical_id, policy)


def test_every_s3_statement_is_scoped_to_a_prefix() -> None:
    statements = [(logical_id, s) for logical_id, p in _policies() if "Statement" in p for s in p["Statement"]]
    s3 = [(logical_id, s) for logical_id, s in statements if any(str(a).startswith("s3:") for a in s["Action"])]
    assert s3
    for logical_id, statement in s3:
        resource = _sub_text(statement["Resource"])
        assert resource.endswith(
            ("/results/*", "/exports/*", "/work/*", "/schedule/*", "/imports/uploads/*", "/imports/work/*", "/imports/errors/*")
        ), (logical_id, resource)
        assert "s3:DeleteObject" not in statement["Action"], logical_id


#: Step Functions' log delivery actions, which take no resource-level permissions (AWS docs).
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def test_wildcard_resources_are_only_for_actions_without_resource_level_permissions() -> None:
    for logical_id, policy in _policies():
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if statement["Resource"] == "*":
                assert set(statement["Action"]) <= LOG_DELIVERY, (logical_id, statement)


def test_queues_and_tables_are_encrypted_and_the_bucket_is_private() -> None:
    for logical_id, queue in TEMPLATE.of_type("AWS::SQS::Queue").items():
        assert queue["Properties"].get("SqsManagedSseEnabled") or queue["Properties"].get("KmsMasterKeyId"), logical_id
    for logical_id, table in TEMPLATE.of_type("AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True, logical_id
        assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, logical_id
    bucket = RESOURCES["DataBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-exports"]["ExpirationInDays"] <= 7
    tls = RESOURCES["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in tls)


def test_the_bucket_answers_a_browser_only_for_the_console_upload() -> None:
    # The console's Import PUTs to a presigned URL (cross-origin); nothing else is opened to browsers,
    # and with no ConsoleOrigin given there is no CORS rule at all.
    cors = RESOURCES["DataBucket"]["Properties"]["CorsConfiguration"]
    condition, with_console, without = cors["Fn::If"]
    assert TEMPLATE.body["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ConsoleOrigin"}, ""]}]}
    assert without == {"Ref": "AWS::NoValue"}
    (rule,) = with_console["CorsRules"]
    assert rule["AllowedMethods"] == ["PUT"]
    assert rule["AllowedOrigins"] == [{"Ref": "ConsoleOrigin"}]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_queue_source_reports_partial_batch_failures(logical_id: str) -> None:
    # Every queue handler answers with Powertools' process_partial_response; without
    # ReportBatchItemFailures Lambda ignores that answer and one failed record retries the whole batch.
    for event in _events(FUNCTIONS[logical_id]["Properties"]):
        if event["Type"] == "SQS":
            assert "ReportBatchItemFailures" in event["Properties"].get("FunctionResponseTypes", []), logical_id


def test_the_tables_a_bulk_import_writes_can_be_pre_warmed_and_are_not_by_default() -> None:
    # A new on-demand table serves 4,000 write and 12,000 read units a second at first; a 10M-row
    # import in 15 minutes needs ~55,000 writes and ~30,000 reads a second on the index table
    # (README "Bulk import"), so the deployer can ask for either up front.
    for name in ("TableWarmWriteUnits", "TableWarmReadUnits"):
        assert (TEMPLATE.body["Parameters"][name]["Default"], TEMPLATE.body["Parameters"][name]["MinValue"]) == (0, 0)
    conditions = TEMPLATE.body["Conditions"]
    assert conditions["WarmWrites"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "TableWarmWriteUnits"}, 0]}]}
    assert conditions["WarmReads"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "TableWarmReadUnits"}, 0]}]}
    reads, writes = {"Ref": "TableWarmReadUnits"}, {"Ref": "TableWarmWriteUnits"}
    for table in ("ProfilesTable", "DeviceIndexTable"):
        writes_set, reads_only = RESOURCES[table]["Properties"]["WarmThroughput"]["Fn::If"][1:]
        assert RESOURCES[table]["Properties"]["WarmThroughput"]["Fn::If"][0] == "WarmWrites"
        assert writes_set == {
            "Fn::If": ["WarmReads", {"ReadUnitsPerSecond": reads, "WriteUnitsPerSecond": writes}, {"WriteUnitsPerSecond": writes}]
        }
        assert reads_only == {"Fn::If": ["WarmReads", {"ReadUnitsPerSecond": reads}, {"Ref": "AWS::NoValue"}]}
