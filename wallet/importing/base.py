"""What every kind of import shares: the kind interface, counting, duplicate keys and bulk database access.

A kind reads in three steps. `parse` turns one row's cells into a typed record with pure checks only.
`check` looks across rows and into the database (duplicate keys, references, overlaps) and returns a plan
of what to write; it writes nothing. `write` carries the plan out with bulk statements and counts rows as
created, updated or unchanged. Existing rows are loaded once per import, in chunks of keys, never per row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from wallet.importing.errors import RowError
from wallet.importing.fields import Cells
from wallet.messages import T_
from wallet.models import EligibilityCategory, School, Student, Supplier

R = TypeVar("R")  # a parsed record
P = TypeVar("P")  # a plan
K = TypeVar("K", bound=Hashable)

CHUNK = 900  # keys per IN (...) list: under SQLite's old limit of 999 bound parameters
# PostgreSQL takes far more, and fewer, larger lists matter there: right after a bulk load the planner has no
# statistics yet and scans the table once per list.
CHUNK_POSTGRESQL = 10_000


def key_chunk_size(session: Session) -> int:
    return CHUNK_POSTGRESQL if session.get_bind().dialect.name == "postgresql" else CHUNK


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, *, new: bool, changed: bool) -> None:
        if new:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1


class Kind(ABC, Generic[R, P]):
    """One kind of registry file; see the module docstring for the three steps."""

    name: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def parse(self, line: int, cells: Cells) -> R | None:
        """A typed record, or None when `cells.errors` says what is wrong. Pure: no database."""

    @abstractmethod
    def check(self, session: Session, records: list[R], errors: list[RowError]) -> P:
        """Cross-row and database checks; append errors, return the plan. Writes nothing."""

    @abstractmethod
    def write(self, session: Session, plan: P) -> Counts:
        """Carry out a plan whose check found no errors."""


def chunked(items: Sequence[K] | Iterable[K], size: int = CHUNK) -> Iterator[list[K]]:
    batch: list[K] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def find_duplicates(
    records: Iterable[R],
    key: Callable[[R], Hashable],
    line: Callable[[R], int],
    column: str,
    what: str,
) -> list[RowError]:
    """An error on every row whose natural key an earlier row already used."""
    first_line: dict[Hashable, int] = {}
    errors: list[RowError] = []
    for record in records:
        k = key(record)
        if k in first_line:
            errors.append(RowError(line(record), column,
                                   T_("%(what)s repeats line %(first)s", what=what, first=first_line[k])))
        else:
            first_line[k] = line(record)
    return errors


def unknown_schools(records: Iterable[Any], school_ids: dict[str, int]) -> list[RowError]:
    """An error on every record (with `line` and `school_bin`) whose BIN is not a school's."""
    return [RowError(r.line, "school_bin", T_("no school with BIN %(school_bin)s", school_bin=r.school_bin))
            for r in records if r.school_bin not in school_ids]


def ids_by_bin(session: Session, model: type[School] | type[Supplier], bins: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for batch in chunked(sorted(set(bins)), key_chunk_size(session)):
        found.update((k, v) for k, v in session.execute(select(model.bin, model.id).where(model.bin.in_(batch))))
    return found


def student_ids(session: Session, iins: Iterable[str]) -> dict[str, uuid.UUID]:
    found: dict[str, uuid.UUID] = {}
    for batch in chunked(sorted(set(iins)), key_chunk_size(session)):
        rows = session.connection().execute(select(Student.iin, Student.id).where(Student.iin.in_(batch)))
        found.update((k, v) for k, v in rows)
    return found


def category_codes(session: Session) -> set[str]:
    return set(session.scalars(select(EligibilityCategory.code)))


def rows_in(
    session: Session,
    columns: Sequence[Any],
    key_column: Any,
    keys: Iterable[Any],
    *where: Any,
) -> Iterator[Any]:
    """SELECT columns WHERE key_column IN keys [AND where...], a chunk of keys per query."""
    for batch in chunked(sorted(set(keys), key=str), key_chunk_size(session)):
        # Core, not ORM, execution: plain tuples, without the ORM's per-row loading work.
        yield from session.connection().execute(select(*columns).where(key_column.in_(batch), *where))


def bulk_insert(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert many rows with one executemany (psycopg pipelines it; SQLite runs it in C)."""
    if rows:
        session.execute(insert(model), rows)


def bulk_insert_returning(
    session: Session,
    model: type[Any],
    rows: list[dict[str, Any]],
    *columns: Any,
) -> list[Any]:
    """Insert many rows and return the given columns of each (e.g. the new id with its natural key)."""
    returned: list[Any] = []
    for batch in chunked(rows):
        returned.extend(session.execute(insert(model).returning(*columns), batch))
    return returned


def bulk_update(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """UPDATE by primary key: each dict holds the key and the columns to set."""
    if rows:
        session.execute(update(model), rows)


def describe_period(start: dt.date, end: dt.date | None) -> str:
    if end is None:
        return T_("%(start)s to open end", start=start.isoformat())
    return T_("%(start)s to %(end)s", start=start.isoformat(), end=end.isoformat())
