"""`wallet findings scan|list|rule` (issue 16): a rerun of the scan finds nothing new; a rulings file with a
bad row records nothing and exits 2."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select

from cli.main import cli
from tests import evidence_world as ew
from wallet.models import Finding, FindingRuling


def test_scan_list_and_rule_from_the_command_line(session_factory, database_url, tmp_path) -> None:
    world = ew.build(session_factory, schools=1, pupils=3)
    school = world.schools[0]
    pupil = world.pupils[school.id][0]
    served = ew.dt.datetime.combine(world.days[0], ew.dt.time(11, 30), ew.ZONE)
    ew.post(session_factory, world.terminals[school.id], [ew.event(world, world.terminals[school.id].id, pupil,
                                                                   served, "card")])
    ew.attendance(session_factory, tmp_path, school, [(pupil, world.days[0])], "journal")
    env = {"WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp_path / "instance")}
    runner = CliRunner()
    first = runner.invoke(cli, ["findings", "scan", "--month", world.month, "--scope", f"region:{world.region.code}"],
                          env=env)
    assert first.exit_code == 0, first.output
    assert "1 new finding(s) (1 absent_but_billed)" in first.output
    again = runner.invoke(cli, ["findings", "scan", "--month", world.month], env=env)
    assert "0 new finding(s) (nothing new)" in again.output
    listed = runner.invoke(cli, ["findings", "list", "--month", world.month, "--lang", "en"], env=env)
    [item] = [json.loads(line) for line in listed.output.splitlines()]
    assert item["rule"] == "absent_but_billed" and "marks absent" in item["explanation"]
    bad = tmp_path / "rulings.csv"
    bad.write_text(f"finding_id,outcome,reason\n{item['id']},upheld,absent all day\n{item['id'] + 9},maybe,x\n",
                   encoding="utf-8")
    refused = runner.invoke(cli, ["findings", "rule", str(bad)], env=env)
    assert refused.exit_code == 2 and "items/1/outcome" in refused.output
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(FindingRuling)) == 0
    good = tmp_path / "good.csv"
    good.write_text(f"finding_id,outcome,reason\n{item['id']},upheld,absent all day\n", encoding="utf-8")
    assert runner.invoke(cli, ["findings", "rule", str(good)], env=env).exit_code == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(FindingRuling)) == 1
        assert session.scalar(select(func.count()).select_from(Finding)) == 1
