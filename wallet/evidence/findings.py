"""Findings: append-only records of a rule's doubt about entries, kept beside the chain.

A candidate carries a key unique within its rule (e.g. terminal and day), so recording the same candidates
again adds nothing: that is what makes a scan repeatable. The evidence is canonical JSON (RFC 8785 bytes,
no floats: shares are written as text) with the entry ids, the figures compared and the rule's parameters.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from wallet.ledger.canonical import flat_canonical_bytes
from wallet.models import Finding, FindingEntry


@dataclass(frozen=True)
class Candidate:
    rule: str
    key: str
    region_id: int
    school_id: int
    serving_day: dt.date
    figures: dict[str, Any]
    entry_ids: tuple[int, ...]
    parameters: dict[str, Any] = field(default_factory=dict)

    def evidence(self) -> str:
        body = {"entryIds": sorted(self.entry_ids), "figures": self.figures, "parameters": self.parameters}
        return flat_canonical_bytes(_no_floats(body)).decode()


def _no_floats(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return {k: _no_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_floats(v) for v in value]
    return value


def record(session: Session, candidates: Sequence[Candidate], *, source: str, now: dt.datetime) -> list[Finding]:
    """Insert the candidates not recorded before (by rule and key); returns the new findings. Two queries
    and two inserts, however many candidates."""
    unique = list({(c.rule, c.key): c for c in candidates}.values())
    if not unique:
        return []
    known: set[tuple[str, str]] = set()
    pairs = [(c.rule, c.key) for c in unique]
    for start in range(0, len(pairs), 500):
        chunk = pairs[start:start + 500]
        known.update(session.execute(
            select(Finding.rule, Finding.key).where(tuple_(Finding.rule, Finding.key).in_(chunk))))
    fresh = [c for c in unique if (c.rule, c.key) not in known]
    findings = [Finding(rule=c.rule, key=c.key, region_id=c.region_id, school_id=c.school_id,
                        serving_day=c.serving_day, billing_month=f"{c.serving_day:%Y-%m}", source=source,
                        evidence=c.evidence(), created_at=now) for c in fresh]
    session.add_all(findings)
    session.flush()
    session.add_all(FindingEntry(finding_id=f.id, entry_id=entry_id)
                    for f, c in zip(findings, fresh, strict=True) for entry_id in sorted(set(c.entry_ids)))
    session.flush()
    return findings


def evidence_of(finding: Finding) -> dict[str, Any]:
    return dict(json.loads(finding.evidence))


def entry_ids_of(findings: Iterable[Finding]) -> set[int]:
    return {entry_id for f in findings for entry_id in evidence_of(f)["entryIds"]}
