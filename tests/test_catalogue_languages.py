"""Every shipped language says everything English says, from the English it says now.

A translation is checked against the English catalogue entry by entry: no key missing or extra, the same
{placeholders}, as many plural forms as the language's header declares, and a recorded hash of the
English it was made from (`#. en-sha:`), so a change to the English makes the translation stale until a
person has checked it and stamped it again (`python -m bot.catalogue stamp LANG KEY...`).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot import catalogue as cat
from bot.catalogue import Catalogue
from policies.loader import starter_policy

LOCALES = Path(__file__).resolve().parents[1] / "bot" / "locales"
SHIPPED = sorted(p.name for p in LOCALES.iterdir() if p.is_dir() and p.name != cat.DEFAULT_LANGUAGE)
POLICY = cat.policy_sources(starter_policy())
WELSH_PLURALS = "nplurals=6; plural=(n==0) ? 0 : (n==1) ? 1 : (n==2) ? 2 : (n==3) ? 3 : (n==6) ? 4 : 5;"


def test_welsh_is_shipped() -> None:
    assert "cy" in SHIPPED
    assert Catalogue().language_name("cy") == "Cymraeg"


@pytest.mark.parametrize("language", SHIPPED)
def test_every_shipped_language_matches_the_english(language: str) -> None:
    assert cat.problems(LOCALES, language, POLICY) == []


@pytest.mark.parametrize("language", SHIPPED)
def test_the_same_keys_both_ways(language: str) -> None:
    english, _ = cat.read_entries(LOCALES / "en" / "LC_MESSAGES" / "candour.po")
    other, _ = cat.read_entries(LOCALES / language / "LC_MESSAGES" / "candour.po")
    assert sorted(set(english) - set(other)) == []
    assert sorted(set(other) - set(english) - set(POLICY)) == [], "a key English does not have"
    if language == "cy":
        assert sorted(set(POLICY) - set(other)) == [], "every starter category is named in Welsh"


def test_welsh_has_six_plural_forms_and_picks_them_by_its_rule() -> None:
    po = (LOCALES / "cy" / "LC_MESSAGES" / "candour.po").read_text(encoding="utf-8")
    assert f'"Plural-Forms: {WELSH_PLURALS}\\n"' in po
    english, _ = cat.read_entries(LOCALES / "en" / "LC_MESSAGES" / "candour.po")
    welsh, nplurals = cat.read_entries(LOCALES / "cy" / "LC_MESSAGES" / "candour.po")
    assert nplurals == 6
    plural_keys = [k for k, e in english.items() if e.plural]
    assert plural_keys and all(len(welsh[k].forms) == 6 for k in plural_keys)
    t = Catalogue().for_language("cy")
    forms = welsh["flow.cancelled.report.files"].forms
    picked = {n: t("flow.cancelled.report.files", count=n) for n in (0, 1, 2, 3, 4, 6, 7, 11)}
    assert picked[1] == forms[1] and "ddwy ffeil" in picked[2] and "tair ffeil" in picked[3]
    assert "chwe ffeil" in picked[6]
    assert picked[0] == forms[0].format(count=0) and picked[4] == forms[5].format(count=4)
    assert picked[11] == forms[5].format(count=11), "11 takes the 'other' form"


def test_what_telegram_shows_fits_its_limits() -> None:
    """setMyDescription takes 512 characters, setMyShortDescription 120, a command description 256."""
    catalogue = Catalogue()
    for language in catalogue.languages:
        t = catalogue.for_language(language)
        assert 0 < len(t("about.description")) <= 512
        assert 0 < len(t("about.short_description")) <= 120
        for name in ("start", "report", "status", "help", "privacy", "cancel", "language", "wipe"):
            assert 0 < len(t(f"command.{name}")) <= 256


def test_the_check_command_passes_on_what_is_shipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert cat.main(["check"]) == 0
    assert "every catalogue matches" in capsys.readouterr().out


# --- the check fails when it should --------------------------------------------------------------


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    """A copy of the shipped catalogues, to break."""
    shutil.copytree(LOCALES, tmp_path / "locales", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "locales"


def edit(locales: Path, language: str, old: str, new: str) -> None:
    path = locales / language / "LC_MESSAGES" / "candour.po"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_changed_english_makes_the_welsh_stale_until_it_is_stamped(locales: Path) -> None:
    edit(locales, "en", 'msgstr "Check a report"', 'msgstr "Look at a report"')
    edit(locales, "en", 'msgstr "Reply"', 'msgstr "Answer"')
    found = cat.problems(locales, "cy", POLICY)
    assert found == [
        "stale (English changed since it was translated): button.status",
        "stale (English changed since it was translated): button.reply",
    ]
    cat.stamp(locales, "cy", ["button.status"], POLICY)
    assert cat.problems(locales, "cy", POLICY) == [
        "stale (English changed since it was translated): button.reply"
    ], "only the key a person named is cleared"


def test_a_changed_policy_label_makes_its_welsh_stale(locales: Path) -> None:
    changed = dict(POLICY) | {"category.bullying": ("Bullying or intimidation",)}
    assert cat.problems(locales, "cy", changed) == [
        "stale (English changed since it was translated): category.bullying"
    ]


def test_a_missing_or_extra_key_is_found(locales: Path) -> None:
    edit(locales, "cy", 'msgid "button.reply"\nmsgstr "Ateb"\n', "")
    edit(locales, "cy", 'msgid "button.read"', 'msgid "button.reed"')
    found = cat.problems(locales, "cy", POLICY)
    assert "missing: button.reply" in found and "missing: button.read" in found
    assert "not in English: button.reed" in found


def test_different_placeholders_are_found(locales: Path) -> None:
    edit(locales, "cy", '"Person: {name}"', '"Person: {enw}"')
    edit(locales, "cy", "{count} o ffeiliau a ychwanegoch", "{nifer} o ffeiliau a ychwanegoch")
    found = [p for p in cat.problems(locales, "cy", POLICY) if p.startswith("placeholders")]
    assert found == [
        "placeholders differ from the English: report.person.role",
        "placeholders differ from the English: flow.cancelled.report.files",
    ]


def test_a_missing_plural_form_is_found(locales: Path) -> None:
    path = locales / "cy" / "LC_MESSAGES" / "candour.po"
    text = path.read_text(encoding="utf-8")
    text, removed = re.subn(r'msgstr\[5\] "Wedi dileu \{count\} o negeseuon o\'r sgwrs hon\."\n', "", text)
    assert removed == 1
    path.write_text(text, encoding="utf-8")
    assert "a form is empty: wipe.done" in cat.problems(locales, "cy", POLICY)


def test_an_empty_translation_is_found(locales: Path) -> None:
    edit(locales, "cy", 'msgstr "Ateb"', 'msgstr ""')
    assert cat.problems(locales, "cy", POLICY) == ["a form is empty: button.reply"]


def test_stamping_an_unknown_key_is_refused(locales: Path) -> None:
    with pytest.raises(KeyError):
        cat.stamp(locales, "cy", ["button.nonesuch"], POLICY)
