"""Demo data for the local stack, loaded through the real API so it obeys every rule.

One company (feature on), four projects A-D, an operator, a company admin, a project admin
of A and B, a project admin of B, and a few hundred profiles per project whose devices
overlap across projects (some profiles have several devices; a few carry placeholder ids).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local import tokens

COMPANY = "acme"
PROJECTS = {"proj-a": "Alpha Quest", "proj-b": "Beta Racer", "proj-c": "Gamma Puzzle", "proj-d": "Delta Cards"}
PROFILES_PER_PROJECT = {"proj-a": 300, "proj-b": 250, "proj-c": 150, "proj-d": 120}
FIRST_NAMES = ["Ann", "Bo", "Cian", "Dara", "Eve", "Finn", "Gro", "Hana", "Ivo", "Jun"]
COUNTRIES = ["IE", "DE", "FR", "ES", "US", "JP"]


@dataclass(frozen=True)
class DemoUser:
    user_id: str
    label: str
    groups: tuple[str, ...] = ()

    def token(self) -> str:
        return tokens.mint(self.user_id, groups=list(self.groups) or None)


OPERATOR = DemoUser("demo-operator", "operator", ("operators",))
COMPANY_ADMIN = DemoUser("demo-company-admin", "company admin of acme")
ADMIN_AB = DemoUser("demo-admin-ab", "project admin of Alpha Quest and Beta Racer")
ADMIN_B = DemoUser("demo-admin-b", "project admin of Beta Racer")
USERS = (OPERATOR, COMPANY_ADMIN, ADMIN_AB, ADMIN_B)

Call = Callable[[str, str, DemoUser, Any], tuple[int, Any]]


def _people(rng: random.Random, count: int) -> list[list[dict[str, str]]]:
    """Each person owns one to three devices; projects see subsets of the same people."""
    people = []
    for _ in range(count):
        devices = []
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            if rng.random() < 0.5:
                devices.append({"platform": "ios", "id": str(uuid.UUID(int=rng.getrandbits(128))).upper()})
            else:
                devices.append({"platform": "android", "id": f"{rng.getrandbits(64):016x}"})
        people.append(devices)
    return people


def _profiles(rng: random.Random, project_id: str, people: list[list[dict[str, str]]]) -> list[dict[str, Any]]:
    chosen = rng.sample(range(len(people)), PROFILES_PER_PROJECT[project_id])
    out = []
    for n, person in enumerate(chosen):
        attributes: dict[str, Any] = {"country": rng.choice(COUNTRIES), "level": rng.randint(1, 60)}
        # Alpha Quest knows most first names; the other projects only some: {{first_name}} is blank there.
        if rng.random() < (0.9 if project_id == "proj-a" else 0.4):
            attributes["first_name"] = rng.choice(FIRST_NAMES)
        devices = rng.sample(people[person], rng.randint(1, len(people[person])))
        if n % 50 == 0:
            devices.append({"platform": "android", "id": "9774d56d682e549c"})
        out.append({"profileId": f"{project_id[-1]}-user-{n:04d}", "attributes": attributes, "devices": devices})
    return out


def seed(call: Call) -> None:
    """Create the demo company through the API; raises if any step is refused."""

    def ok(method: str, path: str, user: DemoUser, body: Any = None) -> Any:
        status, payload = call(method, path, user, body)
        if status >= 300:
            raise RuntimeError(f"demo seed: {method} {path} -> {status} {json.dumps(payload)[:300]}")
        return payload

    ok("POST", "/v1/companies", OPERATOR, {"id": COMPANY, "name": "Acme Games", "sharedSegmentsEnabled": True})
    for project_id, name in PROJECTS.items():
        ok("POST", f"/v1/companies/{COMPANY}/projects", OPERATOR, {"id": project_id, "name": name})
    ok("PUT", f"/v1/companies/{COMPANY}/users/{COMPANY_ADMIN.user_id}", OPERATOR, {"role": "company_admin"})
    ok(
        "PUT",
        f"/v1/companies/{COMPANY}/users/{ADMIN_AB.user_id}",
        COMPANY_ADMIN,
        {"role": "project_admin", "projectIds": ["proj-a", "proj-b"]},
    )
    ok(
        "PUT",
        f"/v1/companies/{COMPANY}/users/{ADMIN_B.user_id}",
        COMPANY_ADMIN,
        {"role": "project_admin", "projectIds": ["proj-b"]},
    )
    rng = random.Random(20261128)
    people = _people(rng, 400)
    for project_id in PROJECTS:
        profiles = _profiles(rng, project_id, people)
        result = ok("PUT", f"/v1/projects/{project_id}/profiles", COMPANY_ADMIN, {"profiles": profiles})
        if result["rejected"]:
            raise RuntimeError(f"demo seed: profiles rejected: {result['rejected'][:3]}")
