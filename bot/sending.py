"""Sending a claimed outbox entry to Telegram, and recording on the entry what came of it.

Nothing is dropped silently: every failure becomes the entry's status and last_error, and what can be
tried again is put back with a due time.

Why a retry's due time comes from the exact clock (promise 1 otherwise wants the hour): Telegram's
retry_after and the backoff count from the failed try, seconds away, and rounded to the hour a retry
would either be due at once or wait an hour. It is a time the phone was not reached, kept only while the
entry waits; once the entry is finished storage.outbox coarsens all its times.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from storage import followup, outbox
from storage.models import OutboxEntry
from storage.vault import Vault

log = logging.getLogger(__name__)

# Why these waits: a network fault is usually over in seconds; a longer one should not be hammered.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


async def send_recorded(
    vault: Vault, bot: Bot, entry: OutboxEntry, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> Message | str:
    """Send for a claimed outbox entry, or record why not (the entry's status and last_error):

    - a 429 puts it back, due retry_after later;
    - a blocked bot or a deleted chat fails it and, for the reporter's chat, stops the case's check-ins
      and messages (`storage.followup.stop_contact`, audited);
    - a network fault puts it back with a growing wait, up to the policy's delivery attempts, then fails it.

    Returns the sent message, or the outcome's name. The caller records success.
    """
    assert entry.id is not None
    try:
        return await bot.send_message(chat_id, text, reply_markup=markup)
    except RetryAfter as exc:
        after = exc.retry_after
        wait = after if isinstance(after, timedelta) else timedelta(seconds=after)
        await followup.reschedule(vault, entry_id=entry.id, at=vault.clock.now() + wait, error="rate limited")
        return "rate-limited"
    except (Forbidden, BadRequest) as exc:
        reason = f"unreachable: {type(exc).__name__}"
        await outbox.finish(vault, entry_id=entry.id, status="failed", error=reason)
        if entry.kind in (outbox.CHECKIN, outbox.REPORTER_MESSAGE) and entry.case_id is not None:
            await followup.stop_contact(vault, case_id=entry.case_id, reason=reason)
        return "unreachable"
    except TelegramError as exc:  # NetworkError, TimedOut and the rest
        allowed = await followup.attempts_allowed(vault, case_id=entry.case_id)
        error = f"network: {type(exc).__name__}"
        if entry.attempts >= allowed:
            await outbox.finish(vault, entry_id=entry.id, status="failed", error=error)
            log.warning("gave up on a %s after %d attempts", entry.kind, entry.attempts)
            return "failed"
        wait = min(BACKOFF_BASE * 2 ** (entry.attempts - 1), BACKOFF_CAP)
        await followup.reschedule(vault, entry_id=entry.id, at=vault.clock.now() + wait, error=error)
        return "retry"
