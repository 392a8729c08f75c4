"""Blank is blank (issue 9, point 9): driven through the bot as a reporter would, and at the vault.

- An answer made only of invisible characters (zero-width space U+200B, word joiner U+2060, BOM, soft
  hyphen, Hangul filler) is no answer at any typed step: the bot says so and keeps nothing.
- A reply to the team made of them is not sent; the vault itself refuses such a narrative or message.
- A zero-byte file is refused with a clear message and not added.
- A caption sent with a file is sealed with it: the officer who opens the case reads it beside the file.
"""

from __future__ import annotations

import pytest
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


@pytest.mark.parametrize("text", ["\u200b\u200b", "\u2060", INVISIBLE, "\u200d\ufe0f"])
def test_invisible_text_is_blank_and_visible_text_is_kept_whole(text: str) -> None:
    assert text_rules.is_blank(text) and text_rules.answer(text) == ""
    # Joiners inside real text stay (emoji sequences and some scripts need them); NFC is applied.
    assert text_rules.answer(f" e\u0301 {text}x ") == f"\u00e9 {text}x"


@pytest.mark.parametrize("step", ["narrative", "when", "where", "people", "witnesses"])
async def test_an_invisible_answer_is_refused_at_every_typed_step(world: BotWorld, step: str) -> None:
    user = world.user(6400001)
    await reach(world, user, step)
    await refused(world, user, lambda: world.emu.send_text(user, INVISIBLE), T("input.blank"), step)
    assert (await chat_state.load(world.vault, user.user_id)).step == step


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
    for blank in ({"where": "\u200b"}, {"subjects": (cases.Person(name="\u2060"),)}):
        report = cases.ReportSubmission(categories=("bullying",), narrative="Real.", **blank)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="invisible"):
            await cases.submit(vault, report=report)


async def test_the_vault_refuses_an_empty_file_from_any_door(vault: Vault, alice: UnlockedOfficer) -> None:
    """Not only the bot: `candour case submit` or any other caller of the vault gets a clear refusal for a
    zero-byte file, at submission and as a later addition, and nothing is stored."""
    empty = cases.Evidence(filename="empty.txt", media_type="text/plain", content=b"")
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
