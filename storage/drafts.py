"""Half-written reports, sealed under the relay keyring and found by a keyed tag of the chat.

Threat: a restart or a second replica must carry on a report in progress, yet a database dump must
not show which chat is writing what. Why a keyed tag: the lookup key turns a chat reference into a tag
that cannot be reversed or recomputed without the server's key file.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlmodel import col, delete

from storage.clock import coarsen
from storage.models import Draft
from storage.vault import Vault

DRAFT_PURPOSE = "draft"
DRAFT_LIFETIME = timedelta(hours=24)
# Why the extra hour: expiry is counted from the hour-coarsened time (an exact time would say when the
# reporter was typing), so a draft lives between 24 and 25 hours, never less than the promised 24.
_ROUNDING = timedelta(hours=1)


async def save(
    vault: Vault, *, chat_ref: str, state: dict[str, Any], lifetime: timedelta = DRAFT_LIFETIME
) -> None:
    """Seal and store the draft of a chat (replacing the previous one); it expires `lifetime` later
    (24 hours unless the front door keeps something longer, such as message ids still deletable)."""
    tag = vault.keys.chat_tag(chat_ref)
    key_id, sealed = vault.keys.relay.seal(
        json.dumps(state, separators=(",", ":")).encode("utf-8"), purpose=DRAFT_PURPOSE, context=tag.hex()
    )
    now = vault.clock.now()
    async with vault.db.transaction() as session:
        row = await session.get(Draft, tag)
        if row is None:
            row = Draft(
                chat_tag=tag,
                key_id=key_id,
                sealed=sealed,
                updated_at=coarsen(now),
                expires_at=coarsen(now) + lifetime + _ROUNDING,
            )
        else:
            row.key_id, row.sealed, row.updated_at = key_id, sealed, coarsen(now)
            row.expires_at = coarsen(now) + lifetime + _ROUNDING
        session.add(row)


async def load(vault: Vault, *, chat_ref: str) -> dict[str, Any] | None:
    """The chat's draft, or None if there is none or it has expired."""
    tag = vault.keys.chat_tag(chat_ref)
    async with vault.db.reading() as session:
        row = await session.get(Draft, tag)
    if row is None or row.expires_at <= vault.clock.now():
        return None
    plaintext = vault.keys.relay.open(row.key_id, row.sealed, purpose=DRAFT_PURPOSE, context=tag.hex())
    return json.loads(plaintext.decode("utf-8"))


async def discard(vault: Vault, *, chat_ref: str) -> bool:
    """Delete a chat's draft; True if there was one."""
    tag = vault.keys.chat_tag(chat_ref)
    async with vault.db.transaction() as session:
        row = await session.get(Draft, tag)
        if row is None:
            return False
        await session.delete(row)
        return True


async def purge_expired(vault: Vault) -> int:
    """Delete every expired draft; returns how many."""
    async with vault.db.transaction() as session:
        result = await session.exec(delete(Draft).where(col(Draft.expires_at) <= vault.clock.now()))  # type: ignore[call-overload]
        return int(result.rowcount or 0)
