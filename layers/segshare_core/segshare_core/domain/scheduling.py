"""The schedule's fairness rule: which shares a tick evaluates, in which order (issue 15 item 4)."""

from __future__ import annotations

import zlib
from typing import Any


def fair_order(shares_by_company: dict[str, list[dict[str, Any]]], cap: int, tick: str) -> list[dict[str, Any]]:
    """The tick's due list: at most ``cap`` shares per company, companies interleaved round-robin.

    Fairness (issue 15 item 4): a company with thousands of shares neither delays the others
    within a tick (round-robin puts each company's first share in the first round) nor takes
    more than ``cap`` evaluations of it. A company over the cap gets a window that rotates with
    the tick, so every share is due in some tick. Companies are ordered by id, shares as given.
    """
    picked: list[list[dict[str, Any]]] = []
    for company_id in sorted(shares_by_company):
        shares = shares_by_company[company_id]
        if len(shares) > cap:
            start = zlib.crc32(tick.encode()) % len(shares)
            shares = (shares[start:] + shares[:start])[:cap]
        picked.append(shares)
    rounds = max((len(p) for p in picked), default=0)
    return [p[i] for i in range(rounds) for p in picked if i < len(p)]
