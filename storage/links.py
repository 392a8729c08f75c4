"""Linking an officer's own Telegram chat to their desk account, for content-free notifications.

The officer makes a one-time code at the desk (or `candour officer link-code`), then sends `/link CODE` to
the bot from their own account. Codes are stored as keyed hashes and expire; the chat id is sealed under
the relay keyring.

Threat: an officer who is also a reporter linking the same Telegram account would put their chat id
next to their name in the database, where whoever holds the relay key could match it with a contact
handle. Why it is allowed anyway: notices are opt-in staff tooling; the bot warns at /link, and the
runbook says to link a work account, never the one used to report.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, delete, select

from storage import audit, receipts
from storage.clock import coarsen
from storage.errors import InputError
from storage.followup import LINK_PURPOSE
from storage.models import LinkCode, Officer, OfficerLink
from storage.vault import Vault

CODE_LIFETIME = timedelta(minutes=15)
CODE_CHARS = 10


class LinkCodeError(InputError):
    """The link code is unknown, used or expired."""


def _digest(vault: Vault, code: str) -> bytes:
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    return vault.keys.chat_tag("link-code:" + cleaned)


def _chat_tag(vault: Vault, chat: str) -> bytes:
    return vault.keys.chat_tag("officer-chat:" + chat)


async def create_code(vault: Vault, *, officer_id: int) -> str:
    """A new one-time code for this officer (any earlier unused code of theirs stops working)."""
    code = receipts.random_chars(CODE_CHARS)
    now = vault.clock.now()
    async with vault.db.transaction() as session:
        officer = await session.get(Officer, officer_id)
        if officer is None or not officer.active:
            raise InputError("no such active officer")
        await session.exec(delete(LinkCode).where(col(LinkCode.officer_id) == officer_id))  # type: ignore[call-overload]
        session.add(
            LinkCode(digest=_digest(vault, code), officer_id=officer_id, expires_at=now + CODE_LIFETIME)
        )
        await audit.append(
            session, at=coarsen(now), actor=f"officer:{officer.login}", action="officer.link-code", detail={}
        )
    return f"{code[:5]}-{code[5:]}"


async def purge_expired(vault: Vault) -> int:
    """Delete link codes past their end; how many.

    Threat: a code's end is the moment it was made plus fifteen minutes, exact; kept after it passed (an
    officer who never used the code) it would date the `officer.link-code` entry in the audit chain, and
    bracket a reporter's event next to it.
    """
    async with vault.db.transaction() as session:
        result = await session.exec(delete(LinkCode).where(col(LinkCode.expires_at) <= vault.clock.now()))  # type: ignore[call-overload]
        return int(result.rowcount or 0)


async def redeem(vault: Vault, *, code: str, chat: str) -> str:
    """Link the chat sending `code` to the code's officer; returns the officer's login."""
    now = vault.clock.now()
    digest = _digest(vault, code)
    async with vault.db.transaction() as session:
        row = await session.get(LinkCode, digest)
        if row is None or row.expires_at <= now:
            raise LinkCodeError("that link code is not valid: make a new one at the desk")
        officer = await session.get(Officer, row.officer_id)
        await session.delete(row)
        if officer is None or officer.id is None or not officer.active:
            raise LinkCodeError("that link code is not valid: make a new one at the desk")
        tag = _chat_tag(vault, chat)
        await session.exec(delete(OfficerLink).where(col(OfficerLink.chat_tag) == tag))  # type: ignore[call-overload]
        existing = await session.get(OfficerLink, officer.id)
        if existing is not None:
            await session.delete(existing)
            await session.flush()
        key_id, sealed = vault.keys.relay.seal(chat.encode(), purpose=LINK_PURPOSE, context=str(officer.id))
        session.add(
            OfficerLink(
                officer_id=officer.id, chat_tag=tag, key_id=key_id, sealed=sealed, linked_at=coarsen(now)
            )
        )
        await audit.append(
            session, at=coarsen(now), actor=f"officer:{officer.login}", action="officer.linked", detail={}
        )
        return officer.login


async def unlink(vault: Vault, *, chat: str) -> bool:
    """Remove whatever officer link this chat has; True if there was one."""
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        link = (
            await session.exec(select(OfficerLink).where(col(OfficerLink.chat_tag) == _chat_tag(vault, chat)))
        ).first()
        if link is None:
            return False
        officer = await session.get(Officer, link.officer_id)
        await session.delete(link)
        login = officer.login if officer is not None else str(link.officer_id)
        await audit.append(session, at=now, actor=f"officer:{login}", action="officer.unlinked", detail={})
        return True
