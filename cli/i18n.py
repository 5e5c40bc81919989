"""The command line's messages for people in the operator's language, from the gettext catalogs
(wallet/catalogs.py): WALLET_LANG, else the POSIX locale (LC_ALL, LC_MESSAGES, LANG: "ru_RU.UTF-8" is
Russian), else English. Output that programs read (JSON, CSV, ids, hashes) is not translated."""

from __future__ import annotations

import os
from typing import Any

from wallet import catalogs
from wallet.messages import T_, Plural


def language() -> str:
    for name in ("WALLET_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        lang = value[:2].lower()
        if lang in catalogs.LANGUAGES:
            return lang
        if value and name != "WALLET_LANG":
            break  # the first locale variable set decides, as POSIX says ("C", "POSIX": English)
    return "en"


def _(message: str, /, **params: Any) -> str:
    """A message (a msgid with %(name)s placeholders) in the operator's language, its values filled in."""
    return catalogs.translate(T_(message, **params), language())


def say(message: object) -> str:
    """A text made elsewhere in the operator's language: a domain error (its marked message), a marked
    sentence (wallet/messages.py), or any other text as it is."""
    text = getattr(message, "message", message)
    return catalogs.translate(text if isinstance(text, str) else str(text), language())


def n_(message: Plural, n: int) -> str:
    """A counted text (`N_plural("%(num)d chain", "%(num)d chains")`) for `n` in the operator's language."""
    return catalogs.translate_count(message, n, language())
