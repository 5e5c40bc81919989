"""The console's school page on the serving line: meals served after a confirmed allergen warning, and each
terminal's backlog flagged when overdue."""

from __future__ import annotations

import datetime as dt

from tests.factories import batch, meal_event


def test_the_school_page_counts_warnings_and_flags_an_overdue_backlog(console, app, world, terminal_key):
    api = app.test_client()
    warned = {**meal_event(world.eligible[0], 1), "allergenWarning": {"shown": True, "confirmed": True}}
    body = batch(warned, meal_event(world.eligible[1], 2))
    body["backlog"] = {"queued": 4, "oldestServedAt": (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat()}
    assert api.post("/api/v1/terminal/events", json=body, headers=terminal_key.headers()).status_code == 200
    console.sign_in("school_admin")
    html = console.get(f"/console/schools/{world.school.bin}", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert 'id="live-allergen-warnings">1</span>' in html
    assert "overdue" in html and "4 · oldest 3 d 0 h" in html
    live = console.get(f"/console/schools/{world.school.bin}/live.json").get_json()
    assert live["allergenWarnings"] == 1
    assert live["terminals"][0]["backlogFlagged"] is True and live["terminals"][0]["backlogAgeS"] >= 3 * 86400

    body = batch(meal_event(world.eligible[2], 3))
    body["backlog"] = {"queued": 0}
    api.post("/api/v1/terminal/events", json=body, headers=terminal_key.headers())
    html = console.get(f"/console/schools/{world.school.bin}", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert "overdue" not in html
