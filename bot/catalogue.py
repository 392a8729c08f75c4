"""Message catalogues: every word the bot says comes from a gettext catalogue (`bot/locales/<lang>/...po`).

Message ids are stable keys (`start.intro`); the English catalogue holds the text. Adding a language
means adding a catalogue: any key it lacks falls back to English, so a partial translation is safe.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DOMAIN = "candour"
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Translator:
    """The catalogue of one language, with English behind it."""

    language: str
    _translations: Translations

    def __call__(self, key: str, /, **values: object) -> str:
        """The text for `key` with `{placeholders}` filled; the key itself if no catalogue has it."""
        text = self._translations.gettext(key)
        return text.format(**values) if values else text


class Catalogue:
    """All languages found in a locales folder, loaded once at start-up."""

    def __init__(self, locales: Path | None = None) -> None:
        root = locales or Path(str(resources.files("bot") / "locales"))
        self._by_language: dict[str, Translator] = {}
        english = _load(root / DEFAULT_LANGUAGE / "LC_MESSAGES" / f"{DOMAIN}.po")
        self._by_language[DEFAULT_LANGUAGE] = Translator(DEFAULT_LANGUAGE, english)
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != DEFAULT_LANGUAGE):
            po = folder / "LC_MESSAGES" / f"{DOMAIN}.po"
            if po.exists():
                translations = _load(po)
                translations.add_fallback(english)
                self._by_language[folder.name] = Translator(folder.name, translations)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._by_language)

    def language_name(self, language: str) -> str:
        """The language's own name, as its catalogue gives it."""
        return self._by_language[language]("language.name")

    def for_language(self, *preferences: str | None) -> Translator:
        """The first available catalogue among the preferences (e.g. `/language` choice, Telegram's code)."""
        for preference in preferences:
            if not preference:
                continue
            for candidate in (preference, preference.split("-")[0].lower()):
                if candidate in self._by_language:
                    return self._by_language[candidate]
        return self._by_language[DEFAULT_LANGUAGE]

    def message_ids(self) -> set[str]:
        """Every message id of the English catalogue (for completeness tests)."""
        translations = self._by_language[DEFAULT_LANGUAGE]._translations
        return {str(k) for k in translations._catalog if k}


def _load(path: Path) -> Translations:
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=path.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)
