"""Payment held (issue 16, item 6): the registry of a month with open findings is the reconciliation's payable
less the held money, to the tiyn; rulings change it only by the dismissed amounts; the document is
reproducible to the byte for the same findings and rulings."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

from tests import evidence_world as ew
from wallet.evidence.holds import current_mark
from wallet.evidence.rulings import RulingRequest, rule
from wallet.evidence.scan import scan
from wallet.evidence.views import FindingFilter, list_findings
from wallet.importing import import_file
from wallet.keys import load_signing_key
from wallet.models import LedgerEntry
from wallet.months import parse_month
from wallet.principals import Principal
from wallet.reconciliation.periods import close_period
from wallet.reconciliation.queries import reconcile
from wallet.reconciliation.scope import resolve_scope
from wallet.reconciliation.writers import write
from wallet.reports.meal_sheet import meal_sheet
from wallet.reports.payments import payment_registry, registry_document

OPERATOR = Principal(subject="test", role="operator")
AUDITOR = Principal(subject="aud", role="auditor", region_code="KZ-75")


def test_held_money_is_not_paid_until_ruled(session_factory, settings, tmp_path) -> None:
    world = ew.build(session_factory, schools=2, pupils=20)
    a, b = world.schools
    rng = random.Random(6)
    for school in world.schools:
        events = [e for day in world.days for e in ew.honest_day(world, school, day, rng)]
        ew.post(session_factory, world.terminals[school.id], events)
    # Two pupils of A marked absent on days they ate; B's fourth day later declared a closure.
    with session_factory() as session:
        eaten = session.execute(select(LedgerEntry.student_id, LedgerEntry.serving_day).where(
            LedgerEntry.school_id == a.id, LedgerEntry.verdict == "billable").order_by(LedgerEntry.id).limit(2)).all()
    by_id = {s.id: s for s in world.pupils[a.id]}
    ew.attendance(session_factory, tmp_path, a, [(by_id[sid], day) for sid, day in eaten], "absent")
    closure = tmp_path / "c.csv"
    closure.write_text(f"school_bin,date,kind,note\n{b.bin},{world.days[3]},closure,\n", encoding="utf-8")
    import_file(session_factory, "calendar", closure)
    month = parse_month(world.month)
    with session_factory() as session:
        scope = resolve_scope(session, OPERATOR, region="KZ-75")
        assert scan(session, scope, month, now=dt.datetime.now(dt.UTC)).new_total == 3
        session.commit()
    key = load_signing_key(settings)
    with session_factory() as session:
        close_period(session, OPERATOR, "KZ-75", month, key)

    def registry():  # type: ignore[no-untyped-def]
        with session_factory() as session:
            scope = resolve_scope(session, OPERATOR, region="KZ-75")
            reg = payment_registry(session, scope, month)
            return reg, reconcile(session, scope, month), b"".join(write(registry_document(reg), "json"))

    reg, rec, first = registry()
    held = sum(ln.held for ln in reg.lines)
    assert held == 2 * ew.PRICE + _closure_meals(session_factory, b.id, world.days[3])
    assert reg.paid == rec.totals.payable - held and reg.due == rec.totals.payable
    assert registry()[2] == first  # the same findings and rulings: the same bytes
    with session_factory() as session:
        sheet = meal_sheet(session, resolve_scope(session, OPERATOR, school=a.bin), month)
        assert sheet.held[:2] == (2 * ew.PRICE, 0)

    with session_factory() as session:
        findings = list_findings(session, [a.id, b.id], FindingFilter(month=world.month))
        absent = [f.finding.id for f in findings if f.finding.rule == "absent_but_billed"]
        closed = [f.finding.id for f in findings if f.finding.rule == "day_later_closed"]
        rule(session, AUDITOR, [RulingRequest(absent[0], "dismissed", "the journal was wrong"),
                                RulingRequest(absent[1], "upheld", "absent all day"),
                                RulingRequest(closed[0], "upheld", "the school was closed")], dt.datetime.now(dt.UTC))
        session.commit()
        mark = current_mark(session)
    after, rec_after, later = registry()
    assert rec_after.totals.payable == rec.totals.payable
    assert after.paid - reg.paid == ew.PRICE  # only the dismissed meal is paid
    assert sum(ln.withheld for ln in after.lines) == held - ew.PRICE and after.held == 0
    assert later != first and f'"holds":"{mark.label}"' in later.decode()


def _closure_meals(session_factory, school_id: int, day: dt.date) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return int(session.scalar(select(func.sum(LedgerEntry.price_tiyn)).where(
            LedgerEntry.school_id == school_id, LedgerEntry.serving_day == day,
            LedgerEntry.verdict == "billable")) or 0)
