"""Recording meal events from canteen terminals: verdicts, idempotency and appending to the ledger."""

from wallet.ingest.events import Batch, EventOutcome, MealEvent
from wallet.ingest.service import record_batch

__all__ = ["Batch", "EventOutcome", "MealEvent", "record_batch"]
