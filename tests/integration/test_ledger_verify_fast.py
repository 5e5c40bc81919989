"""`wallet verify`'s fast path (the payload rebuilt by PostgreSQL, psycopg streaming, --jobs): texts that
need escaping verify; the tampering a rebuild in SQL could miss is named as surely as in Python."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cli.main import cli
from tests.integration.test_ledger_verify import (
    BIN_A,
    BIN_B,
    _append,
    _build,
    _entry,
    _ids_by_position,
    _report,
    _school,
    tamper,
)
from wallet.db import transaction
from wallet.ledger.payload_sql import SAME_AS_COLUMNS
from wallet.ledger.signing import SigningKey

# Texts whose JSON strings differ from the text: quotes, backslashes, control characters; and some that do not.
TRICKY = ['say "hi"', "back\\slash", "line\nbreak\ttab", "bell\x07 \x1f", "\x7f delete", "Ұлттық 🍲",
          '\\"', "\u2028 separator", ""]


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


def _tricky_chain(session_factory) -> int:
    with transaction(session_factory) as session:
        school_id = _school(session, BIN_A)
        entries = []
        for i, note in enumerate(TRICKY, start=1):
            entry = _entry(i)
            entry.note, entry.actor, entry.reasons = note, f"operator:{note}", note
            entries.append(entry)
        # A reference in upper case names the same child as the lower-case id: not a mismatch.
        child = uuid.uuid4()
        upper = _entry(len(TRICKY) + 1)
        upper.student_ref, upper.student_id = str(child).upper(), child
        entries.append(upper)
        _append(session, school_id, entries)
    return school_id


def test_texts_that_need_escaping_verify(session_factory, engine, key):
    school_id = _tricky_chain(session_factory)
    report = _report(session_factory, school_id, key)
    assert report.ok, report.describe()
    assert report.size == len(TRICKY) + 1
    if engine.dialect.name == "postgresql":
        # The server's rebuild agrees with Python's for every text: no entry is sent to the slow path.
        with engine.connect() as conn:
            same = conn.execute(text(f"SELECT position, {SAME_AS_COLUMNS} FROM ledger_entries ORDER BY position"))
            assert [p for p, ok in same if not ok] == []


def test_a_text_changed_into_its_own_escaped_form_is_named(session_factory, engine, key):
    """`say "hi"` is `"say \\"hi\\""` in the payload; a column set to that escaped text must not pass."""
    school_id = _tricky_chain(session_factory)
    ids = _ids_by_position(session_factory, school_id)
    tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET note = :n WHERE id = :id",
                                      {"n": 'say \\"hi\\"', "id": ids[1]}))
    bad = _report(session_factory, school_id, key).first_bad_entry
    assert (bad.position, bad.entry_id) == (1, ids[1])
    assert "note" in bad.message


def test_a_quote_put_into_a_plain_column_is_named(session_factory, engine, key):
    school_id = _build(session_factory)
    ids = _ids_by_position(session_factory, school_id)
    tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET terminal_id = :m WHERE id = :id",
                                      {"m": 'T-001"', "id": ids[2]}))
    bad = _report(session_factory, school_id, key).first_bad_entry
    assert (bad.position, "terminalId" in bad.message) == (2, True)


@pytest.mark.parametrize("change", [
    # the same digits before Christ: to_char writes no era, so the rebuild must refuse such a year
    "served_at = served_at - make_interval(years => 2 * extract(year FROM served_at)::int - 1)",
    "serving_day = (serving_day - make_interval(years => 2 * extract(year FROM serving_day)::int - 1))::date",
    "received_at = 'infinity'",
    "device_seq = 9007199254740993",
    "student_id = gen_random_uuid()",
])
def test_postgresql_values_outside_what_append_writes_are_named(session_factory, engine, key, change):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's own types")
    school_id = _build(session_factory)
    ids = _ids_by_position(session_factory, school_id)
    tamper(engine, "ledger_entries", (f"UPDATE ledger_entries SET {change} WHERE id = :id", {"id": ids[3]}))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT {SAME_AS_COLUMNS} FROM ledger_entries WHERE id = :id"),
                            {"id": ids[3]}).scalar() is False
    bad = _report(session_factory, school_id, key).first_bad_entry
    assert bad is not None and bad.position == 3, bad


def test_jobs_give_the_same_lines_and_name_the_tampered_school(database_url, engine, session_factory, tmp_path):
    _build(session_factory, BIN_A)
    school_b = _build(session_factory, BIN_B, device_offset=100)
    env = {"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path)}
    runner = CliRunner()
    one = runner.invoke(cli, ["verify"], env=env, catch_exceptions=False)
    two = runner.invoke(cli, ["verify", "--jobs", "2"], env=env, catch_exceptions=False)
    assert (one.exit_code, two.exit_code) == (0, 0)
    assert one.output == two.output and one.output.count("OK") == 2
    ids = _ids_by_position(session_factory, school_b)
    tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET price_tiyn = 1 WHERE id = :id", {"id": ids[5]}))
    two = runner.invoke(cli, ["verify", "--jobs", "2"], env=env, catch_exceptions=False)
    assert two.exit_code == 1
    assert f"OK     {BIN_A}" in two.output
    assert f"FAILED {BIN_B} entry at position 5 (id {ids[5]})" in two.output


def test_the_verifiers_unchecked_push_builds_the_same_tree_as_append():
    import hashlib

    from wallet.ledger.merkle import CompactRange, root_hash
    from wallet.ledger.verify_stream import GrowingRange

    checked, fast, leaves = CompactRange(), GrowingRange(), []
    for n in range(70):
        leaf = hashlib.sha256(b"\x00%d" % n).digest()
        leaves.append(leaf)
        checked.append(leaf)
        fast.push(leaf)
        assert fast == checked and fast.root() == root_hash(leaves) and fast.to_bytes() == checked.to_bytes()


def test_postgresql_a_null_in_a_not_null_column_is_named(session_factory, engine, key):
    """The rebuild leaves NOT NULL columns without coalesce: a NULL there must flag the row, not pass."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the NOT NULL constraint dropped by the table owner")
    school_id = _build(session_factory)
    ids = _ids_by_position(session_factory, school_id)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE ledger_entries ALTER COLUMN reasons DROP NOT NULL"))
    try:
        tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET reasons = NULL WHERE id = :id", {"id": ids[2]}))
        bad = _report(session_factory, school_id, key).first_bad_entry
        assert (bad.position, "reasons" in bad.message) == (2, True)
    finally:  # the schema is shared by the run's later tests
        tamper(engine, "ledger_entries", ("UPDATE ledger_entries SET reasons = '' WHERE reasons IS NULL", {}))
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE ledger_entries ALTER COLUMN reasons SET NOT NULL"))
