"""The sandbox: the real bot against the local Bot API emulator, with a chat in the terminal.

A newcomer without a Telegram account plays the reporter: typed lines are sent as messages, `#2`
presses the second button of the newest message that has buttons, `!file PATH` sends a document,
`!photo PATH` a photo, `!quit` ends. With a fast clock (`candour sandbox --fast-clock`), `!later 7d` moves
time on and `!next` jumps to the next scheduled follow-up, so a check-in can be seen to arrive. Nothing
leaves this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlmodel import col, select

from bot.emulator import TelegramEmulator
from bot.emulator.state import FakeUser
from storage.clock import ManualClock
from storage.models import OutboxEntry
from storage.vault import Vault

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
FAST_CLOCK_BANNER = """The clock is yours: !later 7d (or 12h, 30m) moves time on; !next jumps to the next scheduled
check-in or deadline and lets it happen. Make a report with check-ins, then try !next.
"""
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
# What `!next` jumps to: the follow-up a newcomer can watch happen.
_WATCHED = ("checkin", "deadline-warning", "deadline-due", "officer-notice")


class TimeTravel:
    """The sandbox's hand on the clock (only with --fast-clock: the vault runs on a ManualClock)."""

    def __init__(self, vault: Vault, clock: ManualClock, settle: float = 1.5) -> None:
        self.vault, self.clock, self.settle = vault, clock, settle

    def later(self, text: str) -> str:
        amount, unit = text[:-1], text[-1:].lower()
        if not amount.isdigit() or unit not in _UNITS:
            return "(say how long: !later 7d, !later 12h or !later 30m)"
        self.clock.advance(_UNITS[unit] * int(amount))
        return f"(it is now {self.clock.now():%a %d %b %Y %H:%M} UTC)"

    async def next_due(self, chat: TerminalChat) -> str:
        """Jump to the next scheduled follow-up until the bot says something (a check-in is first given its
        send time, then sent: two jumps)."""
        before = len(chat.emu.bot_messages(chat.user.user_id, include_deleted=True))
        for _ in range(4):
            async with self.vault.db.reading() as session:
                due = (
                    await session.exec(
                        select(OutboxEntry.due_at)
                        .where(col(OutboxEntry.status) == "pending", col(OutboxEntry.kind).in_(_WATCHED))
                        .order_by(col(OutboxEntry.due_at))
                        .limit(1)
                    )
                ).first()
            if due is None:
                return "(nothing is scheduled: make a report and agree to check-ins first)"
            self.clock.current = max(self.clock.current, due)
            await asyncio.sleep(self.settle)
            if len(chat.emu.bot_messages(chat.user.user_id, include_deleted=True)) > before:
                break
        return f"(it is now {self.clock.now():%a %d %b %Y %H:%M} UTC)"


async def chat_in_terminal(
    emu: TelegramEmulator,
    *,
    user: FakeUser,
    read_line: Callable[[], str] | None = None,
    out: TextIO = sys.stdout,
    time_travel: TimeTravel | None = None,
) -> None:
    """Run the terminal chat until `!quit` or end of input."""
    chat = TerminalChat(emu, user, out)
    out.write(BANNER + (FAST_CLOCK_BANNER if time_travel else ""))
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
            command = line.strip()
            if time_travel is not None and (command == "!next" or command.startswith("!later")):
                if command == "!next":
                    out.write(await time_travel.next_due(chat) + "\n")
                else:
                    out.write(time_travel.later(command.removeprefix("!later").strip()) + "\n")
                out.flush()
                chat.refresh()
                continue
            if not chat.act(line):
                break
            await asyncio.sleep(0.3)
            chat.refresh()
    finally:
        painter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await painter
