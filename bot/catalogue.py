"""Message catalogues: every word the bot says comes from a gettext catalogue (`bot/locales/<lang>/...po`).

Message ids are stable keys (`start.intro`); the English catalogue holds the text. Adding a language
means adding a catalogue: any key it lacks falls back to English, so a partial translation is safe.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import sys
from collections.abc import Mapping, Sequence
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
        """The text for `key` with `{placeholders}` filled; the key itself if no catalogue has it.

        A key written with plural forms (`msgid_plural` in the .po) takes the form that fits `count`,
        by the language's own plural rule (Welsh has six forms, English two).
        """
        count = values.get("count")
        text = key
        if isinstance(count, int) and not isinstance(count, bool):
            text = self._translations.ngettext(key, key, count)
        if text == key:
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
        # A plural message is kept as (key, form) pairs.
        return {str(k[0] if isinstance(k, tuple) else k) for k in translations._catalog if k}


def _load(path: Path) -> Translations:
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=path.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


# --- translations kept true to the English ------------------------------------------------------------
#
# Why a hash of the English on every translated entry: a translation is only as true as the English it was
# made from. Each entry of another language carries `#. en-sha: <hash>` of the English text it renders;
# when the English changes, the hash no longer matches and the entry is stale until a person who reads
# both languages has looked at it and refreshed the hash (`python -m bot.catalogue stamp LANG KEY...`,
# which names keys one by one: there is no "stamp everything").

SOURCE_NOTE = "en-sha:"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Entry:
    """One message of a .po file: its text (one form, or the plural forms) and the English it renders."""

    key: str
    forms: tuple[str, ...]
    plural: bool
    source_hash: str | None


def english_hash(forms: Sequence[str]) -> str:
    """A short hash of an English text (all its plural forms), recorded on each translation of it."""
    return hashlib.sha256("\x00".join(forms).encode("utf-8")).hexdigest()[:12]


def read_entries(po: Path) -> tuple[dict[str, Entry], int]:
    """The entries of one .po file, and the number of plural forms its header declares."""
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=po.parent.parent.name, domain=DOMAIN)
    entries: dict[str, Entry] = {}
    for message in catalog:
        if not message.id:
            continue
        plural = isinstance(message.id, tuple | list)
        key = str(message.id[0] if plural else message.id)
        forms = tuple(str(s) for s in message.string) if plural else (str(message.string),)
        notes = [c.split(SOURCE_NOTE, 1)[1].strip() for c in message.auto_comments if SOURCE_NOTE in c]
        entries[key] = Entry(key, forms, plural, notes[0] if notes else None)
    return entries, catalog.num_plurals


def policy_sources(document: object) -> dict[str, tuple[str, ...]]:
    """The policy's own words that a catalogue may translate: `category.<id>` -> the policy's label,
    `unit.<id>` -> a unit's name, and `support.<id>.name` and `.contact` -> a support entry's
    (bot/support.py)."""
    sources = {f"category.{c.id}": (c.label,) for c in getattr(document, "categories", ())}
    sources |= {f"unit.{u.id}": (u.name,) for u in getattr(document, "units", ())}
    for entry in getattr(document, "support", ()):
        sources[f"support.{entry.id}.name"] = (entry.name,)
        sources[f"support.{entry.id}.contact"] = (entry.contact,)
    return sources


@functools.cache
def _starter_sources() -> dict[str, tuple[str, ...]]:
    from policies.loader import starter_policy

    return policy_sources(starter_policy())


def policy_label(t: Translator, key: str, own: str) -> str:
    """A name from the policy (`unit.<id>`, `category.<id>`) in the reader's language: the catalogue's
    translation when it was made from this very name (the starter policy's), else the policy's own words.

    Why: a force may keep a starter id (`north-bcu`) and rename the unit; the translation of the
    starter's name would then name another unit, so the force's own name is shown instead.
    """
    if _starter_sources().get(key) != (own,):
        return own
    text = t(key)
    return own if text == key else text


def problems(root: Path, language: str, extra: Mapping[str, tuple[str, ...]] = {}) -> list[str]:
    """Every way a language's catalogue falls short of the English: missing, unknown, stale, wrong
    placeholders, wrong number of plural forms. `extra` holds further English sources (policy labels)."""
    english, _ = read_entries(_po(root, DEFAULT_LANGUAGE))
    sources = {k: e.forms for k, e in english.items()} | dict(extra)
    plurals = {k for k, e in english.items() if e.plural}
    entries, nplurals = read_entries(_po(root, language))
    # Why the policy's words too: the starter policy's labels are shown to reporters like any message.
    found = [f"missing: {k}" for k in sources if k not in entries]
    for key, entry in entries.items():
        if key not in sources:
            found.append(f"not in English: {key}")
        elif entry.source_hash != english_hash(sources[key]):
            found.append(f"stale (English changed since it was translated): {key}")
        found.extend(_shape_problems(entry, sources.get(key), key in plurals, nplurals))
    return found


def _shape_problems(entry: Entry, source: tuple[str, ...] | None, plural: bool, nplurals: int) -> list[str]:
    """Placeholders and plural forms of one translated entry against its English."""
    if source is None:
        return []
    found: list[str] = []
    if plural != entry.plural:
        found.append(f"plural in one language only: {entry.key}")
    elif plural and len(entry.forms) != nplurals:
        found.append(f"{len(entry.forms)} plural forms, the header says {nplurals}: {entry.key}")
    # Babel pads a plural entry that lacks forms with empty ones, and an empty text means "not translated".
    if not all(entry.forms):
        found.append(f"a form is empty: {entry.key}")
    wanted = {p for form in source for p in _PLACEHOLDER.findall(form)}
    used = [set(_PLACEHOLDER.findall(form)) for form in entry.forms]
    # A plural form may leave out {count} ("the file"), as English "one" does; together they use them all.
    if set().union(*used) != wanted or (not plural and used[0] != wanted):
        found.append(f"placeholders differ from the English: {entry.key}")
    return found


def stamp(root: Path, language: str, keys: Sequence[str], extra: Mapping[str, tuple[str, ...]] = {}) -> None:
    """Record, for the named keys only, that their translation renders the current English.

    Run it after a reader of both languages has checked those entries: it is how "stale" is cleared.
    """
    english, _ = read_entries(_po(root, DEFAULT_LANGUAGE))
    sources = {k: e.forms for k, e in english.items()} | dict(extra)
    path = _po(root, language)
    text = path.read_text(encoding="utf-8")
    for key in keys:
        if key not in sources:
            raise KeyError(f"no English text for {key}")
        text = _with_hash(text, key, english_hash(sources[key]))
    path.write_text(text, encoding="utf-8")


def _with_hash(text: str, key: str, digest: str) -> str:
    """The .po text with `key`'s en-sha comment set to `digest` (added if it had none)."""
    msgid = f'msgid "{key}"\n'
    if msgid not in text:
        raise KeyError(f"{key} is not in the catalogue")
    pattern = re.compile(rf"^#\. {re.escape(SOURCE_NOTE)} [0-9a-f]*\n(?={re.escape(msgid)})", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(f"#. {SOURCE_NOTE} {digest}\n", text, count=1)
    return text.replace(msgid, f"#. {SOURCE_NOTE} {digest}\n{msgid}", 1)


def _po(root: Path, language: str) -> Path:
    """Where a language's catalogue is."""
    return root / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _locales() -> Path:
    """The shipped locales folder."""
    return Path(str(resources.files("bot") / "locales"))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.catalogue check` lists what each language lacks; `stamp LANG KEY...` clears staleness."""
    from policies.loader import starter_policy

    args = list(sys.argv[1:] if argv is None else argv)
    root, extra = _locales(), policy_sources(starter_policy())
    if args[:1] == ["stamp"] and len(args) >= 3:
        stamp(root, args[1], args[2:], extra)
        return 0
    if args[:1] == ["check"]:
        languages = [p.name for p in sorted(root.iterdir()) if p.is_dir() and p.name != DEFAULT_LANGUAGE]
        found = [f"{lang}: {p}" for lang in languages for p in problems(root, lang, extra)]
        print("\n".join(found) or "every catalogue matches the English")
        return 1 if found else 0
    print("usage: python -m bot.catalogue check | stamp LANG KEY [KEY...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
