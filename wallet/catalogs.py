"""The gettext catalogs of every text people read (kk, ru, en), in wallet/translations/.

Translators work in wallet/translations/LANG/LC_MESSAGES/messages.po (README: "Translations"). The compiled
.mo files are not kept in git: `directory()` compiles each .po whose .mo is missing or older, on first use in a
process (the app at start, the CLI at its first translated text), so a fresh clone needs no manual step. When the
package folder cannot be written (an installed, read-only package) they go to a temporary folder instead.
"""

from __future__ import annotations

import logging
import os
import tempfile
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from wallet.messages import Contextual, Plural, Text

log = logging.getLogger(__name__)

LANGUAGES = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "ru"
DOMAIN = "messages"
SOURCE = Path(__file__).resolve().parent / "translations"
# The extractor's keywords: gettext's own plus this project's markers (wallet/messages.py). babel.cfg names
# the files; pybabel takes these with -k (README), tests/unit/test_catalogs.py passes them to the API.
KEYWORDS = {
    "_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "lazy_gettext": None,
    "N_": None, "NC_": ((1, "c"), 2), "N_plural": (1, 2), "T_": None,
}


def _compile(po: Path, mo: Path) -> None:
    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name, domain=DOMAIN)
    mo.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: gunicorn's workers may compile at the same moment, and none may read half a file.
    partial = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")
    with partial.open("wb") as target:
        write_mo(target, catalog)
    os.replace(partial, mo)


@cache
def directory() -> Path:
    """The folder of compiled catalogs (LANG/LC_MESSAGES/messages.mo), compiled now where stale."""
    target = SOURCE
    for lang in LANGUAGES:
        po = SOURCE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        mo = target / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            _compile(po, mo)
        except OSError:  # a read-only install: compile every catalog into a folder of this process
            target = Path(tempfile.mkdtemp(prefix="wallet-catalogs-"))
            log.info("catalogs compiled into %s (the package folder is read-only)", target)
            for other in LANGUAGES:
                source_po = SOURCE / other / "LC_MESSAGES" / f"{DOMAIN}.po"
                _compile(source_po, target / other / "LC_MESSAGES" / f"{DOMAIN}.mo")
            break
    return target


@cache
def translations(lang: str) -> NullTranslations:
    """The catalog of `lang` (Russian for a language there is none of)."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    return Translations.load(str(directory()), [lang], DOMAIN)


def translate(message: str, lang: str) -> str:
    """`message` (a text marked in wallet/messages.py, or any msgid) in `lang`, its values filled in."""
    catalog = translations(lang)
    if isinstance(message, Text):
        text = catalog.gettext(message.msgid)
        if not message.params:
            return text
        # a value that is itself a marked text (a row's "line 3", a client's kind) is given in the same language
        params = {k: translate(v, lang) if isinstance(v, (Text, Contextual)) else v
                  for k, v in message.params.items()}
        return text % params
    if isinstance(message, Contextual):
        return catalog.pgettext(message.context, str(message))
    return catalog.gettext(message)


def translate_count(message: Plural, n: int, lang: str) -> str:
    """A counted text for `n` in `lang`: "1 child", "3 ребёнка", "5 бала"."""
    return translations(lang).ngettext(message[0], message[1], n) % {"num": n}
