"""Each Telegram update takes effect once (issue 9, point 3), on SQLite and PostgreSQL.

- Through the bot: an update given again with its update_id (the bot stopped before confirming it, as after
  a crash) is recognised: the narrative part and the evidence file it carried are in the draft once, and
  the bot does not answer it a second time.
- In the vault: the record of an update is written in the transaction of the chat state it produced; a
  second handling of the same update (another replica) stores nothing, on save and on discard.
- What is stored: a keyed tag (neither the update id nor any chat), and the hour; old records are purged.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select
from telegram import Update

from bot import state as chat_state
from bot.application import build_application
from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from bot.emulator.state import FakeUser
from storage import drafts, updates
from storage.clock import ManualClock
from storage.models import Draft, HandledUpdate
from storage.vault import Vault
from tests.bot_world import TOKEN, BotWorld, wait_for
from tests.test_bot_inputs import reach, small_jpeg

BOT_ID = int(TOKEN.split(":")[0])


async def given_again(world: BotWorld, update_id: int) -> None:
    """Stop the bot (it has confirmed nothing more), give the update again, start it; wait until handled."""
    await world.stop()
    world.emu.deliver_again(update_id)
    world.handled.discard(update_id)
    await world.start()
    await world.settle()


def bot_replies(world: BotWorld, user: FakeUser) -> int:
    return len(world.emu.bot_messages(user.user_id, include_deleted=True))


async def test_a_narrative_part_given_twice_is_kept_once(world: BotWorld) -> None:
    user = world.user(6200001)
    await reach(world, user, "narrative")
    sent = world.emu.send_text(user, "He shouted at me in the yard.")
    await world.settle()
    update_id = world.emu.bot_state().next_update_id - 1
    replies = bot_replies(world, user)
    await given_again(world, update_id)
    stored = await chat_state.load(world.vault, user.user_id)
    assert stored.narrative == ["He shouted at me in the yard."]
    assert stored.trail.count(sent["message_id"]) == 1
    assert bot_replies(world, user) == replies, "a redelivered update is not answered again"


async def test_an_evidence_file_given_twice_is_kept_once(world: BotWorld) -> None:
    user = world.user(6200002)
    await reach(world, user, "evidence")
    world.emu.send_document(user, small_jpeg(), filename="yard.jpg", mime_type="image/jpeg")
    await world.settle()
    update_id = world.emu.bot_state().next_update_id - 1
    assert len((await chat_state.load(world.vault, user.user_id)).evidence) == 1
    await given_again(world, update_id)
    assert len((await chat_state.load(world.vault, user.user_id)).evidence) == 1
    # A new file (a new update) is still taken.
    await world.send_document(user, small_jpeg(), "yard-2.jpg", "image/jpeg")
    assert len((await chat_state.load(world.vault, user.user_id)).evidence) == 2


async def test_a_button_press_given_twice_acts_once(world: BotWorld) -> None:
    user = world.user(6200003)
    await world.say(user, "/report")
    await world.tap(user, "Bullying")
    update_id = world.emu.bot_state().next_update_id - 1
    assert (await chat_state.load(world.vault, user.user_id)).categories == ["bullying"]
    await given_again(world, update_id)
    # Pressed twice, the category would be toggled off again.
    assert (await chat_state.load(world.vault, user.user_id)).categories == ["bullying"]


async def test_a_second_handling_of_an_update_stores_nothing(vault: Vault) -> None:
    tag = updates.tag(vault, bot_id=BOT_ID, update_id=41)
    first, second = chat_state.ChatState(), chat_state.ChatState()
    first.start("report", "narrative")
    second.start("report", "narrative")
    first.narrative, second.narrative = ["one"], ["one"]
    await chat_state.save(vault, 501, first, update=tag)
    # Another replica handled the same update from the same starting point: its save finds the record.
    with pytest.raises(updates.AlreadyHandledError):
        await chat_state.save(vault, 501, second, update=tag)
    assert (await chat_state.load(vault, 501)).token == first.token
    with pytest.raises(updates.AlreadyHandledError):
        await chat_state.load_with_policy(vault, 501, update=tag)
    # Discarding an idle chat's state records the update in the same transaction too.
    idle = chat_state.ChatState()
    other = updates.tag(vault, bot_id=BOT_ID, update_id=42)
    await chat_state.save(vault, 502, idle, update=other)
    assert await updates.seen(vault, update_tag=other)
    with pytest.raises(updates.AlreadyHandledError):
        await chat_state.save(vault, 502, chat_state.ChatState(), update=other)
    # A save that lost its compare-and-set records nothing: the update can still take effect.
    stale = chat_state.ChatState()
    stale.start("report", "narrative")
    stale.read_version = b"not the stored version"
    third = updates.tag(vault, bot_id=BOT_ID, update_id=43)
    version = await drafts.save(
        vault, chat_ref=chat_state.chat_ref(501), state=stale.to_json(), replacing=b"x", update=third
    )
    assert version is None and not await updates.seen(vault, update_tag=third)


async def test_records_carry_no_chat_and_no_fine_time_and_are_purged(
    vault: Vault, clock: ManualClock
) -> None:
    state = chat_state.ChatState()
    state.start("report", "narrative")
    tag = updates.tag(vault, bot_id=BOT_ID, update_id=7_000_123)
    await chat_state.save(vault, 6200009, state, update=tag)
    async with vault.db.reading() as session:
        rows = (await session.exec(select(HandledUpdate))).all()
        drafts_ = (await session.exec(select(Draft.chat_tag))).all()
    assert [r.update_tag for r in rows] == [tag]
    assert rows[0].update_tag not in set(drafts_)
    assert b"7000123" not in rows[0].update_tag and b"6200009" not in rows[0].update_tag
    hour = rows[0].handled_hour
    assert (hour.minute, hour.second, hour.microsecond) == (0, 0, 0)
    # Kept while Telegram might still give the update again, then purged.
    clock.advance(timedelta(hours=24))
    assert await updates.purge(vault) == 0
    clock.advance(updates.KEEP)
    assert await updates.purge(vault) == 1
    assert not await updates.seen(vault, update_tag=tag)


async def test_leaving_is_told_to_the_bot_and_changes_nothing(world: BotWorld) -> None:
    """The emulator tells the bot of its own leaving (my_chat_member, as Telegram does); nothing follows."""
    user = world.user(6200004)
    world.emu.add_bot_to_chat(user, -100555)
    await world.settle()
    await wait_for(lambda: -100555 in world.emu.left_chats)
    await world.settle()
    kinds = [u.kind for u in world.emu.bot_state().history.values()]
    assert kinds == ["my_chat_member", "my_chat_member"]


async def test_two_replicas_handling_one_update_store_it_once(vault: Vault, clock: ManualClock) -> None:
    """Two bot processes on one database get the same update at once (a webhook retried to another replica)."""
    async with TelegramEmulator(now=clock.now) as emu:
        emu.add_bot(TOKEN)
        user = emu.add_user(user_id=6200010, first_name="Test")
        ready = chat_state.ChatState()
        ready.start("report", "narrative")
        await chat_state.save(vault, user.user_id, ready)
        emu.send_text(user, "He blocked the door.")
        payload = emu.bot_state().history[emu.bot_state().next_update_id - 1].to_dict()
        replicas = [
            build_application(token=TOKEN, vault=vault, catalogue=Catalogue(), api_url=emu.root_url)
            for _ in range(2)
        ]
        for replica in replicas:
            await replica.initialize()
        try:
            await asyncio.gather(*(r.process_update(Update.de_json(payload, r.bot)) for r in replicas))
            # And once more, later, to one of them: recognised at once.
            await replicas[0].process_update(Update.de_json(payload, replicas[0].bot))
        finally:
            for replica in replicas:
                await replica.shutdown()
    stored = await chat_state.load(vault, user.user_id)
    assert stored.narrative == ["He blocked the door."]
