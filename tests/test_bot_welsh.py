"""Welsh as an equal: a reporter picks Welsh at /start and is spoken to in Welsh through a whole report, the
command menu and descriptions are registered per language, /language switches back, and Telegram's
language code is stored nowhere.

All through the real bot, polling the local Bot API emulator over HTTP, on a real vault.
"""

from __future__ import annotations

import re

import pytest
from telegram.error import BadRequest

from bot import state as chat_state
from bot.catalogue import Catalogue
from candour.settings import Settings
from policies.loader import starter_policy
from storage import cases
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.test_anonymity import scan, storage_surfaces

CY = Catalogue().for_language("cy")
EN = Catalogue().for_language("en")
# Why a made-up tag, not "cy": the scan of the database must look for something that can only be there if
# the bot stored the language code; two letters turn up by chance in any ciphertext. The catalogue takes
# the part before the first hyphen, so this reporter's Telegram speaks Welsh.
PROBE_CODE = "cy-x-candourprobe"
# English words that no Welsh sentence of the bot contains (commands such as /report are not words).
ENGLISH = re.compile(r"(?<![/\w])(the|you|your|please|report|file|press)\b", re.IGNORECASE)


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


def english_in(text: str) -> list[str]:
    """The English words in a text."""
    return ENGLISH.findall(text)


def without_policy_words(text: str) -> str:
    """The text less the starter policy's support lines (the force's words, not ours). Its unit names are
    not taken out: the Welsh catalogue names the starter's units (bot/catalogue.policy_label)."""
    policy = starter_policy()
    for words in [w for s in policy.support for w in (s.name, s.contact)]:
        text = text.replace(words, "")
    return text


async def test_commands_and_descriptions_are_registered_per_language(world: BotWorld) -> None:
    assert world.app is not None
    bot = world.app.bot
    welsh = {c.command: c.description for c in await bot.get_my_commands(language_code="cy")}
    english = {c.command: c.description for c in await bot.get_my_commands()}
    assert welsh["report"] == CY("command.report") == "Gwneud adroddiad"
    assert english["report"] == "Make a report"
    assert set(welsh) == set(english)
    assert (await bot.get_my_description(language_code="cy")).description == CY("about.description")
    assert (await bot.get_my_short_description(language_code="cy")).short_description == CY(
        "about.short_description"
    )
    assert (await bot.get_my_description()).description == EN("about.description")
    assert (await bot.get_my_description(language_code="fr")).description == EN("about.description"), (
        "a language without its own words gets the default, as on Telegram"
    )


async def test_the_emulator_refuses_a_language_code_telegram_would(world: BotWorld) -> None:
    assert world.app is not None
    for bad in ("pt-BR", "cym", "CY"):
        with pytest.raises(BadRequest, match=r"(?i)language_code_invalid"):
            await world.app.bot.set_my_description("x", language_code=bad)
    with pytest.raises(BadRequest):
        await world.app.bot.set_my_short_description("x" * 121, language_code="cy")


async def test_an_english_speaker_goes_straight_on_and_can_pick_welsh_at_start(world: BotWorld) -> None:
    user = world.user(7101, language_code="en-GB")
    await world.say(user, "/start")
    assert world.last(user.user_id) == EN("start.intro")
    labels = [b[1] for b in world.buttons(user.user_id)]
    assert labels[:3] == ["Make a report", "Check a report", "Privacy notice"]
    assert labels[3:] == ["English", "Cymraeg"], "the language row comes last, in each language's own name"

    await world.tap(user, "Cymraeg")
    assert world.texts(user.user_id) == [CY("start.intro")], "the same message now reads in Welsh"
    labels = [b[1] for b in world.buttons(user.user_id)]
    assert labels == ["Gwneud adroddiad", "Gwirio adroddiad", "Hysbysiad preifatrwydd"], (
        "once chosen, the language row is not offered again"
    )
    await world.say(user, "/help")
    assert world.last(user.user_id) == CY("help.text"), "the choice outlives the Telegram language"


async def test_a_welsh_reporter_is_spoken_to_in_welsh_through_a_whole_report(
    world: BotWorld, vault: Vault, settings: Settings
) -> None:
    user = world.user(7102, language_code=PROBE_CODE)
    chat = user.user_id
    await world.say(user, "/start")
    assert world.last(chat) == CY("start.intro"), "Telegram's language picks Welsh before any choice"
    assert [b[1] for b in world.buttons(chat)][-2:] == ["English", "Cymraeg"]
    await world.tap(user, "Cymraeg")
    assert (await chat_state.load(vault, chat)).language == "cy", "the choice is kept, sealed"

    code = await welsh_report(world, user)

    # Every text and button the bot sent, but for the policy's own words (unit names, support lines): a
    # force writes those in its policy, in one language.
    sent = world.emu.bot_messages(chat, include_deleted=True)
    rows = [row for m in sent for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])]
    said = [m.get("text") or "" for m in sent] + [b["text"] for row in rows for b in row]
    assert len(said) > 10 and [t for t in said if english_in(without_policy_words(t))] == []
    english_units = [u.name for u in starter_policy().units]
    assert [t for t in said if any(name in t for name in english_units)] == [], "units named in Welsh"

    await world.say(user, "/status")
    assert world.last(chat) == CY("status.ask_code")
    await world.say(user, code)
    assert CY("status.received") in world.last(chat) and "Adroddiad " in world.last(chat)

    await world.say(user, "/language")
    assert world.last(chat) == CY("language.choose")
    await world.tap(user, "English")
    assert world.last(chat) == "Language set to English."
    await world.say(user, "/help")
    assert world.last(chat) == EN("help.text"), "/language switches back, over Telegram's Welsh"

    # The language code Telegram sent with every update is nowhere in the data directory or the database.
    stored = await storage_surfaces(vault, settings)
    reference = (await cases.reporter_view(vault, code=code)).reference
    assert scan(stored, {"case reference": reference.encode()}), "the scan does not see the cases"
    needles = {"language code": PROBE_CODE.encode(), "language code, upper": PROBE_CODE.upper().encode()}
    assert scan(stored, needles) == []


async def welsh_report(world: BotWorld, user) -> str:
    """Drive a whole report with the Welsh buttons, checking each question is asked in Welsh."""
    chat = user.user_id
    await world.tap(user, CY("button.report"))
    assert world.last(chat) == CY("report.categories")
    await world.tap(user, CY("category.bullying"))
    await world.tap(user, CY("category.age-discrimination"))
    await world.tap(user, CY("button.done"))
    assert world.last(chat) == CY("report.narrative")
    await world.say(user, "Mae fy rhingyll yn gwneud jôcs am fy acen ym mhob briffio.")
    assert world.last(chat) == CY("report.narrative.added")
    await world.tap(user, CY("button.done"))
    assert world.last(chat) == CY("report.when")
    await world.tap(user, CY("when.ongoing"))
    assert world.last(chat) == CY("report.where")
    await world.tap(user, CY("button.something_else"))
    assert world.last(chat) == CY("report.people")
    await world.say(user, "Rhingyll Harris 4471")
    assert world.last(chat).startswith(CY("report.person.role", name="x").split("\n")[0])
    await world.tap(user, CY("role.sergeant"))
    assert world.last(chat).startswith(CY("report.person.unit", name="x").split("\n")[0])
    await world.tap(user, CY("button.dont_know"))
    assert world.last(chat).startswith("Wedi ychwanegu:")
    await world.tap(user, CY("button.done"))
    assert world.last(chat) == CY("report.witnesses")
    await world.say(user, "Gwelodd PC Lee y cyfan")
    assert world.last(chat) == CY("report.evidence")
    await world.send_document(user, b"Nodiadau rota: 3 Tach, 9 Tach.\n", "nodiadau.txt", "text/plain")
    assert world.last(chat) == CY("report.evidence.added", count=1)
    await world.tap(user, CY("button.done"))
    assert world.last(chat) == CY("report.risk")
    await world.tap(user, CY("button.no"))
    assert world.last(chat) == CY("report.reported_before")
    await world.tap(user, CY("button.yes"))
    assert world.last(chat) == CY("report.checkins")
    await world.tap(user, CY("button.yes"))
    review = world.last(chat)
    assert review.startswith("Gwiriwch eich adroddiad") and CY("review.files", count=1) in review
    assert "Math: Bwlio, Gwahaniaethu ar sail oed" in review
    await world.tap(user, CY("button.submit"))
    receipt = next(t for t in world.texts(chat) if "Cod eich derbynneb" in t)
    wiped = [CY("report.submitted.wiped", count=n) for n in range(1, 40)]
    assert any(w in t for w in wiped for t in world.texts(chat)), "how many messages were deleted, in Welsh"
    support = next(t for t in world.texts(chat) if CY("support.heading") in t)
    assert "Y Samariaid" in support and "Samaritans:" not in support  # the force's support, in Welsh too
    return receipt.split("Cod eich derbynneb:\n")[1].split("\n")[0]


async def test_a_forged_language_button_changes_nothing(world: BotWorld, vault: Vault) -> None:
    user = world.user(7103, language_code="en")
    await world.say(user, "/start")
    start_id = world.buttons(user.user_id)[-1][0]
    query_id = world.emu.press_button(user, start_id, "x|intro|fr", forged=True)
    await world.settle()
    assert (world.emu.callback_answers[query_id] or {}).get("text") == EN("button.stale")
    assert world.texts(user.user_id) == [EN("start.intro")]
    assert (await chat_state.load(vault, user.user_id)).language is None
