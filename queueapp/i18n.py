"""Translations: gettext ``.po`` catalogs shared by the server's templates and the pages' scripts.

The catalogs are read straight from their ``.po`` text, so there is no
compile step and nothing binary in the repository. Templates call ``_()``
and ``ngettext()``; scripts receive the same catalog as JSON and use the
same plural rule, so a sentence reads the same whichever side renders it.
English is the source language: a missing translation falls back to it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

from queueapp.domain.config import LANGUAGES

PLURAL_RULES: dict[str, tuple[int, Callable[[int], int]]] = {
    "en": (2, lambda n: 0 if n == 1 else 1),
    "bg": (2, lambda n: 0 if n == 1 else 1),
    "cs": (3, lambda n: 0 if n == 1 else 1 if 2 <= n <= 4 else 2),
    "vi": (1, lambda n: 0),
}
"""Plural forms per language: how many, and which one a count takes.

``queueapp/web/static/i18n.js`` has the same table for scripts (a page's
content security policy forbids evaluating a rule sent as text); a test
keeps the two in step."""

LANGUAGE_NAMES = {"en": "English", "cs": "Čeština", "bg": "Български", "vi": "Tiếng Việt"}


@dataclass(frozen=True)
class Catalog:
    lang: str
    messages: dict[str, str] = field(default_factory=dict)
    plurals: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def gettext(self, message: str) -> str:
        return self.messages.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        forms = self.plurals.get(singular)
        index = PLURAL_RULES[self.lang][1](n)
        if forms and index < len(forms) and forms[index]:
            return forms[index]
        return singular if n == 1 else plural

    def for_scripts(self) -> dict[str, object]:
        """What a page's script needs: the messages and their plural forms."""
        return {
            "lang": self.lang,
            "messages": self.messages,
            "plurals": {key: list(forms) for key, forms in self.plurals.items()},
        }


@cache
def catalog(lang: str) -> Catalog:
    """The catalog of a supported language (English for anything else).

    Each screen family keeps its own domain (``locale/cs/visitor.po``,
    ``locale/cs/display.po``...); a language's catalog is all of them merged.
    """
    merged = Catalog("en" if lang not in LANGUAGES else lang)
    if merged.lang == "en":
        return merged
    folder = files("queueapp").joinpath("locale", lang)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".po"):
            part = parse_po(lang, entry.read_text(encoding="utf-8"))
            merged.messages.update(part.messages)
            merged.plurals.update(part.plurals)
    return merged


def negotiate(wanted: str | None, accept_language: str, offered: tuple[str, ...]) -> str:
    """An explicit choice, else the browser's preference, else the first language offered."""
    if wanted in offered:
        return wanted
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in offered:
            return code
    return offered[0] if offered else "en"


_ENTRY = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+(".*")\s*$')


def parse_po(lang: str, text: str) -> Catalog:
    """Read the subset of the .po format that translators' tools write: entries,
    continuation lines, plurals and comments. Fuzzy entries are skipped, as gettext does.
    """
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        last: str | None = None
        fuzzy = False
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            if not line or line.startswith("#"):
                continue
            match = _ENTRY.match(line)
            if match:
                last = match.group(1)
                fields[last] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and last is not None:
                fields[last] += ast.literal_eval(line)
            else:
                raise ValueError(f"{lang}.po: cannot read line {line!r}")
        msgid = fields.get("msgid")
        if not msgid or fuzzy:
            continue
        if "msgid_plural" in fields:
            count = PLURAL_RULES[lang][0]
            plurals[msgid] = tuple(fields.get(f"msgstr[{i}]", "") for i in range(count))
        elif fields.get("msgstr"):
            messages[msgid] = fields["msgstr"]
    return Catalog(lang, messages, plurals)
