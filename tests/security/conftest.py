"""The world the security tests attack: two schools (A and B) of one region, two families at school A, a
pupil at school B, terminals at both, recorded meals, checkpoints and a feedback, and staff of every kind.

`routes.py` lists every route of the app with a request that reaches it; the tests in this folder are
tables over those routes, so a new endpoint is one new row (and test_routes_are_all_listed fails until
it is added).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from api import create_app
from api.auth import dev_idp
from tests.factories import TerminalKey, batch, meal_event
from tests.parent_factories import OTHER_PARENT_IIN, PARENT_IIN, link
from wallet.config import Settings
from wallet.keys import load_signing_key
from wallet.ledger.checkpoints import make_checkpoint
from wallet.months import Month
from wallet.principals import Principal
from wallet.reconciliation.periods import close_period

TERMINAL_B = "T-school-b"


@dataclass
class Sec:
    """Ids and tokens of the security world (school A = world.school, school B = world.other_school)."""

    settings: Settings
    world: Any
    terminal: TerminalKey  # school A
    terminal_b: TerminalKey  # school B
    child: str  # the parent's child (school A)
    other_child: str  # the other family's child (school A)
    child_b: str  # a pupil of school B, nobody's child here
    entry: int  # a meal of `child`
    other_entry: int  # a meal of `other_child`
    entry_b: int  # a meal at school B
    school: str
    school_b: str
    region: str
    supplier: str
    month: str
    last_month: str
    closed_month: str = ""  # two months ago, closed for the region (the payment registry needs one)
    complaint: int = 0  # the other family's complaint about `other_entry`
    finding: int = 0  # the other family's dispute of `other_entry`, a finding
    voucher: str = ""  # the parent's child's active voucher (this school year)
    offer: str = ""  # an open offer to the parent's child (next school year)
    offer_b: str = ""  # another open offer to the parent's child (the year after)

    def token(self, who: str) -> str:
        if who == "metrics":
            return METRICS_TOKEN
        """A bearer token of one kind of caller (see STAFF below for the staff kinds)."""
        if who == "terminal":
            return self.terminal.token()
        if who == "terminal_b":
            return self.terminal_b.token()
        if who == "parent":
            return dev_idp.issue_token(self.settings, PARENT_IIN, {"role": "parent"})
        if who == "other_parent":
            return dev_idp.issue_token(self.settings, OTHER_PARENT_IIN, {"role": "parent"})
        claims = STAFF[who](self)
        return dev_idp.issue_token(self.settings, f"{who}-1", claims)

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if who is not None:
            headers["Authorization"] = f"Bearer {self.token(who)}"
        return headers


METRICS_TOKEN = "security-world-metrics-token-0123456789"  # /metrics is served, behind its own token
STAFF = {
    "operator": lambda s: {"role": "operator"},
    "auditor": lambda s: {"role": "auditor", "region": s.region},
    "auditor_elsewhere": lambda s: {"role": "auditor", "region": "KZ-19"},
    "school_admin": lambda s: {"role": "school_admin", "school": s.school},
    "school_admin_b": lambda s: {"role": "school_admin", "school": s.school_b},
    "supplier": lambda s: {"role": "supplier", "supplier": s.supplier},
    "supplier_unknown": lambda s: {"role": "supplier", "supplier": "990340000024"},  # a valid BIN, no supplier
}


def build_sec(settings: Settings, session_factory: Any, world: Any, client: Any) -> Sec:
    terminal, terminal_b = TerminalKey("T-school-a"), TerminalKey(TERMINAL_B)
    with session_factory() as session:
        terminal.register(session, world.school)
        terminal_b.register(session, world.other_school)
        link(session, PARENT_IIN, world.eligible[0])
        link(session, OTHER_PARENT_IIN, world.eligible[1], "father")
        vouchers = _vouchers(session, world)
    posted = client.post("/api/v1/terminal/events", headers=terminal.headers(),
                         json=batch(meal_event(world.eligible[0], 1), meal_event(world.eligible[1], 2)))
    assert posted.status_code == 200, posted.get_data(as_text=True)
    entry, other_entry = (r["entryId"] for r in posted.get_json()["results"])
    posted = client.post("/api/v1/terminal/events", headers=terminal_b.headers(),
                         json=batch(meal_event(world.elsewhere, 1)))
    assert posted.status_code == 200, posted.get_data(as_text=True)
    entry_b = posted.get_json()["results"][0]["entryId"]
    with session_factory() as session:
        key = load_signing_key(settings)
        make_checkpoint(session, world.school.id, key)
        make_checkpoint(session, world.other_school.id, key)
        session.commit()
    closed_month = (world.today.replace(day=1) - dt.timedelta(days=1)).replace(day=1) - dt.timedelta(days=1)
    with session_factory() as session:
        close_period(session, Principal("sec", "operator"), world.region.code, Month.of(closed_month),
                     load_signing_key(settings))
    with session_factory() as session:  # the national log's first head (receipts, open data)
        from wallet.witnessing.national import extend_national_log

        extend_national_log(session, load_signing_key(settings), settings.witness_policy.log_origin)
        session.commit()
    sec = Sec(settings=settings, world=world, terminal=terminal, terminal_b=terminal_b,
              child=str(world.eligible[0].id), other_child=str(world.eligible[1].id), child_b=str(world.elsewhere.id),
              entry=entry, other_entry=other_entry, entry_b=entry_b, school=world.school.bin,
              school_b=world.other_school.bin, region=world.region.code, supplier=world.supplier.bin,
              month=f"{world.today:%Y-%m}", last_month=f"{world.today.replace(day=1) - dt.timedelta(days=1):%Y-%m}",
              closed_month=f"{closed_month:%Y-%m}", **vouchers)
    feedback = client.post(f"/api/v1/parent/children/{sec.child}/meals/{entry}/feedback", headers=sec.headers("parent"),
                           json={"rating": 5, "tags": ["tasty"]})
    assert feedback.status_code == 201, feedback.get_data(as_text=True)
    # The other family complains about their own child's meal (the parent's meal stays free to complain about).
    rated = client.post(f"/api/v1/parent/children/{sec.other_child}/meals/{other_entry}/feedback",
                        headers=sec.headers("other_parent"), json={"rating": 1})
    assert rated.status_code == 201, rated.get_data(as_text=True)
    filed = client.post(f"/api/v1/parent/children/{sec.other_child}/complaints", headers=sec.headers("other_parent"),
                        json={"entryId": other_entry, "text": "cold lunch"})
    assert filed.status_code == 201, filed.get_data(as_text=True)
    sec.complaint = filed.get_json()["complaintId"]
    disputed = client.post(f"/api/v1/parent/children/{sec.other_child}/meals/{other_entry}/dispute",
                           headers=sec.headers("other_parent"), json={})
    assert disputed.status_code == 201, disputed.get_data(as_text=True)
    with session_factory() as session:
        from sqlalchemy import select

        from wallet.models import Finding
        sec.finding = session.scalars(select(Finding.id)).one()
    return sec


def _vouchers(session: Any, world: Any) -> dict[str, str]:
    """The parent's child has an active voucher (so its data is shown) and offers for the next two school
    years (to accept and decline); the other family's child an active one."""
    from tests.voucher_factories import voucher_for

    active = voucher_for(session, world.eligible[0], world.school.id, "active", today=world.today,
                         parent_iin=PARENT_IIN)
    voucher_for(session, world.eligible[1], world.school.id, "active", today=world.today, parent_iin=OTHER_PARENT_IIN)
    offers = [voucher_for(session, world.eligible[0], world.school.id, "offered",
                          today=world.today.replace(year=world.today.year + years)) for years in (1, 2)]
    return {"voucher": str(active.id), "offer": str(offers[0].id), "offer_b": str(offers[1].id)}


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    """The test settings with rate limits off (the tests that are about rate limits turn them on)."""
    return dataclasses.replace(settings, rate_limits_enabled=False, metrics_token=METRICS_TOKEN)


@pytest.fixture
def app(quiet_settings: Settings, engine):  # type: ignore[no-untyped-def]
    app = create_app(quiet_settings, engine=engine)
    app.config.update(WALLET_PARENT_STREAM_LIFETIME_S=0.1, WALLET_PARENT_STREAM_POLL_S=0.05)
    return app


@pytest.fixture
def sec(quiet_settings: Settings, session_factory, world, client) -> Sec:  # type: ignore[no-untyped-def]
    return build_sec(quiet_settings, session_factory, world, client)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
