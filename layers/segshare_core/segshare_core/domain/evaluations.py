"""Evaluations of a shared segment, as recorded and as the target project sees them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from segshare_core.domain.ids import time_sortable_id

Trigger = Literal["manual", "schedule", "export"]
Status = Literal["RUNNING", "SUCCEEDED", "FAILED"]


#: API.md (Evaluations): a RUNNING evaluation whose run died is FAILED within 15 minutes of its
#: start. Derived from the functions' timeouts in template.yaml: an evaluation runs inside
#: EvaluateFunction (29 s), ScheduledEvaluateFunction (300 s) or ExportWorkerFunction (600 s),
#: and Lambda ends every invocation at its Timeout, so a run still RUNNING 15 minutes after its
#: start can no longer be alive (tests/unit/test_deadlines.py keeps this true).
RUNNING_DEADLINE = timedelta(minutes=15)
TIMED_OUT = "the evaluation timed out: it was still running 15 minutes after its start"
SHARE_ENDED = "the share ended while the evaluation ran; its result is not served"


def new_evaluation_id(moment: datetime) -> str:
    """``e-`` + the start time in milliseconds (11 hex) + 8 random hex.

    Ids sort by ``startedAt`` (API.md: evaluations are ordered by startedAt), ties broken by the
    random part; the store's sort key and the forward-only pointer rely on this order.
    """
    return time_sortable_id("e", moment)


def timed_out(status: str, started_at: datetime, at: datetime) -> bool:
    """A RUNNING evaluation past RUNNING_DEADLINE reads as FAILED (API.md: every evaluation ends)."""
    return status == "RUNNING" and at - started_at > RUNNING_DEADLINE


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation: counts of the target project's own profiles and devices, nothing of the source."""

    evaluation_id: str
    shared_segment_id: str
    trigger: Trigger
    status: Status
    started_at: str
    finished_at: str | None = None
    duration_ms: int | None = None
    target_profiles: int | None = None
    matched_profiles: int | None = None
    matched_devices: int | None = None
    matched_by_platform: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    #: A scheduled run whose inputs had not changed records the previous answer (issue 15).
    reused: bool = False


def inputs_fingerprint(
    definition: dict[str, Any],
    source_seq: int,
    target_seq: int,
    generation: str,
) -> str:
    """The fingerprint of everything an evaluation's answer depends on (issue 15, change-aware).

    ``definition`` is the source segment's definition (kind, rule, static profile ids),
    ``source_seq``/``target_seq`` the sums of the two projects' profile-shard change sequences
    (``store.profiles.counts``; each profile write moves its shard's), ``generation`` the share's.
    Equal fingerprints mean the same answer: the match depends on nothing else (the company's
    device key never changes). Returns 64 hex characters (SHA-256 of canonical JSON).
    """
    canonical = json.dumps(
        {"definition": definition, "source": source_seq, "target": target_seq, "generation": generation},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
