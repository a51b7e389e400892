"""``schedule:`` the scheduled evaluation at 10,000 live shares across 100 companies (issue 15).

Prints, on moto in-process: the largest state (input or output bytes of any history event)
of the template's state machine cut after its list step over the 10,000 shares, and of the
whole machine over the 100 real shares; the list step's time and DynamoDB read requests, at
100 and at 10,000 live shares and again after 20,000 sharing-history rows were added (reads
must grow with live shares, not history); and the read requests of a tick over the 100 real
shares when nothing changed (every share reused) against one when every project changed
(every share evaluated in full), per share and scaled to the 10,000. Requests are counted
with a botocore hook on every pynamodb client; only reads are counted (GetItem,
BatchGetItem, Query, Scan).
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws
from moto.core.config import DefaultConfig

from local import template as tpl
from local.lambdas import bridge_lambda_invoke
from local.resources import create_all
from local.schedule import create_state_machines, start_tick
from segshare_core.domain.devices import Device
from segshare_core.domain.profiles import Profile
from segshare_core.domain.segments import shared_segment_id
from segshare_core.domain.sharing import SavePlan
from segshare_core.store import directory, keys, profiles, segments
from segshare_core.store.models import ALL_MODELS, HistoryRow, connection
from segshare_core.workflows import scheduled_evaluation
from tests.support.shares import seed_live_shares

COMPANIES, LIVE = 100, 10_000
REAL_COMPANIES, PROJECTS, SEGMENTS, PROFILES = 5, 5, 5, 30  # 5 companies x 5 segments x 4 targets = 100 real shares
HISTORY = 20_000
READS = {"GetItem", "BatchGetItem", "Query", "Scan"}
INTERPRETER: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@contextmanager
def _reads() -> Iterator[Counter[str]]:
    sent: Counter[str] = Counter()

    def on_send(event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation in READS:
            sent[operation] += 1

    clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [connection().client]}
    for client in clients.values():
        client.meta.events.register("before-send.dynamodb", on_send)
    try:
        yield sent
    finally:
        for client in clients.values():
            client.meta.events.unregister("before-send.dynamodb", on_send)


def _profiles(project: str, n: int, salt: str = "") -> list[Profile]:
    """``n`` profiles; device ids repeat across a company's projects (by the profile's number), so shares match."""
    return [
        Profile(f"{project}-{salt}{i}", {"country": "IE"}, (Device("android", f"{zlib.crc32(f'{salt}{i % 20}'.encode()):x}"),))
        for i in range(n)
    ]


def _real_companies() -> list[dict[str, Any]]:
    """5 companies, each 5 projects of 30 profiles, 5 rule segments of p0 shared with p1-p4: 100 live shares."""
    items = []
    for c in range(REAL_COMPANIES):
        company = f"co-{c:03d}"
        directory.create_company(company, company, True)
        key = directory.company_key(company)
        projects = [f"{company}-p{p}" for p in range(PROJECTS)]
        for project in projects:
            directory.create_project(company, project, project)
            profiles.upsert_profiles(company, project, key, _profiles(project, PROFILES))
        targets = frozenset(projects[1:])
        for s in range(SEGMENTS):
            rule = {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}
            segment = segments.create_segment(company, projects[0], f"s-{s}", f"s-{s}", rule=rule, profile_ids=None, user_id="bench")
            segments.save_sharing(company, segment, SavePlan(targets, targets, frozenset()), "bench")
            for target in sorted(targets):
                shared = segments.get_shared_in(company, target, shared_segment_id(company, projects[0], f"s-{s}", target))
                assert shared is not None
                items.append(
                    {
                        "companyId": company,
                        "projectId": target,
                        "sharedSegmentId": shared.shared_segment_id,
                        "generation": shared.generation,
                    }
                )
    return items


def _filler_shares(real: int) -> None:
    """Live shares up to LIVE across the other COMPANIES, as the schedule's tests seed them (tests/support/shares.py)."""
    base, extra = divmod(LIVE - real, COMPANIES - REAL_COMPANIES)
    seed_live_shares({f"co-{c:03d}": base + (1 if c - REAL_COMPANIES < extra else 0) for c in range(REAL_COMPANIES, COMPANIES)})


def _history(rows: int) -> None:
    with HistoryRow.batch_write() as batch:
        for n in range(rows):
            company = f"co-{n % COMPANIES:03d}"
            pk = keys.history_pk(company, f"{company}-p0", f"s-{n % 50}")
            batch.save(HistoryRow(pk, keys.history_sk("2026-01-01T00:00:00.000Z", n), user_id="bench", added=[f"{company}-p1"], removed=[]))


def _list_step(tick: str) -> tuple[dict[str, Any], int, float]:
    with _reads() as sent:
        start = time.perf_counter()
        listed = scheduled_evaluation.write_due_list(tick)
        seconds = time.perf_counter() - start
    return listed, sum(sent.values()), seconds


def _tick(items: list[dict[str, Any]], tick: str) -> tuple[list[int], Counter[str]]:
    """Each item evaluated as the Map's child would: (reads per share, outcomes)."""
    per_share, outcomes = [], Counter[str]()
    for item in items:
        with _reads() as sent:
            result = scheduled_evaluation.evaluate_scheduled(scheduled_evaluation.DueShare.model_validate(item), tick)
        per_share.append(sum(sent.values()))
        outcomes["reused" if result.get("reused") else str(result["status"]).lower()] += 1
    return per_share, outcomes


def _largest_state(execution: str) -> int:
    sfn = boto3.client("stepfunctions")
    sizes = [0]
    for ev in sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]:
        for details in ev.values():
            if isinstance(details, dict):
                sizes += [len(str(details[k]).encode()) for k in ("input", "output") if k in details]
    return max(sizes)


def _run(arn: str, tick: str) -> tuple[dict[str, Any], float]:
    sfn = boto3.client("stepfunctions")
    start = time.perf_counter()
    execution = start_tick(arn, tick)
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING" and ("output" in described or "error" in described):
            return described, time.perf_counter() - start
        time.sleep(0.2)


def _list_only(definition: str) -> str:
    asl = json.loads(definition)
    first = asl["StartAt"]
    asl["States"][first].pop("Next", None)
    asl["States"][first]["End"] = True
    keep = {first} | {c["Next"] for c in asl["States"][first].get("Catch", [])}
    asl["States"] = {k: v for k, v in asl["States"].items() if k in keep}
    return json.dumps(asl)


def run() -> None:
    sys.setrecursionlimit(30_000)  # moto's Distributed Map recurses once per item (TOOLING-NOTES-distributed-map.md)
    with mock_aws(config=INTERPRETER):
        template = tpl.load()
        create_all(template)
        bridge_lambda_invoke(template.functions())
        arn = create_state_machines(template)["ScheduledEvaluationStateMachine"]
        real = _real_companies()

        # The whole machine over the 100 real shares: largest state with the Map running
        whole, whole_seconds = _run(arn, "2026-11-28T17:00:00Z")
        whole_state = _largest_state(whole["executionArn"])
        small, small_reads, _ = _list_step("2026-11-28T17:30:00Z")

        # Ticks over the real shares: first (in full), unchanged (reused), every project changed (in full)
        _tick(real, "2026-11-28T18:00:00Z")
        unchanged, unchanged_outcomes = _tick(real, "2026-11-28T18:15:00Z")
        for c in range(REAL_COMPANIES):
            company = f"co-{c:03d}"
            key = directory.company_key(company)
            for p in range(PROJECTS):
                profiles.upsert_profiles(company, f"{company}-p{p}", key, _profiles(f"{company}-p{p}", 1, salt="new"))
        changed, changed_outcomes = _tick(real, "2026-11-28T18:30:00Z")

        # The list step at 10,000 live shares, then with 20,000 history rows more
        _filler_shares(len(real))
        listed, list_reads, list_seconds = _list_step("2026-11-28T19:00:00Z")
        _history(HISTORY)
        _, history_reads, _ = _list_step("2026-11-28T19:15:00Z")

        (scheduled,) = [m for m in tpl.state_machines(template) if m.logical_id == "ScheduledEvaluationStateMachine"]
        boto3.client("stepfunctions").update_state_machine(stateMachineArn=arn, definition=_list_only(scheduled.definition))
        cut, cut_seconds = _run(arn, "2026-11-28T19:30:00Z")
        cut_state = _largest_state(cut["executionArn"])

    scale = listed["count"] / len(real)
    print(f"schedule figure: {listed['count']:,} live shares across {listed['companies']} companies, moto in-process")
    print(f"    whole machine, {small['count']} real shares: {whole['status']}, largest state {whole_state:,} B, {whole_seconds:.1f} s")
    print(
        f"    machine cut after its list step, {listed['count']:,} shares: {cut['status']}, "
        f"largest state {cut_state:,} B, {cut_seconds:.1f} s"
    )
    print(
        f"    list step reads: {small_reads} at {small['count']} live shares, {list_reads} at {listed['count']:,} "
        f"({list_seconds:.1f} s in-process), {history_reads} after +{HISTORY:,} history rows"
    )
    print(f"    tick, nothing changed: {dict(unchanged_outcomes)}; reads per share max {max(unchanged)}, total {sum(unchanged):,}")
    print(f"    tick, every project changed: {dict(changed_outcomes)}; reads per share max {max(changed)}, total {sum(changed):,}")
    print(
        f"schedule: {listed['count']:,} live shares / {listed['companies']} companies: largest state {max(whole_state, cut_state):,} B "
        f"(target < 65,536); list step {list_reads} reads, {list_seconds:.1f} s ({history_reads} with +{HISTORY:,} history rows); "
        f"unchanged share <= {max(unchanged)} reads (target <= 5); tick at {listed['count']:,}: unchanged "
        f"{sum(unchanged) * scale:,.0f} vs all changed {sum(changed) * scale:,.0f} reads "
        f"({sum(changed) / max(1, sum(unchanged)):.1f}x; scaled from {len(real)} real shares)"
    )
