"""The sandbox: the real bot against the local Bot API emulator, with a chat in the terminal.

A newcomer without a Telegram account plays the reporter: typed lines are sent as messages, `#2`
presses the second button of the newest message that has buttons, `!file PATH` sends a document,
`!photo PATH` a photo, `!quit` ends. Nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from bot.emulator import TelegramEmulator
from bot.emulator.state import FakeUser

SANDBOX_TOKEN = "100000:SANDBOX"  # noqa: S105 - accepted only by the local emulator
SANDBOX_USER = 4242


class TerminalChat:
    """Shows the bot's messages as they come and changes, and turns typed lines into user actions."""

    def __init__(self, emu: TelegramEmulator, user: FakeUser, out: TextIO) -> None:
        self.emu, self.user, self.out = emu, user, out
        self._shown: dict[int, str] = {}
        self._buttons: list[tuple[int, str]] = []

    def _render(self, message: dict[str, Any]) -> str:
        text = message.get("text") or message.get("caption") or "[file]"
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        labels = [button["text"] for row in rows for button in row]
        return text + (
            "\n" + "  ".join(f"[#{i}] {label}" for i, label in enumerate(labels, 1)) if labels else ""
        )

    def refresh(self) -> None:
        """Print new or changed bot messages and note which buttons `#N` refers to."""
        for message in self.emu.bot_messages(self.user.user_id):
            rendered = self._render(message)
            if self._shown.get(message["message_id"]) != rendered:
                self._shown[message["message_id"]] = rendered
                self.out.write(f"\nbot> {rendered}\n")
                self.out.flush()
        self._buttons = []
        for message in reversed(self.emu.bot_messages(self.user.user_id)):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            if rows:
                self._buttons = [(message["message_id"], b["callback_data"]) for row in rows for b in row]
                break

    def act(self, line: str) -> bool:
        """Carry out one typed line; False to stop."""
        line = line.rstrip("\n")
        if line.strip() == "!quit":
            return False
        if line.startswith("#") and line[1:].strip().isdigit():
            index = int(line[1:].strip()) - 1
            if 0 <= index < len(self._buttons):
                message_id, data = self._buttons[index]
                self.emu.press_button(self.user, message_id, data)
            else:
                self.out.write("(no such button)\n")
            return True
        for command, sender in (("!file ", self._send_document), ("!photo ", self._send_photo)):
            if line.startswith(command):
                path = Path(line[len(command) :].strip()).expanduser()
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    self.out.write(f"(cannot read {path}: {exc.strerror})\n")
                    return True
                sender(path, data)
                return True
        if line.strip():
            self.emu.send_text(self.user, line)
        return True

    def _send_document(self, path: Path, data: bytes) -> None:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.emu.send_document(self.user, data, filename=path.name, mime_type=kind)

    def _send_photo(self, path: Path, data: bytes) -> None:
        self.emu.send_photo(self.user, data)


BANNER = """Candour sandbox: you are a reporter chatting with the real bot; nothing leaves this machine.
Type messages as you would in Telegram. #N presses button N of the newest message with buttons.
!file PATH sends a document, !photo PATH a photo, !quit ends. Start with /start.
"""


async def chat_in_terminal(
    emu: TelegramEmulator,
    *,
    user: FakeUser,
    read_line: Callable[[], str] | None = None,
    out: TextIO = sys.stdout,
) -> None:
    """Run the terminal chat until `!quit` or end of input."""
    chat = TerminalChat(emu, user, out)
    out.write(BANNER)
    out.flush()
    reader = read_line or sys.stdin.readline

    async def show() -> None:
        while True:
            chat.refresh()
            await asyncio.sleep(0.1)

    painter = asyncio.create_task(show())
    try:
        while True:
            line = await asyncio.to_thread(reader)
            if line == "":
                break
            if not chat.act(line):
                break
            await asyncio.sleep(0.3)
            chat.refresh()
    finally:
        painter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await painter
