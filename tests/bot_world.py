"""A test world for the bot: the real Application, polling a local Bot API emulator over HTTP, on a real
vault. Helpers act as a reporter would (type, tap a button by its label, send a file) and wait until
the bot has handled each update.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.application import build_application, start_services
from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from bot.emulator.state import FakeUser
from storage.vault import Vault

TOKEN = "123456:CANDOUR-TEST"


@dataclass
class BotWorld:
    """The emulator, the running bot, and what the bot has handled."""

    emu: TelegramEmulator
    vault: Vault
    catalogue: Catalogue
    app: Application | None = None
    handled: set[int] = field(default_factory=set)

    async def start(self) -> None:
        """Build and start the bot (again, after a stop: as a restarted process would)."""
        self.app = build_application(
            token=TOKEN,
            vault=self.vault,
            catalogue=self.catalogue,
            api_url=self.emu.root_url,
            delivery_interval=0.2,
        )

        async def record(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            self.handled.add(update.update_id)

        self.app.add_handler(TypeHandler(Update, record), group=1000)
        await self.app.initialize()
        await start_services(self.app)
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0, timeout=1)

    async def stop(self) -> None:
        if self.app is None:
            return
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()
        self.app = None

    def user(self, user_id: int, **names: Any) -> FakeUser:
        values = {"first_name": "Test", **names}
        return self.emu.add_user(user_id=user_id, **values)

    def _last_update_id(self) -> int:
        return self.emu.bot_state().next_update_id - 1

    async def settle(self, timeout: float = 10) -> None:
        """Wait until the bot has handled every update sent so far."""
        last = self._last_update_id()
        await wait_for(lambda: all(u in self.handled for u in range(1, last + 1)), timeout=timeout)

    async def say(self, user: FakeUser, text: str) -> dict[str, Any]:
        message = self.emu.send_text(user, text)
        await self.settle()
        return message

    async def send_photo(self, user: FakeUser, data: bytes) -> None:
        self.emu.send_photo(user, data)
        await self.settle()

    async def send_document(self, user: FakeUser, data: bytes, filename: str, mime_type: str) -> None:
        self.emu.send_document(user, data, filename=filename, mime_type=mime_type)
        await self.settle()

    def buttons(self, chat_id: int) -> list[tuple[int, str, str]]:
        """(message id, label, data) of every button on the bot's live messages, newest message last."""
        found = []
        for message in self.emu.bot_messages(chat_id):
            markup = message.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    found.append((message["message_id"], button["text"], button.get("callback_data", "")))
        return found

    async def tap(self, user: FakeUser, label: str) -> str:
        """Press the newest button whose label starts with `label` (any case); returns its callback data."""
        wanted = label.casefold()
        matches = [b for b in self.buttons(user.user_id) if b[1].casefold().startswith(wanted)]
        if not matches:
            raise AssertionError(f"no button {label!r}; have {[b[1] for b in self.buttons(user.user_id)]}")
        message_id, _label, data = matches[-1]
        self.emu.press_button(user, message_id, data)
        await self.settle()
        return data

    def texts(self, chat_id: int) -> list[str]:
        """Texts of the bot's live (not deleted) messages in a chat."""
        return [m.get("text") or m.get("caption") or "" for m in self.emu.bot_messages(chat_id)]

    def last(self, chat_id: int) -> str:
        texts = self.texts(chat_id)
        return texts[-1] if texts else ""


async def wait_for(predicate: Any, timeout: float = 10) -> None:
    """Poll a condition (for work done by the bot's background jobs)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.005)
