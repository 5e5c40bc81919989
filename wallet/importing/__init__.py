"""Loading registry data (schools, suppliers, contracts, students, eligibility, guardians, calendar, menus)
from CSV files in the formats of docs/import-formats.md. Everything is checked before anything is written,
and the write is one transaction."""

from wallet.importing.errors import ImportFailed, RowError
from wallet.importing.service import KINDS, ImportReport, import_file

__all__ = ["KINDS", "ImportFailed", "ImportReport", "RowError", "import_file"]
