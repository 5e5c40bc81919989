"""Markers for texts people read, so that `pybabel extract` finds them and the catalogs translate them later.

The domain has no request and so no reader's language: it marks a text and the layer that answers a person
(api/, cli/) translates it with wallet.catalogs. Three markers, each known to the extractor (babel.cfg and the
keywords in wallet.catalogs.KEYWORDS):

- `N_("Breakfast")`: a fixed text, often in a table keyed by a data code; returned as it is (English).
- `NC_("witness answer", "cosigned")`: the same with a gettext context, where one English text needs two
  translations.
- `N_plural("%(num)d child", "%(num)d children")`: a counted text, translated with ngettext.
- `T_("No school %(bin)s in your scope.", bin=...)`: a sentence with values (a problem's detail, a field's
  message). It is a str (the English text, so logs and English readers see it as before) that remembers its
  msgid and values, so the answer can be given in the reader's language.
"""

from __future__ import annotations

from typing import Any


class Contextual(str):
    """A marked text with a gettext context (msgctxt)."""

    context: str

    def __new__(cls, context: str, message: str) -> Contextual:
        text = super().__new__(cls, message)
        text.context = context
        return text


class Plural(tuple[str, str]):
    """A counted text: (singular msgid, plural msgid), both with %(num)d."""

    __slots__ = ()


class Text(str):
    """A sentence with values: the English text, its msgid and the values for the msgid's placeholders."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: dict[str, Any]) -> Text:
        text = super().__new__(cls, msgid % params if params else msgid)
        text.msgid, text.params = msgid, params
        return text


def N_(message: str) -> str:
    return message


def NC_(context: str, message: str) -> Contextual:
    return Contextual(context, message)


def N_plural(singular: str, plural: str) -> Plural:
    return Plural((singular, plural))


def T_(message: str, /, **params: Any) -> Text:
    return Text(message, params)
