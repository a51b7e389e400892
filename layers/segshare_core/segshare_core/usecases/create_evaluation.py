"""Create an evaluation of a shared segment (API.md "Evaluations"): 201 finished, or 202 handed off.

The cost model decides: an evaluation predicted to finish well inside API Gateway's 29 s runs
here (201 with the finished evaluation); a larger one is handed to the evaluation workflow and
answered at once (202, RUNNING). An ``Idempotency-Key`` makes a repeat within an hour answer
with the first result without evaluating again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from segshare_core.api import SharedSegmentScope
from segshare_core.domain.evaluations import Evaluation
from segshare_core.idempotency import IdempotentOperation, share_key_scope
from segshare_core.observability import metrics, tracer
from segshare_core.workflows import evaluate_inline, handoff


@dataclass(frozen=True, slots=True)
class CreatedEvaluation:
    """The evaluation as answered, and whether it was handed to the workflow (202) or finished here (201)."""

    evaluation: Evaluation
    handed_off: bool


def _to_dict(created: CreatedEvaluation) -> dict[str, Any]:
    return {"evaluation": dataclasses.asdict(created.evaluation), "handedOff": created.handed_off}


def _from_dict(stored: dict[str, Any]) -> CreatedEvaluation:
    return CreatedEvaluation(Evaluation(**stored["evaluation"]), bool(stored["handedOff"]))


#: The handler registers its Lambda context here on every invocation (``register_lambda_context``).
#: "evaluations.create" (was "evaluate.create_evaluation", whose records held the HTTP body): a
#: new key space, so a record the earlier code wrote is never read as a domain object.
idempotency = IdempotentOperation[CreatedEvaluation]("evaluations.create", _to_dict, _from_dict)


@tracer.capture_method
def create_evaluation(scope: SharedSegmentScope, idempotency_key: str | None) -> CreatedEvaluation:
    """Evaluate ``scope.shared`` now, or hand it to the workflow when the cost model calls it large.

    Returns the finished evaluation (SUCCEEDED or FAILED, ``handed_off`` False) or the RUNNING
    one the workflow took (``handed_off`` True). Raises RetryLater (503) when a dependency is
    throttled (nothing is cached for the key), Conflict ``IDEMPOTENCY_IN_PROGRESS`` (409) while
    a first call with the same key still runs.
    """
    shared = scope.shared

    def work() -> CreatedEvaluation:
        running = handoff.hand_off(scope.company_id, shared, "manual")
        if running is not None:
            metrics.add_metric(name="EvaluationsHandedOff", unit="Count", value=1)
            return CreatedEvaluation(running, handed_off=True)
        done = evaluate_inline.evaluate(scope.company_id, shared, "manual")
        metrics.add_metric(name="Evaluations", unit="Count", value=1)
        return CreatedEvaluation(done, handed_off=False)

    key_scope = share_key_scope(scope.company_id, scope.project_id, scope.caller.user_id, shared)
    return idempotency(work, idempotency_key, key_scope)
