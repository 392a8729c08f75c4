"""Welsh outlives the chat's 72-hour state: check-ins and the team's messages reach a Welsh reporter in Welsh
(issue 11, A1).

The reporter's language is sealed with the case's contact handle at submission (storage.contact), so the
dispatcher and push delivery find it days later, when the chat's own sealed state has long expired; the
chat's own later choice comes first. Through the real bot polling the Bot API emulator over HTTP, on a real
vault, with the injected clock moved to the first check-in (day 7).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot import state as chat_state
from bot.catalogue import Catalogue
from candour.app import open_vault
from storage import cases, casework, keyring, outbox, rotation
from storage import contact as contacts
from storage.clock import ManualClock
from storage.errors import InputError
from storage.models import ContactHandle
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.test_bot_followup import bot_message, buttons_of, messages_for_reporter
from tests.test_bot_welsh import welsh_report
from tests.test_followup import entries, entry, eventually, planned, press

CY = Catalogue().for_language("cy")
ANSWERS = ("better", "same", "worse", "retaliation", "stop")
FORGOTTEN = chat_state.TRAIL_LIFETIME + timedelta(hours=2)
QUESTION = "Pa ystafell friffio oedd hi?"


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


async def checkin_arrives(world: BotWorld, clock: ManualClock, chat: int, case_id: str) -> dict[str, Any]:
    """Move the clock to the next check-in's day and then to its jittered send time; the message sent.

    Found by its buttons (they name the outbox entry), never by its words, which are what is tested.
    """
    pending = [e for e in await entries(world.vault, case_id, outbox.CHECKIN) if e.status == "pending"]
    clock.current = max(clock.current, pending[0].due_at)
    plan = await planned(world.vault, pending[0].id)
    clock.current = max(clock.current, plan.due_at)

    async def recorded() -> bool:
        return (await entry(world.vault, pending[0].id)).status == "sent"

    await eventually(recorded)
    marker = f"x|ci|{pending[0].id}."
    return next(
        m
        for m in world.emu.bot_messages(chat)
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
        if row[0].get("callback_data", "").startswith(marker)
    )


async def pushed(world: BotWorld, chat: int, case_id: str) -> int:
    """Wait until the case's newest message for the reporter is notified; the notice's message id."""

    async def notified() -> bool:
        found = await messages_for_reporter(world.vault, case_id)
        return bool(found) and found[-1].status == "notified"

    await eventually(notified)
    read = f"x|read|{(await messages_for_reporter(world.vault, case_id))[-1].id}"
    [notice] = [m for m in world.emu.bot_messages(chat) if read in buttons_of(m)]
    return int(notice["message_id"])


async def forgets(vault: Vault, clock: ManualClock, chat: int) -> None:
    """Move the clock past the chat state's lifetime and check the chat itself no longer knows Welsh."""
    clock.advance(FORGOTTEN)
    assert (await chat_state.load(vault, chat)).language is None, "the chat's own state has expired"


async def test_a_welsh_reporter_gets_the_day_7_checkin_and_the_team_messages_in_welsh(
    world: BotWorld, vault: Vault, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    # Telegram says English: only the choice made at /start says Welsh.
    user = world.user(7301, language_code="en")
    chat = user.user_id
    await world.say(user, "/start")
    await world.tap(user, "Cymraeg")
    code = await welsh_report(world, user)
    case_id = await cases.case_for_receipt(vault, code=code)
    assert (await contacts.read(vault, case_id=case_id)) == contacts.Contact(str(chat), "cy")

    await forgets(vault, clock, chat)
    message = await checkin_arrives(world, clock, chat, case_id)
    assert message["text"] == CY("checkin.notice")
    labels = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [CY(f"checkin.answer.{answer}") for answer in ANSWERS]

    # The answer comes after the chat forgot again: the reply is still Welsh, with the force's support.
    await forgets(vault, clock, chat)
    press(world, user, message, "worse")
    await world.settle()
    said = world.last(chat)
    assert said.startswith(CY("checkin.thanks.worse")) and CY("support.heading") in said

    # A message from the team, pushed days later: the notice, its button, and the message once read.
    await forgets(vault, clock, chat)
    reference = (await cases.reporter_view(vault, code=code)).reference
    await casework.message_reporter(vault, officer=alice, reference=reference, text=QUESTION)
    notice_id = await pushed(world, chat, case_id)
    notice = bot_message(world, chat, notice_id)
    assert notice["text"] == CY("push.notice")
    assert [b["text"] for row in notice["reply_markup"]["inline_keyboard"] for b in row] == [
        CY("button.read")
    ]
    await forgets(vault, clock, chat)
    await world.tap(user, CY("button.read"))
    shown = bot_message(world, chat, notice_id)
    assert shown["text"] == CY("push.message", text=QUESTION)
    assert [b["text"] for row in shown["reply_markup"]["inline_keyboard"] for b in row] == [
        CY("button.reply")
    ]


async def test_the_chat_own_later_choice_comes_before_the_sealed_one(
    world: BotWorld, vault: Vault, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    """A reporter who made the report in Welsh and then chose English (/language) is pushed English."""
    user = world.user(7302, language_code="en")
    chat = user.user_id
    await world.say(user, "/start")
    await world.tap(user, "Cymraeg")
    code = await welsh_report(world, user)
    await world.say(user, "/language")
    await world.tap(user, "English")
    reference = (await cases.reporter_view(vault, code=code)).reference
    await casework.message_reporter(vault, officer=alice, reference=reference, text="Which room?")
    notice_id = await pushed(world, chat, await cases.case_for_receipt(vault, code=code))
    assert bot_message(world, chat, notice_id)["text"] == Catalogue().for_language("en")("push.notice")


# --- the sealed handle ---------------------------------------------------------------------------------


def report() -> cases.ReportSubmission:
    return cases.ReportSubmission(categories=("bullying",), narrative="He mocks me.", checkin_consent=True)


async def sealed_of(vault: Vault, case_id: str) -> bytes:
    async with vault.db.reading() as session:
        row = await session.get(ContactHandle, case_id)
        assert row is not None
        return row.sealed


async def test_the_language_is_sealed_in_the_handle_padded_and_shredded_with_it(
    vault: Vault, alice: UnlockedOfficer
) -> None:
    made = {
        language: await cases.submit(vault, report=report(), contact="4503599627370421", language=language)
        for language in ("cy", "en", None)
    }
    opened = {language: await contacts.read(vault, case_id=m.case_id) for language, m in made.items()}
    assert {language: c.language for language, c in opened.items() if c} == {
        "cy": "cy",
        "en": "en",
        None: None,
    }
    assert {c.chat for c in opened.values() if c} == {"4503599627370421"}
    # Why the same length: the sealed blob must not tell a Welsh reporter from an English one.
    assert len({len(await sealed_of(vault, m.case_id)) for m in made.values()}) == 1
    for m in made.values():
        blob = await sealed_of(vault, m.case_id)
        assert b"4503599627370421" not in blob and b"cy " not in blob, "never in clear"

    welsh = made["cy"].case_id
    assert await casework.shred_contact(vault, case_id=welsh)
    assert await contacts.read(vault, case_id=welsh) is None, "shredding the handle shreds the language"
    async with vault.db.reading() as session:
        assert (
            await session.exec(select(ContactHandle).where(ContactHandle.case_id == welsh))
        ).first() is None


async def test_a_handle_sealed_before_languages_were_kept_still_opens(
    vault: Vault, alice: UnlockedOfficer
) -> None:
    made = await cases.submit(vault, report=report(), contact="chat-77")
    key_id, sealed = vault.keys.relay.seal(b"chat-77", purpose=contacts.CONTACT_PURPOSE, context=made.case_id)
    async with vault.db.transaction() as session:
        row = await session.get(ContactHandle, made.case_id)
        assert row is not None
        row.key_id, row.sealed = key_id, sealed
        session.add(row)
    assert await contacts.read(vault, case_id=made.case_id) == contacts.Contact("chat-77", None)
    assert await cases.open_contact(vault, case_id=made.case_id) == "chat-77"


async def test_a_relay_key_rotation_keeps_the_language(settings, vault: Vault, clock, alice) -> None:
    made = await cases.submit(vault, report=report(), contact="chat-5", language="cy")
    keyring.add_relay_key(settings.keys_dir)
    rotated = await open_vault(settings, clock=clock)
    try:
        await rotation.reseal_all(rotated, keyring=rotated.keys.relay, actor="operator")
        keyring.retire_relay_keys(settings.keys_dir)
    finally:
        await rotated.db.dispose()
    fresh = await open_vault(settings, clock=clock)
    try:
        assert await contacts.read(fresh, case_id=made.case_id) == contacts.Contact("chat-5", "cy")
    finally:
        await fresh.db.dispose()


@pytest.mark.parametrize("language", ["cy\x00", "Cymraeg-hir-iawn", "c y", "ü"])
def test_only_a_short_catalogue_name_is_sealed(vault: Vault, language: str) -> None:
    with pytest.raises(InputError):
        contacts.seal(vault.keys.relay, case_id="c1", chat="1", language=language)
