"""Create the template's tables and buckets in moto (in-process or server, via boto3)."""

from __future__ import annotations

from typing import Any

import boto3

from local.template import Template, local_name


def table_definitions(template: Template) -> dict[str, dict[str, Any]]:
    """CreateTable arguments for each AWS::DynamoDB::Table of the template."""
    tables = {}
    for logical_id, resource in template.of_type("AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        args: dict[str, Any] = {
            "TableName": local_name(logical_id, resource["Type"]),
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        tables[logical_id] = args
    return tables


def create_all(template: Template) -> None:
    dynamodb = boto3.client("dynamodb")
    for args in table_definitions(template).values():
        dynamodb.create_table(**args)
    for logical_id, resource in template.of_type("AWS::DynamoDB::Table").items():
        ttl = resource["Properties"].get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(
                TableName=local_name(logical_id, resource["Type"]),
                TimeToLiveSpecification=ttl,
            )
    s3 = boto3.client("s3")
    for logical_id, resource in template.of_type("AWS::S3::Bucket").items():
        s3.create_bucket(Bucket=local_name(logical_id, resource["Type"], template))
    sqs = boto3.client("sqs")
    for logical_id in template.of_type("AWS::SQS::Queue"):
        sqs.create_queue(QueueName=logical_id)
