"""Live shares written straight into the tables, for the schedule's tests and its bench (thousands at once).

The schedule lists live shares from the segments table's sparse index; going through the share
function for 10,000 of them would take minutes in moto, so they are written as it writes them.
Call inside ``mock_aws`` with the template's tables created (``local.resources.create_all``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from segshare_core.domain.segments import shared_segment_id
from segshare_core.domain.sharing import new_generation
from segshare_core.store import keys
from segshare_core.store.models import CompanyRow, SharedRow

#: Each company's shares go from its project <company>-p0 to <company>-p1 .. -p4 in turn.
TARGETS = 4


def seed_live_shares(per_company: dict[str, int]) -> int:
    """For each company id and count ``n``: the company (feature on) and ``n`` live shares; the total written.

    Share ``k`` is segment ``s-<k>`` of project ``<company>-p0`` shared with ``<company>-p<1 + k % 4>``,
    a row as the share function writes it (live index keys, a fresh generation). The segments
    and profiles themselves are not written: the schedule's list step reads only the shares.
    """
    moment = datetime.now(UTC)
    with CompanyRow.batch_write() as companies, SharedRow.batch_write() as shares:
        for company, count in per_company.items():
            companies.save(
                CompanyRow(*keys.company(company), name=company, shared_segments_enabled=True, device_key=b"k" * 32, created_at=moment)
            )
            source = f"{company}-p0"
            for n in range(count):
                target = f"{company}-p{1 + n % TARGETS}"
                shared_id = shared_segment_id(company, source, f"s-{n}", target)
                shares.save(
                    SharedRow(
                        *keys.shared(company, target, shared_id),
                        source_project_id=source,
                        segment_id=f"s-{n}",
                        name=f"segment number {n}",
                        shared_at=moment,
                        generation=new_generation(moment),
                        live_part=keys.live_part(company),
                        live_key=keys.live_key(company, target, shared_id),
                    )
                )
    return sum(per_company.values())
