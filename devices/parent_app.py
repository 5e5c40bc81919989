"""A stand-in for the parents' mobile app, for the simulator: lists a parent's children and asks the
service for a child's dynamic QR code (`POST /api/v1/parent/children/{childId}/qr`), as openapi.yaml says.

The bearer tokens come from outside (in the demo, `wallet run-demo` makes them with the development
identity provider); this module only uses them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import requests

TIMEOUT_S = (5, 30)


@dataclass
class ParentApp:
    server: str
    bearer: str
    children: list[tuple[str, str]] | None = None  # (childId, school BIN) once listed
    session: requests.Session = field(default_factory=requests.Session)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer}"}

    def children_at(self, school_bin: str) -> list[str]:
        if self.children is None:
            answer = self.session.get(f"{self.server}/api/v1/parent/children", headers=self._headers(),
                                      timeout=TIMEOUT_S)
            items = answer.json().get("items", []) if answer.status_code == 200 else []
            self.children = [(c["childId"], (c.get("school") or {}).get("bin", "")) for c in items]
        return [child for child, bin_ in self.children if bin_ == school_bin]

    def qr_token(self, child_id: str, meal_type: str) -> str | None:
        """A fresh token, or None (no active voucher, or the service said no)."""
        answer = self.session.post(f"{self.server}/api/v1/parent/children/{child_id}/qr",
                                   json={"mealType": meal_type}, headers=self._headers(), timeout=TIMEOUT_S)
        return answer.json().get("token") if answer.status_code == 201 else None


def load_parent_apps(server: str, path: str | None) -> list[ParentApp]:
    """One app per bearer token in the file (one a line; blank lines and # comments skipped)."""
    if not path:
        return []
    with open(path, encoding="utf-8") as handle:
        tokens = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    return [ParentApp(server, token) for token in tokens]


def pick_token(rng: random.Random, apps: list[ParentApp], school_bin: str, meal_type: str,
               exclude: set[str] | frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """(childId, QR token) for a random child of a random parent at this school who is not in `exclude`
    (children who already had this meal), or None when none can be had."""
    for app in rng.sample(apps, k=min(len(apps), 5)):
        try:
            children = [c for c in app.children_at(school_bin) if c not in exclude]
            child = rng.choice(children) if children else None
            token = app.qr_token(child, meal_type) if child else None
        except (requests.RequestException, ValueError):  # unreachable, or not JSON: this child eats without
            continue
        if child and token:
            return child, token
    return None
