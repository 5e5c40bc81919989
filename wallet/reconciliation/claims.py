"""Suppliers' monthly claims: meals and amounts per school, day and meal type, as CSV or JSON.

The whole file is checked before anything is stored: bad rows are reported with their line number (CSV) or
index (JSON), the first MAX_ERRORS of them (checking stops there, so a refused file costs the time and memory
of its first errors), and a claim with any error stores nothing. A claim for a month already closed in a
region where the supplier serves is refused: claims come before the close. A supplier may send its claim
again; each submission is kept as a new version and the newest one is reconciled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from wallet.importing.csvfile import CsvRow, decode, iter_table
from wallet.importing.errors import ImportFailed, RowError
from wallet.importing.fields import Cells, parse_bin, parse_date
from wallet.messages import T_
from wallet.models import (
    MEAL_TYPES,
    ClosedPeriod,
    Contract,
    Region,
    School,
    Supplier,
    SupplierClaim,
    SupplierClaimLine,
)
from wallet.months import Month
from wallet.principals import Principal

CSV_COLUMNS = ("school_bin", "day", "meal_type", "meals", "amount_tiyn")
JSON_KEYS = {"schoolBin", "day", "mealType", "meals", "amountTiyn"}
MAX_LINES = 100_000
MAX_MEALS = 1_000_000
MAX_AMOUNT = 10**13
MAX_ERRORS = 200  # a refused claim reports at most this many errors, and stops reading at the last one


@dataclass(frozen=True)
class ClaimRow:
    where: str  # "line 7" (CSV, the header is line 1) or "lines/6" (JSON)
    school_bin: str
    day: dt.date
    meal_type: str
    meals: int
    amount: int


class ClaimRefused(InvalidInput):
    """The claim file has errors; nothing was stored."""


class _Errors:
    """The errors of one claim, up to MAX_ERRORS: `full` tells the reader to stop, so that a refused file
    costs the time and memory of its first errors, not of its whole length."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, errors: list[FieldError]) -> None:
        self.items += errors[: MAX_ERRORS - len(self.items)]

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS

    def refuse_if_any(self) -> None:
        if self.items:
            raise _refuse(self.items, stopped=self.full)


def _refuse(errors: list[FieldError], *, stopped: bool = False) -> ClaimRefused:
    shown = errors[:MAX_ERRORS]
    first = shown[0].message if shown else T_("no details")
    if stopped:
        detail = T_("the claim was refused, nothing was stored: %(first)s (and more: checking stopped after "
                    "%(limit)s errors)", first=first, limit=MAX_ERRORS)
    else:
        detail = T_("the claim was refused, nothing was stored: %(first)s", first=first)
    return ClaimRefused("invalid_claim", detail, shown)


def _place(where: str) -> str:
    """A row's place as a message names it: a CSV row's "line 7" in the reader's words, a JSON path as it is
    (the field paths of the errors stay the data they are)."""
    number = where.removeprefix("line ")
    return T_("line %(line)s", line=number) if number != where else where


def _row_message(error: RowError) -> str:
    """A reader's error (wallet.importing) in the reader's words: "line 3: meals: ..." with the column as data."""
    if error.column:
        return T_("line %(line)s: %(field)s: %(message)s", line=error.line, field=error.column, message=error.message)
    return T_("line %(line)s: %(message)s", line=error.line, message=error.message)


def _too_large() -> InvalidInput:
    return InvalidInput("claim_too_large", T_("a claim has at most %(MAX_LINES)s lines", MAX_LINES=MAX_LINES),
                        [FieldError("lines", T_("at most %(MAX_LINES)s", MAX_LINES=MAX_LINES))])


# --- parsing -------------------------------------------------------------------------------------------


def _csv_items(text: str) -> Iterator[CsvRow | RowError]:
    return iter_table(text, CSV_COLUMNS)


def parse_csv(data: bytes) -> list[ClaimRow]:
    """Rows of a CSV claim (UTF-8, a byte-order mark allowed, a header naming CSV_COLUMNS); read row by row
    and abandoned at the MAX_ERRORS-th error or past MAX_LINES rows."""
    errors = _Errors()
    rows: list[ClaimRow] = []
    try:
        if not data.strip() or data.strip() == b"\xef\xbb\xbf":
            raise ImportFailed([])
        for item in _csv_items(decode(data)):
            if isinstance(item, RowError):
                errors.add([FieldError(f"line {item.line}", _row_message(item))])
            else:
                row = _csv_row(item, errors)
                if row is not None:
                    rows.append(row)
            if errors.full:
                break
            if len(rows) > MAX_LINES:
                raise _too_large()
    except ImportFailed as exc:
        found = [FieldError(f"line {e.line}" + (f"/{e.column}" if e.column else ""), _row_message(e))
                 for e in exc.errors]
        raise _refuse(found or [FieldError("line 1", T_("line 1: the file is empty; expected a header row "
                                                        "%(columns)s",
                                                        columns=','.join(CSV_COLUMNS)))]) from exc
    errors.refuse_if_any()
    return rows


def _csv_row(row: CsvRow, errors: _Errors) -> ClaimRow | None:
    cells = Cells(row.cells)
    school_bin = cells.bin("school_bin")
    day = cells.date("day")
    meal_type = cells.choice("meal_type", MEAL_TYPES)
    meals = cells.integer("meals", 0, MAX_MEALS)
    amount = cells.integer("amount_tiyn", 0, MAX_AMOUNT)
    if cells.errors:
        errors.add([FieldError(f"line {row.line}/{e.field}", T_("line %(line)s: %(field)s: %(message)s",
                                                                line=row.line, field=e.field, message=e.message))
                    for e in cells.errors])
        return None
    assert school_bin and day and meal_type and meals is not None and amount is not None
    return ClaimRow(f"line {row.line}", school_bin, day, meal_type, meals, amount)


def parse_json(document: Any) -> tuple[list[ClaimRow], dict[str, Any]]:
    """Rows of a JSON claim `{"lines": [{schoolBin, day, mealType, meals, amountTiyn}, ...]}`, and the
    document's optional `month` and `supplierBin`; checking stops at the MAX_ERRORS-th error."""
    if not isinstance(document, dict) or not isinstance(document.get("lines"), list):
        raise _refuse([FieldError("lines", T_("the claim must be an object with a `lines` array"))])
    if len(document["lines"]) > MAX_LINES:
        raise _too_large()
    unknown = set(document) - {"lines", "month", "supplierBin"}
    errors = _Errors()
    errors.add([FieldError(key, T_("%(key)s: unknown member", key=key)) for key in sorted(unknown)])
    rows: list[ClaimRow] = []
    for index, item in enumerate(document["lines"]):
        if errors.full:
            break
        row = _json_row(f"lines/{index}", item, errors)
        if row is not None:
            rows.append(row)
    errors.refuse_if_any()
    return rows, {k: document[k] for k in ("month", "supplierBin") if k in document}


def _json_row(where: str, item: Any, errors: _Errors) -> ClaimRow | None:
    if not isinstance(item, dict):
        errors.add([FieldError(where, T_("%(where)s: must be an object", where=where))])
        return None
    row_errors = [FieldError(f"{where}/{k}", T_("%(where)s/%(k)s: unknown member",
                                                where=where, k=k)) for k in sorted(set(item) - JSON_KEYS)]
    row_errors += [FieldError(f"{where}/{k}", T_("%(where)s/%(k)s: is required",
                                                 where=where, k=k)) for k in sorted(JSON_KEYS - set(item))]
    values: dict[str, Any] = {}
    for key, check in (("schoolBin", _json_bin), ("day", _json_date), ("mealType", _json_meal_type),
                       ("meals", lambda v: _json_int(v, MAX_MEALS)),
                       ("amountTiyn", lambda v: _json_int(v, MAX_AMOUNT))):
        if key not in item:
            continue
        try:
            values[key] = check(item[key])
        except ValueError as exc:
            reason = exc.args[0] if exc.args else exc  # a marked text keeps its msgid (str(exc) would drop it)
            row_errors.append(FieldError(f"{where}/{key}", T_("%(where)s/%(key)s: %(exc)s",
                                                              where=where, key=key, exc=reason)))
    if row_errors:
        errors.add(row_errors)
        return None
    return ClaimRow(where, values["schoolBin"], values["day"], values["mealType"], values["meals"],
                    values["amountTiyn"])


def _json_bin(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(T_("must be a 12-digit BIN as a string"))
    return parse_bin(value)


def _json_date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise ValueError(T_("must be a date YYYY-MM-DD as a string"))
    return parse_date(value)


def _json_meal_type(value: Any) -> str:
    if value not in MEAL_TYPES:
        raise ValueError(T_("must be one of %(choices)s", choices=", ".join(MEAL_TYPES)))
    return str(value)


def _json_int(value: Any, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise ValueError(T_("must be a whole number from 0 to %(maximum)s", maximum=maximum))
    return value


# --- storing -------------------------------------------------------------------------------------------


def claim_supplier(session: Session, principal: Principal, supplier_bin: str | None) -> Supplier:
    """The supplier a claim is for: a supplier's own; an operator must name one."""
    if principal.role == "supplier":
        if supplier_bin is not None and supplier_bin != principal.supplier_bin:
            raise NotFound("supplier_not_found", T_("no supplier %(supplier_bin)s in your scope",
                                                    supplier_bin=supplier_bin))
        supplier_bin = principal.supplier_bin
    elif principal.role != "operator":
        raise Forbidden("forbidden", T_("claims are submitted by suppliers (or operators on their behalf)"))
    if not supplier_bin:
        raise InvalidInput("validation_failed", T_("name the supplier the claim is for"),
                           [FieldError("supplier", T_("a 12-digit supplier BIN"))])
    supplier = session.scalars(select(Supplier).where(Supplier.bin == supplier_bin)).one_or_none()
    if supplier is None:
        if principal.role == "supplier":
            raise Forbidden("unknown_supplier", T_("the token names no known supplier"))
        raise NotFound("supplier_not_found", T_("no supplier %(supplier_bin)s", supplier_bin=supplier_bin))
    return supplier


def submit_claim(session: Session, principal: Principal, month: Month, rows: list[ClaimRow], *,
                 source_format: str, raw: bytes, supplier_bin: str | None = None,
                 now: dt.datetime | None = None) -> SupplierClaim:
    """Check the rows against the registry and store them as the supplier's next claim version; commits."""
    supplier = claim_supplier(session, principal, supplier_bin)
    closed = session.scalars(
        select(Region.code).distinct()
        .join(School, School.region_id == Region.id)
        .join(Contract, and_(Contract.school_id == School.id, Contract.supplier_id == supplier.id,
                             Contract.valid_from <= month.last_day, Contract.valid_to >= month.first_day))
        .join(ClosedPeriod, and_(ClosedPeriod.region_id == Region.id, ClosedPeriod.month == str(month)))
        .order_by(Region.code)
    ).all()
    if closed:
        raise Conflict("period_closed", T_("%(month)s is already closed in region(s) %(closed)s; claims must be "
                                           "submitted before the close", month=month, closed=', '.join(closed)))
    if not rows:
        raise InvalidInput("empty_claim", T_("the claim has no lines"), [FieldError("lines", T_("at least one line"))])
    if len(rows) > MAX_LINES:
        raise _too_large()
    schools = dict(session.execute(
        select(School.bin, School.id).where(School.bin.in_({r.school_bin for r in rows}))).all())
    contracts: dict[int, list[tuple[dt.date, dt.date]]] = {}
    for school_id, start, end in session.execute(
        select(Contract.school_id, Contract.valid_from, Contract.valid_to)
        .where(Contract.supplier_id == supplier.id, Contract.valid_from <= month.last_day,
               Contract.valid_to >= month.first_day)
    ):
        contracts.setdefault(school_id, []).append((start, end))
    errors = _Errors()
    seen: dict[tuple[str, dt.date, str], str] = {}
    for row in rows:
        if errors.full:
            break
        key = (row.school_bin, row.day, row.meal_type)
        school_id = schools.get(row.school_bin)
        if key in seen:
            errors.add([FieldError(row.where, T_("%(where)s: repeats %(seen_key)s (same school, day and meal type)",
                                                 where=_place(row.where), seen_key=_place(seen[key])))])
        seen.setdefault(key, row.where)
        if Month.of(row.day) != month:
            errors.add([FieldError(f"{row.where}/day", T_("%(where)s: day %(day)s is not in %(month)s",
                                                          where=_place(row.where), day=row.day, month=month))])
        if school_id is None:
            errors.add([FieldError(f"{row.where}/school", T_("%(where)s: no school with BIN %(school_bin)s",
                                                             where=_place(row.where), school_bin=row.school_bin))])
        elif not any(start <= row.day <= end for start, end in contracts.get(school_id, ())):
            errors.add([FieldError(f"{row.where}/school",
                                   T_("%(where)s: supplier %(bin)s has no contract at school %(school_bin)s on "
                                      "%(day)s",
                                      where=_place(row.where), bin=supplier.bin, school_bin=row.school_bin,
                                      day=row.day))])
    errors.refuse_if_any()
    version = (session.scalar(select(func.max(SupplierClaim.version)).where(
        SupplierClaim.supplier_id == supplier.id, SupplierClaim.month == str(month))) or 0) + 1
    claim = SupplierClaim(
        supplier_id=supplier.id, month=str(month), version=version,
        submitted_at=(now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC), submitted_by=principal.actor,
        source_format=source_format, file_sha256=hashlib.sha256(raw).hexdigest(), line_count=len(rows),
        total_meals=sum(r.meals for r in rows), total_amount_tiyn=sum(r.amount for r in rows),
    )
    claim.lines = [SupplierClaimLine(school_id=schools[r.school_bin], serving_day=r.day, meal_type=r.meal_type,
                                     meals=r.meals, amount_tiyn=r.amount) for r in rows]
    session.add(claim)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("claim_conflict", T_("another claim of this supplier and month was stored at the same moment; "
                                            "send it again")) from exc
    return claim


@dataclass(frozen=True)
class ClaimSummary:
    """A claim as one reader sees it: its lines and totals over the schools of the reader's scope only."""

    id: int
    month: str
    version: int
    submitted_at: dt.datetime
    submitted_by: str
    source_format: str
    file_sha256: str
    line_count: int
    total_meals: int
    total_amount_tiyn: int


def list_claims(session: Session, principal: Principal, month: Month) -> list[tuple[ClaimSummary, str]]:
    """The month's claims (every version) the caller may see, with the supplier's BIN.

    Operators and the supplier itself see whole claims. Anyone else (a school administrator, an auditor)
    sees a claim only when it has lines at a school of their scope, and its line count and totals over those
    lines only: another school's figures are not theirs to read."""
    from wallet.scope import schools_in_scope

    line = SupplierClaimLine
    whole = principal.role in ("operator", "supplier")
    sums = (
        select(line.claim_id, func.count().label("lines"), func.sum(line.meals).label("meals"),
               func.sum(line.amount_tiyn).label("amount"))
        .group_by(line.claim_id)
    )
    if not whole:
        sums = sums.where(line.school_id.in_(schools_in_scope(principal)))
    scoped = sums.subquery("scoped_lines")
    statement = (
        select(SupplierClaim, Supplier.bin, scoped.c.lines, scoped.c.meals, scoped.c.amount)
        .join(Supplier, Supplier.id == SupplierClaim.supplier_id)
        .join(scoped, scoped.c.claim_id == SupplierClaim.id)
        .where(SupplierClaim.month == str(month))
        .order_by(Supplier.bin, SupplierClaim.version)
    )
    if principal.role == "supplier":
        statement = statement.where(Supplier.bin == (principal.supplier_bin or ""))
    return [(ClaimSummary(c.id, c.month, c.version, c.submitted_at, c.submitted_by, c.source_format,
                          c.file_sha256, int(lines), int(meals or 0), int(amount or 0)), supplier_bin)
            for c, supplier_bin, lines, meals, amount in session.execute(statement).all()]
