"""The schedule's pure rules (issue 15): fairness between companies and the inputs' fingerprint."""

from __future__ import annotations

from typing import Any

from segshare_core.domain.evaluations import inputs_fingerprint
from segshare_core.domain.scheduling import fair_order

RULE = {"kind": "rule", "rule": {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}, "profileIds": []}


def _shares(company: str, n: int) -> list[dict[str, Any]]:
    return [{"companyId": company, "n": i} for i in range(n)]


def test_companies_are_interleaved_round_robin() -> None:
    # Given one company with many shares and two small ones
    due = {"big": _shares("big", 5), "a": _shares("a", 2), "z": _shares("z", 1)}
    # When the tick's list is ordered
    order = [(d["companyId"], d["n"]) for d in fair_order(due, cap=100, tick="t")]
    # Then every company's first share comes in the first round, and nothing is lost or repeated
    assert order[:3] == [("a", 0), ("big", 0), ("z", 0)]
    assert order == [("a", 0), ("big", 0), ("z", 0), ("a", 1), ("big", 1), ("big", 2), ("big", 3), ("big", 4)]


def test_a_company_over_the_cap_gets_a_window_that_rotates_with_the_tick() -> None:
    due = {"big": _shares("big", 10), "small": _shares("small", 2)}
    seen: set[int] = set()
    for tick in (f"2026-11-28T{h:02d}:00:00Z" for h in range(24)):
        order = fair_order(due, cap=3, tick=tick)
        big = [d["n"] for d in order if d["companyId"] == "big"]
        # Each tick takes at most the cap of the big company, all of the small one
        assert len(big) == 3
        assert [d["n"] for d in order if d["companyId"] == "small"] == [0, 1]
        seen.update(big)
    # And over a day of ticks every share of the big company was due at least once
    assert seen == set(range(10))


def test_the_fingerprint_moves_with_each_input_and_only_with_them() -> None:
    base = inputs_fingerprint(RULE, 4, 9, "g1")
    assert base == inputs_fingerprint(dict(RULE), 4, 9, "g1")
    changed = [
        inputs_fingerprint({**RULE, "rule": {"all": [{"attribute": "country", "op": "eq", "value": "FR"}]}}, 4, 9, "g1"),
        inputs_fingerprint(RULE, 5, 9, "g1"),
        inputs_fingerprint(RULE, 4, 10, "g1"),
        inputs_fingerprint(RULE, 4, 9, "g2"),
        inputs_fingerprint(RULE, 9, 4, "g1"),  # source and target sequences are not interchangeable
    ]
    assert base not in changed
    assert len(set(changed)) == len(changed)
