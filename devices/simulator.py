"""Simulated canteen terminals serving a lunch rush, so a first run shows meals arriving.

Most eligible pupils eat once; a few come back for seconds (refused as duplicate meals), a few pupils who
are not entitled try (refused), and terminals now and then go offline and upload later. Given parents'
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

from devices.agent import Agent
from devices.client import ServiceError
from devices.parent_app import ParentApp, pick_token
from devices.qrtoken import QrRefused

# Of the QR codes shown, this share is shown a second time (a screenshot): refused by the terminal.
QR_SHOWN_TWICE = 0.03


@dataclass
class SimulatedTerminal:
    agent: Agent
    name: str
    offline_until: float = 0.0
    served: list[str] = field(default_factory=list)
    last_qr: str | None = None


def _pick(rng: random.Random, terminal: SimulatedTerminal, meal_type: str) -> str:
    roster = terminal.agent.roster() or {"students": []}
    pupils = roster["students"]
    if not pupils:
        return "unknown-pupil"
    roll = rng.random()
    if terminal.served and roll < 0.04:
        return rng.choice(terminal.served)  # back for seconds
    entitled = [p for p in pupils if meal_type in p["mealTypes"]]
    others = [p for p in pupils if meal_type not in p["mealTypes"]]
    if others and roll < 0.10:
        return rng.choice(others)["studentId"]
    not_yet = [p for p in entitled if p["studentId"] not in terminal.served] or entitled or pupils
    return rng.choice(not_yet)["studentId"]


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
) -> dict[str, int]:
    """Run enrolled terminals (one data dir each) until duration_s passes (or forever when None)."""
    rng = random.Random(seed)
    terminals = [SimulatedTerminal(Agent(d, sleep=sleep), d.name) for d in data_dirs]
    for terminal in terminals:
        terminal.agent.refresh_roster()
    totals = {"recorded": 0, "uploaded": 0, "billable": 0, "refused": 0, "rejected": 0, "qr": 0,
              "qr_refused_at_terminal": 0}
    start = clock()
    next_sync = start + sync_every_s
    interval = 60.0 / max(meals_per_minute, 1e-6)
    while duration_s is None or clock() - start < duration_s:
        terminal = rng.choice(terminals)
        if parent_apps and rng.random() < qr_share:
            _serve_by_qr(rng, terminal, parent_apps, meal_type, totals)
        else:
            student = _pick(rng, terminal, meal_type)
            terminal.agent.record(student, meal_type, method=rng.choice(("card", "roster")))
            terminal.served.append(student)
            totals["recorded"] += 1
        if clock() >= next_sync:
            _sync_all(terminals, rng, offline_chance, totals, echo, clock)
            next_sync = clock() + sync_every_s
        sleep(rng.expovariate(1.0 / interval))
    for terminal in terminals:
        terminal.offline_until = 0.0
    _sync_all(terminals, rng, 0.0, totals, echo, clock)
    for terminal in terminals:
        terminal.agent.close()
    return totals


def _serve_by_qr(rng: random.Random, terminal: SimulatedTerminal, apps: list[ParentApp], meal_type: str,
                 totals: dict[str, int]) -> None:
    """A child shows the QR code the parent's app fetched just now (or, now and then, the last one again)."""
    roster = terminal.agent.roster() or {}
    school_bin = str((roster.get("school") or {}).get("bin", ""))
    again = terminal.last_qr is not None and rng.random() < QR_SHOWN_TWICE
    token = terminal.last_qr if again else pick_token(rng, apps, school_bin, meal_type)
    if token is None:
        return
    terminal.last_qr = token
    try:
        terminal.agent.record_qr(token, meal_type)
    except QrRefused:
        totals["qr_refused_at_terminal"] += 1
        return
    totals["recorded"] += 1
    totals["qr"] += 1


def _sync_all(terminals: list[SimulatedTerminal], rng: random.Random, offline_chance: float,
              totals: dict[str, int], echo: Callable[[str], None], clock: Callable[[], float]) -> None:
    now = clock()
    for terminal in terminals:
        if terminal.offline_until > now:
            continue
        if rng.random() < offline_chance:
            terminal.offline_until = now + rng.uniform(10, 40)
            echo(f"{terminal.name}: connection lost; meals are kept in the local journal")
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
            stamp = dt.datetime.now().strftime("%H:%M:%S")
            echo(f"{stamp} {terminal.name}: uploaded {report.sent} meals: {report.billable} billable, "
                 f"{refused} refused (kept in the ledger with reasons), {report.rejected} rejected")
