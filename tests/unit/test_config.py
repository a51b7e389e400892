"""The environment: a missing variable stops the import with its name, and the template sets what the service reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local import template as tpl
from segshare_core import config

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = tpl.load()
GLOBALS = set(TEMPLATE.body["Globals"]["Function"]["Environment"]["Variables"])
FUNCTIONS = TEMPLATE.of_type("AWS::Serverless::Function")
#: Read by Powertools, not by us.
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


def _import_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import the config module in a fresh interpreter with exactly ``env`` (as a cold Lambda would)."""
    env = {**env, "PYTHONPATH": str(ROOT / "layers" / "segshare_core"), "PATH": os.environ.get("PATH", "")}
    code = "import segshare_core.config as c; print(c.PROFILES_TABLE)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("missing", ["DIRECTORY_TABLE", "PROFILES_TABLE", "DATA_BUCKET", "DEVICE_INDEX_SHARDS"])
def test_a_missing_variable_stops_the_import_with_its_name(missing: str) -> None:
    # Given the template's environment, which imports
    full = tpl.environment(TEMPLATE)
    imported = _import_config(full)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "ProfilesTable"
    # When the config is imported without one variable every function needs
    done = _import_config({k: v for k, v in full.items() if k != missing})
    # Then the import fails and says which variable (no made-up default table name is used)
    assert done.returncode != 0
    assert "ConfigurationError" in done.stderr
    assert missing in done.stderr


def test_a_malformed_number_stops_the_import_with_its_name() -> None:
    # Given a shard count that is not a number
    env = {**tpl.environment(TEMPLATE), "DEVICE_INDEX_SHARDS": "many"}
    # When the config is imported
    done = _import_config(env)
    # Then the import fails with a configuration error that names it
    assert done.returncode != 0
    assert "ConfigurationError" in done.stderr
    assert "DEVICE_INDEX_SHARDS" in done.stderr


def test_every_variable_without_a_default_is_set_for_every_function() -> None:
    # Given the variables the settings model requires
    required = {name for name, field in config.Settings.model_fields.items() if field.is_required()}
    # Then the template's Globals set each of them (so no function starts without one)
    assert required
    assert required <= GLOBALS


def test_the_template_sets_only_variables_the_service_reads() -> None:
    # Given every variable any function of the template is given
    given = set(GLOBALS)
    for resource in FUNCTIONS.values():
        given |= set(resource["Properties"].get("Environment", {}).get("Variables", {}))
    # Then each is a field of the settings model (or Powertools'): a misspelt name fails here
    assert given - POWERTOOLS <= set(config.Settings.model_fields)
    # And each variable only some functions get is given to at least one
    assert {"EXPORT_QUEUE_URL", "IMPORT_STATE_MACHINE_ARN", "EVALUATION_STATE_MACHINE_ARN"} <= given - GLOBALS


def test_a_one_function_variable_is_named_when_this_function_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function that was not given the export queue
    monkeypatch.setattr(config, "EXPORT_QUEUE_URL", None)
    # When code that needs it asks
    with pytest.raises(config.ConfigurationError, match="EXPORT_QUEUE_URL"):
        config.require("EXPORT_QUEUE_URL")
    # Then it is named; and where it is set, its value is returned
    monkeypatch.setattr(config, "EXPORT_QUEUE_URL", "https://queue.example/q")
    assert config.require("EXPORT_QUEUE_URL") == "https://queue.example/q"


def test_a_download_link_never_lives_longer_than_fifteen_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a link lifetime set longer than API.md allows
    monkeypatch.setenv("DOWNLOAD_URL_SECONDS", "3600")
    # When the settings are read
    # Then it is cut to 900 seconds; a shorter one is kept
    assert config.load().DOWNLOAD_URL_SECONDS == 900
    monkeypatch.setenv("DOWNLOAD_URL_SECONDS", "60")
    assert config.load().DOWNLOAD_URL_SECONDS == 60


def test_an_inline_threshold_of_zero_hands_every_evaluation_to_the_workflow() -> None:
    # The 202 tests and the console's running-evaluation screen start stacks with 0 (it was refused).
    done = _import_config({**tpl.environment(TEMPLATE), "EVALUATION_INLINE_SECONDS": "0"})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("value", ["0", "-4", "many", "1000"])
def test_a_children_count_that_no_map_can_run_stops_the_import_with_its_name(value: str) -> None:
    # Given a workflow children count below 1, not a number, or past the 3 digits a work object names it with
    env = {**tpl.environment(TEMPLATE), "EVALUATION_CHILDREN": value}
    # When the config is imported
    done = _import_config(env)
    # Then the import fails with a configuration error that names it
    assert done.returncode != 0
    assert "ConfigurationError" in done.stderr
    assert "EVALUATION_CHILDREN" in done.stderr


def test_the_template_groups_its_storage_shards_into_fewer_workflow_children() -> None:
    # Given the template's defaults as the functions get them (issue 16: partitions for the write bound)
    env = tpl.environment(TEMPLATE)
    done = _import_config(env)
    assert done.returncode == 0, done.stderr
    shards, children = int(env["DEVICE_INDEX_SHARDS"]), int(env["EVALUATION_CHILDREN"])
    # Then 10M rows of 2 index entries (2 WCU each) fit 15 minutes under 1,000 WCU a partition,
    # and the evaluation Maps run fewer children than there are shards, each child a whole number of them
    assert shards * 1_000 * 15 * 60 >= 10_000_000 * 2 * 2
    assert 1 <= children < shards
    assert shards % children == 0
    # And only the plan is given the children count: the children read it from the run's context
    given = [name for name, r in FUNCTIONS.items() if "EVALUATION_CHILDREN" in r["Properties"].get("Environment", {}).get("Variables", {})]
    assert given == ["EvaluationPlanFunction"]
