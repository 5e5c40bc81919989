"""The derived ceiling rows (migration 0022) on both databases: triggers mark a school stale whatever
changes its enrollments, grounds or calendar; a refresh derives its rows again; the open month's ceiling
equals the independent day-by-day computation before a refresh, after it, and after every change."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text, update

from tests.integration.test_reconciliation_totals import MONTH, NOW, OPERATOR, build, expected
from wallet.ceiling_days import fresh_rows, refresh, stale_schools
from wallet.db import transaction
from wallet.models import CalendarDay, CeilingDayTotal, Enrollment, StudentEligibility
from wallet.reconciliation.queries import reconcile
from wallet.reconciliation.scope import resolve_scope


def _reconciled(session_factory) -> tuple[dict[tuple, int], int, list[int]]:
    with session_factory() as session:
        scope = resolve_scope(session, OPERATOR, region="KZ-75")
        rec = reconcile(session, scope, MONTH, now=NOW)
        stale = stale_schools(session)
    lines = {(ln.school_id, ln.supplier_id, ln.category, ln.meal_type): ln.ceiling for ln in rec.lines if ln.ceiling}
    return lines, rec.totals.ceiling, stale


def _want(session_factory, gen) -> dict[tuple, int]:
    lines = expected(session_factory, gen, NOW.date())[0]
    return {key: counter["ceiling"] for key, counter in lines.items() if counter["ceiling"]}


def _assert_exact(session_factory, gen, *, stale: bool) -> None:
    got, total, marked = _reconciled(session_factory)
    want = _want(session_factory, gen)
    assert got == want and total == sum(want.values())
    assert bool(marked) == stale
    with session_factory() as session:
        ids = [s.id for s in gen.schools if s.id not in marked]
        stored = set(tuple(r) for r in session.execute(select(CeilingDayTotal.school_id, CeilingDayTotal.day,
                                            CeilingDayTotal.category_code, CeilingDayTotal.children)
                                     .where(CeilingDayTotal.school_id.in_(ids))).all())
        assert stored == {tuple(r) for r in session.execute(fresh_rows(ids))}


def _change(session_factory, gen, what: str) -> list[int]:
    a, b = gen.schools[0].id, gen.schools[1].id
    with transaction(session_factory) as s:
        if what == "enrollment ends":
            enrollment = s.scalars(select(Enrollment).where(Enrollment.school_id == a)).first()
            enrollment.valid_to = MONTH.first_day + dt.timedelta(days=9)
        elif what == "ground added":
            s.add(StudentEligibility(student_id=gen.students[b][0], category_code="orphan",
                                     valid_from=MONTH.first_day, valid_to=MONTH.last_day))
        elif what == "ground removed":
            ground = s.scalars(select(StudentEligibility).where(
                StudentEligibility.student_id.in_(gen.students[a]))).first()
            s.delete(ground)
        elif what == "day closed":
            s.execute(update(CalendarDay).where(CalendarDay.school_id == b, CalendarDay.kind == "serving",
                                                CalendarDay.day >= MONTH.first_day + dt.timedelta(days=3))
                      .values(kind="closure"))
        elif what == "raw SQL":  # not through the ORM: the triggers still see it
            s.execute(text("UPDATE enrollments SET valid_from = :d WHERE school_id = :a AND valid_to IS NULL"),
                      {"d": MONTH.first_day + dt.timedelta(days=12), "a": a})
    return [a] if what in ("enrollment ends", "ground removed", "raw SQL") else [b]


@pytest.mark.parametrize("seed", [4, 5])
def test_the_ceiling_is_exact_before_and_after_refreshes(session_factory, seed):
    gen = build(session_factory, seed)
    # Built through the ORM: the triggers marked both schools; their ceiling is computed from the registry.
    with session_factory() as session:
        assert stale_schools(session) == sorted(s.id for s in gen.schools)
    _assert_exact(session_factory, gen, stale=True)
    with transaction(session_factory) as session:
        assert refresh(session) == 2
    _assert_exact(session_factory, gen, stale=False)
    for what in ("enrollment ends", "ground added", "ground removed", "day closed", "raw SQL"):
        marked = _change(session_factory, gen, what)
        with session_factory() as session:
            assert stale_schools(session) == marked, what
        _assert_exact(session_factory, gen, stale=True)
        with transaction(session_factory) as session:
            assert refresh(session) == 1
        _assert_exact(session_factory, gen, stale=False)


def test_a_child_moved_to_another_school_marks_both(session_factory):
    gen = build(session_factory, 6)
    with transaction(session_factory) as session:
        refresh(session)
    a, b = (s.id for s in gen.schools)
    with transaction(session_factory) as session:
        session.execute(update(Enrollment).where(Enrollment.student_id == gen.students[a][0]).values(school_id=b))
    with session_factory() as session:
        assert stale_schools(session) == sorted([a, b])


def test_refresh_of_every_school_or_some(session_factory):
    gen = build(session_factory, 7)
    with transaction(session_factory) as session:
        assert refresh(session) == 2
        assert refresh(session) == 0  # nothing changed
        assert refresh(session, everything=True) == 2
        assert refresh(session, [gen.schools[0].id]) == 1
    with session_factory() as session:
        assert stale_schools(session) == []


def test_wallet_totals_check_compares_the_ceiling_rows_and_rebuild_derives_them(session_factory, engine,
                                                                                 database_url, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    gen = build(session_factory, 8)
    env = {"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path)}
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    assert run("totals", "check").exit_code == 0  # stale schools are not compared: nothing derived yet
    rebuilt = run("totals", "rebuild")
    assert rebuilt.exit_code == 0 and "the ceiling rows of 2 school(s)" in rebuilt.output
    assert run("totals", "check").exit_code == 0
    with engine.begin() as conn:
        conn.execute(text("UPDATE ceiling_day_totals SET children = children + 1 WHERE school_id = :s"),
                     {"s": gen.schools[0].id})
    bad = run("totals", "check")
    assert bad.exit_code == 1
    assert "ceiling_day_totals: expected" in bad.output and "ceiling_day_totals: found" in bad.output
    assert run("totals", "rebuild").exit_code == 0
    assert run("totals", "check").exit_code == 0
