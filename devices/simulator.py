"""Simulated canteen terminals serving a school day's meals, so a first run shows meals arriving.

Most eligible pupils eat once per meal; a few come back for seconds (refused as duplicate meals), a few
pupils who are not entitled try (refused), and terminals now and then go offline and upload later. Given parents'
bearer tokens, a share of the children show a dynamic QR code that their parent's app fetched a moment
before (and now and then the same code again, which the terminal refuses at once).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from devices.agent import Agent
from devices.client import ServiceError
from devices.parent_app import ParentApp, pick_token
from devices.qrtoken import QrRefused
from devices.serving_day import CanteenBook, describe, meal_time

# Of the QR codes shown, this share is shown a second time (a screenshot): refused by the terminal.
QR_SHOWN_TWICE = 0.03


MEAL_ORDER = ("breakfast", "lunch", "snack")


@dataclass
class SimulatedTerminal:
    agent: Agent
    name: str
    offline_until: float = 0.0
    last_qr: str | None = None


@dataclass
class Canteen:
    """What the canteen staff of one school know during the day, shared by all of its terminals: who had
    which meal. The rush serves the day's meals in order, each entitled pupil once (with a few second
    helpings and pupils without the right, which the service refuses), and stops when all are served."""

    meals: list[str]
    day: str = ""
    served: dict[str, set[str]] = field(default_factory=dict)
    finished: bool = False  # every entitled pupil has had every meal
    finished_before: bool = False  # ... already in an earlier run today

    def current_meal(self, roster: dict) -> str | None:
        for meal in self.meals:
            if self.waiting(roster, meal):
                return meal
        self.finished = True
        return None

    def meals_served(self) -> list[str]:
        return [meal for meal in self.meals if self.served.get(meal)]

    def progress(self, roster: dict, meal: str) -> float:
        """How far through the meal's rush the canteen is, 0..1."""
        entitled = len(_entitled(roster, meal))
        return len(self.served.get(meal, ())) / entitled if entitled else 0.0

    def waiting(self, roster: dict, meal: str) -> list[str]:
        return [p["studentId"] for p in _entitled(roster, meal) if p["studentId"] not in self.served.get(meal, ())]

    def serve(self, meal: str, student: str) -> None:
        self.served.setdefault(meal, set()).add(student)


def _entitled(roster: dict, meal: str) -> list[dict]:
    """Pupils the roster lists for this meal; on a day without service, everyone (each is refused once)."""
    pupils = roster.get("students", [])
    if not roster.get("isServingDay", True):
        return pupils
    return [p for p in pupils if meal in p["mealTypes"]]


def _pick(rng: random.Random, roster: dict, canteen: Canteen, meal_type: str) -> str:
    pupils = roster.get("students", [])
    if not pupils:
        return "unknown-pupil"
    roll = rng.random()
    served = canteen.served.get(meal_type)
    if served and roll < 0.04:
        return rng.choice(sorted(served))  # back for seconds
    entitled = {p["studentId"] for p in _entitled(roster, meal_type)}
    others = [p["studentId"] for p in pupils if p["studentId"] not in entitled]
    if others and roll < 0.10:
        return rng.choice(others)
    return rng.choice(canteen.waiting(roster, meal_type) or [p["studentId"] for p in pupils])


def _meal_order(first: str) -> list[str]:
    """The day's meals from `first` on, in serving order."""
    return list(MEAL_ORDER[MEAL_ORDER.index(first):]) if first in MEAL_ORDER else [first]


def simulate(
    data_dirs: list[Path],
    *,
    meals_per_minute: float = 120.0,
    duration_s: float | None = None,
    sync_every_s: float = 5.0,
    offline_chance: float = 0.05,
    meal_type: str = "lunch",
    seed: int | None = None,
    parent_apps: list[ParentApp] | None = None,
    qr_share: float = 0.5,
    echo: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    in_window: bool = True,
) -> dict[str, int]:
    """Run enrolled terminals (one data dir each) until the day's rush is over or duration_s passes.

    The terminals serve `meal_type` and then the day's later meals, in the school's serving windows
    (devices/serving_day.py); once every entitled pupil has had them all, they upload what is still queued,
    say so in one line and stop (`in_window=False`: every meal is stamped as it is recorded, whatever the
    hour, and QR codes are shown at any time). Who was served is kept in `canteen.json` beside the data dirs, so a run
    started again on the same day carries on where the last one stopped.
    """
    rng = random.Random(seed)
    terminals = [SimulatedTerminal(Agent(d, sleep=sleep), d.name) for d in data_dirs]
    for terminal in terminals:
        terminal.agent.refresh_roster()
    book = CanteenBook(data_dirs[0].parent / "canteen.json")
    zone0 = _zone(terminals[0].agent.roster() or {})  # the time of every line is the school's
    canteens: dict[str, Canteen] = {}
    totals = {"recorded": 0, "uploaded": 0, "billable": 0, "refused": 0, "rejected": 0, "qr": 0,
              "qr_refused_at_terminal": 0}
    _tell_about_the_day(terminals, echo)
    start = clock()
    next_sync = start + sync_every_s
    interval = 60.0 / max(meals_per_minute, 1e-6)
    told: set[tuple[str, str]] = set()
    try:
        while duration_s is None or clock() - start < duration_s:
            terminal = rng.choice(terminals)
            roster = terminal.agent.roster() or {"students": []}
            school_bin = _school_of(terminal)
            canteen = canteens.get(school_bin)
            if canteen is None:
                canteen = canteens[school_bin] = _open(book, roster, school_bin, meal_type, echo)
            meal = canteen.current_meal(roster)
            if meal is None:
                if all(_school_of(t) in canteens and canteens[_school_of(t)].finished for t in terminals):
                    break
                sleep(interval)  # another school's terminal may still be serving
                continue
            zone = _zone(roster)
            now = wall()
            if in_window and (school_bin, meal) not in told:
                told.add((school_bin, meal))
                echo(f"{_stamp(zone)} school {school_bin}: {describe(meal, now, zone)}")
            served_at = meal_time(meal, now, zone, canteen.progress(roster, meal), rng) if in_window else None
            if parent_apps and served_at is None and rng.random() < qr_share:
                _serve_by_qr(rng, terminal, canteen, parent_apps, school_bin, meal, totals)
            else:
                student = _pick(rng, roster, canteen, meal)
                # The simulated cook confirms every allergen warning (a real one reads it first).
                terminal.agent.record(student, meal, method=rng.choice(("card", "roster")), now=served_at,
                                      allergens_confirmed=True)
                canteen.serve(meal, student)
                totals["recorded"] += 1
            if clock() >= next_sync:
                _sync_all(terminals, rng, offline_chance, totals, echo, clock, zone0)
                _keep(book, canteens)
                next_sync = clock() + sync_every_s
            sleep(rng.expovariate(1.0 / interval))
        for terminal in terminals:
            terminal.offline_until = 0.0
        _sync_all(terminals, rng, 0.0, totals, echo, clock, zone0)
    finally:
        _keep(book, canteens)
        for terminal in terminals:
            terminal.agent.close()
    for school_bin, canteen in canteens.items():
        if canteen.finished and not canteen.finished_before:
            echo(f"{_stamp(zone0)} school {school_bin}: the rush is over: every entitled pupil on the roster has had "
                 f"the day's meals ({', '.join(canteen.meals_served())}); the terminals have uploaded everything")
    echo(f"{_stamp(zone0)} {_meals(totals['recorded'])} recorded this run, {_meals(totals['uploaded'])} uploaded: "
         f"{totals['billable']} billable, {totals['refused']} refused (kept in the ledger with reasons)")
    return totals


def _open(book: CanteenBook, roster: dict, school_bin: str, meal_type: str,
          echo: Callable[[str], None]) -> Canteen:
    """The school's canteen for today, with what an earlier run today served."""
    day = str(roster.get("servingDay", ""))
    canteen = Canteen(_meal_order(meal_type), day=day, served=book.served(school_bin, day))
    earlier = sum(len(ids) for ids in canteen.served.values())
    if earlier and canteen.current_meal(roster):
        echo(f"school {school_bin}: {_meals(earlier)} served earlier today (an earlier run); carrying on with "
             "the pupils still waiting")
    elif earlier:
        canteen.finished_before = True
        echo(f"school {school_bin}: every entitled pupil had today's meals in an earlier run, so nothing is "
             "left to serve today; the console shows the day")
    return canteen


def _school_of(terminal: SimulatedTerminal) -> str:
    return str(((terminal.agent.roster() or {}).get("school") or {}).get("bin", ""))


def _keep(book: CanteenBook, canteens: dict[str, Canteen]) -> None:
    for school_bin, canteen in canteens.items():
        if canteen.day:
            book.save(canteen.day, school_bin, canteen.served)


def _zone(roster: dict) -> ZoneInfo:
    return ZoneInfo(str((roster.get("school") or {}).get("timezone") or "Asia/Almaty"))


def _meals(n: int) -> str:
    return f"{n} meal" if n == 1 else f"{n} meals"


def _tell_about_the_day(terminals: list[SimulatedTerminal], echo: Callable[[str], None]) -> None:
    """On a day without service every meal is refused (`not_serving_day`): say so, lest it look broken."""
    told: set[str] = set()
    for terminal in terminals:
        roster = terminal.agent.roster() or {}
        school_bin = str((roster.get("school") or {}).get("bin", ""))
        if roster and not roster.get("isServingDay", True) and school_bin not in told:
            told.add(school_bin)
            echo(f"{roster.get('servingDay')} is not a serving day at school {school_bin} (weekend, holiday or "
                 "closure): the service keeps every meal posted today, refused as not_serving_day")


def _serve_by_qr(rng: random.Random, terminal: SimulatedTerminal, canteen: Canteen, apps: list[ParentApp],
                 school_bin: str, meal_type: str, totals: dict[str, int]) -> None:
    """A child shows the QR code the parent's app fetched just now (or, now and then, the last one again)."""
    if terminal.last_qr is not None and rng.random() < QR_SHOWN_TWICE:
        child, token = None, terminal.last_qr
    else:
        picked = pick_token(rng, apps, school_bin, meal_type, exclude=canteen.served.get(meal_type, set()))
        if picked is None:
            return
        child, token = picked
    terminal.last_qr = token
    try:
        terminal.agent.record_qr(token, meal_type, allergens_confirmed=True)
    except QrRefused:
        totals["qr_refused_at_terminal"] += 1
        return
    if child is not None:
        canteen.serve(meal_type, child)
    totals["recorded"] += 1
    totals["qr"] += 1


def _stamp(zone: ZoneInfo | None = None) -> str:
    """The time of a line: the school's local time when known (the host's own zone may be anything)."""
    return dt.datetime.now(zone or dt.UTC).strftime("%H:%M:%S" if zone else "%H:%M:%S UTC")


def _sync_all(terminals: list[SimulatedTerminal], rng: random.Random, offline_chance: float,
              totals: dict[str, int], echo: Callable[[str], None], clock: Callable[[], float],
              zone: ZoneInfo | None = None) -> None:
    now = clock()
    for terminal in terminals:
        if terminal.offline_until > now:
            continue
        if rng.random() < offline_chance:
            terminal.offline_until = now + rng.uniform(10, 40)
            echo(f"{_stamp(zone)} {terminal.name}: connection lost; meals are kept in the local journal and "
                 "uploaded when it is back")
            continue
        try:
            report = terminal.agent.sync(max_attempts=2)
        except ServiceError as exc:
            echo(f"{terminal.name}: upload failed ({exc}); will retry")
            continue
        if report.sent:
            refused = report.acknowledged - report.billable
            totals["uploaded"] += report.sent
            totals["billable"] += report.billable
            totals["refused"] += refused
            totals["rejected"] += report.rejected
            echo(f"{_stamp(zone)} {terminal.name}: uploaded {_meals(report.sent)}: {report.billable} billable, "
                 f"{refused} refused (kept in the ledger with reasons), {report.rejected} rejected")
