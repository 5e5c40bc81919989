"""Recording meal events from canteen terminals: verdicts, idempotency and appending to the ledger."""

from wallet.ingest.events import ALLERGEN_WARNING_CONFIRMED, Batch, EventOutcome, MealEvent
from wallet.ingest.service import record_batch

__all__ = ["ALLERGEN_WARNING_CONFIRMED", "Batch", "EventOutcome", "MealEvent", "record_batch"]
