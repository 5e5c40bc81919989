"""Export documents: a reconciliation, or the ledger entries underneath it, ready for a writer.

Each document starts with what it is: its format, scope, month, whether the month is closed, when it was
generated (for a closed month: when it was closed, so the file is the same whenever it is made), and the
digest of the checkpoints it was computed from; the checkpoints themselves are a table of the document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from wallet.db import one_of
from wallet.disclosure import shown_actor, shown_text
from wallet.identifiers import mask_iin
from wallet.ingest.rules import REASON_CODES
from wallet.models import Contract, LedgerEntry, School, Student
from wallet.months import Month
from wallet.reconciliation.heads import AsOf, frozen_sizes, load_as_of
from wallet.reconciliation.results import Reconciliation
from wallet.reconciliation.scope import Scope
from wallet.reconciliation.writers import Column, Document, Table

RECONCILIATION_FORMAT = "wallet-reconciliation/v1"
ENTRIES_FORMAT = "wallet-entries/v1"
STREAM_ROWS = 2000


def _camel(code: str) -> str:
    head, *rest = code.split("_")
    return head + "".join(part.title() for part in rest)


REFUSED_COLUMNS = [Column("refused" + _camel(code)[0].upper() + _camel(code)[1:], "int") for code in REASON_CODES]

CHECKPOINT_COLUMNS = [
    Column("schoolBin"), Column("treeSize", "int"), Column("rootHash"), Column("chainHash"), Column("frozen", "bool"),
    Column("checkpointId", "int"), Column("keyId"), Column("issuedAt", "datetime"), Column("signature"),
]


def _meta(fmt: str, scope: Scope, as_of: AsOf, generated_at: dt.datetime) -> list[tuple[str, Any]]:
    return [
        ("format", fmt), ("scope", scope.label), ("month", str(as_of.month)), ("closed", as_of.closed),
        ("generatedAt", generated_at), ("checkpointsDigest", as_of.digest), ("schools", len(scope.schools)),
        ("amounts", "tiyn (1 tenge = 100 tiyn); XLSX shows tenge"),
        ("iin", "full" if scope.show_iin else "masked"),
    ]


def _checkpoints(as_of: AsOf) -> Table:
    return Table("checkpoints", CHECKPOINT_COLUMNS,
                 [[h.as_row()[c.key] for c in CHECKPOINT_COLUMNS] for h in as_of.heads])


def generated_at_for(as_of: AsOf, now: dt.datetime | None = None) -> dt.datetime:
    if as_of.closed and as_of.closed_at is not None:
        return as_of.closed_at
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)


# --- reconciliation ------------------------------------------------------------------------------------


def reconciliation_document(rec: Reconciliation) -> Document:
    school = rec.schools
    supplier = rec.suppliers

    def sbin(school_id: int | None) -> str | None:
        return school[school_id][0] if school_id in school else None

    def pbin(supplier_id: int | None) -> str | None:
        return supplier[supplier_id][0] if supplier_id in supplier else None

    t = rec.totals
    totals = Table("totals", [
        Column("meals", "int"), Column("amountTiyn", "money"), Column("voids", "int"),
        Column("voidAmountTiyn", "money"), Column("netMeals", "int"), Column("netAmountTiyn", "money"),
        Column("adjustmentMeals", "int"),
        Column("adjustmentVoids", "int"), Column("adjustmentAmountTiyn", "money"), Column("payableTiyn", "money"),
        Column("attempts", "int"), Column("refused", "int"), *REFUSED_COLUMNS, Column("late", "int"),
        Column("lateBillable", "int"), Column("ceiling", "int"), Column("ceilingRatio", "ratio"),
    ], [[t.meals, t.amount, t.voids, t.void_amount, t.net_meals, t.net_amount, t.adjustment_meals,
         t.adjustment_voids, t.adjustment_amount, t.payable, t.attempts, t.refused,
         *(t.refused_by_reason.get(code, 0) for code in REASON_CODES), t.late, t.late_billable, t.ceiling,
         _ratio(t.net_meals, t.ceiling)]], single=True)
    lines = Table("lines", [
        Column("schoolBin"), Column("schoolName"), Column("supplierBin"), Column("supplierName"), Column("category"),
        Column("mealType"), Column("meals", "int"), Column("amountTiyn", "money"), Column("voids", "int"),
        Column("voidAmountTiyn", "money"), Column("netMeals", "int"), Column("netAmountTiyn", "money"),
        Column("attempts", "int"), Column("refused", "int"), *REFUSED_COLUMNS, Column("late", "int"),
        Column("lateBillable", "int"), Column("ceiling", "int"), Column("ceilingRatio", "ratio"),
    ], [[sbin(ln.school_id), school[ln.school_id][1], pbin(ln.supplier_id),
         supplier[ln.supplier_id][1] if ln.supplier_id in supplier else None, ln.category, ln.meal_type, ln.meals,
         ln.amount, ln.voids, ln.void_amount, ln.net_meals, ln.net_amount, ln.attempts, ln.refused,
         *(ln.refused_by_reason.get(code, 0) for code in REASON_CODES), ln.late, ln.late_billable, ln.ceiling,
         ln.ratio] for ln in rec.lines])
    adjustments = Table("adjustments", [
        Column("schoolBin"), Column("supplierBin"), Column("category"), Column("mealType"), Column("servingMonth"),
        Column("meals", "int"), Column("mealAmountTiyn", "money"), Column("voids", "int"),
        Column("voidAmountTiyn", "money"), Column("netAmountTiyn", "money"),
    ], [[sbin(a.school_id), pbin(a.supplier_id), a.category, a.meal_type, a.serving_month, a.meals, a.meal_amount,
         a.voids, a.void_amount, a.net_amount] for a in rec.adjustments])
    days = Table("days", [
        Column("schoolBin"), Column("day", "date"), Column("dayKind"), Column("anomaly"), Column("attempts", "int"),
        Column("meals", "int"),
    ], [[sbin(d.school_id), d.day, d.day_kind, d.anomaly, d.attempts, d.meals] for d in rec.days])
    gaps = Table("sequenceGaps", [
        Column("schoolBin"), Column("terminalId"), Column("firstMissing", "int"), Column("lastMissing", "int"),
        Column("missing", "int"),
    ], [[sbin(g.school_id), g.terminal_id, g.first_missing, g.last_missing, g.missing] for g in rec.gaps])
    children = Table("children", [
        Column("schoolBin"), Column("studentId"), Column("iin"), Column("day", "date"), Column("mealType"),
        Column("anomaly"), Column("entries", "int"),
    ], [[sbin(c.school_id), c.student_id, c.iin, c.day, c.meal_type, c.anomaly, c.entries] for c in rec.children])
    claims = Table("claims", [
        Column("supplierBin"), Column("claimId", "int"), Column("version", "int"), Column("submittedAt", "datetime"),
        Column("fileSha256"),
    ], [[pbin(c.supplier_id), c.claim_id, c.version, c.submitted_at, c.file_sha256] for c in rec.claims])
    comparison_columns = [
        Column("claimedMeals", "int"), Column("ledgerMeals", "int"), Column("mealsDifference", "int"),
        Column("claimedAmountTiyn", "money"), Column("ledgerAmountTiyn", "money"),
        Column("amountDifferenceTiyn", "money"),
    ]

    def figures(c: Any) -> list[Any]:
        return [c.claimed_meals, c.ledger_meals, c.meals_difference, c.claimed_amount, c.ledger_amount,
                c.amount_difference]

    claim_totals = Table("claimTotals", [Column("supplierBin"), Column("schoolBin"), *comparison_columns],
                         [[pbin(c.supplier_id), sbin(c.school_id), *figures(c)] for c in rec.claim_totals])
    claim_differences = Table("claimDifferences", [
        Column("supplierBin"), Column("schoolBin"), Column("day", "date"), Column("mealType"), *comparison_columns,
    ], [[pbin(c.supplier_id), sbin(c.school_id), c.day, c.meal_type, *figures(c)] for c in rec.claim_differences])
    held, withheld, mark = rec.held
    return Document(
        meta=[*_meta(RECONCILIATION_FORMAT, rec.scope, rec.as_of, rec.generated_at),
              ("heldTiyn", held), ("withheldTiyn", withheld), ("holds", mark)],
        tables=[totals, lines, adjustments, days, gaps, children, claims, claim_totals, claim_differences,
                _checkpoints(rec.as_of)],
    )


def _ratio(meals: int, ceiling: int) -> Any:
    if not ceiling:
        return None
    return (Decimal(meals) / Decimal(ceiling)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)


# --- entries ---------------------------------------------------------------------------------------------

ENTRY_COLUMNS = [
    Column("entryId", "int"), Column("schoolBin"), Column("position", "int"), Column("kind"), Column("eventId"),
    Column("terminalId"), Column("deviceSeq", "int"), Column("studentRef"), Column("studentId"), Column("iin"),
    Column("mealType"), Column("method"), Column("servedAt", "datetime"), Column("servingDay", "date"),
    Column("billingMonth"), Column("receivedAt", "datetime"), Column("verdict"), Column("reasons"),
    Column("category"), Column("contractId", "int"), Column("priceTiyn", "money"), Column("refersTo", "int"),
    Column("actor"), Column("note"), Column("leafHash"),
]


def _entries_statement(session: Session, scope: Scope, month: Month, *, count: bool = False) -> Any:
    e, frozen = LedgerEntry.__table__, frozen_sizes(month).subquery("frozen")
    where = [one_of(session, e.c.school_id, scope.school_ids), e.c.serving_day >= month.first_day,
             e.c.serving_day <= month.last_day, or_(frozen.c.tree_size.is_(None), e.c.position <= frozen.c.tree_size)]
    if scope.supplier_id:
        c = Contract.__table__
        where.append(exists().where(c.c.school_id == e.c.school_id, c.c.supplier_id == scope.supplier_id,
                                    c.c.valid_from <= e.c.serving_day, c.c.valid_to >= e.c.serving_day))
    if count:
        return select(func.count()).select_from(e).outerjoin(frozen, frozen.c.school_id == e.c.school_id).where(*where)
    s, st = School.__table__, Student.__table__
    return (
        select(e.c.id, s.c.bin, e.c.position, e.c.kind, e.c.event_id, e.c.terminal_id, e.c.device_seq,
               e.c.student_ref, e.c.student_id, st.c.iin, e.c.meal_type, e.c.method, e.c.served_at, e.c.serving_day,
               e.c.billing_month, e.c.received_at, e.c.verdict, e.c.reasons, e.c.category_code, e.c.contract_id,
               e.c.price_tiyn, e.c.refers_to, e.c.actor, e.c.note, e.c.leaf_hash)
        .join(s, s.c.id == e.c.school_id)
        .outerjoin(st, and_(e.c.student_id.is_not(None), st.c.id == e.c.student_id))
        .outerjoin(frozen, frozen.c.school_id == e.c.school_id)
        .where(*where)
        .order_by(e.c.school_id, e.c.position)
    )


def count_entries(session: Session, scope: Scope, month: Month) -> int:
    return int(session.scalar(_entries_statement(session, scope, month, count=True)) or 0)


def entries_document(session: Session, scope: Scope, month: Month, *, now: dt.datetime | None = None) -> Document:
    """The month's entries of the scope, streamed from the database as the writer asks for rows.

    The session's transaction must stay open until the document has been written."""
    as_of = load_as_of(session, scope, month)
    show_iin, show_staff = scope.show_iin, scope.show_staff

    def rows() -> Iterator[list[Any]]:
        result = session.execute(_entries_statement(session, scope, month),
                                 execution_options={"yield_per": STREAM_ROWS})
        try:
            for partition in result.partitions():
                for r in partition:
                    iin = r.iin if r.iin is None or show_iin else mask_iin(r.iin)
                    yield [r.id, r.bin, r.position, r.kind, None if r.event_id is None else str(r.event_id),
                           r.terminal_id, r.device_seq, shown_text(r.student_ref, show_iin=show_iin),
                           None if r.student_id is None else str(r.student_id), iin, r.meal_type, r.method,
                           r.served_at, r.serving_day, r.billing_month, r.received_at, r.verdict, r.reasons,
                           r.category_code, r.contract_id, r.price_tiyn, r.refers_to,
                           shown_actor(r.actor, show_subject=show_staff), shown_text(r.note, show_iin=show_iin),
                           bytes(r.leaf_hash).hex()]
        finally:
            result.close()

    return Document(meta=_meta(ENTRIES_FORMAT, scope, as_of, generated_at_for(as_of, now)),
                    tables=[_checkpoints(as_of), Table("entries", ENTRY_COLUMNS, rows())])
