"""Numbers, money and times in the console as the reader's language writes them (Babel's CLDR data): "1 234"
and "1 100 055,00 ₸" on Russian and Kazakh pages, "1,234" and "1,100,055.00 ₸" on English ones; times in the
school's zone (Asia/Almaty when a page has no school), never UTC with microseconds; dates and months as the
language writes them (forms and links keep ISO values, which browsers and programs read)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel import Locale, dates, numbers

from api.console import texts

DEFAULT_ZONE = "Asia/Almaty"
TENGE = "\u00a0₸"  # the same sign in every language (CLDR writes "KZT" in Russian)


def number(value: int | float | Decimal | None) -> str:
    """A count with the language's group separator; "—" for nothing."""
    if value is None:
        return "—"
    return numbers.format_decimal(value, locale=texts.language())


def money(tiyn: int | None) -> str:
    """Tiyn as tenge with two decimals, the language's separators and the tenge sign."""
    if tiyn is None:
        return "—"
    amount = Decimal(int(tiyn)) / 100
    return numbers.format_decimal(amount, format="#,##0.00", locale=texts.language()) + TENGE


def percent(part: int | float | Decimal, whole: int | float | Decimal) -> str:
    """part/whole as a percentage with one decimal ("61,2 %"), "—" when the whole is nothing."""
    if not whole:
        return "—"
    lang = texts.language()
    pattern = Locale.parse(lang).percent_formats[None].pattern.replace("0", "0.0", 1)  # the language's, one decimal
    return numbers.format_percent(Decimal(part) / Decimal(whole), format=pattern, locale=lang)


def when(value: dt.datetime | None, zone: str | None = None, style: str = "medium") -> str:
    """An instant in the school's zone and the reader's language; `style` "time" for the time of day only."""
    if value is None:
        return "—"
    if value.tzinfo is None:  # stored in UTC; SQLite gives it back naive
        value = value.replace(tzinfo=dt.UTC)
    tzinfo = dates.get_timezone(zone or DEFAULT_ZONE)
    if style == "time":
        return dates.format_time(value, "medium", tzinfo=tzinfo, locale=texts.language())
    return dates.format_datetime(value, style, tzinfo=tzinfo, locale=texts.language())


def day(value: dt.date | None) -> str:
    """A date as the language writes it in full ("3 дек. 2026 г.")."""
    return "—" if value is None else dates.format_date(value, "medium", locale=texts.language())


def month(value: object) -> str:
    """A month as the language names it ("декабрь 2026 г.", "December 2026"); takes a date, or anything whose
    text is "YYYY-MM[-DD]" (a wallet.months.Month)."""
    if value is None or value == "":
        return "—"
    if not isinstance(value, dt.date):
        text = str(value)
        value = dt.date(int(text[:4]), int(text[5:7]), 1)
    return dates.format_skeleton("yMMMM", value, locale=texts.language())


FILTERS = {"number": number, "money": money, "when": when, "day": day, "month": month}
