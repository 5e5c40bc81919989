"""Findings as people read them: filtered by month, rule, school and day, each with its explanation in the
reader's language, its evidence, its state (open, upheld, dismissed) and its ruling."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.evidence.codes import explain
from wallet.models import Finding, FindingRuling, School

MAX_PAGE = 500


@dataclass(frozen=True)
class FindingFilter:
    month: str
    rule: str | None = None
    school_id: int | None = None
    day: dt.date | None = None
    after_id: int = 0
    limit: int = MAX_PAGE


@dataclass(frozen=True)
class FindingView:
    finding: Finding
    school_bin: str
    ruling: FindingRuling | None

    @property
    def state(self) -> str:
        return "open" if self.ruling is None else self.ruling.outcome

    def as_json(self, lang: str) -> dict[str, Any]:
        f, evidence = self.finding, json.loads(self.finding.evidence)
        return {
            "id": f.id, "rule": f.rule, "schoolBin": self.school_bin, "servingDay": f.serving_day.isoformat(),
            "month": f.billing_month, "source": f.source, "state": self.state,
            "createdAt": f.created_at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "explanation": explain(f.rule, evidence.get("figures", {}), lang),
            "evidence": evidence,
            "ruling": None if self.ruling is None else {
                "outcome": self.ruling.outcome, "reason": self.ruling.reason, "actor": self.ruling.actor,
                "at": self.ruling.at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")},
        }


def list_findings(session: Session, school_ids: Iterable[int], flt: FindingFilter) -> list[FindingView]:
    query = (
        select(Finding, School.bin, FindingRuling)
        .join(School, School.id == Finding.school_id)
        .outerjoin(FindingRuling, FindingRuling.finding_id == Finding.id)
        .where(Finding.billing_month == flt.month, Finding.school_id.in_(list(school_ids)),
               Finding.id > flt.after_id)
        .order_by(Finding.id).limit(min(flt.limit, MAX_PAGE))
    )
    if flt.rule is not None:
        query = query.where(Finding.rule == flt.rule)
    if flt.school_id is not None:
        query = query.where(Finding.school_id == flt.school_id)
    if flt.day is not None:
        query = query.where(Finding.serving_day == flt.day)
    return [FindingView(f, school_bin, ruling) for f, school_bin, ruling in session.execute(query)]


def one_finding(session: Session, school_ids: Iterable[int], finding_id: int) -> FindingView | None:
    row = session.execute(
        select(Finding, School.bin, FindingRuling).join(School, School.id == Finding.school_id)
        .outerjoin(FindingRuling, FindingRuling.finding_id == Finding.id)
        .where(Finding.id == finding_id, Finding.school_id.in_(list(school_ids)))).first()
    return None if row is None else FindingView(row[0], row[1], row[2])
