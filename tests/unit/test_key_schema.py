"""pynamodb key schemas agree with template.yaml, and every table is recoverable and encrypted."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.attributes import Attribute
from pynamodb.models import Model

from local import template as tpl
from segshare_core.store.models import ALL_MODELS

TABLES = tpl.load().of_type("AWS::DynamoDB::Table")


def _key(model: type[Model], which: str) -> Attribute[Any] | None:
    keys = [a for a in model.get_attributes().values() if getattr(a, f"is_{which}_key")]
    assert len(keys) <= 1, f"{model.__name__} has {len(keys)} {which} keys"
    return keys[0] if keys else None


def test_there_are_models_and_tables() -> None:
    # Given the store's models and the template's tables
    # Then neither list is empty (an empty list would make the checks below vacuous)
    assert ALL_MODELS
    assert TABLES


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_model_key_schema_matches_the_template(model: type[Model]) -> None:
    # Given a model and the table its Meta names (the template's logical id, via the environment)
    table_name = model.Meta.table_name
    assert table_name in TABLES, f"{model.__name__}: table {table_name!r} is not an AWS::DynamoDB::Table of template.yaml"
    props = TABLES[table_name]["Properties"]
    schema = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
    types = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
    # When the model's keys are read
    hash_key, range_key = _key(model, "hash"), _key(model, "range")
    # Then hash and range keys have the template's names and types
    assert hash_key is not None
    assert schema.get("HASH") == hash_key.attr_name
    assert types[hash_key.attr_name] == hash_key.attr_type
    if range_key is None:
        assert "RANGE" not in schema
    else:
        assert schema.get("RANGE") == range_key.attr_name
        assert types[range_key.attr_name] == range_key.attr_type


@pytest.mark.parametrize("logical_id", sorted(TABLES))
def test_table_has_point_in_time_recovery_and_encryption(logical_id: str) -> None:
    # Given a table of the template
    props = TABLES[logical_id]["Properties"]
    # Then point-in-time recovery and server-side encryption are on
    assert props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True
    assert props.get("SSESpecification", {}).get("SSEEnabled") is True


@pytest.mark.parametrize("logical_id", sorted(TABLES))
def test_key_attributes_are_defined(logical_id: str) -> None:
    # Given a table of the template
    props = TABLES[logical_id]["Properties"]
    # Then every key attribute has a definition (CloudFormation rejects the table otherwise)
    defined = {d["AttributeName"] for d in props["AttributeDefinitions"]}
    keys = {k["AttributeName"] for k in props["KeySchema"]}
    for index in props.get("GlobalSecondaryIndexes", []):
        keys |= {k["AttributeName"] for k in index["KeySchema"]}
    assert keys <= defined
