"""Every environment variable the service reads, validated once at import (a pydantic-settings model).

Three kinds, by where template.yaml sets them:

- **Globals** (every function): the tables, the bucket, the shard count, the retention. Required:
  a missing or malformed one stops the import with its name (ConfigurationError), rather than
  the function running against a made-up table name.
- **One function's Environment**: the export queue and the two state machines, each set only on
  the functions that use it (in Globals, the state machines' ``!Ref`` would make a dependency
  cycle with the functions their definitions name). None where absent; ``require`` names the
  variable when code that needs it runs without it.
- **Tunables** with a default stated beside each (and, where one applies, its documented limit).

The tests, the local stack and the benchmarks set the template's variables before anything of
ours is imported (``local.in_process.prepare``, ``local.stack``), so they run with them too.
Module-level names (``config.PROFILES_TABLE``) are the values read; tests may monkeypatch them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

NonEmpty = Annotated[str, Field(min_length=1)]

#: API.md: a download link lives at most 15 minutes (a longer setting is cut to it).
MAX_DOWNLOAD_URL_SECONDS = 900


class ConfigurationError(RuntimeError):
    """A variable the service needs is missing or malformed; the message names each one."""


class Settings(BaseSettings):
    """The environment as the service reads it; field names are the variables' names, exactly."""

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True)

    # Globals: every function has them.
    DIRECTORY_TABLE: NonEmpty
    PROFILES_TABLE: NonEmpty
    DEVICE_INDEX_TABLE: NonEmpty
    SEGMENTS_TABLE: NonEmpty
    EVALUATIONS_TABLE: NonEmpty
    EXPORTS_TABLE: NonEmpty
    IMPORTS_TABLE: NonEmpty
    IDEMPOTENCY_TABLE: NonEmpty
    DATA_BUCKET: NonEmpty
    #: Shards of a project's profile and device-index partitions; keys write it in 3 digits.
    #: The storage partition count: DynamoDB serves 1,000 WCU/s a partition (issue 16's write bound).
    DEVICE_INDEX_SHARDS: Annotated[int, Field(ge=1, le=999)]
    #: Days an evaluation record (and a tick claim, a lease) is kept: the evaluations table's TTL.
    EVALUATION_RETENTION_DAYS: Annotated[int, Field(ge=1)]

    # One function's Environment each: None elsewhere (see ``require``).
    #: The export queue's URL (``!Ref ExportQueue``), so sending needs sqs:SendMessage alone.
    EXPORT_QUEUE_URL: NonEmpty | None = None
    #: The bulk import state machine (``!Ref ImportStateMachine``), started by the upload's S3 event.
    IMPORT_STATE_MACHINE_ARN: NonEmpty | None = None
    #: The evaluation workflow (``!Ref EvaluationStateMachine``), started for a large evaluation.
    EVALUATION_STATE_MACHINE_ARN: NonEmpty | None = None

    # Tunables.
    #: Lifetime of a presigned download link, in seconds: 900 and at most 900.
    DOWNLOAD_URL_SECONDS: Annotated[int, Field(ge=1), AfterValidator(lambda s: min(s, MAX_DOWNLOAD_URL_SECONDS))] = 900
    #: Largest request body accepted, in bytes (API Gateway allows more; nothing here needs it).
    MAX_BODY_BYTES: Annotated[int, Field(ge=1)] = 1_048_576
    #: An evaluation predicted to take longer than this (seconds) is handed to the workflow (202);
    #: 0 hands every evaluation to it (the tests and the console's 202 screen use that).
    EVALUATION_INLINE_SECONDS: Annotated[float, Field(ge=0)] = 5.0
    #: Items a second the cost model expects one in-request evaluation to read and parse on the
    #: engine it runs on. None (the template sets none) is Lambda on DynamoDB,
    #: ``domain.scale.ITEMS_PER_SECOND``; the local stack sets moto's far lower figure, so an
    #: evaluation that would pass its 29 s there is handed off as it would be on AWS.
    EVALUATION_ITEMS_PER_SECOND: Annotated[int, Field(ge=1)] | None = None
    #: Most shares of one company a schedule tick evaluates; the rest rotate into later ticks.
    SCHEDULE_MAX_PER_COMPANY: Annotated[int, Field(ge=1)] = 2000
    #: Children of each Map of the evaluation workflow, whatever DEVICE_INDEX_SHARDS is (a child
    #: takes several shards; fewer children than asked when there are fewer shards:
    #: ``evaluate_sharded.plan_children``). Work objects name a child in 3 digits.
    EVALUATION_CHILDREN: Annotated[int, Field(ge=1, le=999)] = 16


def load() -> Settings:
    """The settings from ``os.environ`` now; ConfigurationError naming every missing or malformed variable."""
    try:
        return Settings()  # type: ignore[call-arg]  # the values come from the environment, not arguments
    except ValidationError as exc:
        # Names and reasons only: an input value may be long, and says nothing the name does not.
        problems = "; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors())
        raise ConfigurationError(f"environment variables missing or malformed (template.yaml sets them): {problems}") from None


_settings = load()

DIRECTORY_TABLE = _settings.DIRECTORY_TABLE
PROFILES_TABLE = _settings.PROFILES_TABLE
DEVICE_INDEX_TABLE = _settings.DEVICE_INDEX_TABLE
SEGMENTS_TABLE = _settings.SEGMENTS_TABLE
EVALUATIONS_TABLE = _settings.EVALUATIONS_TABLE
EXPORTS_TABLE = _settings.EXPORTS_TABLE
IMPORTS_TABLE = _settings.IMPORTS_TABLE
IDEMPOTENCY_TABLE = _settings.IDEMPOTENCY_TABLE
DATA_BUCKET = _settings.DATA_BUCKET
DEVICE_INDEX_SHARDS = _settings.DEVICE_INDEX_SHARDS
EVALUATION_RETENTION_DAYS = _settings.EVALUATION_RETENTION_DAYS
EXPORT_QUEUE_URL = _settings.EXPORT_QUEUE_URL
IMPORT_STATE_MACHINE_ARN = _settings.IMPORT_STATE_MACHINE_ARN
EVALUATION_STATE_MACHINE_ARN = _settings.EVALUATION_STATE_MACHINE_ARN
DOWNLOAD_URL_SECONDS = _settings.DOWNLOAD_URL_SECONDS
MAX_BODY_BYTES = _settings.MAX_BODY_BYTES
EVALUATION_INLINE_SECONDS = _settings.EVALUATION_INLINE_SECONDS
EVALUATION_ITEMS_PER_SECOND = _settings.EVALUATION_ITEMS_PER_SECOND
SCHEDULE_MAX_PER_COMPANY = _settings.SCHEDULE_MAX_PER_COMPANY
EVALUATION_CHILDREN = _settings.EVALUATION_CHILDREN

OneFunctionVariable = Literal["EXPORT_QUEUE_URL", "IMPORT_STATE_MACHINE_ARN", "EVALUATION_STATE_MACHINE_ARN"]


def require(name: OneFunctionVariable) -> str:
    """The value of a variable only some functions are given; ConfigurationError naming it when this one was not.

    Read at the call (a monkeypatched value counts). template.yaml sets it in the Environment
    of each function whose code reaches here.
    """
    value: str | None = globals()[name]
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set for this function (template.yaml: its Environment)")
    return value
