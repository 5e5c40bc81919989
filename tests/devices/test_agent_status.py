"""`wallet-terminal status`: the queue, the oldest unsent meal's age, the last successful upload and the
verdicts of the last uploads; and the backlog each upload reports to the service."""

from __future__ import annotations

import json

from tests.live_server import enrollment_code, journal_setting, run_terminal
from wallet.models import Terminal


def test_status_says_what_has_reached_the_service(start_server, session_factory, world, tmp_path):
    server = start_server(env={"WALLET_MAX_BATCH_EVENTS": "2"})
    data = tmp_path / "t1"
    code = enrollment_code(session_factory, world.school.bin)
    assert run_terminal(data, "enroll", "--server", server.url, "--code", code).returncode == 0
    fresh = json.loads(run_terminal(data, "status").stdout)
    assert (fresh["queuedMeals"], fresh["oldestUnsentAgeS"], fresh["lastSuccessfulUpload"]) == (0, None, None)

    for student in (world.eligible[0], world.eligible[0], world.not_eligible):  # billable, second, not eligible
        assert run_terminal(data, "record", str(student.id)).returncode == 0
    queued = run_terminal(data, "status", "--text")
    assert queued.returncode == 0
    lines = queued.stdout.splitlines()
    assert lines[0].startswith("queued: 3 meal(s); oldest unsent: 0 h 0 min")
    assert lines[1] == "last successful upload: never"
    assert json.loads(run_terminal(data, "status").stdout)["oldestUnsentServedAt"].endswith("Z")

    assert run_terminal(data, "sync").returncode == 0  # two batches: 2 + 1
    report = json.loads(run_terminal(data, "status").stdout)
    assert report["queuedMeals"] == 0 and report["oldestUnsentAgeS"] is None
    assert report["lastSuccessfulUpload"] == journal_setting(data, "last_contact")
    assert report["lastUploads"] == {"uploads": 2, "events": 3, "billable": 1, "notBillable": 2, "rejected": 0,
                                     "reasons": {"duplicate_meal": 1, "not_eligible": 1}}
    text = run_terminal(data, "status", "--text").stdout.splitlines()
    assert text[2] == ("last 2 upload(s): 3 meal(s), 1 billable, 2 not billable (duplicate_meal 1, "
                       "not_eligible 1), 0 rejected")
    with session_factory() as session:
        terminal = session.get(Terminal, journal_setting(data, "terminal_id"))
        assert terminal is not None and terminal.backlog_count == 0 and terminal.backlog_oldest_at is None


def test_each_upload_tells_the_service_what_stays_queued(start_server, session_factory, world, tmp_path):
    from devices.agent import Agent

    server = start_server(env={"WALLET_MAX_BATCH_EVENTS": "2"})
    data = tmp_path / "t1"
    code = enrollment_code(session_factory, world.school.bin)
    assert run_terminal(data, "enroll", "--server", server.url, "--code", code).returncode == 0
    for student in world.eligible[:5]:
        assert run_terminal(data, "record", str(student.id)).returncode == 0
    agent = Agent(data)
    try:
        report = agent.sync(max_batches=1)  # the connection drops after one batch
        assert report.remaining == 3
        third = next(r for r in agent.journal.rows() if r["device_seq"] == 3)
    finally:
        agent.close()
    with session_factory() as session:
        terminal = session.get(Terminal, journal_setting(data, "terminal_id"))
        assert terminal is not None and terminal.backlog_count == 3
        assert terminal.backlog_oldest_at.isoformat(timespec="milliseconds").replace("+00:00", "Z") == \
            third["served_at"]


def test_the_run_loop_asks_for_the_roster_every_few_minutes_not_every_round(live_server, session_factory, world,
                                                                            tmp_path, monkeypatch):
    import datetime as dt

    from devices import agent as agent_module
    from devices.client import ServiceClient

    data = tmp_path / "t1"
    code = enrollment_code(session_factory, world.school.bin)
    assert run_terminal(data, "enroll", "--server", live_server.url, "--code", code).returncode == 0
    asked: list[int] = []
    real_roster = ServiceClient.roster

    def counting(self, etag):  # type: ignore[no-untyped-def]
        asked.append(1)
        return real_roster(self, etag)

    monkeypatch.setattr(ServiceClient, "roster", counting)
    agent = agent_module.Agent(data, sleep=lambda s: None)

    def checked(seconds_ago: int) -> None:
        at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)
        agent.journal.put(roster_checked_at=at.isoformat().replace("+00:00", "Z"))

    try:
        agent.run(max_loops=10)
        assert len(asked) == 1  # ten rounds of uploads, one roster
        checked(agent_module.ROSTER_REFRESH_S - 30)
        agent.run(max_loops=1)
        assert len(asked) == 1
        checked(agent_module.ROSTER_REFRESH_S + 1)
        agent.run(max_loops=1)
        assert len(asked) == 2
        checked(-3600)  # the clock was set back an hour: ask again rather than wait
        agent.run(max_loops=1)
        assert len(asked) == 3
    finally:
        agent.close()
