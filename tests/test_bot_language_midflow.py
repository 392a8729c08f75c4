"""/language in the middle of a report (issue 11, Nit): the draft is kept and the question on screen is
asked again in the new language, so no button of the old language is left to press.

Driven through the real bot polling the Telegram emulator, with the shipped English and Welsh catalogues.
"""

from __future__ import annotations

import pytest

from bot.catalogue import Catalogue
from bot.emulator.state import FakeUser
from tests.bot_world import BotWorld
from tests.test_bot_inputs import draft

EN = Catalogue().for_language("en")
CY = Catalogue().for_language("cy")


@pytest.fixture
def engine_name() -> str:
    """SQLite only: the flow does not depend on the engine."""
    return "sqlite"


def labels(world: BotWorld, chat: int) -> list[str]:
    """Every button label still on screen."""
    return [label for _message, label, _data in world.buttons(chat)]


def newest(world: BotWorld, chat: int) -> tuple[str, list[str]]:
    """The bot's newest message: its text and its buttons."""
    last = world.emu.bot_messages(chat)[-1]
    rows = (last.get("reply_markup") or {}).get("inline_keyboard", [])
    return last.get("text") or "", [b["text"] for row in rows for b in row]


async def to_welsh(world: BotWorld, user: FakeUser) -> None:
    await world.say(user, "/language")
    await world.tap(user, "Cymraeg")


async def test_language_switched_at_the_narrative_asks_it_again_in_welsh(world: BotWorld) -> None:
    user = world.user(6400001, language_code="en")
    chat = user.user_id
    await world.say(user, "/report")
    await world.tap(user, "Bullying")
    await world.tap(user, "Done")
    await world.say(user, "He shouts at me in the yard.")
    assert newest(world, chat) == (EN("report.narrative.added"), [EN("button.done")])
    kept = await draft(world.vault, chat)
    await to_welsh(world, user)
    assert CY("language.set") in world.texts(chat)
    assert newest(world, chat) == (CY("report.narrative"), [CY("button.done")])
    assert EN("button.done") not in labels(world, chat), "no English button left on screen"
    assert labels(world, chat).count(CY("button.done")) == 1
    now = await draft(world.vault, chat)
    assert (now["narrative"], now["categories"], now["step"]) == (
        kept["narrative"],
        kept["categories"],
        "narrative",
    )
    await world.tap(user, CY("button.done"))
    assert newest(world, chat)[0] == CY("report.when"), "the report goes on, in Welsh"


async def test_language_switched_at_a_buttons_question_re_asks_it_with_welsh_buttons(world: BotWorld) -> None:
    user = world.user(6400002, language_code="en")
    chat = user.user_id
    await world.say(user, "/report")
    english = newest(world, chat)[1]
    assert "Bullying" in english and EN("button.done") in english
    await to_welsh(world, user)
    text, welsh = newest(world, chat)
    assert text == CY("report.categories")
    assert CY("category.bullying") in welsh and CY("button.done") in welsh
    gone = set(english) - set(welsh)
    assert "Bullying" in gone and EN("button.done") in gone
    assert not gone & set(labels(world, chat)), "the English buttons are off the screen"
    await world.tap(user, CY("category.bullying"))
    await world.tap(user, CY("button.done"))
    assert newest(world, chat)[0] == CY("report.narrative")
    assert (await draft(world.vault, chat))["categories"] == ["bullying"]


async def test_language_outside_a_report_asks_nothing_more(world: BotWorld) -> None:
    user = world.user(6400003, language_code="en")
    chat = user.user_id
    await to_welsh(world, user)
    assert newest(world, chat) == (CY("language.set"), [])
    assert (await draft(world.vault, chat))["flow"] == "idle"
