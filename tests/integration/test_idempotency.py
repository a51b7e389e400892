"""`Idempotency-Key` on POST evaluations and POST exports, through the real handlers inside moto.

acme (feature on): A's segment s-irish is shared with B and C; u-admin is the company admin,
u-pb the project admin of B. globex is another company whose own share has the same shape.
A repeat with the same key returns the first response and does the work once; another
caller, project or company with the same key never gets that response.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.persistence import dynamodb as powertools_dynamodb

from local import template as tpl
from local.lambdas import LambdaContext, load_module
from segshare_core.domain.errors import RetryLater
from segshare_core.workflows import evaluate_inline
from tests.integration import hardening_world
from tests.integration.conftest import Response, assert_error, event, handler_for
from tests.integration.hardening_world import (
    ADMIN,
    GLOBEX_ADMIN,
    GLOBEX_SHARED,
    PB,
    SHARED_B,
    SHARED_C,
    World,
)

functions, world = hardening_world.functions, hardening_world.world  # this module's fixtures


# ------------------------------------------------------------------ evaluations


def test_a_repeated_evaluation_returns_the_first_response_and_evaluates_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []
    real = evaluate_inline.evaluate

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(args[1].shared_segment_id)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_inline, "evaluate", counted)
    # When the company admin posts the same evaluation three times with one key
    first = world.evaluate("key-1")
    again = [world.evaluate("key-1") for _ in range(2)]
    # Then every answer is the first one, and one evaluation exists
    assert first.status == 201, first.json
    assert first.json["status"] == "SUCCEEDED"
    assert [(r.status, r.json) for r in again] == [(201, first.json)] * 2
    assert runs == [SHARED_B]
    assert world.evaluation_ids() == [first.json["evaluationId"]]
    # And another key is another evaluation
    other = world.evaluate("key-2")
    assert other.json["evaluationId"] != first.json["evaluationId"]
    assert len(world.evaluation_ids()) == 2


def test_without_the_header_every_post_evaluates(world: World) -> None:
    first, second = world.evaluate(None), world.evaluate(None)
    assert first.status == second.status == 201
    assert first.json["evaluationId"] != second.json["evaluationId"]
    assert len(world.evaluation_ids()) == 2


def test_another_caller_project_or_company_with_the_same_key_is_never_answered_from_the_cache(world: World) -> None:
    # Given the company admin's evaluation of B's share under a key
    first = world.evaluate("shared-key")
    assert first.status == 201
    # When B's project admin posts the same request with the same key
    by_pb = world.evaluate("shared-key", who=PB)
    # Then it gets an evaluation of its own
    assert by_pb.status == 201, by_pb.json
    assert by_pb.json["evaluationId"] != first.json["evaluationId"]
    assert len(world.evaluation_ids()) == 2
    # When the company admin uses the key for C's share of the same segment
    in_c = world.evaluate("shared-key", project="proj-c", shared=SHARED_C)
    # Then C gets its own evaluation, with C's own shared segment id
    assert in_c.status == 201, in_c.json
    assert in_c.json["sharedSegmentId"] == SHARED_C
    assert world.evaluation_ids(project="proj-c", shared=SHARED_C) == [in_c.json["evaluationId"]]
    # When another company's admin uses the key on its own share
    globex = world.evaluate("shared-key", who=GLOBEX_ADMIN, project="proj-y", shared=GLOBEX_SHARED)
    assert globex.status == 201, globex.json
    assert globex.json["evaluationId"] not in {first.json["evaluationId"], by_pb.json["evaluationId"], in_c.json["evaluationId"]}
    # And it cannot reach acme's cached response through acme's path either: 404, as for any other request
    assert_error(world.evaluate("shared-key", who=GLOBEX_ADMIN), 404, "NOT_FOUND")
    assert len(world.evaluation_ids()) == 2


def test_a_caller_who_lost_access_gets_404_not_the_cached_response(world: World) -> None:
    # Given B's project admin evaluated under a key
    assert world.evaluate("pb-key", who=PB).status == 201
    # When its grant moves to C and it repeats the request
    world.ok("directory", "put_user", path={"userId": "u-pb"}, body={"role": "project_admin", "projectIds": ["proj-c"]})
    # Then access is checked first: 404
    assert_error(world.evaluate("pb-key", who=PB), 404, "NOT_FOUND")


def test_a_failed_call_is_not_cached_and_a_retry_with_the_key_does_the_work(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    real = evaluate_inline.evaluate
    calls: list[int] = []

    def busy_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RetryLater()
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_inline, "evaluate", busy_once)
    # When the first call is throttled
    throttled = world.evaluate("retry-key")
    assert_error(throttled, 503, "RETRY_LATER")
    assert throttled.headers["retry-after"].isdigit()
    # Then the retry with the same key evaluates, and a repeat after that is answered from the record
    retried = world.evaluate("retry-key")
    assert retried.status == 201, retried.json
    assert world.evaluate("retry-key").json == retried.json
    assert calls == [1, 1]
    assert world.evaluation_ids() == [retried.json["evaluationId"]]


def test_a_repeat_while_the_first_call_runs_is_409_in_progress(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # A second warm copy of the function receives the repeat while the first is still evaluating.
    second_container = handler_for("EvaluateFunction")
    real = evaluate_inline.evaluate
    seen: list[Response] = []

    def slow(*args: Any, **kwargs: Any) -> Any:
        if not seen:
            ev = event("create_evaluation", claims=ADMIN, path={"projectId": "proj-b", "sharedSegmentId": SHARED_B})
            ev["headers"]["idempotency-key"] = "slow-key"
            seen.append(second_container(ev))
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_inline, "evaluate", slow)
    first = world.evaluate("slow-key")
    assert first.status == 201, first.json
    assert_error(seen[0], 409, "IDEMPOTENCY_IN_PROGRESS")
    assert world.evaluation_ids() == [first.json["evaluationId"]]


class _Killed(BaseException):
    """Stands for the invocation being stopped mid-way (a timeout): nothing of ours runs after it."""


@dataclass
class ShortContext(LambdaContext):
    remaining_ms: int = 29_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_call_that_timed_out_stops_blocking_its_key_when_its_invocation_would_have_ended(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    function = next(f for f in tpl.load().functions() if f.logical_id == "EvaluateFunction")
    module = load_module(function)
    ev = event("create_evaluation", claims=ADMIN, path={"projectId": "proj-b", "sharedSegmentId": SHARED_B})
    ev["headers"]["idempotency-key"] = "timeout-key"

    def killed(*_args: Any, **_kwargs: Any) -> Any:
        raise _Killed

    # Given an invocation with 3 s left that is stopped in the middle of the evaluation
    monkeypatch.setattr(evaluate_inline, "evaluate", killed)
    with pytest.raises(_Killed):
        module.lambda_handler(ev, ShortContext(function_name="EvaluateFunction", remaining_ms=3000))
    monkeypatch.undo()
    # Then right away the key is still in progress
    assert_error(Response(module.lambda_handler(ev, ShortContext(function_name="EvaluateFunction"))), 409, "IDEMPOTENCY_IN_PROGRESS")
    # And once that invocation's time is up (the clock Powertools' conditional put reads, moved
    # 3.2 s on, rather than a sleep), a retry does the work
    later = dt.datetime.now() + dt.timedelta(seconds=3.2)
    monkeypatch.setattr(powertools_dynamodb, "dt", SimpleNamespace(datetime=SimpleNamespace(now=lambda: later)))
    retried = Response(module.lambda_handler(ev, ShortContext(function_name="EvaluateFunction")))
    assert retried.status == 201, retried.json
    assert world.evaluation_ids() == [retried.json["evaluationId"]]


@pytest.mark.parametrize("key", ["has space", "x" * 256, "ünï"])
def test_a_malformed_key_is_422_and_nothing_runs(world: World, key: str) -> None:
    assert_error(world.evaluate(key), 422, "VALIDATION_ERROR")
    assert world.evaluation_ids() == []


# ------------------------------------------------------------------ exports


def test_a_repeated_export_returns_the_first_response_and_exports_once(world: World) -> None:
    body = {"format": "jsonl", "attributes": ["country"]}
    first = world.export("exp-key", body)
    again = world.export("exp-key", body)
    assert first.status == 202, first.json
    assert (again.status, again.json) == (202, first.json)
    assert world.export_ids() == [first.json["exportId"]]
    assert world.queued() == 1
    # Without the header, or with another key, it is a new export
    assert world.export(None, body).json["exportId"] != first.json["exportId"]
    assert world.export("exp-key-2", body).json["exportId"] != first.json["exportId"]
    assert len(world.export_ids()) == 3
    assert world.queued() == 3


def test_the_same_export_key_with_another_body_is_refused_and_nothing_is_created(world: World) -> None:
    first = world.export("body-key", {"format": "csv"})
    assert first.status == 202
    # An equivalent body (the defaults spelt out or left out) is the same request
    assert world.export("body-key", {}).json == first.json
    assert_error(world.export("body-key", {"format": "jsonl"}), 422, "IDEMPOTENCY_KEY_REUSED")
    assert world.export_ids() == [first.json["exportId"]]
    assert world.queued() == 1


def test_another_caller_or_project_with_the_same_export_key_gets_its_own_export(world: World) -> None:
    first = world.export("k")
    by_pb = world.export("k", who=PB)
    in_c = world.export("k", project="proj-c")
    assert first.status == by_pb.status == in_c.status == 202
    assert len({first.json["exportId"], by_pb.json["exportId"], in_c.json["exportId"]}) == 3
    assert len(world.export_ids()) == 2
    assert world.export_ids(project="proj-c") == [in_c.json["exportId"]]
    assert world.queued() == 3
