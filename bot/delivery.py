"""Pushing the standards team's messages to reporters: a discreet notice with a button, claimed from the
vault's outbox so that no two bot processes send the same one.

Why a notice first: a phone's lock screen shows the start of every message, so the notice says only that
there is something new; the text appears in the chat when the reporter taps Read.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot import sending, state
from bot.catalogue import Catalogue
from storage import contact as contacts
from storage import outbox
from storage.errors import DatabaseUnavailableError, DecryptionError
from storage.models import OutboxEntry
from storage.vault import Vault

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)


def worker_name() -> str:
    """A name for this process's outbox claims (no user data)."""
    return f"{socket.gethostname()[:40]}:{uuid.uuid4().hex[:8]}"


ChatLock = Callable[[int], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def no_lock(_chat_id: int) -> AsyncIterator[None]:
    yield


async def deliver_due(
    vault: Vault, bot: Bot, catalogue: Catalogue, *, owner: str, chat_lock: ChatLock | None = None
) -> int:
    """Send a notice for every due message to a reporter; returns how many were sent.

    Why the chat lock: the notice's message id joins the chat's sealed state (so /wipe removes it); an
    update of the same chat handled meanwhile would otherwise be overwritten by this older state.
    """
    try:
        entries = await outbox.claim_due(vault, kinds=(outbox.REPORTER_MESSAGE,), owner=owner, lease=LEASE)
    except DatabaseUnavailableError:
        log.warning("outbox unavailable; will retry")
        return 0
    sent = 0
    for entry in entries:
        assert entry.id is not None and entry.case_id is not None
        try:
            contact = await contacts.read(vault, case_id=entry.case_id)
        except DecryptionError:
            # Most likely the relay key was rotated and this process still has the old keyring: leave the
            # message for a restarted process rather than destroy it.
            log.warning("a contact handle does not open with this keyring; restart after rotating relay keys")
            await outbox.finish(
                vault, entry_id=entry.id, status="pending", keep_payload=True, error="keyring"
            )
            continue
        if contact is None:
            await outbox.finish(vault, entry_id=entry.id, status="failed", error="no contact handle")
            continue
        async with (chat_lock or no_lock)(int(contact.chat)):
            sent += await _notify(vault, bot, catalogue, entry=entry, contact=contact)
    return sent


def recall_language(chat_state: state.ChatState, catalogue: Catalogue, sealed: str | None) -> bool:
    """Make the language sealed with a case's contact handle the chat's own, if it has none; True if so.

    Why: the chat's sealed state forgets its language 72 hours after the chat last changed
    (state.TRAIL_LIFETIME), and a check-in comes days later; the language sealed with the handle at
    submission (storage.contact) lets a Welsh reporter be spoken to in Welsh. Why the chat's own choice
    first: it is the newer (a /language after the report).
    """
    if chat_state.language is not None or sealed not in catalogue.languages:
        return False
    chat_state.language = sealed
    return True


async def _notify(
    vault: Vault, bot: Bot, catalogue: Catalogue, *, entry: OutboxEntry, contact: contacts.Contact
) -> int:
    chat_id = int(contact.chat)
    chat_state = await state.load(vault, chat_id)
    recall_language(chat_state, catalogue, contact.language)
    t = catalogue.for_language(chat_state.language)
    assert entry.id is not None
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(t("button.read"), callback_data=f"x|read|{entry.id}")]]
    )
    # A failed send is recorded on the entry (retry later, or failed with the reason); the message
    # itself stays in the case for /status either way.
    notice = await sending.send_recorded(vault, bot, entry, chat_id, t("push.notice"), markup)
    if not isinstance(notice, Message):
        return 0
    chat_state.remember(notice.message_id, vault.clock.now())
    await state.save(vault, chat_id, chat_state)
    await outbox.finish(vault, entry_id=entry.id, status="notified", keep_payload=True)
    return 1
