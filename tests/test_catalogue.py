"""Message catalogues: every text the bot asks for exists in English, and a new language is one new file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bot import handlers, report_flow
from bot.catalogue import Catalogue
from storage.casework import TRANSITIONS

BOT = Path(__file__).resolve().parents[1] / "bot"
STATIC_KEY = re.compile(r"""\bt\(\s*"([a-z_]+(?:\.[a-z_]+)+)\"""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in BOT.glob("*.py"):
        keys.update(STATIC_KEY.findall(path.read_text(encoding="utf-8")))
    statuses = set(TRANSITIONS) | {"purged"}
    keys.update(f"status.{s}" for s in statuses)
    keys.update(f"when.{c}" for c in report_flow.WHEN_CHOICES)
    keys.update(f"command.{c}" for c in handlers.COMMANDS)
    sections = ("categories", "narrative", "when", "where", "people", "witnesses", "evidence", "answers")
    keys.update(f"button.edit_{s}" for s in sections)
    return keys


def test_every_key_the_bot_uses_has_english_text() -> None:
    catalogue = Catalogue()
    keys = used_keys()
    assert len(keys) > 100, "the scan found the bot's keys"
    missing = sorted(k for k in keys if k not in catalogue.message_ids())
    assert missing == []


def test_a_new_language_is_one_catalogue_with_english_behind_it(tmp_path: Path) -> None:
    shutil.copytree(BOT / "locales" / "en", tmp_path / "en")
    (tmp_path / "pl" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "pl" / "LC_MESSAGES" / "candour.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "language.name"\nmsgstr "Polski"\n\n'
        'msgid "help.text"\nmsgstr "Pomoc"\n',
        encoding="utf-8",
    )
    catalogue = Catalogue(tmp_path)
    assert catalogue.languages == ("en", "pl")
    polish = catalogue.for_language(None, "pl-PL")
    assert polish("help.text") == "Pomoc"
    assert polish("report.narrative").startswith("What happened?"), "untranslated keys fall back to English"
    assert catalogue.for_language("en", "pl")("help.text").startswith("/report"), "/language choice wins"
    assert catalogue.for_language("xx")("help.text").startswith("/report")
