"""`candour run` polls with an explicit allowed_updates, so a setting left on the token by an earlier
program (Telegram keeps it until a getUpdates names the parameter again) cannot hide from the bot that it
was added to a group or channel: it still leaves at once. Driven through `candour.app.serve_bot` against
the Bot API emulator over real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import SecretStr

from bot.application import ALLOWED_UPDATES
from bot.emulator import TelegramEmulator
from candour.app import serve_bot
from storage.vault import Vault
from tests.bot_world import wait_for

TOKEN = "123456:CANDOUR-ALLOWED-UPDATES"
GROUP, CHANNEL = -100_700_001, -100_700_002


async def test_the_bot_leaves_groups_whatever_setting_the_token_had(vault: Vault, settings) -> None:
    async with TelegramEmulator() as emu:
        # An earlier deployment (or another program with this token) asked for messages only.
        emu.add_bot(TOKEN, allowed_updates=["message"])
        officer = emu.add_user(user_id=6400001, first_name="Someone")
        running = settings.model_copy(
            update={"telegram_token": SecretStr(TOKEN), "telegram_api_url": emu.root_url}
        )
        stop = asyncio.Event()
        bot = asyncio.create_task(serve_bot(running, vault, stop=stop))
        try:
            await wait_for(lambda: any(name == "getUpdates" for name, _ in emu.calls), timeout=20)
            polls = [params for name, params in emu.calls if name == "getUpdates"]
            assert all("allowed_updates" in p for p in polls), "a poll left Telegram's old setting in force"
            asked = set(polls[0]["allowed_updates"])
            assert {"message", "edited_message", "callback_query", "my_chat_member", "channel_post"} <= asked
            assert asked == set(ALLOWED_UPDATES)
            # The emulator records a call before it runs it, so the token's setting changes a moment later.
            await wait_for(
                lambda: emu.bot_state().allowed_updates == polls[-1]["allowed_updates"], timeout=20
            )

            # Added to a group, and a post in a channel it was already in: it leaves both.
            emu.add_bot_to_chat(officer, GROUP, chat_type="supergroup")
            emu.chat_with_bot(CHANNEL, chat_type="channel")
            emu.post_in_channel(CHANNEL, "Station news")
            await wait_for(lambda: {GROUP, CHANNEL} <= emu.bot_state().left_chats, timeout=20)
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(bot, timeout=30)
