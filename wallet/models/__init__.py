"""Typed SQLAlchemy models. Import from here so Alembic sees every table."""

from wallet.models.base import ALLERGENS, MEAL_TYPES, Base
from wallet.models.ledger import (
    ENTRY_KINDS,
    IDENTIFICATION_METHODS,
    LEDGER_TABLES,
    VERDICTS,
    ChainHead,
    Checkpoint,
    ClosedPeriod,
    LedgerEntry,
    MealSlot,
    UsedTokenId,
)
from wallet.models.registry import (
    Contract,
    ContractPrice,
    EligibilityCategory,
    Enrollment,
    GuardianLink,
    Region,
    School,
    Student,
    StudentEligibility,
    Supplier,
)
from wallet.models.school_life import DAY_KINDS, CalendarDay, EnrollmentCode, Menu, MenuDish, Terminal

__all__ = [
    "ALLERGENS",
    "DAY_KINDS",
    "ENTRY_KINDS",
    "IDENTIFICATION_METHODS",
    "LEDGER_TABLES",
    "MEAL_TYPES",
    "VERDICTS",
    "Base",
    "CalendarDay",
    "ChainHead",
    "Checkpoint",
    "ClosedPeriod",
    "Contract",
    "ContractPrice",
    "EligibilityCategory", "EnrollmentCode",
    "Enrollment",
    "GuardianLink",
    "LedgerEntry",
    "MealSlot",
    "Menu",
    "MenuDish",
    "Region",
    "School",
    "Student",
    "StudentEligibility",
    "Supplier",
    "Terminal",
    "UsedTokenId",
]
