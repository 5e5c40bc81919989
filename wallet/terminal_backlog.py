"""A terminal's backlog as the service can know it: what the terminal said it still held unsent at its last
upload (`backlog` of the batch), and how long it has been silent since.

The service cannot see meals recorded after a terminal's last contact, so silence is shown beside the
reported backlog, and either one past the threshold flags the terminal (WALLET_TERMINAL_BACKLOG_ALERT_S).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from wallet.models import Terminal


@dataclass(frozen=True)
class Backlog:
    queued: int | None  # None: the terminal never reported one (an older agent, or no upload yet)
    oldest_served_at: dt.datetime | None
    age_s: int | None  # now - the oldest unsent meal it reported
    silent_s: int | None  # now - its last contact
    flagged: bool


def backlog_of(terminal: Terminal, now: dt.datetime, alert_after: dt.timedelta) -> Backlog:
    oldest = terminal.backlog_oldest_at if terminal.backlog_count else None
    age = None if oldest is None else max(0, int((now - oldest).total_seconds()))
    last = terminal.last_contact_at
    silent = None if last is None else max(0, int((now - last).total_seconds()))
    limit = alert_after.total_seconds()
    flagged = terminal.status == "active" and ((age is not None and age > limit)
                                               or (silent is not None and silent > limit))
    return Backlog(terminal.backlog_count, oldest, age, silent, flagged)
