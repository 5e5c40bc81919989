"""Parents for the test world: a mother linked to world.eligible[0], another parent linked to world.eligible[1],
tokens from the development identity provider, and helpers to record meals through the terminal API.

Import the fixtures into a test module by their function names (the fixtures are named parent, other_parent
and meals): `from tests.parent_factories import parent_fixture  # noqa: F401`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from api.auth import dev_idp
from tests.factories import an_iin, batch, meal_event
from wallet.config import Settings
from wallet.models import CalendarDay, GuardianLink, Student

PARENT_IIN = an_iin(dt.date(1988, 4, 12), female=True)
OTHER_PARENT_IIN = an_iin(dt.date(1979, 9, 30))
NOON_UTC = dt.time(6, 0, tzinfo=dt.UTC)  # 11:00 in Asia/Almaty


@dataclass
class Parent:
    iin: str
    child: Student
    settings: Settings

    @property
    def child_id(self) -> str:
        return str(self.child.id)

    def token(self, **claims: Any) -> str:
        return dev_idp.issue_token(self.settings, self.iin, {"role": "parent", **claims})

    def headers(self, lang: str | None = None, **claims: Any) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(**claims)}"}
        if lang:
            headers["Accept-Language"] = lang
        return headers

    def url(self, suffix: str = "") -> str:
        return f"/api/v1/parent/children/{self.child_id}{suffix}"


def link(session: Session, parent_iin: str, student: Student, relation: str = "mother") -> None:
    session.add(GuardianLink(parent_iin=parent_iin, student_id=student.id, relation=relation))
    session.commit()


def serving_days(session: Session, school_id: int, days: list[dt.date]) -> None:
    """Make these days serving days of the school (the world has only today)."""
    for day in days:
        existing = session.query(CalendarDay).filter_by(school_id=school_id, day=day).one_or_none()
        if existing is None:
            session.add(CalendarDay(school_id=school_id, day=day, kind="serving"))
        else:
            existing.kind = "serving"
    session.commit()


class Meals:
    """Records meals through POST /api/v1/terminal/events, with the terminal's own signed tokens."""

    def __init__(self, client: Any, terminal_key: Any) -> None:
        self.client, self.key, self.seq = client, terminal_key, 0

    def record(self, student: Student | str, *, meal_type: str = "lunch", day: dt.date | None = None,
               served_at: dt.datetime | None = None) -> dict[str, Any]:
        self.seq += 1
        if served_at is None and day is not None:
            served_at = dt.datetime.combine(day, NOON_UTC)
        response = self.client.post("/api/v1/terminal/events", headers=self.key.headers(),
                                    json=batch(meal_event(student, self.seq, meal_type=meal_type, served_at=served_at)))
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["results"][0]


@pytest.fixture(name="parent")
def parent_fixture(session_factory, world, settings) -> Parent:  # type: ignore[no-untyped-def]
    """A mother linked to world.eligible[0]."""
    with session_factory() as session:
        link(session, PARENT_IIN, world.eligible[0])
    return Parent(PARENT_IIN, world.eligible[0], settings)


@pytest.fixture(name="other_parent")
def other_parent_fixture(session_factory, world, settings) -> Parent:  # type: ignore[no-untyped-def]
    """Another family: a father linked to world.eligible[1] only."""
    with session_factory() as session:
        link(session, OTHER_PARENT_IIN, world.eligible[1], "father")
    return Parent(OTHER_PARENT_IIN, world.eligible[1], settings)


@pytest.fixture(name="meals")
def meals_fixture(client, terminal_key) -> Meals:  # type: ignore[no-untyped-def]
    return Meals(client, terminal_key)


def staff_headers(settings: Settings, role: str, subject: str = "staff-1", **claims: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + dev_idp.issue_token(settings, subject, {"role": role, **claims})}


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["status"] == status
    return body
