"""What has reached the service, honestly: the queue, the age of the oldest unsent meal, the last successful
upload and the verdicts of the last uploads, kept in the journal's settings and read without the network.

The same backlog travels with every upload (`backlog` in the batch), so the service can show it too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

from devices.journal import Journal, QueuedEvent

RECENT_UPLOADS = 10  # uploads whose verdicts `status` summarises


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def backlog_beyond(journal: Journal, batch: list[QueuedEvent]) -> dict[str, Any]:
    """What stays queued once this batch is in: the count and the servedAt of the oldest."""
    count, oldest = journal.queued_after(batch[-1].device_seq if batch else 0)
    return {"queued": count, "oldestServedAt": oldest}


def note_upload(journal: Journal, server_time: str, results: list[dict[str, Any]]) -> None:
    """Remember one answered upload: its time and a summary of the verdicts (the last RECENT_UPLOADS)."""
    reasons: Counter[str] = Counter()
    summary = {"at": server_time, "events": len(results), "billable": 0, "notBillable": 0, "rejected": 0}
    for result in results:
        if result["status"] not in ("recorded", "replayed"):
            summary["rejected"] += 1
        elif result.get("verdict") == "billable":
            summary["billable"] += 1
        else:
            summary["notBillable"] += 1
            reasons.update(result.get("reasons") or [])
    summary["reasons"] = dict(sorted(reasons.items()))
    recent = [summary, *json.loads(journal.get("recent_uploads") or "[]")][:RECENT_UPLOADS]
    journal.put(last_upload=server_time, recent_uploads=json.dumps(recent))


def sync_status(journal: Journal, now: dt.datetime) -> dict[str, Any]:
    """The queue and the upload history, for `wallet-terminal status`."""
    count, oldest = journal.queued_after(0)
    recent = json.loads(journal.get("recent_uploads") or "[]")
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for upload in recent:
        totals.update({k: upload[k] for k in ("events", "billable", "notBillable", "rejected")})
        reasons.update(upload.get("reasons") or {})
    age = None if oldest is None else max(0, int((now - _instant(oldest)).total_seconds()))
    return {
        "queuedMeals": count,
        "oldestUnsentServedAt": oldest,
        "oldestUnsentAgeS": age,
        "lastSuccessfulUpload": journal.get("last_upload"),
        "lastUploads": {"uploads": len(recent), **{k: totals[k] for k in ("events", "billable", "notBillable",
                                                                           "rejected")},
                        "reasons": dict(sorted(reasons.items()))},
    }


def describe_age(seconds: int | None) -> str:
    if seconds is None:
        return "nothing unsent"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return (f"{days} d " if days else "") + f"{hours} h {minutes} min"
