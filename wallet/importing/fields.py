"""Pure checks of single cells. Each `parse_*` returns the value or raises ValueError with a short reason;
`Cells` runs them over one row and collects a FieldError per bad cell, so every problem of a row is reported
at once."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar

from wallet.errors import FieldError
from wallet.identifiers import IdentifierError, validate_bin, validate_iin
from wallet.messages import T_
from wallet.text import is_clean

T = TypeVar("T")

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_INTEGER = re.compile(r"^[+-]?[0-9]+\Z")
INT32_MAX = 2_147_483_647  # the Integer columns are 32-bit on PostgreSQL
DEFAULT_TIMEZONE = "Asia/Almaty"


def parse_text(value: str, max_length: int) -> str:
    if not is_clean(value):  # the one text rule (wallet.text): no C0, DEL or C1 control, no lone surrogate
        raise ValueError(T_("contains a control character"))
    if len(value) > max_length:
        raise ValueError(T_("is longer than %(max_length)s characters", max_length=max_length))
    return value


def parse_iin(value: str) -> str:
    try:
        return validate_iin(value)
    except IdentifierError as exc:
        raise ValueError(str(exc)) from exc


@lru_cache(maxsize=65536)  # a file names the same few schools on many rows
def parse_bin(value: str) -> str:
    try:
        return validate_bin(value)
    except IdentifierError as exc:
        raise ValueError(str(exc)) from exc


@lru_cache(maxsize=65536)
def parse_date(value: str) -> dt.date:
    if not _ISO_DATE.match(value):
        raise ValueError(T_("must be a date as YYYY-MM-DD, got %(value)s", value=repr(value)))
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(T_("is not a real date: %(value)s", value=repr(value))) from exc


def parse_int(value: str, minimum: int, maximum: int = INT32_MAX) -> int:
    if not _INTEGER.match(value):
        raise ValueError(T_("must be a whole number, got %(value)s", value=repr(value)))
    number = int(value)
    if not minimum <= number <= maximum:
        if maximum == INT32_MAX:
            raise ValueError(T_("must be at least %(minimum)s", minimum=minimum) if number < minimum
                             else T_("is too large"))
        raise ValueError(T_("must be between %(minimum)s and %(maximum)s, got %(number)s", minimum=minimum,
                            maximum=maximum, number=number))
    return number


def parse_choice(value: str, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    if value not in allowed:
        raise ValueError(T_("unknown value %(value)s; expected one of %(allowed)s", value=repr(value),
                            allowed=", ".join(allowed)))
    return value


@lru_cache(maxsize=1024)
def parse_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(T_("unknown IANA time zone %(value)s", value=repr(value))) from exc
    return value


def parse_codes(value: str, vocabulary: Iterable[str], separator: str = ";") -> list[str]:
    """A separated list of codes from a vocabulary, returned sorted and without repeats."""
    allowed = tuple(vocabulary)
    known = set(allowed)
    codes = {code.strip() for code in value.split(separator) if code.strip()}
    unknown = sorted(codes - known)
    if unknown:
        raise ValueError(T_("unknown code(s) %(unknown)s; expected codes from %(allowed)s",
                            unknown=", ".join(unknown), allowed=", ".join(allowed)))
    return sorted(codes)


class Cells:
    """The cells of one row, read through the parsers above; `errors` holds a FieldError per bad cell."""

    def __init__(self, cells: dict[str, str]) -> None:
        self._cells = {name: value.strip() for name, value in cells.items()}
        self.errors: list[FieldError] = []

    def raw(self, column: str) -> str:
        return self._cells.get(column, "")

    def error(self, column: str, message: str) -> None:
        self.errors.append(FieldError(column, message))

    def required(self, column: str, parse: Callable[[str], T]) -> T | None:
        value = self.raw(column)
        if value == "":
            self.error(column, T_("is required"))
            return None
        return self._apply(column, parse, value)

    def optional(self, column: str, parse: Callable[[str], T]) -> T | None:
        value = self.raw(column)
        return None if value == "" else self._apply(column, parse, value)

    def _apply(self, column: str, parse: Callable[[str], T], value: str) -> T | None:
        try:
            return parse(value)
        except ValueError as exc:
            # a marked reason (T_) is kept as it is, so the reader gets it in their language (cli.i18n.say)
            self.error(column, exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc))
            return None

    # Shorthands for the common kinds of cell.
    def text(self, column: str, max_length: int) -> str | None:
        return self.required(column, lambda v: parse_text(v, max_length))

    def optional_text(self, column: str, max_length: int) -> str | None:
        return self.optional(column, lambda v: parse_text(v, max_length))

    def iin(self, column: str) -> str | None:
        return self.required(column, parse_iin)

    def bin(self, column: str) -> str | None:
        return self.required(column, parse_bin)

    def date(self, column: str) -> dt.date | None:
        return self.required(column, parse_date)

    def optional_date(self, column: str) -> dt.date | None:
        return self.optional(column, parse_date)

    def integer(self, column: str, minimum: int, maximum: int = INT32_MAX) -> int | None:
        return self.required(column, lambda v: parse_int(v, minimum, maximum))

    def choice(self, column: str, choices: Iterable[str]) -> str | None:
        return self.required(column, lambda v: parse_choice(v, choices))

    def period(self, start_column: str, end_column: str, start: dt.date | None, end: dt.date | None) -> None:
        """An end date before its start is an error on the end column."""
        if start is not None and end is not None and end < start:
            self.error(end_column, T_("is before %(start_column)s (%(start)s)", start_column=start_column,
                                              start=start.isoformat()))
