"""The payment registry against the reconciliation, to the tiyn: a closed month on the seeded random data
of test_reconciliation_totals (price change mid-month: two contracts of one supplier), then the next month
closed with adjustments for the first (late meals and voids after its close)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from sqlalchemy import select

from tests.integration.test_reconciliation_totals import MONTH, OPERATOR, build, local, record_month
from tests.reconciliation_world import void
from wallet.errors import Conflict
from wallet.keys import load_signing_key
from wallet.models import LedgerEntry, Supplier
from wallet.principals import Principal
from wallet.reconciliation.periods import close_period
from wallet.reconciliation.queries import reconcile
from wallet.reconciliation.scope import resolve_scope
from wallet.reconciliation.writers import write
from wallet.reports.payments import payment_registry, registry_document

LATER = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)


def both(session_factory, month, principal=OPERATOR):
    with session_factory() as session:
        scope = resolve_scope(session, principal, region="KZ-75")
        return payment_registry(session, scope, month, now=LATER), reconcile(session, scope, month, now=LATER)


def by_supplier_from_reconciliation(rec):
    due: Counter = Counter()
    for ln in rec.lines:
        due[ln.supplier_id] += ln.net_amount
    for a in rec.adjustments:
        due[a.supplier_id] += a.net_amount
    return {k: v for k, v in due.items() if v}


@pytest.mark.parametrize("seed", [7, 8])
def test_the_registry_equals_the_reconciliation_of_closed_months(session_factory, settings, seed):
    gen = build(session_factory, seed)
    record_month(session_factory, gen, seed)
    key = load_signing_key(settings)
    with session_factory() as session, pytest.raises(Conflict) as refused:
        payment_registry(session, resolve_scope(session, OPERATOR, region="KZ-75"), MONTH, now=LATER)
    assert refused.value.code == "month_not_closed"
    with session_factory() as session:
        close_period(session, OPERATOR, "KZ-75", MONTH, key, now=local("Asia/Almaty", dt.date(2026, 4, 3), 9))
    reg, rec = both(session_factory, MONTH)
    assert reg.due == rec.totals.payable == rec.totals.net_amount
    assert {sid: sum(ln.due for ln in reg.lines if ln.supplier_id == sid)
            for sid in {ln.supplier_id for ln in reg.lines}} == by_supplier_from_reconciliation(rec)
    # School A changed prices on the 15th: two contracts of the same supplier, each with its own lines.
    a = gen.schools[0]
    assert len({ln.contract_id for ln in reg.lines if ln.school_id == a.id}) == 2
    files = {fmt: b"".join(write(registry_document(reg), fmt)) for fmt in ("csv", "json", "xlsx")}

    # In April, after March was closed: late meals for March and voids of March meals (adjustments).
    zone = gen.zones[a.id]
    arrival = local(zone, dt.date(2026, 4, 6), 10)
    gen.recorders[a.id].meals([(gen.students[a.id][0], local(zone, dt.date(2026, 3, 20), 12), "lunch"),
                               (gen.students[a.id][1], local(zone, dt.date(2026, 3, 10), 8), "breakfast"),
                               (str(uuid.uuid4()), local(zone, dt.date(2026, 3, 20), 12), "lunch")],
                              received_at=arrival)
    with session_factory() as s:
        victims = list(s.scalars(select(LedgerEntry.id).where(
            LedgerEntry.verdict == "billable", LedgerEntry.kind == "meal", LedgerEntry.serving_day >= MONTH.first_day,
            LedgerEntry.serving_day <= MONTH.last_day,
            LedgerEntry.id.not_in(select(LedgerEntry.refers_to).where(LedgerEntry.refers_to.is_not(None))))
            .order_by(LedgerEntry.id).limit(3)))
    for victim in victims:
        void(session_factory, victim, arrival + dt.timedelta(hours=1))
    again, _ = both(session_factory, MONTH)
    assert {fmt: b"".join(write(registry_document(again), fmt)) for fmt in files} == files  # byte for byte

    april = MONTH.next()
    with session_factory() as session:
        close_period(session, OPERATOR, "KZ-75", april, key, now=local("Asia/Almaty", dt.date(2026, 5, 2), 9))
    reg, rec = both(session_factory, april)
    assert rec.adjustments and rec.totals.adjustment_amount != 0
    assert reg.due == rec.totals.payable
    assert sum(ln.adjustment_amount for ln in reg.lines) == rec.totals.adjustment_amount
    assert by_supplier_from_reconciliation(rec) == {
        sid: sum(ln.due for ln in reg.lines if ln.supplier_id == sid) for sid in {ln.supplier_id for ln in reg.lines}
        if sum(ln.due for ln in reg.lines if ln.supplier_id == sid)}
    # A supplier sees its own lines only, with the same amounts.
    with session_factory() as s:
        first = s.scalars(select(Supplier).order_by(Supplier.id)).first()
    mine, rec_mine = both(session_factory, april, Principal("s", "supplier", supplier_bin=first.bin))
    assert {ln.supplier_id for ln in mine.lines} <= {first.id}
    assert mine.due == rec_mine.totals.payable == sum(ln.due for ln in reg.lines if ln.supplier_id == first.id)
