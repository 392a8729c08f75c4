"""Blank is blank (issue 9, point 9): driven through the bot as a reporter would, and at the vault.

- An answer made only of invisible characters (zero-width space U+200B, word joiner U+2060, BOM, soft
  hyphen, Hangul filler) is no answer at any typed step: the bot says so and keeps nothing. Nor is one of
  combining marks with no letter under them ("\u0301\u0301\u0308", U+20DD), a filler with an accent on
  it, or blank Braille: only a letter, number, punctuation or symbol says something.
- A reply to the team made of them is not sent; the vault itself refuses such a narrative or message.
- A zero-byte file is refused with a clear message and not added.
- A caption sent with a file is sealed with it: the officer who opens the case reads it beside the file.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from bot import state as chat_state
from storage import cases, casework
from storage import text as text_rules
from storage.errors import InputError
from storage.models import Case
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.test_bot_inputs import T, reach, refused, submit, submitted_report

INVISIBLE = "\u200b\u2060\ufeff \u00ad\u3164\u200b"
# Marks with nothing to sit on (the review's finding: sealed as a narrative), and fillers carrying marks.
MARKS_ONLY = "\u0301\u0301\u0308"
SAYS_NOTHING = [MARKS_ONLY, "\u3164\u0301", "\u20dd", "\u2800\u0308", "\u115f\u1160\uffa0", " \u0301\u200b "]
FILLERS = ["\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"]
_SILENT_CATEGORIES = ("Mn", "Mc", "Me", "Cf", "Cc", "Zs", "Zl", "Zp")
_SAYING_CATEGORIES = (
    "Lu",
    "Ll",
    "Lt",
    "Lm",
    "Lo",
    "Nd",
    "Nl",
    "No",
    "Pc",
    "Pd",
    "Ps",
    "Pe",
    "Pi",
    "Pf",
    "Po",
)
_SAYING_CATEGORIES += ("Sm", "Sc", "Sk", "So")
# Strings that say nothing: marks, format, separators, controls and the fillers, in any mixture.
silent_text = st.text(
    alphabet=st.one_of(
        st.characters(categories=_SILENT_CATEGORIES, exclude_characters="\x00"), st.sampled_from(FILLERS)
    ),
    min_size=1,
    max_size=30,
)
saying_char = st.characters(categories=_SAYING_CATEGORIES).filter(lambda c: c not in FILLERS)


@pytest.mark.parametrize("text", ["\u200b\u200b", "\u2060", INVISIBLE, "\u200d\ufe0f"])
def test_invisible_text_is_blank_and_visible_text_is_kept_whole(text: str) -> None:
    assert text_rules.is_blank(text) and text_rules.answer(text) == ""
    # Joiners inside real text stay (emoji sequences and some scripts need them); NFC is applied.
    assert text_rules.answer(f" e\u0301 {text}x ") == f"\u00e9 {text}x"


@pytest.mark.parametrize("text", SAYS_NOTHING)
def test_marks_and_fillers_alone_are_blank(text: str) -> None:
    assert text_rules.is_blank(text) and text_rules.answer(text) == ""


@given(silent=silent_text)
def test_property_marks_format_separators_controls_and_fillers_say_nothing(silent: str) -> None:
    """Any mixture of marks, format characters, separators, controls and fillers is blank, before and
    after NFC (normalising cannot conjure a letter out of them)."""
    assert text_rules.is_blank(silent)
    assert text_rules.is_blank(unicodedata.normalize("NFC", silent))
    assert text_rules.answer(silent) == ""


@given(before=silent_text, char=saying_char, after=silent_text)
def test_property_one_letter_number_punctuation_or_symbol_is_an_answer(
    before: str, char: str, after: str
) -> None:
    """One character that says something, wherever it sits among silent ones, makes the text an answer."""
    text = f"{before}{char}{after}"
    assert not text_rules.is_blank(text)
    assert text_rules.answer(text) == text_rules.normalise(text)


@pytest.mark.parametrize("step", ["narrative", "when", "where", "people", "witnesses"])
async def test_an_invisible_answer_is_refused_at_every_typed_step(world: BotWorld, step: str) -> None:
    user = world.user(6400001)
    await reach(world, user, step)
    await refused(world, user, lambda: world.emu.send_text(user, INVISIBLE), T("input.blank"), step)
    assert (await chat_state.load(world.vault, user.user_id)).step == step


async def test_a_narrative_of_combining_marks_only_is_refused_by_the_bot(world: BotWorld) -> None:
    """End to end: the reporter types only combining marks as what happened; the bot says it is blank,
    keeps no narrative part, and "Done" still asks for one (nothing can be submitted)."""
    user = world.user(6400006)
    await reach(world, user, "narrative")
    await refused(world, user, lambda: world.emu.send_text(user, MARKS_ONLY), T("input.blank"), "marks")
    state = await chat_state.load(world.vault, user.user_id)
    assert state.step == "narrative" and state.narrative == []
    await world.say(user, "\u3164\u0301")
    assert world.last(user.user_id) == T("input.blank")
    assert (await chat_state.load(world.vault, user.user_id)).narrative == []


async def test_a_person_named_only_by_number_keeps_no_invisible_name(world: BotWorld) -> None:
    user = world.user(6400002)
    await reach(world, user, "people")
    await world.say(user, "\u200b\u2060 4471")
    person = (await chat_state.load(world.vault, user.user_id)).person
    assert person is not None and person.name == "" and person.staff_number == "4471"


async def test_a_zero_byte_file_is_refused(world: BotWorld) -> None:
    user = world.user(6400003)
    await reach(world, user, "evidence")
    act = lambda: world.emu.send_document(user, b"", filename="empty.txt", mime_type="text/plain")  # noqa: E731
    await refused(world, user, act, T("report.evidence.empty"), "zero bytes")
    assert (await chat_state.load(world.vault, user.user_id)).evidence == []


async def test_a_caption_is_sealed_with_its_file(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6400004)
    await reach(world, user, "evidence")
    caption = "The rota he changed after I complained"
    world.emu.send_document(
        user, b"Rota: 3 Nov, 9 Nov.\n", filename="rota.txt", mime_type="text/plain", caption=caption
    )
    await world.settle()
    assert world.last(user.user_id) == T("report.evidence.added.caption", count=1)
    # A caption of invisible characters is no caption: the plain answer, nothing kept.
    world.emu.send_document(
        user, b"Second file.\n", filename="two.txt", mime_type="text/plain", caption="\u200b"
    )
    await world.settle()
    assert world.last(user.user_id) == T("report.evidence.added", count=2)
    for label in ("Done", "No", "Yes", "Yes"):
        await world.tap(user, label)
    code = await submit(world, user)
    opened = await submitted_report(vault, alice, code)
    files = [item for item in opened.items if item.kind == cases.EVIDENCE]
    assert [f.meta.get("caption") for f in files] == [caption, None]
    assert files[0].body == b"Rota: 3 Nov, 9 Nov.\n"


async def test_a_blank_reply_to_the_team_is_not_sent(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    submitted = await cases.submit(
        vault,
        report=cases.ReportSubmission(categories=("bullying",), narrative="Shouted at."),
        contact="6400005",
    )
    user = world.user(6400005)
    await world.say(user, "/status")
    await world.say(user, submitted.receipt_code)
    await world.tap(user, T("button.reply"))
    await world.say(user, INVISIBLE)
    assert world.last(user.user_id) == T("input.blank")
    await world.say(user, "He did it again.")
    assert world.last(user.user_id) == T("status.reply.sent")
    opened = await casework.open_case(vault, officer=alice, reference=submitted.reference)
    replies = [i.meta.get("text") for i in opened.items if i.kind == cases.REPORTER_MESSAGE]
    assert replies == ["He did it again."]


async def test_the_vault_refuses_an_invisible_narrative_or_message(
    vault: Vault, alice: UnlockedOfficer
) -> None:
    with pytest.raises(InputError):
        await cases.submit(
            vault, report=cases.ReportSubmission(categories=("bullying",), narrative=INVISIBLE)
        )
    case = await cases.submit(
        vault, report=cases.ReportSubmission(categories=("bullying",), narrative="Real.")
    )
    with pytest.raises(InputError):
        await cases.add_from_reporter(
            vault, case_id=case.case_id, kind=cases.REPORTER_MESSAGE, text=INVISIBLE
        )
    for marks in SAYS_NOTHING:
        with pytest.raises(InputError):
            await cases.submit(
                vault, report=cases.ReportSubmission(categories=("bullying",), narrative=marks)
            )
        with pytest.raises(InputError):
            await cases.add_from_reporter(
                vault, case_id=case.case_id, kind=cases.REPORTER_MESSAGE, text=marks
            )
    for blank in (
        {"where": "\u200b"},
        {"where": "\u20dd"},
        {"subjects": (cases.Person(name="\u2060"),)},
        {"subjects": (cases.Person(name="\u0301\u0308"),)},
    ):
        report = cases.ReportSubmission(categories=("bullying",), narrative="Real.", **blank)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="invisible"):
            await cases.submit(vault, report=report)


async def test_the_vault_refuses_an_empty_file_from_any_door(vault: Vault, alice: UnlockedOfficer) -> None:
    """Not only the bot: `candour case submit` or any other caller of the vault gets a clear refusal for a
    zero-byte file, at submission and as a later addition, and nothing is stored."""
    empty = cases.Evidence(filename="empty.txt", media_type="text/plain", content=b"", metadata_kept=False)
    with pytest.raises(InputError, match=r"empty\.txt.*is empty"):
        await cases.submit(
            vault,
            report=cases.ReportSubmission(categories=("bullying",), narrative="Real.", evidence=(empty,)),
        )
    async with vault.db.reading() as session:
        assert (await session.exec(select(Case))).all() == []
    case = await cases.submit(
        vault, report=cases.ReportSubmission(categories=("bullying",), narrative="Real.")
    )
    with pytest.raises(InputError, match="empty"):
        await cases.add_from_reporter(vault, case_id=case.case_id, kind=cases.EVIDENCE, evidence=empty)
    opened = await casework.open_case(vault, officer=alice, reference=case.reference)
    assert [i for i in opened.items if i.kind == cases.EVIDENCE] == []


async def test_the_vault_refuses_a_description_of_invisible_characters(vault: Vault) -> None:
    person = cases.Person(name="Dave Smith", description="\u200b\u2060\u00ad")
    report = cases.ReportSubmission(categories=("bullying",), narrative="Real.", subjects=(person,))
    with pytest.raises(InputError, match="invisible"):
        await cases.submit(vault, report=report)
