"""Ask the configured witnesses to cosign the national log's newest head (c2sp.org/tlog-witness).

Run apart from ingest (`wallet witness collect`, from a timer): a witness that is down or slow costs one
timeout here and nothing anywhere else. Each witness gets the proof from the size it last cosigned (a 409
tells us its size, and we retry once from there); its answer is verified against its configured key before
it is stored. Refusals (403/422) are kept as the witness's outcome: a 422 on our own head means the witness
has seen a different history at a size we signed, the evidence of a fork.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from tlog import note
from tlog.cosignature import verify_cosignature
from wallet.db import transaction
from wallet.ledger.merkle import consistency_proof
from wallet.models import Cosignature, NationalCheckpoint, NationalLogLeaf, WitnessOutcome
from wallet.witness_settings import WitnessPolicy, WitnessSpec
from wallet.witnessing.national import latest_head

__all__ = ["CollectReport", "WitnessResult", "collect", "cosignatures_of", "http_post", "submission_body",
           "witnessed_head"]

Post = Callable[[str, bytes, float], tuple[int, str]]
_MAX_DETAIL = 300


def http_post(url: str, body: bytes, timeout: float) -> tuple[int, str]:
    response = requests.post(url, data=body, timeout=timeout, headers={"Content-Type": "text/plain"})
    return response.status_code, response.text[:4096]


@dataclass(frozen=True)
class WitnessResult:
    name: str
    outcome: str  # cosigned | refused | unreachable | invalid
    status: int | None
    detail: str
    line: str | None = None
    timestamp: int | None = None
    fork: bool = False  # the witness holds a history ours does not extend (422 on our head, or a larger size)


@dataclass(frozen=True)
class CollectReport:
    tree_size: int | None
    results: tuple[WitnessResult, ...]
    cosigned: int
    quorum: int

    @property
    def witnessed(self) -> bool:
        return self.tree_size is not None and self.cosigned >= self.quorum > 0

    @property
    def fork_suspected(self) -> bool:
        return any(r.fork for r in self.results)


def submission_body(old_size: int, proof: list[bytes], signed_note: str) -> bytes:
    lines = [f"old {old_size}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n" + signed_note).encode()


def collect(session_factory: sessionmaker[Session], policy: WitnessPolicy, *, post: Post = http_post,
            now: dt.datetime | None = None) -> CollectReport:
    with session_factory() as session:
        head = latest_head(session)
        if head is None or not policy.enabled:
            return CollectReport(head.tree_size if head else None, (), 0, policy.quorum)
        have = {c.witness_name: c for c in cosignatures_of(session, head)}
        leaves = [bytes(h) for (h,) in session.execute(
            select(NationalLogLeaf.leaf_hash).where(NationalLogLeaf.position < head.tree_size)
            .order_by(NationalLogLeaf.position))]
        last_sizes = dict(session.execute(
            select(Cosignature.witness_name, func.max(NationalCheckpoint.tree_size))
            .join(NationalCheckpoint, NationalCheckpoint.id == Cosignature.national_checkpoint_id)
            .group_by(Cosignature.witness_name)).all())
        head_id, head_size, head_note = head.id, head.tree_size, head.note

    def ask(witness: WitnessSpec) -> WitnessResult:
        if witness.name in have:
            return WitnessResult(witness.name, "cosigned", None, "earlier", have[witness.name].line)
        return _ask(witness, post, policy.timeout_s, head_note, leaves, int(last_sizes.get(witness.name, 0)))

    with ThreadPoolExecutor(max_workers=len(policy.witnesses)) as pool:
        results = tuple(pool.map(ask, policy.witnesses))
    at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    with transaction(session_factory) as session:
        for result in results:
            if result.outcome == "cosigned" and result.name not in have:
                assert result.line is not None and result.timestamp is not None
                # Two collections at once may both get a cosignature: the first one stored is kept.
                insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
                session.execute(insert(Cosignature).values(
                    national_checkpoint_id=head_id, witness_name=result.name, key_id=_key_id(policy, result.name),
                    timestamp=result.timestamp, line=result.line, received_at=at,
                ).on_conflict_do_nothing(index_elements=["national_checkpoint_id", "witness_name"]))
            session.merge(WitnessOutcome(witness_name=result.name, tree_size=head_size, outcome=result.outcome,
                                         status=result.status, detail=result.detail[:_MAX_DETAIL], at=at))
    cosigned = sum(r.outcome == "cosigned" for r in results)
    return CollectReport(head_size, results, cosigned, policy.quorum)


def _ask(witness: WitnessSpec, post: Post, timeout: float, head_note: str, leaves: list[bytes],
         old_size: int) -> WitnessResult:
    text, _ = note.split(head_note)
    size = len(leaves)
    url = witness.url + "/add-checkpoint"
    for _attempt in range(2):
        if old_size > size:
            return WitnessResult(witness.name, "refused", 409, f"the witness has cosigned size {old_size}, larger "
                                 f"than our head {size}: our log looks rolled back", fork=True)
        proof = consistency_proof(old_size, leaves) if 0 < old_size < size else []
        try:
            status, body = post(url, submission_body(old_size, proof, head_note), timeout)
        except requests.RequestException as exc:
            return WitnessResult(witness.name, "unreachable", None, f"{type(exc).__name__}: {exc}")
        if status == 409 and body.strip().isdigit() and int(body.strip()) != old_size:
            old_size = int(body.strip())
            continue
        if status != 200:
            return WitnessResult(witness.name, "refused", status, body.strip().splitlines()[0] if body.strip()
                                 else f"HTTP {status}", fork=status == 422)
        return _verified(witness, text, body)
    return WitnessResult(witness.name, "refused", 409, "the witness's size kept changing")


def _verified(witness: WitnessSpec, text: str, body: str) -> WitnessResult:
    """The witness's cosignature among the returned lines, checked with its configured key."""
    try:
        _, sigs = note.split("x\n\n" + body)
        for sig in sigs:
            if witness.verifier.matches(sig):
                checked = verify_cosignature(text, sig, witness.verifier)
                return WitnessResult(witness.name, "cosigned", 200, f"time {checked.timestamp}", checked.line,
                                     checked.timestamp)
    except note.NoteError as exc:
        return WitnessResult(witness.name, "invalid", 200, f"answer does not verify: {exc}")
    return WitnessResult(witness.name, "invalid", 200, "answer holds no cosignature of the configured key")


def _key_id(policy: WitnessPolicy, name: str) -> str:
    return next(w.verifier.key_id.hex() for w in policy.witnesses if w.name == name)


def cosignatures_of(session: Session, head: NationalCheckpoint) -> list[Cosignature]:
    return list(session.scalars(select(Cosignature).where(Cosignature.national_checkpoint_id == head.id)
                                .order_by(Cosignature.witness_name)))


def witnessed_head(session: Session, policy: WitnessPolicy, *, min_size: int = 0) -> NationalCheckpoint | None:
    """The newest national head of at least `min_size` leaves cosigned by k configured witnesses."""
    names = [w.name for w in policy.witnesses]
    if not names:
        return None
    counts = (select(Cosignature.national_checkpoint_id, func.count().label("n"))
              .where(Cosignature.witness_name.in_(names)).group_by(Cosignature.national_checkpoint_id).subquery())
    return session.scalars(
        select(NationalCheckpoint).join(counts, counts.c.national_checkpoint_id == NationalCheckpoint.id)
        .where(counts.c.n >= policy.quorum, NationalCheckpoint.tree_size >= min_size)
        .order_by(NationalCheckpoint.tree_size.desc()).limit(1)).first()
