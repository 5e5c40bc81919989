"""The monthly reconciliation, computed by the database.

The month's ledger entries are read once, by one statement: a first aggregation (`g`) per school, serving
day, meal type, category, contract and terminal, from which the same statement derives, with further SQL
aggregation, the lines (school x supplier x category x meal type), the grand total, the days that look
wrong against the calendar, the terminals whose sequence numbers have holes and the comparison with the
suppliers' claims. Python only sorts and labels what comes back; it never sees an entry.

Beside it: the ceiling (eligible children x serving days, from the registry and the calendar), the
children with anomalies (one aggregation per child, day and meal type), the adjustments (entries about a
closed month that arrived after it was closed, found through a small partial index) and, for the few
terminals flagged above, the exact missing sequence runs.

Everything is read in one snapshot and, for a closed month, only up to the chain sizes signed at the close,
so a closed month gives the same figures every time.

An open month's first groupings (per school x day x ... x lateness, and per child) are read from the
derived totals kept by `wallet.ledger.append.append_entries` (`wallet/ledger/totals.py`), which hold
exactly those groups (the per-child one already summed per child and meal type, so the flagged children
are a filter over it); a closed month, or `from_entries=True`, reads the entries. Everything after those
groupings is the same SQL either way. The flagged children come from a second statement of their own.

This module assembles the reconciliation from the statements' modules: lines (and the month's first
grouping), days, sequence_gaps, claim_comparison (parts of the one main statement, wallet.reconciliation.
parts), children, ceiling and adjustments; results holds what it returns, dialect and reading what the
statements share.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.evidence.holds import current_mark, held_by_key
from wallet.models import Contract, Supplier
from wallet.months import Month
from wallet.reconciliation.adjustments import adjustments_of
from wallet.reconciliation.ceiling import line_ceilings
from wallet.reconciliation.children import child_anomalies, child_groups, flagged_children
from wallet.reconciliation.claim_comparison import claim_parts, comparison, latest_claims
from wallet.reconciliation.days import day_anomalies, day_parts
from wallet.reconciliation.heads import load_as_of
from wallet.reconciliation.lines import line_parts, lines_of, month_groups, totals_of, with_suppliers
from wallet.reconciliation.parts import PartRow, run_parts
from wallet.reconciliation.reading import MonthReading, open_reading
from wallet.reconciliation.results import ChildAnomaly, ClaimInfo, Reconciliation
from wallet.reconciliation.scope import Scope
from wallet.reconciliation.sequence_gaps import sequence_gaps, terminal_part


def reconcile(session: Session, scope: Scope, month: Month, *, now: dt.datetime | None = None,
              from_entries: bool = False) -> Reconciliation:
    """The month's reconciliation for the scope, read in the session's current transaction (one snapshot).

    An open month's first aggregations come from the derived totals; `from_entries` reads the entries
    instead (as a closed month always does), to check one against the other."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    as_of = load_as_of(session, scope, month)
    # A closed month is stamped with its close, so files made from it are identical whenever they are made.
    generated_at = as_of.closed_at if as_of.closed and as_of.closed_at is not None else now.replace(microsecond=0)
    claims = latest_claims(session, scope, month)
    reading = open_reading(session, scope, month, now, any_frozen=any(h.frozen for h in as_of.heads),
                           from_entries=from_entries)
    main, flagged = _main_rows(reading, claims)
    ceilings, ceiling_total = line_ceilings(reading)
    lines = lines_of(main["line"], ceilings)
    totals = totals_of(main["total"], ceiling_total)
    adjustments = adjustments_of(reading)
    for adjustment in adjustments:
        totals.adjustment_meals += adjustment.meals
        totals.adjustment_voids += adjustment.voids
        totals.adjustment_amount += adjustment.net_amount
    schools = {s.id: (s.bin, s.name) for s in scope.schools}
    supplier_ids = {ln.supplier_id for ln in lines} | {a.supplier_id for a in adjustments} | {
        c.supplier_id for c in claims}
    suppliers = {
        sid: (sbin, name)
        for sid, sbin, name in session.execute(
            select(Supplier.id, Supplier.bin, Supplier.name).where(Supplier.id.in_({i for i in supplier_ids if i}))
        )
    }

    def school_bin(school_id: int) -> str:
        return schools[school_id][0]

    def supplier_bin(supplier_id: int | None) -> str:
        return suppliers[supplier_id][0] if supplier_id in suppliers else ""

    lines.sort(key=lambda ln: (school_bin(ln.school_id), supplier_bin(ln.supplier_id), ln.category or "",
                               ln.meal_type))
    adjustments.sort(key=lambda a: (school_bin(a.school_id), supplier_bin(a.supplier_id), a.serving_month,
                                    a.category or "", a.meal_type))
    days = sorted(day_anomalies(main["day_off"], main["day_empty"]), key=lambda d: (school_bin(d.school_id), d.day))
    gaps = sorted(sequence_gaps(reading, main["terminal"]),
                  key=lambda g: (school_bin(g.school_id), g.terminal_id, g.first_missing))
    # Sorted by (school BIN, day, child, meal type, anomaly) through one string a row ('\0' between the
    # fields keeps the order of the tuple): tens of thousands of keys that are not tuples give the garbage
    # collector nothing to track.
    children = sorted(flagged, key=lambda c: f"{school_bin(c.school_id)}\0{c.day.isoformat()}\0"
                                             f"{c.student_id}\0{c.meal_type}\0{c.anomaly}")
    claim_totals = sorted(
        [comparison(r, with_school=r.school_id is not None) for r in main["claim_school"] + main["claim_supplier"]],
        key=lambda c: (supplier_bin(c.supplier_id), c.school_id is not None,
                       school_bin(c.school_id) if c.school_id else ""),
    )
    claim_differences = sorted(
        [comparison(r, with_school=True) for r in main["claim_diff"]],
        key=lambda c: (supplier_bin(c.supplier_id), school_bin(c.school_id or 0), c.day, c.meal_type),
    )
    return Reconciliation(
        held=_held(session, scope, month),
        scope=scope, as_of=as_of, generated_at=generated_at, schools=schools, suppliers=suppliers, totals=totals,
        lines=lines, adjustments=adjustments, days=days, gaps=gaps, children=children,
        claims=sorted(claims, key=lambda c: supplier_bin(c.supplier_id)), claim_totals=claim_totals,
        claim_differences=claim_differences,
    )


def _main_rows(reading: MonthReading, claims: list[ClaimInfo]) -> tuple[dict[str, list[PartRow]], list[ChildAnomaly]]:
    """The main statement's rows by part, and the flagged children's anomalies."""
    g = month_groups(reading)
    children = child_groups(reading)
    g2 = with_suppliers(g)
    parts = [*line_parts(reading, g2), *day_parts(reading, g), terminal_part(g)]
    if claims:
        parts += claim_parts(reading, g2, claims)
    rows = run_parts(reading.session, parts)
    # The flagged children in a statement of their own, read in the same snapshot: tens of thousands of
    # rows when many children have refused attempts, with their few columns and IINs, where the union
    # would pad each of them to every column of every part.
    # Their anomalies are made as the rows are read, so no list of rows outlives the loop.
    return rows, child_anomalies(reading, reading.session.execute(flagged_children(reading, children)))


def _held(session: Session, scope: Scope, month: Month) -> tuple[int, int, str]:
    """Held and withheld tiyn of the scope's month (a supplier: its own contracts) and the mark counted."""
    mark = current_mark(session)
    held = held_by_key(session, scope.school_ids, str(month), mark)
    own = None if not scope.supplier_id else set(session.scalars(
        select(Contract.id).where(Contract.supplier_id == scope.supplier_id)))
    kept = [h for (contract_id, *_), h in held.items() if own is None or contract_id in own]
    return sum(h.held for h in kept), sum(h.withheld for h in kept), mark.label
