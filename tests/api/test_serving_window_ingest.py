"""Serving windows imported like the calendar decide the verdict (issue 16, item 1)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.factories import batch, meal_event
from wallet.evidence.windows import format_minutes
from wallet.importing import ImportFailed, import_file
from wallet.models import ServingWindow

EVENTS = "/api/v1/terminal/events"
COLUMNS = ["school_bin", "meal_type", "shift", "from", "to"]


def _csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _now_minute() -> int:
    local = dt.datetime.now(ZoneInfo("Asia/Almaty"))
    return local.hour * 60 + local.minute


def _away_from_now() -> tuple[str, str]:
    m = _now_minute()
    return ("00:00", format_minutes(m - 30)) if m >= 60 else (format_minutes(m + 30), "24:00")


def _around_now() -> tuple[str, str]:
    m = _now_minute()
    return format_minutes(max(0, m - 30)), format_minutes(min(1440, m + 30))


def _post(checked, terminal_key, *events):
    return checked.post(EVENTS, json=batch(*events), headers=terminal_key.headers()).get_json()["results"]


def test_a_meal_outside_its_window_is_not_billable(checked, session_factory, world, terminal_key, tmp_path):
    away, around = _away_from_now(), _around_now()
    path = _csv(tmp_path / "w.csv", [
        {"school_bin": world.school.bin, "meal_type": "lunch", "shift": 1, "from": away[0], "to": away[1]},
        {"school_bin": "", "meal_type": "breakfast", "shift": 1, "from": away[0], "to": away[1]},
        {"school_bin": "", "meal_type": "snack", "shift": 1, "from": around[0], "to": around[1]},
    ])
    report = import_file(session_factory, "serving-windows", path)
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    again = import_file(session_factory, "serving-windows", path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    results = _post(checked, terminal_key, meal_event(world.eligible[0], 1, meal_type="lunch"),
                     meal_event(world.eligible[1], 2, meal_type="breakfast"),
                     meal_event(world.eligible[2], 3, meal_type="snack"))
    assert results[0]["reasons"] == ["outside_serving_window"]  # the school's own lunch window
    assert results[1]["reasons"] == ["outside_serving_window"]  # the programme's default breakfast window
    assert results[2]["verdict"] == "billable", results[2]      # inside the default snack window
    # A second shift that holds now makes the lunch billable.
    _csv(path, [{"school_bin": world.school.bin, "meal_type": "lunch", "shift": 2, "from": around[0],
                 "to": around[1]}])
    import_file(session_factory, "serving-windows", path)
    [lunch] = _post(checked, terminal_key, meal_event(world.eligible[3], 4, meal_type="lunch"))
    assert lunch["verdict"] == "billable", lunch


def test_a_bad_windows_file_writes_nothing(session_factory, world, tmp_path):
    path = _csv(tmp_path / "bad.csv", [
        {"school_bin": world.school.bin, "meal_type": "lunch", "shift": 1, "from": "11:00", "to": "14:00"},
        {"school_bin": world.school.bin, "meal_type": "lunch", "shift": 1, "from": "12:00", "to": "13:00"},
        {"school_bin": world.school.bin, "meal_type": "dinner", "shift": 4, "from": "25:00", "to": "10:00"},
        {"school_bin": "", "meal_type": "snack", "shift": 1, "from": "15:00", "to": "14:00"},
    ])
    with pytest.raises(ImportFailed) as failed:
        import_file(session_factory, "serving-windows", path)
    lines = {(e.line, e.column) for e in failed.value.errors}
    assert {(3, "shift"), (4, "meal_type"), (4, "shift"), (4, "from"), (5, "to")} <= lines
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ServingWindow)) == 0
