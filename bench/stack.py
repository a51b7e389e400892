"""`stack:` The local stack's cost as data and requests grow: load time and resident memory (issue 10, item 5).

Starts ``python -m local`` (demo data, so a company, its projects and an admin exist) as a
subprocess (``tests.support.stacks.start_stack``), and reads its resident set size (VmRSS) from /proc:

1. Load ``PROFILES`` profiles into Alpha Quest and as many into Beta Racer through
   ``PUT /v1/projects/{projectId}/profiles``, 500 a call (API.md's most), one call at a time.
   Figures: the seconds the load took; RSS after the first 1,000 profiles and at the end.
2. Then ``REQUESTS`` requests at concurrency 20, a mix of what the console sends (profile
   reads and small upserts, profile pages, Sharing tab reads and saves, shared-segment lists,
   an evaluation now and then). Figures: RSS after the first 100 and after all of them.

Targets (issue 10): the load under 180 s; RSS under 1.5 GB at the end and at most 1.5x its
size after the first 1,000 profiles; after the requests, at most 1.5x the RSS after the first
100. The summary line starts with ``stack:``. ``SEGSHARE_BENCH_STACK_PROFILES`` (profiles per
project, default 20,000) and ``SEGSHARE_BENCH_STACK_REQUESTS`` (default 1,000) make it smaller
while developing; the targets are for the full size.
"""

from __future__ import annotations

import itertools
import os
import queue
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from local import demo
from tests.support.stacks import LocalStack, start_stack, stop_stack

PROFILES = int(os.environ.get("SEGSHARE_BENCH_STACK_PROFILES", "20000"))
REQUESTS = int(os.environ.get("SEGSHARE_BENCH_STACK_REQUESTS", "1000"))
PROJECTS = ("proj-a", "proj-b")
BATCH = 500  # API.md: up to 500 profiles a call
FIRST_PROFILES = 1_000
FIRST_REQUESTS = 100
CONCURRENCY = 20
#: Targets from issue 10, item 5.
LOAD_SECONDS_TARGET = 180.0
RSS_END_TARGET_MB = 1500.0
RSS_RATIO_TARGET = 1.5
SEGMENT = "s-bench-stack"


def rss_mb(pid: int) -> float:
    """The process's resident set size in MB (10^6 bytes), from VmRSS in /proc/<pid>/status (kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) the process has used, in seconds, from /proc/<pid>/stat.

    Printed next to the wall-clock figures: on a shared machine the wall clock also counts the
    time other work held the cores, the CPU time only the stack's own work.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15 of proc(5))


def _device(rng: random.Random) -> dict[str, str]:
    if rng.random() < 0.6:
        return {"platform": "ios", "id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
    return {"platform": "android", "id": f"{rng.getrandbits(64) | 1 << 60:016x}"}


def profiles(project_id: str, count: int, shared: list[dict[str, str]], seed: int) -> list[dict[str, Any]]:
    """``count`` profiles of 1-3 devices; about a third hold a device from ``shared`` (the other project's too)."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        devices = [_device(rng) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:
            devices[0] = rng.choice(shared)
        made.append(
            {
                "profileId": f"bench-{project_id}-{n:06d}",
                "attributes": {"first_name": f"User{n}", "country": rng.choice(["IE", "FR", "DE", "US"]), "level": rng.randint(1, 60)},
                "devices": devices,
            }
        )
    return made


def _ok(response: requests.Response, *statuses: int) -> Any:
    if response.status_code not in (statuses or (200,)):
        raise RuntimeError(f"{response.request.method} {response.url} -> {response.status_code} {response.text[:300]}")
    return response.json() if response.content else None


def load(stack: LocalStack, session: requests.Session, headers: dict[str, str]) -> tuple[float, float, float]:
    """Load the profiles; (seconds, RSS MB after the first 1,000, RSS MB at the end)."""
    shared_rng = random.Random(7)
    shared = [_device(shared_rng) for _ in range(max(10, PROFILES // 10))]
    loaded = 0
    rss_first = 0.0
    start = time.perf_counter()
    for seed, project_id in enumerate(PROJECTS):
        batch: list[dict[str, Any]] = profiles(project_id, PROFILES, shared, seed)
        for offset in range(0, len(batch), BATCH):
            part = batch[offset : offset + BATCH]
            url = f"{stack.base_url}/v1/projects/{project_id}/profiles"
            answer = _ok(session.put(url, json={"profiles": part}, headers=headers, timeout=120))
            if answer["rejected"]:
                raise RuntimeError(f"profiles rejected: {answer['rejected'][:3]}")
            loaded += len(part)
            if not rss_first and loaded >= FIRST_PROFILES:
                rss_first = rss_mb(stack.process.pid)
    return time.perf_counter() - start, rss_first or rss_mb(stack.process.pid), rss_mb(stack.process.pid)


def _requests(stack: LocalStack, headers: dict[str, str], shared_id: str) -> list[tuple[str, str, Any, tuple[int, ...]]]:
    """The mix: (method, path, body, statuses accepted), deterministic."""
    rng = random.Random(11)
    sharing = f"/v1/projects/proj-a/segments/{SEGMENT}/sharing"
    made: list[tuple[str, str, Any, tuple[int, ...]]] = []
    for n in range(REQUESTS):
        project_id = rng.choice(PROJECTS)
        pick = rng.random()
        if pick < 0.35:
            made.append(("GET", f"/v1/projects/{project_id}/profiles/bench-{project_id}-{rng.randrange(PROFILES):06d}", None, (200,)))
        elif pick < 0.55:
            upsert = profiles(project_id, 3, [_device(rng)], seed=1_000 + n)
            for p, number in zip(upsert, rng.sample(range(PROFILES), len(upsert)), strict=True):  # distinct ids: a repeat is 422
                p["profileId"] = f"bench-{project_id}-{number:06d}"
            made.append(("PUT", f"/v1/projects/{project_id}/profiles", {"profiles": upsert}, (200,)))
        elif pick < 0.70:
            made.append(("GET", f"/v1/projects/{project_id}/segments", None, (200,)))
        elif pick < 0.80:
            made.append(("GET", sharing, None, (200,)))
        elif pick < 0.90:
            chosen = sorted(p for p in ("proj-b", "proj-c", "proj-d") if rng.random() < 0.5 or p == "proj-b")
            made.append(("PUT", sharing, {"projectIds": chosen}, (200, 409)))  # 409: lost the race five times
        elif pick < 0.99:
            made.append(("GET", "/v1/projects/proj-b/shared-segments", None, (200,)))
        else:
            made.append(("POST", f"/v1/projects/proj-b/shared-segments/{shared_id}/evaluations", None, (201, 202)))
    return made


def concurrent(stack: LocalStack, headers: dict[str, str]) -> tuple[float, float, float, Counter[str]]:
    """REQUESTS requests at concurrency 20; (RSS MB after the first 100, after all, seconds, failures by method and status)."""
    session = requests.Session()
    source: dict[str, Any] = {"id": SEGMENT, "name": "Bench", "rule": {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}}
    _ok(session.post(f"{stack.base_url}/v1/projects/proj-a/segments", json=source, headers=headers, timeout=60), 201)
    sharing = f"{stack.base_url}/v1/projects/proj-a/segments/{SEGMENT}/sharing"
    _ok(session.put(sharing, json={"projectIds": ["proj-b"]}, headers=headers, timeout=60))
    tab = _ok(session.get(f"{stack.base_url}/v1/projects/proj-b/shared-segments", headers=headers, timeout=60))["sharedSegments"]
    shared_id = next(s["sharedSegmentId"] for s in tab if s["name"] == "Bench")
    work = _requests(stack, headers, shared_id)
    # One open connection per client, made one after another first: the stack's listening
    # socket has a short backlog, and 20 connections at once get some reset.
    sessions: queue.SimpleQueue[requests.Session] = queue.SimpleQueue()
    for _ in range(CONCURRENCY):
        client = requests.Session()
        _ok(client.get(f"{stack.base_url}/v1/health", timeout=60))
        sessions.put(client)
    done = itertools.count(1)
    rss_first: list[float] = []
    failed: Counter[str] = Counter()
    evaluations: Counter[int] = Counter()  # POST evaluations by status: 201 in the request, 202 handed off
    examples: dict[str, str] = {}  # the first answer of each kind of failure

    def send(request: tuple[str, str, Any, tuple[int, ...]]) -> None:
        client = sessions.get()
        try:
            method, path, body, statuses = request
            answer = client.request(method, stack.base_url + path, json=body, headers=headers, timeout=120)
            if method == "POST":
                evaluations[answer.status_code] += 1
            if answer.status_code not in statuses:
                failed[f"{method} {answer.status_code}"] += 1
                examples.setdefault(f"{method} {answer.status_code}", f"{path}: {answer.text[:200]}")
        except requests.RequestException as exc:
            failed[f"{request[0]} {type(exc).__name__}"] += 1
        finally:
            sessions.put(client)
        if next(done) == FIRST_REQUESTS:
            rss_first.append(rss_mb(stack.process.pid))

    start = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        for future in [pool.submit(send, request) for request in work]:
            future.result()
    seconds = time.perf_counter() - start
    for kind, example in sorted(examples.items()):
        print(f"    first {kind}: {example}")
    print(
        f"    evaluations of the {PROFILES:,} x {PROFILES:,} share: {evaluations[201]} in the request (201),"
        f" {evaluations[202]} handed to the workflow (202), {sum(evaluations.values()) - evaluations[201] - evaluations[202]} other"
        " (the stack's cost model reads at moto's rate, local.stack.MOTO_ITEMS_PER_SECOND)"
    )
    return (rss_first[0] if rss_first else rss_mb(stack.process.pid)), rss_mb(stack.process.pid), seconds, failed


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _print_load(rss_start: float, seconds: float, cpu: float, rss_1k: float, rss_end: float) -> None:
    load_ratio = rss_end / rss_1k
    total = PROFILES * len(PROJECTS)
    print(f"    RSS after start with demo data:          {rss_start:8,.0f} MB")
    print(
        f"    load {total:,} profiles:                  {seconds:8,.1f} s = {total / seconds:,.0f} profiles/s"
        f"   (target < {LOAD_SECONDS_TARGET:.0f} s); the stack's CPU {cpu:,.1f} s"
    )
    print(f"    RSS after the first {FIRST_PROFILES:,} profiles:       {rss_1k:8,.0f} MB")
    print(
        f"    RSS at the end of the load:               {rss_end:8,.0f} MB = {load_ratio:.2f}x   "
        f"(targets < {RSS_END_TARGET_MB:,.0f} MB, <= {RSS_RATIO_TARGET}x)",
        flush=True,
    )


def run() -> None:
    full = PROFILES == 20_000 and REQUESTS == 1_000
    print(
        f"local stack: {len(PROJECTS)} x {PROFILES:,} profiles loaded {BATCH} a call, "
        f"then {REQUESTS:,} requests at concurrency {CONCURRENCY}"
    )
    if not full:
        print("    (smaller than the full size: the targets are for 2 x 20,000 profiles and 1,000 requests)")
    # The stack the e2e tests start (free port, demo data loaded); its stop fails on a call a deployed role would deny.
    stack = start_stack(demo=True, extra_env={"SEGSHARE_SCHEDULE_SECONDS": "86400"})  # no scheduled evaluation mid-measurement
    try:
        headers = {"Authorization": f"Bearer {demo.COMPANY_ADMIN.token()}"}
        rss_start = rss_mb(stack.process.pid)
        cpu_start = cpu_seconds(stack.process.pid)
        with requests.Session() as session:
            seconds, rss_1k, rss_end = load(stack, session, headers)
        load_cpu = cpu_seconds(stack.process.pid) - cpu_start
        _print_load(rss_start, seconds, load_cpu, rss_1k, rss_end)
        cpu_start = cpu_seconds(stack.process.pid)
        rss_100, rss_all, req_seconds, failed = concurrent(stack, headers)
        req_cpu = cpu_seconds(stack.process.pid) - cpu_start
    finally:
        stop_stack(stack)
    load_ratio, req_ratio = rss_end / rss_1k, rss_all / rss_100
    total = PROFILES * len(PROJECTS)
    rate = REQUESTS / req_seconds
    failures = sum(failed.values())
    print(
        f"    {REQUESTS:,} requests at concurrency {CONCURRENCY}:          {req_seconds:8,.1f} s = {rate:,.1f} requests/s;"
        f" the stack's CPU {req_cpu:,.1f} s"
    )
    print(f"    requests failed: {failures}" + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(failed.items()))})" if failed else ""))
    print(f"    RSS after the first {FIRST_REQUESTS} requests:          {rss_100:8,.0f} MB")
    print(f"    RSS after all of them:                    {rss_all:8,.0f} MB = {req_ratio:.2f}x   (target <= {RSS_RATIO_TARGET}x)")
    print(f"    machine load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(
        f"stack: load {total:,} profiles {seconds:.0f} s (CPU {load_cpu:.0f} s) [<{LOAD_SECONDS_TARGET:.0f} s "
        f"{_verdict(seconds < LOAD_SECONDS_TARGET)}], "
        f"RSS {rss_1k:,.0f} MB after 1k -> {rss_end:,.0f} MB at end = {load_ratio:.2f}x "
        f"[<{RSS_END_TARGET_MB:,.0f} MB {_verdict(rss_end < RSS_END_TARGET_MB)}, "
        f"<={RSS_RATIO_TARGET}x {_verdict(load_ratio <= RSS_RATIO_TARGET)}]; "
        f"{REQUESTS:,} requests at {CONCURRENCY} {req_seconds:.0f} s (CPU {req_cpu:.0f} s), {failures} failed "
        f"[0 {_verdict(failures == 0)}], RSS {rss_100:,.0f} MB after 100 -> {rss_all:,.0f} MB = {req_ratio:.2f}x "
        f"[<={RSS_RATIO_TARGET}x {_verdict(req_ratio <= RSS_RATIO_TARGET)}]" + ("" if full else " (reduced size)")
    )


if __name__ == "__main__":
    run()
