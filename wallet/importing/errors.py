"""What an import reports: a row error per bad cell or row, and the failure that carries them all."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class RowError:
    """One problem in a file. `line` counts the header as line 1; `column` is empty for the whole line."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        return f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


class ImportFailed(Exception):
    """The file was refused; nothing was written. `errors` lists every problem found, in line order."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = sorted(errors, key=lambda e: e.line)
        first = str(self.errors[0]) if self.errors else "no details"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"import refused: {first}{more}")
