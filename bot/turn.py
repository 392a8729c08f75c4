"""One update being handled: the chat's state, its language, and the ways to answer.

Every message the bot sends in a flow, and every message the reporter sends, is recorded in the
state's trail so that /wipe and a finished report can delete them.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.catalogue import Catalogue, Translator
from bot.cleaner import Cleaner
from bot.state import ChatState
from policies.schema import PolicyDocument
from storage.vault import Vault

log = logging.getLogger(__name__)

Keyboard = list[list[tuple[str, str]]]
# Telegram lets a bot delete messages of a private chat for 48 hours; an hour's margin covers the
# coarsened time of the oldest message and clocks that disagree.
BULK_DELETE_AGE = timedelta(hours=46)
MAX_CALLBACK_BYTES = 64
# What deleting one message came to (Turn.delete_outcome).
DELETED, ALREADY_GONE, TOO_OLD, FAILED = "deleted", "gone", "too-old", "failed"


@dataclass
class Turn:
    """What a handler needs to answer one update."""

    bot: Bot
    vault: Vault
    chat_id: int
    state: ChatState
    t: Translator
    policy: PolicyDocument
    catalogue: Catalogue
    # Examines and cleans evidence in a worker process that holds no keys (bot/cleaner.py).
    cleaner: Cleaner

    def data(self, action: str, arg: str = "") -> str:
        """Callback data for a button of the current step: `<token>.<step>|<action>|<arg>` (at most 64 bytes)."""
        value = f"{self.state.button_prefix()}|{action}|{arg}"
        if len(value.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data too long for {action}")
        return value

    def markup(self, rows: Keyboard | None) -> InlineKeyboardMarkup | None:
        if not rows:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
        )

    # A pressed question that is still the newest message of the chat: the next question replaces it.
    _reusable: int | None = None
    _reused: int | None = None
    _drop_later: bool = False

    def pressed(self, message_id: int) -> None:
        """A button of `message_id` was pressed: if nothing came after it, the answer may take its place.

        Why: one message that turns into the next question, rather than a new message plus an edit to
        take the buttons off the old one, leaves fewer messages on the phone and costs one call, not two.
        """
        if self.state.trail[-1:] == [message_id]:
            self._reusable = message_id

    async def say(self, text: str, keyboard: Keyboard | None = None) -> Message:
        """Send a message in this chat (or turn the pressed question into it) and remember it for wiping."""
        if self._reusable is not None:
            message_id, self._reusable = self._reusable, None
            try:
                edited = await self.bot.edit_message_text(
                    text, self.chat_id, message_id, reply_markup=self.markup(keyboard)
                )
            except BadRequest:
                await self._remove_buttons(message_id)
            else:
                if isinstance(edited, Message):
                    self._reused = message_id
                    return edited
        message = await self.bot.send_message(self.chat_id, text, reply_markup=self.markup(keyboard))
        self.remember(message.message_id)
        return message

    async def edit(self, message_id: int, text: str, keyboard: Keyboard | None = None) -> None:
        """Replace the text (and buttons) of an earlier bot message; if it can't be edited, send anew."""
        if message_id == self._reusable:
            self._reusable, self._reused = None, message_id
        try:
            await self.bot.edit_message_text(
                text, self.chat_id, message_id, reply_markup=self.markup(keyboard)
            )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            await self.say(text, keyboard)

    async def drop_buttons(self, message_id: int) -> None:
        """Remove the buttons of an answered question, so it cannot be pressed twice (unless the question
        is now the next one, or is about to be: see `pressed`)."""
        if message_id == self._reused:
            return
        if message_id == self._reusable:
            self._drop_later = True
            return
        await self._remove_buttons(message_id)

    async def end_press(self) -> None:
        """After a press: take the buttons off the pressed question if nothing took its place."""
        if self._reusable is not None and self._drop_later:
            await self._remove_buttons(self._reusable)
        self._reusable, self._drop_later = None, False

    async def _remove_buttons(self, message_id: int) -> None:
        with contextlib.suppress(BadRequest):
            await self.bot.edit_message_reply_markup(self.chat_id, message_id, reply_markup=None)

    def remember(self, message_id: int) -> None:
        """Add a message of this chat to the trail."""
        self.state.remember(message_id, self.vault.clock.now())

    async def delete_now(self, message_id: int) -> bool:
        """Delete one message at once (a receipt code the reporter typed); True if it is gone."""
        return await self.delete_outcome(message_id) in (DELETED, ALREADY_GONE)

    async def delete_outcome(self, message_id: int) -> str:
        """Delete one message; what Telegram said: DELETED, ALREADY_GONE, TOO_OLD or FAILED.

        Why these four: the reporter is told whether a receipt code is still on screen, and why only
        when Telegram said why. A second tap finds the message gone ("not found"): that is no failure.
        A network error is FAILED, never raised: the reporter is then told it may still be there.
        """
        try:
            await self.bot.delete_message(self.chat_id, message_id)
        except BadRequest as exc:
            said = str(exc).lower()
            if "not found" in said:
                return ALREADY_GONE
            return TOO_OLD if "can't be deleted for everyone" in said else FAILED
        except TelegramError:
            log.info("a message could not be deleted")
            return FAILED
        return DELETED

    async def wipe(self, *, keep: tuple[int, ...] = (), since: int = 0) -> tuple[int, int]:
        """Delete every message in the trail (from message `since` on) that Telegram allows; returns
        (deleted, left)."""
        ids = [m for m in dict.fromkeys(self.state.trail) if m not in keep and m >= since]
        if self._reusable in ids:
            self._reusable = None  # about to be deleted: the next message is a new one
        oldest = self.state.oldest_in_trail()
        if oldest is not None and self.vault.clock.now() - oldest < BULK_DELETE_AGE:
            deleted = await self._delete_in_bulk(ids)
        else:
            deleted = 0
            for message_id in ids:
                # Why one by one here: deleteMessages reports success even when it skips messages older
                # than 48 hours, and the reporter must be told plainly what is still there.
                if await self.delete_now(message_id):
                    deleted += 1
        self.state.trail = [m for m in self.state.trail if m in keep or m < since]
        return deleted, len(ids) - deleted

    async def _delete_in_bulk(self, ids: list[int]) -> int:
        """Delete messages all younger than 48 hours, a hundred per call; falls back to one by one.

        Why this is exact: in a private chat the bot may delete any message younger than 48 hours, so
        the only ones deleteMessages skips are those the reporter already deleted, which are gone too.
        """
        deleted = 0
        for start in range(0, len(ids), 100):
            batch = ids[start : start + 100]
            try:
                await self.bot.delete_messages(self.chat_id, batch)
                deleted += len(batch)
            except (BadRequest, Forbidden):
                deleted += sum([await self.delete_now(message_id) for message_id in batch])
        return deleted

    async def notify_failure(self, key: str) -> None:
        """Tell the reporter something went wrong, without adding it to the state (which may not be saved)."""
        try:
            await self.bot.send_message(self.chat_id, self.t(key))
        except TelegramError:
            log.warning("could not tell a chat about a failure")
