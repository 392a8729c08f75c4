"""Throttling of receipt-code guesses per chat, counted under a keyed tag so no chat id is stored.

Threat: someone with a reporter's phone, or a bot farm, guessing receipt codes. At 95 bits guessing
is hopeless anyway; the throttle keeps a careless pattern (pasting many codes) from going unnoticed and
limits load. Why typos don't count: the check character tells them apart before any lookup.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, delete, select

from storage import cases, receipts
from storage.clock import coarsen
from storage.errors import ThrottledError, UnknownReceiptError
from storage.models import ReceiptAttempt
from storage.vault import Vault

MAX_FAILURES_PER_HOUR = 5


def _tag(vault: Vault, chat_ref: str) -> bytes:
    return vault.keys.chat_tag("throttle:" + chat_ref)


async def failures_this_hour(vault: Vault, *, chat_ref: str) -> int:
    """Wrong codes this chat sent in the current hour."""
    async with vault.db.transaction() as session:
        count = (
            await session.exec(
                select(func.coalesce(func.sum(ReceiptAttempt.failures), 0)).where(
                    ReceiptAttempt.chat_tag == _tag(vault, chat_ref),
                    ReceiptAttempt.window_start == coarsen(vault.clock.now()),
                )
            )
        ).one()
    return int(count)


async def purge_old_windows(vault: Vault) -> int:
    """Delete the failure counts of every hour before the current one; returns how many rows went.

    Threat: kept for ever, the rows say in which hours some chat (under its keyed tag) typed wrong codes,
    a trail that with the lookup key links a chat to its attempts over months. Only the current hour's
    window is ever read, so nothing older is needed. Why a periodic sweep (the bot's expiry job, beside
    drafts) rather than at each receipt check: a chat that never comes back would never be swept by its
    own checks, and the guessing path stays one small write.
    """
    async with vault.db.transaction() as session:
        result = await session.exec(  # type: ignore[call-overload]
            delete(ReceiptAttempt).where(col(ReceiptAttempt.window_start) < coarsen(vault.clock.now()))
        )
        return int(result.rowcount or 0)


async def case_for_receipt(vault: Vault, *, chat_ref: str, code: str) -> str:
    """Look a receipt code up for a chat: ThrottledError past the limit, ReceiptTypoError for a typo (not
    counted), UnknownReceiptError for a well-formed unknown code (counted)."""
    if await failures_this_hour(vault, chat_ref=chat_ref) >= MAX_FAILURES_PER_HOUR:
        raise ThrottledError("too many wrong receipt codes from this chat this hour")
    receipts.normalise(code)
    try:
        return await cases.case_for_receipt(vault, code=code)
    except UnknownReceiptError:
        await _record_failure(vault, chat_ref=chat_ref)
        raise


async def _record_failure(vault: Vault, *, chat_ref: str) -> None:
    window = coarsen(vault.clock.now())
    tag = _tag(vault, chat_ref)
    async with vault.db.transaction() as session:
        row = await session.get(ReceiptAttempt, (tag, window))
        if row is None:
            row = ReceiptAttempt(chat_tag=tag, window_start=window, failures=0)
        row.failures += 1
        session.add(row)
