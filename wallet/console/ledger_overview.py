"""The ledger at a glance: each school's chain head, its newest signed checkpoint (with the signature
checked), and the result of the last full verification run from the console.

Verification results are kept in a small JSON file under the instance folder (no table: the ledger's schema
stays as it is). It is a convenience for people, not evidence: `wallet verify` and the proofs are that.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wallet.ledger.signing import verify_checkpoint
from wallet.ledger.verify import ChainReport
from wallet.models import ChainHead, Checkpoint, School
from wallet.reconciliation.proofs import signed_checkpoint

RESULTS_FILE = "console-verifications.json"


@dataclass(frozen=True)
class LatestCheckpoint:
    id: int
    tree_size: int
    root_hash: str
    issued_at: dt.datetime
    key_id: str
    reason: str
    signature_ok: bool


@dataclass(frozen=True)
class SchoolLedger:
    school_id: int
    bin: str
    name_kk: str
    name_ru: str
    head_size: int
    head_updated_at: dt.datetime | None
    checkpoint: LatestCheckpoint | None
    last_verification: dict[str, Any] | None


def ledger_overview(session: Session, school_ids: list[int], public_keys: Mapping[str, bytes],
                    results_dir: Path) -> list[SchoolLedger]:
    ids = school_ids or [-1]
    schools = session.scalars(select(School).where(School.id.in_(ids)).order_by(School.bin)).all()
    heads = {h.school_id: h for h in session.scalars(select(ChainHead).where(ChainHead.school_id.in_(ids)))}
    newest = select(func.max(Checkpoint.id)).where(Checkpoint.school_id.in_(ids)).group_by(Checkpoint.school_id)
    checkpoints = {c.school_id: c for c in session.scalars(select(Checkpoint).where(Checkpoint.id.in_(newest)))}
    results = load_results(results_dir)
    out = []
    for school in schools:
        head, c = heads.get(school.id), checkpoints.get(school.id)
        latest = None
        if c is not None:
            key = public_keys.get(c.key_id)
            ok = key is not None and verify_checkpoint(signed_checkpoint(c), key)
            latest = LatestCheckpoint(c.id, c.tree_size, bytes(c.root_hash).hex(), c.issued_at, c.key_id,
                                      c.reason, ok)
        out.append(SchoolLedger(school.id, school.bin, school.name_kk, school.name_ru, head.size if head else 0,
                                head.updated_at if head else None, latest, results.get(school.bin)))
    return out


def load_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((results_dir / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_result(results_dir: Path, report: ChainReport, at: dt.datetime, by: str) -> dict[str, Any]:
    """Remember a verification's outcome (written whole under a temporary name, then renamed into place)."""
    result = {"ok": report.ok, "size": report.size, "at": at.isoformat(), "by": by,
              "checkpointsChecked": report.checkpoints_checked,
              "problems": [p.describe() for p in report.problems[:5]]}
    results = load_results(results_dir)
    results[report.school_bin] = result
    results_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=results_dir, prefix=".verifications-")
    with os.fdopen(fd, "w") as handle:
        json.dump(results, handle)
    os.replace(tmp, results_dir / RESULTS_FILE)
    return result
