"""``e2e:`` one evaluation at 20k x 20k through the evaluation workflow vs the in-request path, same run.

The workflow runs as the local stack runs it: ``statemachines/evaluation.asl.json`` in moto's
Step Functions interpreter with its Lambda tasks bridged to the real handlers (in-process
moto here, so the figure leaves out the local stack's HTTP). The in-request path is
``evaluate_inline.evaluate``, what a 201 runs. Both evaluate the same share over the same data
(bench (c)'s: 20k profiles a side, one Android device each, 30% shared), and both answers
are checked against a brute force computed here from the generated ids. Wall clock on a
shared 2-core machine; moto's interpreter adds ~10 ms a Lambda task, and children that run
in parallel on AWS share these two cores.
"""

from __future__ import annotations

import random
import time
from typing import Any

import boto3
from moto import mock_aws

from bench import end_to_end
from local import template as tpl
from local.lambdas import bridge_lambda_invoke
from local.resources import create_all
from local.schedule import create_state_machines
from segshare_core import config
from segshare_core.domain.segments import SharedSegment
from segshare_core.store import evaluations, results
from segshare_core.workflows import evaluate_inline, evaluate_sharded, handoff

INTERPRETER = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
COMPANY, SOURCE_PROJECT, TARGET_PROJECT = end_to_end.COMPANY, end_to_end.SOURCE_PROJECT, end_to_end.TARGET_PROJECT


def _brute_force() -> list[str]:
    """The target profiles whose device is a source device, from the ids ``end_to_end._load`` generates (same seed, same draws)."""
    rng = random.Random(7)
    source_ids = [f"{rng.getrandbits(64):016x}" for _ in range(end_to_end.SOURCE)]
    common = int(end_to_end.TARGET * end_to_end.OVERLAP)
    target_ids = source_ids[:common] + [f"{rng.getrandbits(64):016x}" for _ in range(end_to_end.TARGET - common)]
    source = {raw.lstrip("0") or "0" for raw in source_ids}
    return sorted(f"p-{n:06d}" for n, raw in enumerate(target_ids) if (raw.lstrip("0") or "0") in source)


def _workflow(arn: str, shared: SharedSegment) -> tuple[str, list[str]]:
    running = evaluations.start(COMPANY, shared, "manual")
    shared_id = shared.shared_segment_id
    run = evaluate_sharded.Run(
        companyId=COMPANY,
        projectId=TARGET_PROJECT,
        sharedSegmentId=shared_id,
        evaluationId=running.evaluation_id,
        generation=shared.generation,
    )
    execution = handoff.start(run)
    sfn = boto3.client("stepfunctions")
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING" and ("output" in described or "error" in described):
            break
        time.sleep(0.2)
    done = evaluations.get(COMPANY, shared, running.evaluation_id)
    assert done is not None
    key = evaluations.result_key_of(COMPANY, shared, running.evaluation_id)
    return f"{described['status']}/{done.status}", results.get(key) if key else []


def _in_request(shared: SharedSegment) -> tuple[str, list[str]]:
    done = evaluate_inline.evaluate(COMPANY, shared, "manual")
    key = evaluations.result_key_of(COMPANY, shared, done.evaluation_id)
    return done.status, results.get(key) if key else []


def run() -> None:
    expected = _brute_force()
    with mock_aws(config=INTERPRETER):  # type: ignore[arg-type,call-overload]
        template = tpl.load()
        create_all(template)
        bridge_lambda_invoke(template.functions())
        arn = create_state_machines(template)["EvaluationStateMachine"]
        shared = end_to_end.seed_share()
        start = time.perf_counter()
        inline_status, inline_ids = _in_request(shared)
        inline_seconds = time.perf_counter() - start
        start = time.perf_counter()
        flow_status, flow_ids = _workflow(arn, shared)
        flow_seconds = time.perf_counter() - start
    print(f"e2e: one evaluation, {end_to_end.SOURCE:,} x {end_to_end.TARGET:,} profiles, moto in-process (wall clock, shared machine)")
    print(f"    in-request (201 path): {inline_seconds:6.1f} s  {inline_status}  matched {len(inline_ids):,}")
    shards = config.DEVICE_INDEX_SHARDS
    children = evaluate_sharded.plan_children(shards, config.EVALUATION_CHILDREN)
    print(
        f"    workflow (202 path):   {flow_seconds:6.1f} s  {flow_status}  matched {len(flow_ids):,}  "
        f"({children} + {children} children over {shards} shards, on 2 cores)"
    )
    same = inline_ids == expected and flow_ids == expected
    print(
        f"e2e: workflow {flow_seconds:.1f} s vs in-request {inline_seconds:.1f} s ({flow_seconds / inline_seconds:.2f}x) at 20k x 20k; "
        f"both equal the brute force ({len(expected):,} profiles): {'yes' if same else 'NO'}"
    )
