"""Only a reporter's own private chat reaches a flow, whatever the update type (issue 9, point 3).

- A button press from a group (`x|go|report`, forged: the bot sends no buttons there) starts nothing and
  saves no draft; the presser is told, in the press's own answer, that Candour works in private; the bot
  leaves the group.
- Added to a group the bot says one line and leaves at once; added to a channel it leaves without posting.
- Every other update type from a group or channel (messages, commands, edits, channel posts and their
  edits, chat member changes, reactions, join requests), and updates with no chat at all or from a private
  chat that is not the reporter's with the bot (inline queries, polls, business-account messages), reach
  no flow: no draft is stored, the bot says nothing in a private chat.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from storage.models import Draft
from storage.vault import Vault
from tests.bot_world import BotWorld, wait_for
from tests.test_bot_inputs import T

GROUP = -4_000_001
SUPERGROUP = -1_004_000_002
CHANNEL = -1_004_000_003


@pytest.fixture
def engine_name() -> str:
    """SQLite only: what is tested is which updates reach a flow, not the database."""
    return "sqlite"


async def draft_count(vault: Vault) -> int:
    async with vault.db.reading() as session:
        return len((await session.exec(select(Draft.chat_tag))).all())


async def test_a_button_pressed_in_a_group_starts_nothing(world: BotWorld, vault: Vault) -> None:
    user = world.user(6300001)
    world.emu.chat_with_bot(GROUP)
    query = world.emu.press_button(user, 1, "x|go|report", forged=True, chat_id=GROUP)
    await world.settle()
    assert await draft_count(vault) == 0, "no draft for the group, nor for the presser"
    answer = world.emu.callback_answers[query]
    assert answer is not None and answer["text"] == T("group.private_only")
    assert not any("categor" in (m.get("text") or "").lower() for m in world.emu.bot_messages(GROUP))
    assert world.emu.bot_messages(user.user_id) == [], "nothing is said in the presser's private chat"
    assert GROUP in world.emu.left_chats


@pytest.mark.parametrize(
    ("chat_id", "chat_type", "as_admin", "says"),
    [
        (GROUP, "group", False, True),
        (SUPERGROUP, "supergroup", True, True),
        (CHANNEL, "channel", True, False),
    ],
)
async def test_added_to_a_group_or_channel_the_bot_leaves_at_once(
    world: BotWorld, vault: Vault, chat_id: int, chat_type: str, as_admin: bool, says: bool
) -> None:
    user = world.user(6300002)
    world.emu.add_bot_to_chat(user, chat_id, chat_type=chat_type, as_admin=as_admin)
    await world.settle()
    await wait_for(lambda: chat_id in world.emu.left_chats)
    await world.settle()  # the bot is told of its own leaving, and does nothing more
    texts = [m.get("text") for m in world.emu.bot_messages(chat_id)]
    assert texts == ([T("group.private_only")] if says else [])
    leaves = [
        name for name, params in world.emu.calls if name == "leaveChat" and params["chat_id"] == chat_id
    ]
    assert len(leaves) == 1
    assert await draft_count(vault) == 0


def _user(world: BotWorld, user_id: int) -> dict[str, Any]:
    return world.emu.bot_state().users[user_id].to_dict()


def _chat(chat_id: int, chat_type: str, title: str = "Station chat") -> dict[str, Any]:
    return {"id": chat_id, "type": chat_type, "title": title}


def other_updates(world: BotWorld, user_id: int) -> list[tuple[str, dict[str, Any], int]]:
    """Updates of the other types, shaped as the Bot API 10.1 reference defines them."""
    person = _user(world, user_id)
    bot = world.emu.bot_state().user_dict()
    now = world.emu.bot_state().timestamp()
    group = _chat(SUPERGROUP, "supergroup")
    text = {"message_id": 90, "from": person, "chat": group, "date": now, "text": "/report"}
    private = {"id": user_id, "type": "private", "first_name": person["first_name"]}
    business = {
        "message_id": 91,
        "from": person,
        "chat": private,
        "date": now,
        "text": "/report",
        "business_connection_id": "bc-1",
    }
    member = {"status": "member", "user": person}
    return [
        ("message", text, SUPERGROUP),
        ("edited_message", {**text, "text": "/report now", "edit_date": now}, SUPERGROUP),
        (
            "channel_post",
            {
                "message_id": 5,
                "sender_chat": _chat(CHANNEL, "channel"),
                "chat": _chat(CHANNEL, "channel"),
                "date": now,
                "text": "/report",
            },
            CHANNEL,
        ),
        (
            "edited_channel_post",
            {
                "message_id": 5,
                "sender_chat": _chat(CHANNEL, "channel"),
                "chat": _chat(CHANNEL, "channel"),
                "date": now,
                "edit_date": now,
                "text": "/start",
            },
            CHANNEL,
        ),
        (
            "chat_member",
            {
                "chat": group,
                "from": person,
                "date": now,
                "old_chat_member": {"status": "left", "user": person},
                "new_chat_member": member,
            },
            SUPERGROUP,
        ),
        (
            "message_reaction",
            {
                "chat": group,
                "message_id": 90,
                "user": person,
                "date": now,
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "\N{THUMBS UP SIGN}"}],
            },
            SUPERGROUP,
        ),
        (
            "chat_join_request",
            {"chat": group, "from": person, "user_chat_id": user_id, "date": now},
            SUPERGROUP,
        ),
        ("inline_query", {"id": "77", "from": person, "query": "report", "offset": ""}, 0),
        (
            "poll",
            {
                "id": "88",
                "question": "Report?",
                "options": [{"persistent_id": "a1", "text": "yes", "voter_count": 1}],
                "total_voter_count": 1,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": False,
                "members_only": False,
            },
            0,
        ),
        (
            "poll_answer",
            {"poll_id": "88", "user": person, "option_ids": [0], "option_persistent_ids": ["a1"]},
            0,
        ),
        ("business_message", business, user_id),
        (
            "my_chat_member",
            {
                "chat": private,
                "from": person,
                "date": now,
                "old_chat_member": {"status": "member", "user": bot},
                "new_chat_member": {"status": "kicked", "user": bot, "until_date": 0},
            },
            user_id,
        ),
    ]


async def test_no_other_update_type_reaches_a_flow(world: BotWorld, vault: Vault) -> None:
    user = world.user(6300003)
    world.emu.chat_with_bot(SUPERGROUP, chat_type="supergroup")
    world.emu.chat_with_bot(CHANNEL, chat_type="channel")
    for kind, payload, chat_id in other_updates(world, user.user_id):
        world.emu.deliver(kind, payload, chat_id=chat_id)
        await world.settle()
        assert await draft_count(vault) == 0, kind
        assert world.emu.bot_messages(user.user_id) == [], kind
    said = [m.get("text") for chat in (SUPERGROUP, CHANNEL) for m in world.emu.bot_messages(chat)]
    assert said == [T("group.private_only")], "one line, in the group only, for the command typed there"
    assert {SUPERGROUP, CHANNEL} <= world.emu.left_chats
    # The reporter's own chat still works.
    await world.say(user, "/report")
    assert await draft_count(vault) == 1
