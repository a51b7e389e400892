"""Step Functions limits that moto 5.2.5's interpreter does not enforce, enforced as AWS does.

See ../shared/TOOLING-NOTES-distributed-map.md for what was measured. Three patches:

1. 25,000 history events (Step Functions quotas, "Maximum execution history size",
   https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html): AWS fails the
   execution with `States.Runtime`, cause "The execution reached the maximum number of history
   events (25000).", event 25,000 being the `ExecutionFailed`. moto let an Inline Map run to
   40,006 events and SUCCEED.
2. A Distributed Map whose children fail beyond `ToleratedFailureCount` /
   `ToleratedFailurePercentage` (both 0 by default) fails its Map Run with
   `States.ExceedToleratedFailureThreshold`
   (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html#maprun-fail-threshold).
   moto put null in the failed item's slot and SUCCEEDED. Timed-out items count as failed.
3. 256 KB execution input (quotas, "Maximum input or output size for a task, state, or
   execution": 256 KiB of UTF-8): `start_execution` with more is refused with
   ValidationException, as the API's length constraint on `input` gives. moto checked outputs only.

Applied by the local stack where it enables the interpreter (`local.schedule`) and by tests
that run state machines; remove each patch when moto does the same.
"""

from __future__ import annotations

import functools
from typing import Any

HISTORY_LIMIT = 25_000
INPUT_LIMIT_BYTES = 256 * 1024
HISTORY_CAUSE = "The execution reached the maximum number of history events ({limit})."
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
_TERMINAL = ("ExecutionFailed", "ExecutionSucceeded", "ExecutionAborted", "ExecutionTimedOut")


@functools.cache  # once per process: a second call does nothing
def apply() -> None:
    """Install the three patches in moto's Step Functions (once per process; idempotent)."""
    _limit_history()
    _fail_map_runs_past_tolerance()
    _limit_execution_input()


def _states_failure(env: Any, error_type: Any, cause: str, event_type: Any, *, plain_cause: bool = False) -> Exception:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    class _PlainCause(FailureEventException):
        """moto prefixes every States.Runtime cause with the state's name; AWS's history-quota cause has none."""

        def get_execution_failed_event_details(self) -> Any:
            return ExecutionFailedEventDetails(error=error_type.to_name(), cause=cause)

    details = EventDetails(executionFailedEventDetails=ExecutionFailedEventDetails(error=error_type.to_name(), cause=cause))  # type: ignore[typeddict-item]  # moto types it total; moto fills it the same way
    kind = _PlainCause if plain_cause else FailureEventException
    return kind(FailureEvent(env=env, error_name=StatesErrorName(typ=error_type), event_type=event_type, event_details=details))


class HistoryLimitReached(Exception):
    """Raised by the patched EventManager; turned into a States.Runtime failure by the state that added the event."""


def _limit_history() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    original_add = EventManager.add_event

    @functools.wraps(original_add)
    def add_event(self: EventManager, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
        # The next id is the event's number; the last number the quota allows goes to the failure.
        if getattr(event_type, "value", event_type) not in _TERMINAL and self._event_id_gen._next_id >= HISTORY_LIMIT:
            raise HistoryLimitReached(HISTORY_CAUSE.format(limit=HISTORY_LIMIT))
        return int(original_add(self, context, event_type, *args, **kwargs))

    original_eval = CommonStateField._eval_body

    @functools.wraps(original_eval)
    def _eval_body(self: CommonStateField, env: Any) -> None:
        try:
            original_eval(self, env)
        except HistoryLimitReached as reached:
            from moto.stepfunctions.parser.api import HistoryEventType

            runtime = StatesErrorNameType.StatesRuntime
            failure = _states_failure(env, runtime, str(reached), HistoryEventType.ExecutionFailed, plain_cause=True)
            raise failure from None

    EventManager.add_event = add_event  # type: ignore[method-assign]
    CommonStateField._eval_body = _eval_body  # type: ignore[method-assign]
    _ = FailureEventException  # imported so a moto upgrade that moves it fails here, at import


def _fail_map_runs_past_tolerance() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )

    original = DistributedIterationComponent._map_run

    @functools.wraps(original)
    def _map_run(self: DistributedIterationComponent, env: Any, eval_input: Any) -> None:
        original(self, env, eval_input)
        counter = eval_input.map_run_record.item_counter
        failed = counter.failed.get() + counter.timed_out.get()
        total = max(1, counter.total.get())
        count_limit = eval_input.tolerated_failure_count or 0
        percent_limit = eval_input.tolerated_failure_percentage or 0.0
        # moto hands 0 for a setting left out, so a 0 beside a set one is read as "not set"
        # (an explicit 0 next to the other setting is more lenient here than on AWS).
        over_count = failed > count_limit and (count_limit > 0 or percent_limit == 0)
        over_percent = 100.0 * failed / total > percent_limit and (percent_limit > 0 or count_limit == 0)
        if over_count or over_percent:
            env.stack.pop()  # the results with their null slots: a failed Map Run has no output
            raise _states_failure(
                env, StatesErrorNameType.StatesExceedToleratedFailureThreshold, THRESHOLD_CAUSE, HistoryEventType.MapRunFailed
            )

    DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]


def _limit_execution_input() -> None:
    from moto.stepfunctions.exceptions import ValidationException
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    for backend in (StepFunctionBackend, StepFunctionsParserBackend):
        original = backend.start_execution

        def start_execution(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            given = kwargs.get("execution_input", args[2] if len(args) > 2 else None)
            if given is not None and len(str(given).encode()) > INPUT_LIMIT_BYTES:
                raise ValidationException(
                    "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {INPUT_LIMIT_BYTES}"
                )
            return _original(self, *args, **kwargs)

        backend.start_execution = start_execution  # type: ignore[method-assign]
