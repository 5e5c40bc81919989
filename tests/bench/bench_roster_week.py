"""What the week costs the roster: GET /api/v1/terminal/roster with the week and the allergen lists, against
the same endpoint with them taken out (today only), in the same process, on the same SQLite database.

Run from the repository root:

    .venv/bin/python -m tests.bench.bench_roster_week [--pupils 400] [--requests 30]

A school of N pupils, 12 serving days with a lunch menu each, one registered terminal; the app in-process
(Flask test client, rate limits off). Every request computes the whole body, since the ETag is its hash: the
figure is the cost of each poll, changed or not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import tempfile
import time
from typing import Any

import api.terminals as views
from api import create_app
from tests.factories import TerminalKey, make_world
from wallet import migrate
from wallet.config import Settings
from wallet.db import make_engine, make_session_factory
from wallet.models import CalendarDay, Menu, MenuDish


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pupils", type=int, default=400)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    folder = pathlib.Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        world = make_world(session, pupils=args.pupils)
        for n in range(1, 12):
            day = world.today + dt.timedelta(days=n)
            session.add(CalendarDay(school_id=world.school.id, day=day, kind="serving"))
            session.add(Menu(school_id=world.school.id, day=day, meal_type="lunch", dishes=[
                MenuDish(position=1, name_kk="Ботқа", name_ru="Каша", name_en="Porridge", grams=200, kcal=250,
                         allergens="milk")]))
        session.commit()
        key = TerminalKey()
        key.register(session, world.school)
    client = create_app(Settings(environment="test", database_url=url, instance_path=folder,
                                 rate_limits_enabled=False), engine=engine).test_client()

    def run() -> tuple[float, int]:
        client.get("/api/v1/terminal/roster", headers=key.headers())  # warm
        started = time.perf_counter()
        for _ in range(args.requests):
            response = client.get("/api/v1/terminal/roster", headers=key.headers())
            assert response.status_code == 200
        return (time.perf_counter() - started) / args.requests, len(response.get_data())

    week = run()
    real: dict[str, Any] = {"build_week": views.build_week, "roster_allergies": views.roster_allergies}
    views.build_week = lambda session, school, now: {"weekThrough": now.date().isoformat()}  # type: ignore[assignment]
    views.roster_allergies = lambda *a: {}  # type: ignore[assignment]
    today = run()
    views.build_week, views.roster_allergies = real["build_week"], real["roster_allergies"]
    again = run()
    best = min(week[0], again[0])
    print(f"{args.pupils} pupils, SQLite, {args.requests} requests each")
    print(f"today only (baseline): {today[0] * 1000:.1f} ms a request, {today[1]:,} bytes")
    print(f"with the week:         {best * 1000:.1f} ms a request, {week[1]:,} bytes "
          f"({best / today[0]:.1f}x the time, {week[1] / today[1]:.1f}x the bytes)")


if __name__ == "__main__":
    main()
