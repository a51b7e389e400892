"""Companies and projects as the rest of the domain sees them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Company:
    company_id: str
    name: str
    shared_segments_enabled: bool


@dataclass(frozen=True, slots=True)
class Project:
    project_id: str
    company_id: str
    name: str
