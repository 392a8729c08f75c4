"""Every phrase the evidence package can say has an English and a Welsh catalogue entry, with the same
placeholders; findings cross the worker boundary as ids with checked parts; policy unit names follow the
reader's language only where the translation was made from that very name.

The registry (bot/evidence/phrases.py) is the list of what the package can emit: Finding refuses any
other phrase. A scan of the package's source holds the registry to the code: every phrase written
there must be one of its entries.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest

import bot.evidence
from bot import cleaner_wire, files, finding_words
from bot.catalogue import DEFAULT_LANGUAGE, Catalogue, policy_label, read_entries
from bot.evidence import EvidenceError, Finding, model, phrases
from bot.evidence.protocol import ERRORS
from bot.evidence.worker import _pairs
from policies.loader import starter_policy

LOCALES = Path(__file__).resolve().parents[1] / "bot" / "locales"
EVIDENCE = Path(bot.evidence.__file__).parent
CY = Catalogue().for_language("cy")
EN = Catalogue().for_language("en")
SHIPPED = sorted(p.name for p in LOCALES.iterdir() if p.is_dir())

# Strings in the package that are not said to a reporter: errors its own code raises and catches, the
# names of colour profiles it recognises, words it looks for in a file.
NOT_PHRASES = {
    "a GIF block runs past the end of the file",
    "a chunk runs past the end of the file",
    "a counted phrase needs its count, and only it",
    "a finding's phrase must be a message id of bot/evidence/phrases.py",
    "a finding's value must be safe to show and short, inside a picture or a file",
    "a password-protected document",
    "a picture with no pixels",
    "after the sound",
    "an image block runs past the end of the file",
    "before the sound",
    "between parts of the sound",
    "creation time",
    "embedded profile",
    "gopro met",
    "icc profile",
    "in a file inside: ",
    "in a picture inside: ",
    "more than one logical stream",
    "no MPEG audio frames (or a free-format bit rate)",
    "no sound or pictures",
    "not a GIF block",
    "not a colour profile's tag table",
    "photoshop icc profile",
    "raw profile type",
    "sRGB IEC61966-2-1",
    "sRGB IEC61966-2.1",
    "sRGB built-in",
    "the muxer refused a stream",
    "too many blocks",
    "too many chunks",
    "too short for a GIF",
}


# The registry itself, and the modules that move files and answers about but build no finding (their
# strings are errors they raise and catch).
INFRASTRUCTURE = {"phrases", "protocol", "worker", "zygote", "warmup", "isolation"}


def every_phrase_id() -> set[str]:
    return set(phrases.SAYABLE) | set(phrases.TEMPLATES)


def english_of(key: str) -> str:
    return phrases.TEMPLATES.get(key) or (phrases.COUNTED.get(key) or phrases.PHRASES[key])


@pytest.mark.parametrize("language", SHIPPED)
def test_every_phrase_the_package_can_say_is_in_every_catalogue_with_its_placeholders(language: str) -> None:
    entries, _ = read_entries(LOCALES / language / "LC_MESSAGES" / "candour.po")
    english, _ = read_entries(LOCALES / DEFAULT_LANGUAGE / "LC_MESSAGES" / "candour.po")
    keys = every_phrase_id()
    assert len(keys) > 200, "the registry holds the package's phrases"
    missing = sorted(k for k in keys if k not in entries or not all(entries[k].forms))
    assert missing == []
    for key in keys:
        wanted = set(model_placeholders(english_of(key)))
        used = set().union(*(model_placeholders(form) for form in entries[key].forms))
        assert used == wanted, (language, key)
        assert (key in phrases.COUNTED) == entries[key].plural, (language, key)
    for key in keys:
        # The English catalogue says what the package's own English says (its `summary`).
        assert english[key].forms[-1] == english_of(key), key


def model_placeholders(text: str) -> list[str]:
    return re.findall(r"\{([a-z_]+)\}", text)


def test_the_catalogues_hold_no_phrase_the_package_cannot_say() -> None:
    english, _ = read_entries(LOCALES / DEFAULT_LANGUAGE / "LC_MESSAGES" / "candour.po")
    stray = {k for k in english if k.startswith("evidence.found.")} - every_phrase_id()
    assert stray == set()


def _formats_own_words() -> set[str]:
    """What the formats say they cannot clean (printed in docs/evidence.md, never a finding)."""
    words: set[str] = set()
    for info in pkgutil.iter_modules([str(EVIDENCE)]):
        if info.name in ("worker", "zygote", "warmup", "isolation"):
            continue
        module = importlib.import_module(f"bot.evidence.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, model.Format):
                words |= set(value.cannot_clean)
        for name in ("SEEN_AS_IS", "COLOUR_TO_SRGB"):
            words |= set(getattr(module, name, ()))
    return words


def _literals(path: Path) -> list[tuple[int, str]]:
    """Every plain string of a module that reads like words (a space, a letter first), docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(part) for part in node.values)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and " " in node.value
        and node.value[:1].isalpha()
        and len(node.value) < 120
    ]


def test_every_phrase_written_in_the_package_is_in_the_registry() -> None:
    own = _formats_own_words()
    unknown = []
    checked = 0
    for path in sorted(EVIDENCE.glob("*.py")):
        if path.stem in INFRASTRUCTURE:
            continue
        for line, text in _literals(path):
            if text in own or text in NOT_PHRASES or (not text[:1].islower() and text not in phrases.ID_OF):
                continue
            checked += 1
            try:
                Finding("other", text)
            except ValueError:
                unknown.append(f"{path.name}:{line}: {text}")
    assert checked > 200, "the scan reads the package's phrases"
    assert unknown == [], "add each to bot/evidence/phrases.py and both catalogues"


def test_every_kind_and_phrase_pair_in_the_package_s_tables_is_in_the_registry() -> None:
    """A table's ("kind", "phrase") pairs, one-word phrases included (the scan above wants a space)."""
    pairs = []
    for path in sorted(EVIDENCE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple) and len(node.elts) >= 2:
                kind, what = node.elts[0], node.elts[1]
                if (
                    isinstance(kind, ast.Constant)
                    and kind.value in model.KINDS
                    and isinstance(what, ast.Constant)
                ):
                    pairs.append((path.name, what.value))
    assert len(pairs) > 50
    pairs = [p for p in pairs if p[1] not in model.KINDS]  # KINDS itself
    assert [p for p in pairs if not isinstance(p[1], str) or p[1] not in phrases.ID_OF] == []


def test_the_phrases_built_from_parts_are_in_the_registry() -> None:
    from bot.evidence import audio, av_remux, names, pdf_xmp, video

    for noun in (audio.NOUN, video.NOUN):
        for phrase in (
            f"a track of positions recorded with the {noun}",
            f"a track of timed data recorded with the {noun}",
            f"subtitles or captions stored in the {noun}",
            f"a file attached inside the {noun}",
            f"a cover picture stored in the {noun}",
            f"an unknown part of the {noun}",
        ):
            assert phrase in phrases.ID_OF, phrase
    for verb in (audio.VERB, video.FILMED):
        assert f"where it was {verb}" in phrases.ID_OF and f"when it was {verb}" in phrases.ID_OF
    for where in ("after the sound", "before the sound", "between parts of the sound"):
        assert f"more tags stored {where}" in phrases.ID_OF and f"extra data stored {where}" in phrases.ID_OF
    assert set(phrases.PHRASES) >= names.NAME_PHRASES
    found = model.Found()
    for where in ("", " in a part of it"):
        pdf_xmp.add_xmp(found, b"<x/>", where)
    assert len(found.result().findings) == 2
    assert av_remux.PERSON and all(v in phrases.ID_OF for v in av_remux.PERSON.values())
    assert all(v in phrases.ID_OF for v in av_remux.OTHER.values())


def test_a_finding_refuses_words_of_its_own_and_values_that_would_garble_the_message() -> None:
    with pytest.raises(ValueError):
        Finding("person", "The file names Jane Whistler")
    with pytest.raises(ValueError):
        Finding("person", "evidence.found.no_such_phrase", "x")
    with pytest.raises(ValueError):
        Finding("person", "the author's name", "Jane\u202eevil")
    with pytest.raises(ValueError):
        Finding("other", phrases.MORE)  # a counted phrase without its count
    with pytest.raises(ValueError):
        Finding("other", "the author's name", inside="desk")
    said = Finding("location", "in a picture inside: where the photo was taken (51.5, -0.1) (removed)")
    assert (said.phrase, said.value, said.inside, said.removed) == (
        "evidence.found.where_photo_was_taken",
        "51.5, -0.1",
        "picture",
        True,
    )
    assert said.summary == "in a picture inside: where the photo was taken (51.5, -0.1) (removed)"


def test_a_finding_is_said_in_welsh_from_its_parts() -> None:
    gps = model.finding("location", "where the photo was taken", "51.50722, -0.12750")
    assert finding_words.render(CY, gps) == "ble tynnwyd y llun (51.50722, -0.12750)"
    assert finding_words.render(EN, gps) == gps.summary == "where the photo was taken (51.50722, -0.12750)"
    inside = model.prefixed((gps,), "in a file inside: ")[0]
    assert (
        finding_words.render(CY, inside)
        == "mewn ffeil o fewn y ffeil: ble tynnwyd y llun (51.50722, -0.12750)"
    )
    twice = model.prefixed(model.prefixed((gps,), "in a picture inside: "), "in a file inside: ")[0]
    assert twice.inside == "file", "said inside once, however deep"
    macros = Finding("other", "macros Candour cannot check (removed)")
    assert finding_words.render(CY, macros) == "macros na all Candour eu gwirio (wedi'i dynnu)"
    more = Finding("other", phrases.MORE, count=3)
    assert finding_words.render(CY, more) == "a thri manylyn cudd arall"
    assert finding_words.render(EN, more) == more.summary == "and 3 more hidden details"


def test_the_draft_keeps_a_finding_so_it_is_said_in_the_language_read_when_shown() -> None:
    gps = model.finding("location", "where the photo was taken", "51.5, -0.1")
    kept = finding_words.encode(gps)
    assert finding_words.decode(kept) == gps
    assert finding_words.told(CY, kept) == "ble tynnwyd y llun (51.5, -0.1)"
    assert finding_words.told(EN, kept) == "where the photo was taken (51.5, -0.1)"
    assert finding_words.told(CY, "an older draft's summary") == "an older draft's summary"
    assert finding_words.decode('["location", "evidence.found.nope", "", "", false, 0]') is None


# --- across the worker boundary --------------------------------------------------------------------------


def _examine_answer(findings: list[Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "media_type": "image/jpeg",
        "cleanable": True,
        "findings": findings,
        "removed": [],
        "problem": None,
    }


def test_findings_cross_the_worker_boundary_as_ids_and_come_back_equal() -> None:
    sent = (
        model.finding("location", "where the photo was taken", "51.5, -0.1"),
        *model.prefixed((Finding("person", "the author's name (Jane)"),), "in a file inside: "),
        Finding("other", "a digital signature (removed)"),
        Finding("other", phrases.MORE, count=12),
    )
    wire = _pairs(sent)
    assert all(isinstance(item[1], str) and item[1].startswith("evidence.found.") for item in wire)
    assert not any("where the photo" in str(item) for item in wire), "no sentence crosses, only ids"
    assert cleaner_wire.examined(_examine_answer(wire)).findings == sent


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(["person", "The file names Jane Whistler", "", "", False, 0], id="free_text_phrase"),
        pytest.param(["person", "the author's name", "", "", False, 0], id="english_not_an_id"),
        pytest.param(["person", "evidence.found.authors_name", "Jane\u202e", "", False, 0], id="bidi_value"),
        pytest.param(["person", "evidence.found.authors_name", "x" * 81, "", False, 0], id="long_value"),
        pytest.param(["person", "evidence.found.authors_name", "", "desk", False, 0], id="inside_what"),
        pytest.param(["person", "evidence.found.authors_name", "", "", 1, 0], id="int_for_bool"),
        pytest.param(["other", "evidence.found.more", "", "", False, True], id="bool_for_int"),
        pytest.param(["other", "evidence.found.more", "", "", False, -1], id="negative_count"),
        pytest.param(["person", "evidence.found.authors_name"], id="old_pair"),
        pytest.param(["evil", "evidence.found.authors_name", "", "", False, 0], id="unknown_kind"),
    ],
)
def test_a_finding_the_worker_words_itself_is_refused(item: list[Any]) -> None:
    with pytest.raises(EvidenceError) as refused:
        cleaner_wire.examined(_examine_answer([item]))
    assert str(refused.value) == ERRORS["DAMAGED"]


def test_every_refusal_the_worker_can_name_is_said_in_every_language() -> None:
    for name, sentence in ERRORS.items():
        key = files.REASON_KEYS[sentence]
        for t in (EN, CY):
            assert t(key) != key, (name, t.language)
        assert CY(key) != EN(key), name
    dying = {cleaner_wire.death(code) for code in (-24, 3, -9)}
    assert dying <= set(files.REASON_KEYS), "a worker's death is told by a known sentence"


# --- unit names from the policy --------------------------------------------------------------------------


def test_every_starter_unit_has_a_welsh_name_and_english_readers_get_the_policys() -> None:
    for unit in starter_policy().units:
        key = f"unit.{unit.id}"
        assert policy_label(CY, key, unit.name) not in (key, unit.name), unit.id
        assert policy_label(EN, key, unit.name) == unit.name


def test_a_force_that_renames_a_starter_unit_sees_its_own_name_in_every_language() -> None:
    assert "north-bcu" in {u.id for u in starter_policy().units}
    assert policy_label(CY, "unit.north-bcu", "Cardiff and the Vale BCU") == "Cardiff and the Vale BCU"
    assert policy_label(CY, "unit.gwent-east", "Gwent East") == "Gwent East", "a force's own unit id"
