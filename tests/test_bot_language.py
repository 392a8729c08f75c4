"""The bot speaks the user's Telegram language where a catalogue exists, and /language overrides it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from storage import cases, casework
from storage.vault import Vault
from tests.bot_world import TOKEN, BotWorld, wait_for

BOT = Path(__file__).resolve().parents[1] / "bot"


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


@pytest.fixture
async def world(vault: Vault, clock, tmp_path: Path) -> AsyncIterator[BotWorld]:
    shutil.copytree(BOT / "locales" / "en", tmp_path / "locales" / "en")
    (tmp_path / "locales" / "pl" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "locales" / "pl" / "LC_MESSAGES" / "candour.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "language.name"\nmsgstr "Polski"\n\n'
        'msgid "language.set"\nmsgstr "Ustawiono język polski."\n\n'
        'msgid "help.text"\nmsgstr "Pomoc: /report, /status"\n\n'
        'msgid "notice.acknowledged"\nmsgstr "Zgłoszenie zostało przyjęte."\n',
        encoding="utf-8",
    )
    async with TelegramEmulator(now=clock.now) as emu:
        emu.add_bot(TOKEN)
        bot_world = BotWorld(emu=emu, vault=vault, catalogue=Catalogue(tmp_path / "locales"))
        await bot_world.start()
        try:
            yield bot_world
        finally:
            await bot_world.stop()


async def test_language_follows_telegram_and_language_command_overrides(world: BotWorld) -> None:
    polish = world.user(6001, language_code="pl")
    english = world.user(6002, language_code="en-GB")
    await world.say(polish, "/help")
    await world.say(english, "/help")
    assert world.last(polish.user_id) == "Pomoc: /report, /status"
    assert world.last(english.user_id).startswith("/report make a new report")

    await world.say(english, "/language")
    assert [b[1] for b in world.buttons(english.user_id)] == ["English", "Polski"]
    await world.tap(english, "Polski")
    assert world.last(english.user_id) == "Ustawiono język polski."
    await world.say(english, "/help")
    assert world.last(english.user_id) == "Pomoc: /report, /status", "the choice is remembered"
    await world.say(english, "/start")
    assert "not end-to-end encrypted" in world.last(english.user_id), (
        "untranslated text falls back to English"
    )


async def test_status_notices_and_checkins_are_worded_in_the_chats_language(
    world: BotWorld, vault: Vault, alice
) -> None:
    """The vault keeps an English copy of a status notice; the bot words it from the chat's catalogue, for the
    pushed notice and in /status alike."""
    polish = world.user(6003, language_code="pl")
    await world.say(polish, "/language")
    await world.tap(polish, "Polski")
    result = await cases.submit(
        vault,
        report=cases.ReportSubmission(categories=("bullying",), narrative="n"),
        contact=str(polish.user_id),
    )
    await casework.change_status(vault, officer=alice, reference=result.reference, status="acknowledged")
    await wait_for(lambda: any(b[2].startswith("x|read|") for b in world.buttons(polish.user_id)))
    await world.tap(polish, world.buttons(polish.user_id)[-1][1])
    assert "Zgłoszenie zostało przyjęte." in world.last(polish.user_id)
    await world.say(polish, "/status")
    await world.say(polish, result.receipt_code)
    assert "Zgłoszenie zostało przyjęte." in world.last(polish.user_id)
    assert "Your report has been received" not in world.last(polish.user_id)
