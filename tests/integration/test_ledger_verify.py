"""`wallet verify` and checkpoints on both databases: a clean chain passes; each tamper drill (done by the
table owner with the append-only triggers switched off) is named by position, entry or checkpoint."""

from __future__ import annotations

import datetime as dt
import json
import re
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text

from cli.main import cli
from wallet.config import Settings
from wallet.db import transaction
from wallet.keys import DEV_KEY_FILENAME, load_signing_key, public_keys_of
from wallet.ledger.append import append_entries, entry_payload, lock_chain_head
from wallet.ledger.canonical import NotCanonicalError, canonical_bytes
from wallet.ledger.chain import GENESIS_CHAIN_HASH, next_chain_hash
from wallet.ledger.checkpoints import CheckpointError, make_checkpoint, make_checkpoints
from wallet.ledger.merkle import CompactRange, leaf_hash, root_hash
from wallet.ledger.signing import SigningKey, verify_checkpoint
from wallet.ledger.verify import UnknownSchoolError, flat_canonical_bytes, verify_all, verify_chain
from wallet.models import ChainHead, Checkpoint, LedgerEntry, Region, School

BIN_A = "123456789012"
BIN_B = "210987654321"
T0 = dt.datetime(2026, 11, 23, 6, 30, tzinfo=dt.UTC)
N = 7


# --- building chains ------------------------------------------------------------------------------


def _school(session, bin_: str) -> int:
    region = session.scalar(select(Region).where(Region.code == "ALA"))
    if region is None:
        region = Region(code="ALA", name_kk="Алматы", name_ru="Алматы")
        session.add(region)
        session.flush()
    school = School(bin=bin_, name_kk=f"Мектеп {bin_}", name_ru=f"Школа {bin_}", region_id=region.id)
    session.add(school)
    session.flush()
    return school.id


def _entry(i: int, *, billable: bool = True) -> LedgerEntry:
    """An entry filled in the way wallet/ingest/service.py fills one in."""
    served = T0 + dt.timedelta(minutes=i, microseconds=123)
    return LedgerEntry(
        kind="meal", event_id=uuid.uuid4(), terminal_id="T-001", device_seq=i,
        student_ref=f"stu-{i:04d}", student_id=None, meal_type="lunch", method="qr",
        served_at=served, serving_day=served.date(), billing_month=f"{served:%Y-%m}",
        received_at=served + dt.timedelta(seconds=5),
        verdict="billable" if billable else "not_billable",
        reasons="" if billable else "not_eligible",
        category_code="grade_1_4" if billable else None, contract_id=None,
        price_tiyn=45000 if billable else 0, content_hash=bytes(32),
    )


def _append(session, school_id: int, entries: list[LedgerEntry]) -> None:
    append_entries(session, lock_chain_head(session, school_id), entries)


def _build(session_factory, bin_: str = BIN_A, n: int = N, *, device_offset: int = 0) -> int:
    with transaction(session_factory) as session:
        school_id = _school(session, bin_)
        _append(session, school_id, [_entry(device_offset + i, billable=i % 3 != 0) for i in range(1, n + 1)])
    return school_id


def _ids_by_position(session_factory, school_id: int) -> dict[int, int]:
    with session_factory() as session:
        rows = session.execute(
            select(LedgerEntry.position, LedgerEntry.id).where(LedgerEntry.school_id == school_id)
        )
        return {position: entry_id for position, entry_id in rows}


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def chain(session_factory) -> int:
    return _build(session_factory)


# --- tampering as the table owner -----------------------------------------------------------------


@contextmanager
def triggers_off(engine: Engine, table: str) -> Iterator[None]:
    """Switch off the append-only triggers of `table` for a tamper drill, and back on afterwards."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        try:
            yield
        finally:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        return
    with engine.begin() as conn:
        triggers = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": table}
        ).all()
        assert triggers, f"no triggers on {table}"
        for name, _sql in triggers:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
    try:
        yield
    finally:
        with engine.begin() as conn:
            for _name, sql in triggers:
                conn.execute(text(sql))


def tamper(engine: Engine, table: str, *statements: tuple[str, dict]) -> None:
    with triggers_off(engine, table), engine.begin() as conn:
        for sql, params in statements:
            conn.execute(text(sql), params)


def _rewrite_consistently(session_factory, engine: Engine, school_id: int, position: int, price: int) -> None:
    """What a careful insider would do: change one entry and recompute every later hash and the head."""
    with session_factory() as session:
        entries = list(
            session.scalars(
                select(LedgerEntry).where(LedgerEntry.school_id == school_id).order_by(LedgerEntry.position)
            )
        )
        session.expunge_all()
    chain, compact, updates = GENESIS_CHAIN_HASH, CompactRange(), []
    for entry in entries:
        if entry.position == position:
            entry.price_tiyn = price
        payload = canonical_bytes(entry_payload(entry))
        leaf = leaf_hash(payload)
        chain = next_chain_hash(chain, leaf)
        compact.append(leaf)
        updates.append({"id": entry.id, "price": entry.price_tiyn, "payload": payload.decode(),
                         "leaf": leaf, "chain": chain})
    with triggers_off(engine, "ledger_entries"), engine.begin() as conn:
        for values in updates:
            conn.execute(
                text("UPDATE ledger_entries SET price_tiyn = :price, payload = :payload, leaf_hash = :leaf, "
                     "chain_hash = :chain WHERE id = :id"),
                values,
            )
        conn.execute(
            text("UPDATE chain_heads SET chain_hash = :chain, frontier = :frontier WHERE school_id = :s"),
            {"chain": chain, "frontier": compact.to_bytes(), "s": school_id},
        )


def _report(session_factory, school_id: int, key: SigningKey):
    with session_factory() as session:
        return verify_chain(session, school_id, public_keys_of(key))


# --- CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    return tmp_path / "instance"


@pytest.fixture
def dev_key(instance: Path) -> SigningKey:
    """The development key the CLI loads from the same instance folder."""
    return load_signing_key(Settings(environment="test", instance_path=instance))


@pytest.fixture
def run(database_url: str, instance: Path):
    runner = CliRunner()
    env = {"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(instance)}

    def invoke(*args: str):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


# --- a clean chain ----------------------------------------------------------------------------------


def test_a_clean_chain_verifies_with_its_checkpoints(session_factory, chain, key):
    with transaction(session_factory) as session:
        make_checkpoint(session, chain, key)
    with transaction(session_factory) as session:
        _append(session, chain, [_entry(100 + i) for i in range(3)])
        make_checkpoint(session, chain, key, reason="period-close")

    report = _report(session_factory, chain, key)
    assert report.ok, report.describe()
    assert (report.size, report.checkpoints_checked) == (N + 3, 2)
    with session_factory() as session:
        leaves = session.scalars(
            select(LedgerEntry.leaf_hash).where(LedgerEntry.school_id == chain).order_by(LedgerEntry.position)
        ).all()
    assert report.root == root_hash([bytes(leaf) for leaf in leaves])
    assert report.describe().startswith(f"OK     {BIN_A} size {N + 3} root {report.root.hex()}")


def test_verify_all_covers_every_school_and_refuses_an_unknown_one(session_factory, key):
    a = _build(session_factory, BIN_A)
    _build(session_factory, BIN_B, 3, device_offset=1000)
    make_checkpoints(session_factory, key)
    reports = verify_all(session_factory, public_keys_of(key))
    assert [(r.school_bin, r.size, r.ok) for r in reports] == [(BIN_A, N, True), (BIN_B, 3, True)]
    [only] = verify_all(session_factory, public_keys_of(key), school_bin=BIN_A)
    assert only.school_id == a
    with pytest.raises(UnknownSchoolError):
        verify_all(session_factory, public_keys_of(key), school_bin="999999999999")


def test_a_deleted_chain_head_does_not_hide_the_entries(session_factory, chain, key):
    with transaction(session_factory) as session:
        session.execute(ChainHead.__table__.delete())  # chain_heads is an ordinary table
    [report] = verify_all(session_factory, public_keys_of(key))
    assert report.problems[0].kind == "head"
    assert "no chain head" in report.problems[0].message


def test_cli_verify_and_checkpoint_on_a_clean_chain(run, chain, dev_key, instance):
    result = run("checkpoint")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{BIN_A} size {N} root ")
    assert f"key {dev_key.key_id}" in result.output
    key_file = instance / DEV_KEY_FILENAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    result = run("verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK     {BIN_A} size {N} root ")
    assert "(1 checkpoint)" in result.output
    result = run("verify", "--school", BIN_A)
    assert result.exit_code == 0, result.output


def test_cli_unknown_school_exits_2(run, chain, dev_key):
    for command in ("verify", "checkpoint"):
        result = run(command, "--school", "999999999999")
        assert result.exit_code == 2
        assert "no school with BIN 999999999999" in result.output
        assert run(command, "--school", "12345").exit_code == 2


def test_cli_verify_with_an_auditors_public_key_file(run, chain, dev_key, tmp_path, session_factory):
    from cryptography.hazmat.primitives import serialization

    run("checkpoint")
    public = serialization.load_pem_private_key(dev_key.to_pem(), None).public_key()
    pem = tmp_path / "checkpoint-key.pub.pem"
    pem.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert run("verify", "--public-key", str(pem)).exit_code == 0

    other = tmp_path / "other.pub.pem"
    other_public = serialization.load_pem_private_key(SigningKey.generate().to_pem(), None).public_key()
    other.write_bytes(
        other_public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    result = run("verify", "--public-key", str(other))
    assert result.exit_code == 1
    assert f"signed by unknown key {dev_key.key_id}" in result.output


# --- checkpoints ------------------------------------------------------------------------------------


def test_checkpoint_is_signed_stored_and_idempotent_for_one_size(session_factory, chain, key):
    with transaction(session_factory) as session:
        first = make_checkpoint(session, chain, key, now=T0)
    with transaction(session_factory) as session:
        again = make_checkpoint(session, chain, key, now=T0 + dt.timedelta(hours=1))
    assert again.id == first.id
    assert make_checkpoints(session_factory, key)[0].id == first.id

    body = json.loads(first.body)
    assert first.body == canonical_bytes(body).decode()
    assert body["chainId"] == BIN_A
    assert body["treeSize"] == first.tree_size == N
    assert body["issuedAt"] == "2026-11-23T06:30:00Z"
    assert verify_checkpoint({"body": body, "signature": first.signature, "keyId": first.key_id},
                             key.public_key_raw)

    with transaction(session_factory) as session:
        _append(session, chain, [_entry(200)])
    with transaction(session_factory) as session:
        later = make_checkpoint(session, chain, key)
    other_key = SigningKey.generate()
    with transaction(session_factory) as session:
        by_other_key = make_checkpoint(session, chain, other_key)
    assert len({first.id, later.id, by_other_key.id}) == 3
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Checkpoint)) == 3


def test_an_empty_chain_can_be_checkpointed_and_verified(session_factory, key):
    with transaction(session_factory) as session:
        school_id = _school(session, BIN_A)
    [checkpoint] = make_checkpoints(session_factory, key, [school_id])
    assert checkpoint.tree_size == 0
    assert _report(session_factory, school_id, key).ok


def test_no_checkpoint_of_a_head_that_disagrees_with_the_ledger(session_factory, chain, key):
    with transaction(session_factory) as session:
        session.execute(ChainHead.__table__.update().values(chain_hash=bytes(32)))
    with pytest.raises(CheckpointError, match="does not match the last ledger entry"), \
            transaction(session_factory) as session:
        make_checkpoint(session, chain, key)


# --- tamper drills ----------------------------------------------------------------------------------


def test_changed_price_column_is_named(session_factory, engine, chain, key, run, dev_key):
    ids = _ids_by_position(session_factory, chain)
    tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET price_tiyn = 99999 WHERE id = :id", {"id": ids[4]}))
    report = _report(session_factory, chain, key)
    bad = report.first_bad_entry
    assert (bad.position, bad.entry_id) == (4, ids[4])
    assert "columns differ" in bad.message and "priceTiyn" in bad.message
    result = run("verify")
    assert result.exit_code == 1
    assert f"FAILED {BIN_A} entry at position 4 (id {ids[4]})" in result.output


def test_changed_payload_is_named_and_exposed_by_an_earlier_checkpoint(session_factory, engine, chain, key):
    with transaction(session_factory) as session:
        make_checkpoint(session, chain, key)
    ids = _ids_by_position(session_factory, chain)
    tamper(engine, "ledger_entries", (
        "UPDATE ledger_entries SET payload = REPLACE(payload, :old, :new) WHERE id = :id",
        {"old": '"priceTiyn":45000', "new": '"priceTiyn":1', "id": ids[2]},
    ))
    report = _report(session_factory, chain, key)
    bad = report.first_bad_entry
    assert (bad.position, bad.entry_id) == (2, ids[2])
    assert "payload does not hash" in bad.message
    assert any(p.kind == "checkpoint" and "signed root" in p.message for p in report.problems)


def test_deleted_middle_entry_is_named(session_factory, engine, chain, key, run, dev_key):
    ids = _ids_by_position(session_factory, chain)
    tamper(engine, "ledger_entries", ("DELETE FROM ledger_entries WHERE id = :id", {"id": ids[3]}))
    bad = _report(session_factory, chain, key).first_bad_entry
    assert bad.position == 3
    assert f"missing; the next entry is at position 4 (id {ids[4]})" in bad.message
    result = run("verify", "--school", BIN_A)
    assert result.exit_code == 1
    assert f"FAILED {BIN_A} position 3: missing" in result.output


def test_swapped_positions_are_named(session_factory, engine, chain, key):
    ids = _ids_by_position(session_factory, chain)
    tamper(
        engine, "ledger_entries",
        ("UPDATE ledger_entries SET position = 1000000 WHERE id = :id", {"id": ids[2]}),
        ("UPDATE ledger_entries SET position = 2 WHERE id = :id", {"id": ids[5]}),
        ("UPDATE ledger_entries SET position = 5 WHERE id = :id", {"id": ids[2]}),
    )
    bad = _report(session_factory, chain, key).first_bad_entry
    assert (bad.position, bad.entry_id) == (2, ids[5])


def test_consistent_rewrite_is_exposed_only_by_the_earlier_checkpoint(session_factory, engine, chain, key, run,
                                                                     dev_key):
    with transaction(session_factory) as session:
        make_checkpoint(session, chain, dev_key)
    _rewrite_consistently(session_factory, engine, chain, position=5, price=1)

    report = _report(session_factory, chain, dev_key)
    assert [p.kind for p in report.problems] == ["checkpoint"]
    assert "signed root" in report.problems[0].message
    assert report.problems[0].tree_size == N
    result = run("verify")
    assert result.exit_code == 1
    assert f"FAILED {BIN_A} checkpoint" in result.output


def test_truncated_tail_is_exposed_by_the_checkpoint(session_factory, engine, chain, key):
    with transaction(session_factory) as session:
        make_checkpoint(session, chain, key)
    ids = _ids_by_position(session_factory, chain)
    with session_factory() as session:
        head_before = CompactRange.from_leaf_hashes(list(session.scalars(
            select(LedgerEntry.leaf_hash).where(LedgerEntry.school_id == chain, LedgerEntry.position < N)
            .order_by(LedgerEntry.position)
        )))
        chain_before = session.scalar(select(LedgerEntry.chain_hash).where(LedgerEntry.id == ids[N - 1]))
    tamper(engine, "ledger_entries", ("DELETE FROM ledger_entries WHERE id = :id", {"id": ids[N]}))
    with engine.begin() as conn:
        conn.execute(text("UPDATE chain_heads SET size = :n, chain_hash = :c, frontier = :f"),
                     {"n": N - 1, "c": chain_before, "f": head_before.to_bytes()})
    report = _report(session_factory, chain, key)
    assert [p.kind for p in report.problems] == ["checkpoint"]
    assert f"signed a chain of {N} entries, but only {N - 1}" in report.problems[0].message


def test_forged_checkpoint_signature_is_reported(session_factory, engine, chain, key):
    with transaction(session_factory) as session:
        genuine = make_checkpoint(session, chain, key)
    forger = SigningKey.generate()
    with transaction(session_factory) as session:
        forged = make_checkpoint(session, chain, forger)
        # INSERT is allowed, so no triggers need switching off: claim the genuine key for the forgery.
        session.execute(
            Checkpoint.__table__.insert().values(
                school_id=chain, tree_size=N - 1, root_hash=forged.root_hash, chain_hash=forged.chain_hash,
                issued_at=forged.issued_at, key_id=key.key_id,
                body=forged.body.replace(f'"treeSize":{N}', f'"treeSize":{N - 1}'),
                signature=forged.signature, reason="periodic",
            )
        )
    problems = _report(session_factory, chain, key).problems
    messages = {p.message for p in problems}
    assert f"the signature does not verify with key {key.key_id}" in messages
    assert f"signed by unknown key {forger.key_id}" in messages
    assert genuine.id not in {p.checkpoint_id for p in problems}


def test_checkpoint_columns_that_differ_from_the_signed_body_are_reported(session_factory, engine, chain, key):
    with transaction(session_factory) as session:
        checkpoint = make_checkpoint(session, chain, key)
    tamper(engine, "checkpoints",
           ("UPDATE checkpoints SET root_hash = :r WHERE id = :id", {"r": bytes(32), "id": checkpoint.id}))
    [problem] = _report(session_factory, chain, key).problems
    assert (problem.kind, problem.checkpoint_id) == ("checkpoint", checkpoint.id)
    assert "differ from the signed body" in problem.message


@pytest.mark.parametrize("change", ["frontier", "chain_hash", "size"])
def test_head_that_disagrees_with_the_entries_is_reported(session_factory, engine, chain, key, change):
    other = CompactRange.from_leaf_hashes([leaf_hash(b"x")] * N).to_bytes()
    values = {"frontier": other, "chain_hash": bytes(32), "size": N + 1}[change]
    with engine.begin() as conn:  # chain_heads is an ordinary table: no triggers to switch off
        conn.execute(text(f"UPDATE chain_heads SET {change} = :v"), {"v": values})
    report = _report(session_factory, chain, key)
    assert [p.kind for p in report.problems] == ["head"]
    expected = {"frontier": "frontier of size", "chain_hash": "chain hash", "size": f"size {N + 1}"}[change]
    assert expected in report.problems[0].message


def test_tamper_drill_leaves_the_triggers_in_place(session_factory, engine, chain):
    ids = _ids_by_position(session_factory, chain)
    tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET note = 'x' WHERE id = :id", {"id": ids[1]}))
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET note = 'y' WHERE id = :id"), {"id": ids[1]})


# --- the fast canonical form used while verifying -------------------------------------------------------

_FLAT_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1),
    st.text(st.characters(codec="utf-8")),  # every code point but lone surrogates, control characters included
)


@given(st.dictionaries(st.text(st.characters(codec="ascii")), _FLAT_VALUES, max_size=25))
def test_flat_canonical_bytes_equals_rfc8785(obj):
    assert flat_canonical_bytes(obj) == canonical_bytes(obj)


@pytest.mark.parametrize("value", ["\ud800", 2**53, 0.5, [1], {"a": 1}])
def test_flat_canonical_bytes_defers_to_canonical_bytes_for_anything_else(value):
    obj = {"key": value, "ключ" if isinstance(value, list) else "other": "ü\u2028\x7f\x00\"\\"}
    try:
        expected = canonical_bytes(obj)
    except NotCanonicalError as exc:
        with pytest.raises(NotCanonicalError, match=re.escape(exc.path)):
            flat_canonical_bytes(obj)
    else:
        assert flat_canonical_bytes(obj) == expected
