"""api/worker_boot.py: a database that does not answer a booting worker stops a first start at once, and is
retried, then left to the master (an ordinary exit status, not gunicorn's halting 4), once a worker booted."""

from __future__ import annotations

import pytest

from api import worker_boot
from wallet.db import DatabaseUnreachable


@pytest.fixture
def booted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_boot, "_booted", bytearray(1))
    worker_boot.mark_booted()


class Database:
    def __init__(self, failures: int) -> None:
        self.failures, self.checks = failures, 0

    def check(self) -> None:
        self.checks += 1
        if self.checks <= self.failures:
            raise DatabaseUnreachable("database unreachable at sqlite:///x: unable to open database file")


class Clock:
    def __init__(self) -> None:
        self.now, self.pauses = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_before_any_worker_booted_the_first_failure_stands(monkeypatch):
    monkeypatch.setattr(worker_boot, "_booted", bytearray(1))
    database, clock = Database(failures=1), Clock()
    with pytest.raises(DatabaseUnreachable):
        worker_boot.wait_for_database(database.check, sleep=clock.sleep, clock=clock)
    assert database.checks == 1 and clock.pauses == []


def test_after_a_worker_booted_a_passing_fault_is_retried(booted):
    database, clock = Database(failures=3), Clock()
    worker_boot.wait_for_database(database.check, sleep=clock.sleep, clock=clock)
    assert database.checks == 4 and clock.pauses == [0.25, 0.5, 1.0]


def test_a_database_that_stays_away_makes_the_worker_exit_without_halting_the_server(booted):
    database, clock = Database(failures=10_000), Clock()
    with pytest.raises(SystemExit) as exited:
        worker_boot.wait_for_database(database.check, sleep=clock.sleep, clock=clock)
    assert exited.value.code == worker_boot.GIVE_UP_STATUS not in (3, 4)  # gunicorn halts on 3 and 4
    assert sum(clock.pauses) <= worker_boot.RETRY_FOR_S and max(clock.pauses) == worker_boot.MAX_DELAY_S
