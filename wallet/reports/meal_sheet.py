"""The meal sheet ("табель" / "тізім"): who of a school's classes ate what, day by day, in one month.

A row per pupil of a class (everyone enrolled in it during the month, and anyone with entries there), a
column per serving day and meal type: the pupil's net billable meals that day (1; 0 for an attempt that was
refused; empty for nothing), with totals per pupil, per class and day, and per class. The class of an entry
is the pupil's enrollment at the school on its serving day; a billable meal of a pupil the registry no
longer places in a class (corrected afterwards) is listed under no class, so nothing paid goes missing.

The figures come from the same entries as the reconciliation and by the same rules: the month's serving
days, up to the close checkpoints for a closed month, billable meals minus billable voids at the price
recorded on the entry. The sum of a school's sheet is therefore the reconciliation's net amount for that
school to the tiyn, and its `lines` table repeats the reconciliation's lines (supplier x category x meal
type). Adjustments (entries about earlier closed months) are not meals of this month's sheet: they are paid
through the payment registry.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from wallet.db import one_of
from wallet.errors import FieldError, InvalidInput
from wallet.evidence.holds import current_mark, held_of_pupils
from wallet.identifiers import mask_iin
from wallet.messages import T_
from wallet.models import CalendarDay, Contract, ContractPrice, Enrollment, LedgerEntry, Student, Supplier
from wallet.months import Month
from wallet.reconciliation.exports import CHECKPOINT_COLUMNS, generated_at_for
from wallet.reconciliation.heads import AsOf, frozen_sizes, load_as_of
from wallet.reconciliation.scope import Scope
from wallet.reconciliation.writers import Column, Document, Table

SHEET_FORMAT = "wallet-meal-sheet/v1"
MEAL_ORDER = ("breakfast", "lunch", "snack")
CLASS_NAME_MAX = 16  # enrollments.class_name

_E = LedgerEntry.__table__


@dataclass(frozen=True)
class Pupil:
    student_id: uuid.UUID
    class_name: str | None
    last_name: str
    first_name: str
    iin: str | None  # masked unless the scope may see it


@dataclass
class Figures:
    meals: int = 0  # net billable meals
    amount: int = 0  # net amount, tiyn
    refused: int = 0  # refused attempts

    def add(self, meals: int, amount: int, refused: int) -> None:
        self.meals += meals
        self.amount += amount
        self.refused += refused


@dataclass(frozen=True)
class SheetLine:
    supplier_id: int | None
    category: str | None
    meal_type: str
    meals: int
    amount: int


@dataclass
class MealSheet:
    scope: Scope
    as_of: AsOf
    generated_at: dt.datetime
    school_bin: str
    school_name: str
    class_name: str | None  # the class asked for, or None for every class
    columns: list[tuple[dt.date, str]]  # (serving day, meal type), in order
    pupils: list[Pupil]
    cells: dict[tuple[uuid.UUID, str | None, dt.date, str], Figures]  # (pupil, class, day, meal type)
    lines: list[SheetLine]
    suppliers: dict[int, tuple[str, str]]
    per_pupil: dict[tuple[uuid.UUID, str | None], Figures] = field(default_factory=dict)
    per_day: dict[tuple[str | None, dt.date, str], Figures] = field(default_factory=dict)
    per_class: dict[str | None, Figures] = field(default_factory=dict)
    class_pupils: dict[str | None, int] = field(default_factory=dict)
    total: Figures = field(default_factory=Figures)
    # Tiyn of the sheet's pupils' billable meals under open (held) and upheld (withheld) findings, and the
    # findings and rulings counted (wallet.evidence.holds).
    held: tuple[int, int, str] = (0, 0, "findings<=0,rulings<=0")

    @property
    def month(self) -> Month:
        return self.as_of.month


def parse_class_name(value: object, field_name: str = "class") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > CLASS_NAME_MAX or not value.isprintable():
        raise InvalidInput("validation_failed", T_("a class is named as in the school's roster, e.g. 2A"),
                           [FieldError(field_name, T_("1-%(CLASS_NAME_MAX)s printable characters",
                                                      CLASS_NAME_MAX=CLASS_NAME_MAX))])
    return value


def meal_sheet(session: Session, scope: Scope, month: Month, class_name: str | None = None, *,
               now: dt.datetime | None = None) -> MealSheet:
    """The month's meal sheet of the scope's one school (narrowed to one class when asked), in the session's
    current transaction. A class without pupils gives an empty but valid sheet."""
    if len(scope.schools) != 1:
        raise InvalidInput("validation_failed", T_("a meal sheet is made for one school"),
                           [FieldError("school", T_("a 12-digit BIN"))])
    school = scope.schools[0]
    as_of = load_as_of(session, scope, month)
    cells = _cells(session, scope, month, class_name)
    pupils = _pupils(session, scope, month, class_name, {(sid, cls) for sid, cls, _, _ in cells})
    lines = _lines(session, scope, month, class_name)
    suppliers = {sid: (sbin, name) for sid, sbin, name in session.execute(
        select(Supplier.id, Supplier.bin, Supplier.name).where(
            Supplier.id.in_({ln.supplier_id for ln in lines if ln.supplier_id})))}
    sheet = MealSheet(scope=scope, as_of=as_of, generated_at=generated_at_for(as_of, now), school_bin=school.bin,
                      school_name=school.name, class_name=class_name,
                      columns=_columns(session, scope, month, cells), pupils=pupils, cells=cells, lines=lines,
                      suppliers=suppliers)
    mark = current_mark(session)
    sheet.held = (*held_of_pupils(session, [school.id], str(month), mark,
                                  {p.student_id for p in pupils} if class_name is not None else None), mark.label)
    for pupil in pupils:
        sheet.per_pupil[(pupil.student_id, pupil.class_name)] = Figures()
        sheet.per_class.setdefault(pupil.class_name, Figures())
        sheet.class_pupils[pupil.class_name] = sheet.class_pupils.get(pupil.class_name, 0) + 1
    for (sid, cls, day, meal_type), f in cells.items():
        sheet.per_pupil[(sid, cls)].add(f.meals, f.amount, f.refused)
        sheet.per_day.setdefault((cls, day, meal_type), Figures()).add(f.meals, f.amount, f.refused)
        sheet.per_class[cls].add(f.meals, f.amount, f.refused)
        sheet.total.add(f.meals, f.amount, f.refused)
    return sheet


# --- the statements -------------------------------------------------------------------------------------


def _visible(session: Session, scope: Scope, month: Month) -> Any:
    """The month's entries of the scope's school that the month is computed from (for a closed month, up to
    its close checkpoint), and, for a supplier, only those of its own contracts."""
    frozen = frozen_sizes(month).subquery("frozen")
    e = _E
    billed, covering = aliased(Contract, name="billed"), aliased(Contract, name="covering")
    statement = (
        select(e)
        .outerjoin(frozen, frozen.c.school_id == e.c.school_id)
        .where(one_of(session, e.c.school_id, scope.school_ids), e.c.serving_day >= month.first_day,
               e.c.serving_day <= month.last_day,
               or_(frozen.c.tree_size.is_(None), e.c.position <= frozen.c.tree_size),
               e.c.student_id.is_not(None))
    )
    if scope.supplier_id:
        statement = (
            statement.outerjoin(billed, billed.id == e.c.contract_id)
            .outerjoin(covering, and_(e.c.contract_id.is_(None), covering.school_id == e.c.school_id,
                                      covering.valid_from <= e.c.serving_day, covering.valid_to >= e.c.serving_day))
            .where(func.coalesce(billed.supplier_id, covering.supplier_id) == scope.supplier_id)
        )
    return statement.subquery("visible")


def _class_of(entries: Any) -> Any:
    """The pupil's class at the school on the entry's serving day (the latest enrollment, if two overlap)."""
    en = Enrollment.__table__
    return (
        select(en.c.class_name)
        .where(en.c.student_id == entries.c.student_id, en.c.school_id == entries.c.school_id,
               en.c.valid_from <= entries.c.serving_day,
               or_(en.c.valid_to.is_(None), en.c.valid_to >= entries.c.serving_day))
        .order_by(en.c.valid_from.desc())
        .limit(1)
        .scalar_subquery()
    )


def _signed(entries: Any) -> tuple[Any, Any, Any]:
    billable = entries.c.verdict == "billable"
    sign = case((and_(billable, entries.c.kind == "meal"), 1), (and_(billable, entries.c.kind == "void"), -1),
                else_=0)
    meals = cast(func.sum(sign), BigInteger)
    amount = cast(func.sum(sign * entries.c.price_tiyn), BigInteger)
    refused = cast(func.sum(case((and_(~billable, entries.c.kind == "meal"), 1), else_=0)), BigInteger)
    return meals, amount, refused


def _cells(session: Session, scope: Scope, month: Month,
           class_name: str | None) -> dict[tuple[uuid.UUID, str | None, dt.date, str], Figures]:
    visible = _visible(session, scope, month)
    with_class = select(visible, _class_of(visible).label("class_name")).subquery("with_class")
    meals, amount, refused = _signed(with_class)
    statement = (
        select(with_class.c.student_id, with_class.c.class_name, with_class.c.serving_day, with_class.c.meal_type,
               meals.label("meals"), amount.label("amount"), refused.label("refused"))
        .group_by(with_class.c.student_id, with_class.c.class_name, with_class.c.serving_day,
                  with_class.c.meal_type)
    )
    if class_name is not None:
        statement = statement.where(with_class.c.class_name == class_name)
    return {(_uuid(r.student_id), r.class_name, r.serving_day, r.meal_type):
            Figures(int(r.meals or 0), int(r.amount or 0), int(r.refused or 0))
            for r in session.execute(statement)}


def _lines(session: Session, scope: Scope, month: Month, class_name: str | None) -> list[SheetLine]:
    """Net billable meals and amount per supplier x category x meal type: the reconciliation's lines."""
    visible = _visible(session, scope, month)
    source = visible
    if class_name is not None:
        source = select(visible, _class_of(visible).label("class_name")).subquery("with_class")
    contract = Contract.__table__
    meals, amount, _ = _signed(source)
    statement = (
        select(contract.c.supplier_id, source.c.category_code, source.c.meal_type, meals.label("meals"),
               amount.label("amount"))
        .join(contract, contract.c.id == source.c.contract_id)
        .where(source.c.verdict == "billable")
        .group_by(contract.c.supplier_id, source.c.category_code, source.c.meal_type)
    )
    if class_name is not None:
        statement = statement.where(source.c.class_name == class_name)
    return [SheetLine(r.supplier_id, r.category_code, r.meal_type, int(r.meals or 0), int(r.amount or 0))
            for r in session.execute(statement)]


def _pupils(session: Session, scope: Scope, month: Month, class_name: str | None,
            with_entries: set[tuple[uuid.UUID, str | None]]) -> list[Pupil]:
    """Everyone enrolled in the class(es) at some time in the month, and everyone with entries there."""
    en, st = Enrollment.__table__, Student.__table__
    statement = (
        select(en.c.student_id, en.c.class_name)
        .where(one_of(session, en.c.school_id, scope.school_ids), en.c.valid_from <= month.last_day,
               or_(en.c.valid_to.is_(None), en.c.valid_to >= month.first_day))
        .distinct()
    )
    if class_name is not None:
        statement = statement.where(en.c.class_name == class_name)
    if scope.supplier_id:
        statement = statement.where(literal(False))  # a supplier sees only pupils it served
    keys = {(_uuid(sid), cls) for sid, cls in session.execute(statement)} | with_entries
    ids = {sid for sid, _ in keys}
    people = {_uuid(r.id): r for r in session.execute(
        select(st.c.id, st.c.last_name, st.c.first_name, st.c.iin).where(one_of(session, st.c.id, ids)))} \
        if ids else {}
    pupils = []
    for sid, cls in keys:
        person = people.get(sid)
        iin = None if person is None else person.iin if scope.show_iin else mask_iin(person.iin)
        pupils.append(Pupil(sid, cls, person.last_name if person else "", person.first_name if person else "", iin))
    pupils.sort(key=lambda p: (p.class_name is None, p.class_name or "", p.last_name, p.first_name,
                               str(p.student_id)))
    return pupils


def _columns(session: Session, scope: Scope, month: Month,
             cells: dict[tuple[uuid.UUID, str | None, dt.date, str], Figures]) -> list[tuple[dt.date, str]]:
    """The month's serving days x the meal types the school's contracts price, and any other day or meal
    type that has entries (a meal on a holiday is still shown where it was recorded)."""
    cal, contract, price = CalendarDay.__table__, Contract.__table__, ContractPrice.__table__
    days = set(session.scalars(select(cal.c.day).where(
        one_of(session, cal.c.school_id, scope.school_ids), cal.c.kind == "serving",
        cal.c.day >= month.first_day, cal.c.day <= month.last_day)))
    priced = select(price.c.meal_type).join(contract, contract.c.id == price.c.contract_id).where(
        one_of(session, contract.c.school_id, scope.school_ids), contract.c.valid_from <= month.last_day,
        contract.c.valid_to >= month.first_day)
    if scope.supplier_id:
        priced = priced.where(contract.c.supplier_id == scope.supplier_id)
    meal_types = set(session.scalars(priced.distinct()))
    columns = {(day, meal_type) for day in days for meal_type in meal_types}
    columns |= {(day, meal_type) for _, _, day, meal_type in cells}
    return sorted(columns, key=lambda c: (c[0], MEAL_ORDER.index(c[1]) if c[1] in MEAL_ORDER else 99, c[1]))


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


# --- the document ---------------------------------------------------------------------------------------

FIGURE_COLUMNS = [Column("meals", "int"), Column("amountTiyn", "money"), Column("refused", "int")]


def column_key(day: dt.date, meal_type: str) -> str:
    return f"{day.isoformat()} {meal_type}"


def sheet_document(sheet: MealSheet) -> Document:
    """Tables: totals, classes, pupils (with a column per serving day and meal type), days, lines,
    checkpoints. Amounts in tiyn (XLSX shows tenge)."""
    scope, as_of = sheet.scope, sheet.as_of
    meta: list[tuple[str, Any]] = [
        ("format", SHEET_FORMAT), ("scope", scope.label), ("school", sheet.school_bin),
        ("schoolName", sheet.school_name), ("class", sheet.class_name or "all"), ("month", str(as_of.month)),
        ("closed", as_of.closed), ("generatedAt", sheet.generated_at), ("checkpointsDigest", as_of.digest),
        ("amounts", "tiyn (1 tenge = 100 tiyn); XLSX shows tenge"), ("iin", "full" if scope.show_iin else "masked"),
        ("cells", "net billable meals of the pupil that day (0: attempts refused only; empty: none)"),
        ("heldTiyn", sheet.held[0]), ("withheldTiyn", sheet.held[1]), ("holds", sheet.held[2]),
    ]

    def figures(f: Figures) -> list[int]:
        return [f.meals, f.amount, f.refused]

    t = sheet.total
    totals = Table("totals", [Column("pupils", "int"), *FIGURE_COLUMNS],
                   [[len(sheet.pupils), *figures(t)]], single=True)
    classes = Table("classes", [Column("className"), Column("pupils", "int"), *FIGURE_COLUMNS],
                    [[cls, sheet.class_pupils.get(cls, 0), *figures(f)]
                     for cls, f in sorted(sheet.per_class.items(), key=lambda i: (i[0] is None, i[0] or ""))])
    grid = [Column(column_key(day, meal_type), "int") for day, meal_type in sheet.columns]

    def pupil_rows() -> Iterator[list[Any]]:
        for p in sheet.pupils:
            row: list[Any] = [p.class_name, str(p.student_id), p.last_name, p.first_name, p.iin,
                              *figures(sheet.per_pupil[(p.student_id, p.class_name)])]
            for day, meal_type in sheet.columns:
                cell = sheet.cells.get((p.student_id, p.class_name, day, meal_type))
                row.append(None if cell is None else cell.meals)
            yield row

    pupils = Table("pupils", [Column("className"), Column("studentId"), Column("lastName"), Column("firstName"),
                              Column("iin"), *FIGURE_COLUMNS, *grid], pupil_rows())
    by_day: dict[tuple[str | None, dt.date, str], Figures] = defaultdict(Figures, sheet.per_day)
    day_rows = [[cls, day, meal_type, *figures(by_day[(cls, day, meal_type)])]
                for cls in sorted(sheet.per_class, key=lambda c: (c is None, c or ""))
                for day, meal_type in sheet.columns]
    days = Table("days", [Column("className"), Column("day", "date"), Column("mealType"), *FIGURE_COLUMNS],
                 day_rows)

    def supplier(ln: SheetLine, n: int) -> Any:
        return sheet.suppliers[ln.supplier_id][n] if ln.supplier_id in sheet.suppliers else None

    lines = Table("lines", [Column("supplierBin"), Column("supplierName"), Column("category"), Column("mealType"),
                            Column("meals", "int"), Column("amountTiyn", "money")],
                  [[supplier(ln, 0), supplier(ln, 1), ln.category, ln.meal_type, ln.meals, ln.amount]
                   for ln in sorted(sheet.lines, key=lambda ln: (supplier(ln, 0) or "", ln.category or "",
                                                                 ln.meal_type))])
    checkpoints = Table("checkpoints", CHECKPOINT_COLUMNS,
                        [[h.as_row()[c.key] for c in CHECKPOINT_COLUMNS] for h in as_of.heads])
    return Document(meta=meta, tables=[totals, classes, pupils, days, lines, checkpoints])


def sheet_filename(sheet: MealSheet, fmt: str) -> str:
    """Names the scope, month, class, generation time and the checkpoints (the digest's first 16 digits)."""
    stamp = sheet.generated_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    cls = "" if sheet.class_name is None else "-class-" + "".join(
        ch if ch.isascii() and ch.isalnum() else "_" for ch in sheet.class_name)  # a header is latin-1
    return f"meal-sheet-{sheet.scope.slug}{cls}-{sheet.month}-{stamp}-{sheet.as_of.digest[:16]}.{fmt}"
