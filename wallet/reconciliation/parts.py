"""The month's main statement is one UNION ALL of parts (lines, total, day anomalies, terminals, claims),
each a `part` with the same columns: its name, the keys it has (others NULL) and the sums it has (others
NULL). run_parts runs the union and sorts its rows by part."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, String, cast, literal, null, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from wallet.ingest.rules import REASON_CODES

PARTS = ("line", "total", "day_off", "day_empty", "terminal", "claim_diff", "claim_school", "claim_supplier")
NUMERIC = (
    "attempts", "meals", "amount", "voids", "void_amount", "refused",
    *(f"r_{code}" for code in REASON_CODES),
    "late", "late_billable", "seq_min", "seq_max", "seq_n", "claimed_meals", "claimed_amount",
)
KEYS: dict[str, Any] = {
    "school_id": Integer, "supplier_id": Integer, "category": String, "meal_type": String, "day": Date,
    "terminal_id": String, "day_kind": String,
}


@dataclass
class PartRow:
    part: str
    values: dict[str, Any]

    def __post_init__(self) -> None:
        # The columns as plain attributes too (read tens of thousands of times when many children are flagged).
        self.__dict__.update({k: v for k, v in self.values.items() if k not in ("part", "values")})

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def part(name: str, keys: dict[str, Any], numbers: dict[str, Any]) -> Select[Any]:
    columns = [literal(name, String).label("part")]
    columns += [(keys[k] if k in keys else cast(null(), t)).label(k) for k, t in KEYS.items()]
    columns += [(numbers[n] if n in numbers else cast(null(), BigInteger)).label(n) for n in NUMERIC]
    return select(*columns)


def run_parts(session: Session, parts: list[Select[Any]]) -> dict[str, list[PartRow]]:
    """The rows of the union of `parts`, by part name."""
    rows: dict[str, list[PartRow]] = {p: [] for p in PARTS}
    result = session.execute(union_all(*parts))
    names = list(result.keys())
    for row in result:
        values = dict(zip(names, row, strict=True))
        rows[values["part"]].append(PartRow(values["part"], values))
    return rows
