"""The demo data hold a month of QR-based meals, recorded through the real ingest, once."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from wallet.models import LedgerEntry, QrTokenUse, Voucher


def test_demo_data_records_a_month_of_qr_meals_once(database_url, tmp_path, session_factory):
    from cli.main import cli

    env = {"WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
    args = ["demo-data", "--students", "60", "--seed", "5", "--today", "2025-10-15"]
    first = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    with session_factory() as session:
        entries = session.execute(select(LedgerEntry.verdict, LedgerEntry.reasons, LedgerEntry.voucher_id,
                                         LedgerEntry.serving_day, LedgerEntry.method)).all()
        assert session.scalar(select(func.count()).select_from(Voucher)) > 0
        spent = session.scalar(select(func.count()).select_from(QrTokenUse))
    assert entries and all(e.method == "qr" and e.voucher_id is not None for e in entries)
    assert sum(e.verdict == "billable" for e in entries) > 0.9 * len(entries)
    days = {e.serving_day for e in entries}
    assert len(days) >= 15 and max(days).isoformat() < "2025-10-15"
    assert spent == len({(e.voucher_id, e.serving_day) for e in entries})  # one token a child a day
    assert "qr meals" in first.output

    second = CliRunner().invoke(cli, args, env=env)
    assert second.exit_code == 0, second.output
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == len(entries)
    verify = CliRunner().invoke(cli, ["verify"], env=env)
    assert verify.exit_code == 0, verify.output
