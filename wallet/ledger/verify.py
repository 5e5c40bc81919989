"""`wallet verify`: recompute every hash of a school's chain and check it against the head and checkpoints.

For each entry, in position order and streamed in batches (constant memory, whatever the chain length):

- positions run 1, 2, 3, ... without gaps;
- the stored `payload` text hashes (RFC 6962 leaf) to the stored `leaf_hash`;
- the entry's columns, hashed the way `append_entries` hashes them, give exactly that payload, so changing
  a column that reports read is caught as surely as changing the payload (on PostgreSQL the server
  rebuilds the payload from the columns while it streams, wallet/ledger/payload_sql.py, and a row that
  differs is checked again here; SQLite rebuilds it in Python, wallet/ledger/verify_stream.py);
- the chain hash follows from the previous one.

The leaves rebuild the Merkle tree (a `CompactRange`); the result must equal the chain head (size, chain
hash, frontier), and every checkpoint must carry a valid signature by a known key over the root and chain
hash that the entries give at its size. A checkpoint made before a change therefore exposes even a
consistent rewrite of the entries and the head.

The report names the first entry that fails; checking stops there (everything after it depends on it), but
the tree is still rebuilt to the end so that each checkpoint and the head can be compared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Engine, exists, or_, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from wallet.ledger.append import entry_payload
from wallet.ledger.canonical import NotCanonicalError, canonical_bytes, flat_canonical_bytes
from wallet.ledger.chain import GENESIS_CHAIN_HASH, next_chain_hash
from wallet.ledger.checkpoints import head_range
from wallet.ledger.merkle import EMPTY_ROOT, CompactRange
from wallet.ledger.signing import verify_checkpoint
from wallet.ledger.verify_parallel import verify_in_processes
from wallet.ledger.verify_stream import GrowingRange, full_row, same_student, stream_entries
from wallet.models import ChainHead, Checkpoint, LedgerEntry, School
from wallet.words import count

__all__ = [
    "ChainReport", "Problem", "UnknownSchoolError", "flat_canonical_bytes", "iter_verify", "verify_all", "verify_chain",
]


class UnknownSchoolError(LookupError):
    """No school has the BIN asked for."""

    def __init__(self, school_bin: str) -> None:
        super().__init__(f"no school with BIN {school_bin}")
        self.school_bin = school_bin


@dataclass(frozen=True)
class Problem:
    """One thing that does not match. `kind` is "entry", "head" or "checkpoint"."""

    kind: str
    message: str
    position: int | None = None
    entry_id: int | None = None
    checkpoint_id: int | None = None
    tree_size: int | None = None

    def describe(self) -> str:
        if self.kind == "entry" and self.entry_id is None:
            return f"position {self.position}: {self.message}"
        if self.kind == "entry":
            return f"entry at position {self.position} (id {self.entry_id}): {self.message}"
        if self.kind == "checkpoint":
            return f"checkpoint {self.checkpoint_id} at size {self.tree_size}: {self.message}"
        return f"chain head: {self.message}"


@dataclass
class ChainReport:
    """What `verify_chain` found for one school: the recomputed tree head and every mismatch."""

    school_id: int
    school_bin: str
    size: int = 0
    root: bytes = EMPTY_ROOT
    chain_hash: bytes = GENESIS_CHAIN_HASH
    checkpoints_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_entry(self) -> Problem | None:
        return next((p for p in self.problems if p.kind == "entry"), None)

    def describe(self) -> str:
        """One line: OK with size and root, or FAILED with the first problem."""
        if self.ok:
            return (
                f"OK     {self.school_bin} size {self.size} root {self.root.hex()} "
                f"({count(self.checkpoints_checked, 'checkpoint')})"
            )
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"FAILED {self.school_bin} {self.problems[0].describe()}{more}"


def verify_chain(session: Session, school_id: int, public_keys: Mapping[str, bytes]) -> ChainReport:
    """Check one school's chain, its head and its checkpoints; `public_keys` maps key id to raw key.

    Reads in the caller's transaction; use a snapshot (REPEATABLE READ on PostgreSQL, as `verify_all`
    does) when appends may run meanwhile, so the head, entries and checkpoints are read at one moment.
    """
    school_bin = session.scalar(select(School.bin).where(School.id == school_id))
    if school_bin is None:
        raise LookupError(f"no school with id {school_id}")
    report = ChainReport(school_id=school_id, school_bin=school_bin)
    head = session.get(ChainHead, school_id)
    checkpoints = list(
        session.scalars(
            select(Checkpoint).where(Checkpoint.school_id == school_id)
            .order_by(Checkpoint.tree_size, Checkpoint.id)
        )
    )
    wanted_sizes = {checkpoint.tree_size for checkpoint in checkpoints}
    # (root, chain hash) that the entries give at each checkpointed size.
    at_size: dict[int, tuple[bytes, bytes]] = {0: (EMPTY_ROOT, GENESIS_CHAIN_HASH)}

    compact = GrowingRange()
    chain = GENESIS_CHAIN_HASH
    expected_position = 1
    bad_entry: Problem | None = None
    sha256 = hashlib.sha256
    for entry_id, position, payload, stored_leaf, stored_chain, same, row in stream_entries(session, school_id):
        # The hot loop: leaf and chain hash and a few comparisons an entry; every check of _check_entry is made
        # here too (position, leaf, columns, chain, student), and a failing entry goes to _check_entry,
        # which says what is wrong with it.
        leaf = sha256(b"\x00" + payload).digest()
        next_chain = sha256(chain + leaf).digest()
        if bad_entry is None and not (
            position == expected_position and same and leaf == stored_leaf and next_chain == stored_chain
        ):
            try:
                full = row if row is not None else full_row(session, entry_id)
            except DataError as exc:  # a value Python cannot hold (a year before 1, an infinite time)
                bad_entry = Problem("entry", f"a column cannot be read: {str(exc.orig).splitlines()[0]}",
                                    position=expected_position, entry_id=entry_id)
            else:
                bad_entry = _check_entry(full, expected_position, payload, leaf, chain)
        expected_position = position + 1
        chain = next_chain
        compact.push(leaf)  # a digest made just above
        if compact.size in wanted_sizes:
            at_size[compact.size] = (compact.root(), chain)
    if bad_entry is not None:
        report.problems.append(bad_entry)

    report.size, report.root, report.chain_hash = compact.size, compact.root(), chain
    head_problem = _check_head(head, compact, chain)
    if head_problem is not None:
        report.problems.append(head_problem)
    for checkpoint in checkpoints:
        problem = _check_checkpoint(checkpoint, school_bin, public_keys, at_size, compact.size)
        if problem is not None:
            report.problems.append(problem)
    report.checkpoints_checked = len(checkpoints)
    return report


def iter_verify(
    session_factory: sessionmaker[Session], public_keys: Mapping[str, bytes], school_bin: str | None = None,
    *, jobs: int = 1,
) -> Iterator[ChainReport]:
    """Verify one school (by BIN) or every school that has a chain head, entries or checkpoints.

    Raises UnknownSchoolError before anything is checked if `school_bin` names no school. Each school is
    read in a snapshot of its own. `jobs` > 1: that many processes verify schools at once on PostgreSQL
    (SQLite has one writer, and its transactions take the write lock: there it is one process).
    """
    with session_factory() as session:
        if school_bin is not None:
            school_id = session.scalar(select(School.id).where(School.bin == school_bin))
            if school_id is None:
                raise UnknownSchoolError(school_bin)
            school_ids = [school_id]
        else:
            # Not only schools with a head: chain heads are an ordinary table, and deleting a school's
            # head must not hide its entries from verification.
            school_ids = list(
                session.scalars(
                    select(School.id)
                    .where(
                        or_(
                            exists().where(ChainHead.school_id == School.id),
                            exists().where(LedgerEntry.school_id == School.id),
                            exists().where(Checkpoint.school_id == School.id),
                        )
                    )
                    .order_by(School.bin)
                )
            )
    bind = session_factory.kw.get("bind")
    if jobs > 1 and len(school_ids) > 1 and isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        yield from verify_in_processes(bind, public_keys, school_ids, jobs, verify_school)
        return
    for school_id in school_ids:
        yield verify_school(session_factory, school_id, public_keys)


def verify_school(session_factory: sessionmaker[Session], school_id: int, public_keys: Mapping[str, bytes]
                  ) -> ChainReport:
    """`verify_chain` of one school in a snapshot of its own."""
    with session_factory() as session:
        begin_snapshot(session)
        try:
            return verify_chain(session, school_id, public_keys)
        finally:
            session.rollback()


def verify_all(
    session_factory: sessionmaker[Session], public_keys: Mapping[str, bytes], school_bin: str | None = None
) -> list[ChainReport]:
    """`iter_verify` as a list: one report per school, in BIN order."""
    return list(iter_verify(session_factory, public_keys, school_bin))


# --- internals ------------------------------------------------------------------------------------


def begin_snapshot(session: Session) -> None:
    """Read the rest of this transaction from one snapshot; call before the session's first query."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    # SQLite: the transaction db.py begins (BEGIN IMMEDIATE) already reads one consistent state.


def _check_entry(row: Any, expected_position: int, payload: bytes, leaf: bytes, chain: bytes) -> Problem | None:
    def problem(message: str) -> Problem:
        return Problem("entry", message, position=expected_position, entry_id=row.id)

    if row.position != expected_position:
        return Problem(
            "entry", f"missing; the next entry is at position {row.position} (id {row.id})",
            position=expected_position,
        )
    if leaf != bytes(row.leaf_hash):
        return problem("the stored payload does not hash to the stored leaf_hash")
    try:
        from_columns = flat_canonical_bytes(entry_payload(cast(LedgerEntry, row)))
    except NotCanonicalError as exc:
        return problem(f"a column cannot be hashed: {exc}")
    if from_columns != payload:
        return problem(f"the columns differ from the hashed payload ({_differing_fields(row, payload)})")
    if next_chain_hash(chain, leaf) != bytes(row.chain_hash):
        return problem("the stored chain_hash does not follow from the previous entry")
    if not same_student(row):
        # student_id is derived from the hashed studentRef; a meal moved to another child shows here.
        return problem("student_id does not match the hashed studentRef")
    return None


def _differing_fields(row: Any, payload: bytes) -> str:
    columns = entry_payload(cast(LedgerEntry, row))
    try:
        hashed = json.loads(payload)
    except ValueError:
        return "the payload is not JSON"
    if not isinstance(hashed, dict):
        return "the payload is not a JSON object"
    names = sorted(
        key for key in columns.keys() | hashed.keys()
        if key not in columns or key not in hashed or canonical_bytes(columns[key]) != _canonical_or_none(hashed[key])
    )
    return ", ".join(names) if names else "the payload is not in canonical form"


def _canonical_or_none(value: Any) -> bytes | None:
    try:
        return canonical_bytes(value)
    except NotCanonicalError:
        return None


def _check_head(head: ChainHead | None, compact: CompactRange, chain: bytes) -> Problem | None:
    if head is None:
        if compact.size:
            return Problem("head", f"the school has {compact.size} entries but no chain head")
        return None
    try:
        stored = head_range(head)
    except ValueError as exc:
        return Problem("head", f"the stored frontier is unreadable ({exc})")
    mismatched = []
    if head.size != compact.size:
        mismatched.append(f"size {head.size}, entries give {compact.size}")
    if bytes(head.chain_hash) != chain:
        mismatched.append(f"chain hash {bytes(head.chain_hash).hex()}, entries give {chain.hex()}")
    if stored != compact:
        mismatched.append(
            f"frontier of size {stored.size} with root {stored.root().hex()}, "
            f"entries give size {compact.size} with root {compact.root().hex()}"
        )
    if mismatched:
        return Problem("head", "the head says " + "; ".join(mismatched))
    return None


def _check_checkpoint(
    checkpoint: Checkpoint,
    school_bin: str,
    public_keys: Mapping[str, bytes],
    at_size: dict[int, tuple[bytes, bytes]],
    entries: int,
) -> Problem | None:
    def problem(message: str) -> Problem:
        return Problem("checkpoint", message, checkpoint_id=checkpoint.id, tree_size=checkpoint.tree_size)

    public_key = public_keys.get(checkpoint.key_id)
    if public_key is None:
        return problem(f"signed by unknown key {checkpoint.key_id}")
    try:
        body = json.loads(checkpoint.body)
    except ValueError:
        return problem("the stored body is not JSON")
    signed = {"body": body, "signature": checkpoint.signature, "keyId": checkpoint.key_id}
    if not verify_checkpoint(signed, public_key):
        return problem(f"the signature does not verify with key {checkpoint.key_id}")
    # The signed body is what counts; the columns beside it must say the same.
    if body["chainId"] != school_bin:
        return problem(f"signed for chain {body['chainId']!r}, not this school's BIN")
    if (
        body["treeSize"] != checkpoint.tree_size
        or body["rootHash"] != bytes(checkpoint.root_hash).hex()
        or body["chainHash"] != bytes(checkpoint.chain_hash).hex()
    ):
        return problem("the stored columns differ from the signed body")
    if checkpoint.tree_size > entries:
        return problem(f"signed a chain of {checkpoint.tree_size} entries, but only {entries} are there")
    root, chain = at_size[checkpoint.tree_size]
    if body["rootHash"] != root.hex():
        return problem(f"signed root {body['rootHash']}, the entries give {root.hex()}")
    if body["chainHash"] != chain.hex():
        return problem(f"signed chain hash {body['chainHash']}, the entries give {chain.hex()}")
    return None
