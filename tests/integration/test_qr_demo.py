"""The demo data hold a month of QR-based meals, recorded through the real ingest, once."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy import func, select

from wallet.ledger.totals import is_late
from wallet.models import Finding, GuardianLink, LedgerEntry, QrTokenUse, Voucher


def test_demo_data_records_a_month_of_qr_meals_once(database_url, tmp_path, session_factory):
    from cli.main import cli

    env = {"WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
    args = ["demo-data", "--students", "60", "--seed", "5", "--today", "2025-10-15"]
    first = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    with session_factory() as session:
        # The QR terminals' entries (the demo's suspect roster line is wallet/demo/evidence.py's).
        entries = session.execute(select(LedgerEntry.verdict, LedgerEntry.reasons, LedgerEntry.voucher_id,
                                         LedgerEntry.serving_day, LedgerEntry.method)
                                  .where(LedgerEntry.terminal_id.like("T-demo-qr-%"))).all()
        assert session.scalar(select(func.count()).select_from(Voucher)) > 0
        spent = session.scalar(select(func.count()).select_from(QrTokenUse))
    assert entries and all(e.method == "qr" and e.voucher_id is not None for e in entries)
    assert sum(e.verdict == "billable" for e in entries) > 0.9 * len(entries)
    days = {e.serving_day for e in entries}
    assert len(days) >= 15 and max(days).isoformat() < "2025-10-15"
    assert spent == len({(e.voucher_id, e.serving_day) for e in entries})  # one token a child a day
    assert "qr meals" in first.output
    with session_factory() as session:
        everything = session.scalar(select(func.count()).select_from(LedgerEntry))
        rules = set(session.scalars(select(Finding.rule)))
    # The Findings page's mix (wallet/demo/evidence.py); 60 pupils are too few for a fast line
    # (serving_rate) or a day of 20 weak identifications at one school: the default demo has those too.
    assert {"absent_but_billed", "parent_dispute", "cloned_device", "above_enrolled_present"} <= rules, rules

    second = CliRunner().invoke(cli, args, env=env)
    assert second.exit_code == 0, second.output
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == everything
    verify = CliRunner().invoke(cli, ["verify"], env=env)
    assert verify.exit_code == 0, verify.output


def test_demo_meals_are_served_in_the_lunch_window_and_uploaded_that_day(database_url, tmp_path, session_factory):
    """Not "late" (received after their serving day) and at lunch in the school's zone, whatever the host's
    clock."""
    from cli.main import cli

    env = {"WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
    made = CliRunner().invoke(cli, ["demo-data", "--students", "60", "--seed", "5", "--today", "2025-10-15"],
                              env=env)
    assert made.exit_code == 0, made.output
    zone = ZoneInfo("Asia/Almaty")
    with session_factory() as session:
        entries = session.execute(select(LedgerEntry.served_at, LedgerEntry.received_at,
                                         LedgerEntry.serving_day)).all()
        qr = session.execute(select(LedgerEntry.served_at).where(LedgerEntry.terminal_id.like("T-demo-qr-%"))).all()
    assert entries and qr and not any(is_late(_utc(e.received_at), e.serving_day, "Asia/Almaty") for e in entries)
    for e in qr:  # the QR month's lunch hour (the suspect line of wallet/demo/evidence.py serves earlier)
        local = _utc(e.served_at).astimezone(zone)
        assert dt.time(12, 30) <= local.time() <= dt.time(13, 32), local
    for e in entries:
        assert _utc(e.served_at).astimezone(zone).date() == e.serving_day


def test_the_suggested_demo_parent_has_a_voucher_offer_to_answer(database_url, tmp_path, session_factory):
    """As the README promises (`/parent/vouchers   # offers to accept`); made for today, as `make run` does,
    since the offers of a past school year have expired."""
    from cli.main import cli

    env = {"WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
    made = CliRunner().invoke(cli, ["demo-data", "--students", "60"], env=env)
    assert made.exit_code == 0, made.output
    [parent] = re.findall(r"to sign in as: IIN (\d{12})", made.output)
    with session_factory() as session:
        offered = select(func.count()).select_from(Voucher).where(Voucher.status == "offered")
        assert session.scalar(offered) > 0
        mine = session.scalar(offered.join(GuardianLink, GuardianLink.student_id == Voucher.student_id)
                              .where(GuardianLink.parent_iin == parent))
    assert mine >= 1 and "voucher offer" in made.output


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def test_a_demo_started_again_moves_to_a_school_with_pupils_still_waiting(database_url, tmp_path,
                                                                          session_factory):
    """Once the first school's live terminals have served every entitled pupil today, `run-demo` picks the
    next school (wallet.demo.participants.school_for_the_rush)."""
    import uuid

    from cli.main import cli
    from wallet.demo.participants import school_for_the_rush
    from wallet.ingest import Batch, MealEvent, record_batch
    from wallet.models import School, Terminal
    from wallet.roster import build_roster

    env = {"WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
    made = CliRunner().invoke(cli, ["demo-data", "--students", "60", "--today", "2026-12-02"], env=env)
    assert made.exit_code == 0, made.output
    now = dt.datetime(2026, 12, 2, 6, 30, tzinfo=dt.UTC)  # a Wednesday, 11:30 in Almaty
    with session_factory() as session:
        first = session.scalars(select(School).order_by(School.id)).first()
        assert school_for_the_rush(session, now) == (0, first.bin)
        entitled = [p["studentId"] for p in build_roster(session, first, now)["students"] if p["mealTypes"]]
        terminal = Terminal(id="T-live-1", school_id=first.id, public_key="unused", status="active",
                            label="live", created_at=now)
        session.add(terminal)
        session.commit()
        events = [MealEvent(index=n, event_id=uuid.uuid4(), device_seq=n + 1, student_ref=sid, meal_type="lunch",
                            served_at=now, method="roster") for n, sid in enumerate(entitled)]
        record_batch(session, terminal, Batch("T-live-1", now, now, events), clock_tolerance=dt.timedelta(minutes=5))
        index, school_bin = school_for_the_rush(session, now)
    assert index == 1 and school_bin != first.bin
