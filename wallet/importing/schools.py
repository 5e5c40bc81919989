"""`schools`: one row per school, keyed by BIN; regions are created or renamed from the region columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.importing.base import (
    Counts,
    Kind,
    bulk_insert,
    bulk_insert_returning,
    bulk_update,
    find_duplicates,
    rows_in,
)
from wallet.importing.errors import RowError
from wallet.importing.fields import DEFAULT_TIMEZONE, Cells, parse_timezone
from wallet.messages import T_
from wallet.models import Region, School


@dataclass(frozen=True)
class SchoolRecord:
    line: int
    bin: str
    name_kk: str
    name_ru: str
    region_code: str
    region_name_kk: str
    region_name_ru: str
    timezone: str


@dataclass
class SchoolPlan:
    records: list[SchoolRecord]
    regions: dict[str, tuple[int, str, str]]  # code -> (id, name_kk, name_ru) already stored
    schools: dict[str, tuple[int, str, str, int, str]] = field(default_factory=dict)  # bin -> stored values


class Schools(Kind[SchoolRecord, SchoolPlan]):
    name = "schools"
    required = ("bin", "name_kk", "name_ru", "region_code", "region_name_kk", "region_name_ru")
    optional = ("timezone",)

    def parse(self, line: int, cells: Cells) -> SchoolRecord | None:
        values = (
            cells.bin("bin"),
            cells.text("name_kk", 300),
            cells.text("name_ru", 300),
            cells.text("region_code", 32),
            cells.text("region_name_kk", 200),
            cells.text("region_name_ru", 200),
            cells.optional("timezone", parse_timezone) or DEFAULT_TIMEZONE,
        )
        return None if cells.errors else SchoolRecord(line, *values)  # type: ignore[arg-type]

    def check(self, session: Session, records: list[SchoolRecord], errors: list[RowError]) -> SchoolPlan:
        errors += find_duplicates(records, lambda r: r.bin, lambda r: r.line, "bin", T_("BIN"))
        # One region code, one pair of names, within the file.
        region_names: dict[str, tuple[int, str, str]] = {}
        for r in records:
            first = region_names.setdefault(r.region_code, (r.line, r.region_name_kk, r.region_name_ru))
            for column, value, seen in (
                ("region_name_kk", r.region_name_kk, first[1]),
                ("region_name_ru", r.region_name_ru, first[2]),
            ):
                if value != seen:
                    errors.append(
                        RowError(
                            r.line,
                            column,
                            T_("region %(region)s is named %(name)s on line %(first)s", region=r.region_code,
                               name=repr(seen), first=first[0]),
                        )
                    )
        regions = {
            code: (id_, kk, ru)
            for id_, code, kk, ru in session.execute(select(Region.id, Region.code, Region.name_kk, Region.name_ru))
        }
        plan = SchoolPlan(records, regions)
        for bin_, *stored in rows_in(
            session,
            (School.bin, School.id, School.name_kk, School.name_ru, School.region_id, School.timezone),
            School.bin,
            (r.bin for r in records),
        ):
            plan.schools[bin_] = tuple(stored)  # type: ignore[assignment]
        return plan

    def write(self, session: Session, plan: SchoolPlan) -> Counts:
        counts = Counts()
        region_ids = {code: stored[0] for code, stored in plan.regions.items()}
        new_regions: dict[str, dict[str, Any]] = {}
        renamed_regions: dict[str, dict[str, Any]] = {}
        for r in plan.records:
            stored = plan.regions.get(r.region_code)
            if stored is None:
                new_regions.setdefault(
                    r.region_code,
                    {
                        "code": r.region_code,
                        "name_kk": r.region_name_kk,
                        "name_ru": r.region_name_ru,
                    },
                )
            elif (stored[1], stored[2]) != (r.region_name_kk, r.region_name_ru):
                renamed_regions[r.region_code] = {
                    "id": stored[0],
                    "name_kk": r.region_name_kk,
                    "name_ru": r.region_name_ru,
                }
        region_ids.update(
            (code, id_)
            for id_, code in bulk_insert_returning(session, Region, list(new_regions.values()), Region.id, Region.code)
        )
        bulk_update(session, Region, list(renamed_regions.values()))

        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for r in plan.records:
            values = {
                "name_kk": r.name_kk,
                "name_ru": r.name_ru,
                "region_id": region_ids[r.region_code],
                "timezone": r.timezone,
            }
            stored_school = plan.schools.get(r.bin)
            if stored_school is None:
                inserts.append({"bin": r.bin, **values})
                counts.count(new=True, changed=True)
                continue
            school_changed = stored_school[1:] != tuple(values.values())
            if school_changed:
                updates.append({"id": stored_school[0], **values})
            counts.count(new=False, changed=school_changed or r.region_code in renamed_regions)
        bulk_insert(session, School, inserts)
        bulk_update(session, School, updates)
        return counts
