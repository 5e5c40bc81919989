"""The console's test world: the shared small world (tests/factories.py), a parent linked to a child, a
registered terminal, and a `Console` that signs in as anyone through the console's own sign-in form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from api.auth import dev_idp
from tests.factories import batch, meal_event
from tests.parent_factories import OTHER_PARENT_IIN, PARENT_IIN, link
from wallet.config import Settings

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page holds no CSRF token"
    return found.group(1)


@dataclass
class Console:
    """A browser-like client of the console (cookies kept between requests)."""

    client: Any
    settings: Settings
    world: Any

    def token(self, who: str, **claims: Any) -> str:
        w = self.world
        kinds: dict[str, tuple[str, dict[str, Any]]] = {
            "operator": ("op-1", {"role": "operator"}),
            "auditor": ("aud-1", {"role": "auditor", "region": w.region.code}),
            "auditor_elsewhere": ("aud-2", {"role": "auditor", "region": "KZ-19"}),
            "school_admin": ("sa-1", {"role": "school_admin", "school": w.school.bin}),
            "school_admin_b": ("sa-2", {"role": "school_admin", "school": w.other_school.bin}),
            "supplier": ("sup-1", {"role": "supplier", "supplier": w.supplier.bin}),
            "parent": (PARENT_IIN, {"role": "parent"}),
            "other_parent": (OTHER_PARENT_IIN, {"role": "parent"}),
        }
        subject, base = kinds[who]
        return dev_idp.issue_token(self.settings, subject, {**base, **claims})

    def csrf(self, path: str = "/console/sign-in") -> str:
        return csrf_of(self.client.get(path).get_data(as_text=True))

    def sign_in(self, who: str, next_url: str = "", **claims: Any) -> Any:
        return self.client.post("/console/sign-in", data={"csrf_token": self.csrf(), "token": self.token(who, **claims),
                                                          "next": next_url})

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any], *, csrf: bool = True, page: str = "/console/sign-in") -> Any:
        if csrf:
            data = {"csrf_token": self.csrf(page), **data}
        return self.client.post(path, data=data)


@pytest.fixture
def console(app, settings, world, session_factory) -> Console:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        link(session, PARENT_IIN, world.eligible[0])
        link(session, OTHER_PARENT_IIN, world.eligible[1])
    return Console(app.test_client(), settings, world)


@pytest.fixture
def meals(app, terminal_key, world):  # type: ignore[no-untyped-def]
    """Records lunches through the terminal API; returns the entry ids (one meal per student given)."""
    api = app.test_client()
    state = {"seq": 0}

    def record(*students: Any, meal_type: str = "lunch") -> list[int]:
        events = []
        for student in students:
            state["seq"] += 1
            events.append(meal_event(student, state["seq"], meal_type=meal_type))
        response = api.post("/api/v1/terminal/events", json=batch(*events), headers=terminal_key.headers())
        assert response.status_code == 200, response.get_data(as_text=True)
        return [r["entryId"] for r in response.get_json()["results"]]

    return record
